"""Where a recording goes: the run's name and its file, never overwriting another run.

A recorder records one run per model. Its first run takes the name it was
given (``run=``), and an existing run of that name is an error before
training (or, with ``overwrite=True``, replaced), as it always was. Every
later run — a new model in the same recorder, a deep copy of the recorder
(KerasTuner copies the callbacks for every trial), a run an engine adapter
named after its trial — takes the first free name of ``name``, ``name-1``,
``name-2``, ...: a sweep never fails a trial over a name and never writes
over a run, its own or one already in the file.

``Recorder(path)`` with ``path`` a directory (an existing one, or a path
ending in ``/``) writes one file per run, ``<directory>/<run>.h5``: the
layout for trials that run in parallel, since an HDF5 file has one writer.
"""

import os
import weakref

from replay.io import runfile

#: The file name of a run in a directory of runs.
RUN_FILE_SUFFIX = ".h5"


def is_directory(path):
    """Whether ``Recorder(path)`` names a directory of run files (one file per run)."""
    return os.path.isdir(path) or path.endswith((os.sep, "/"))


def run_file(path, run):
    """The file of run ``run``: ``path`` itself, or ``path/<run>.h5`` for a directory."""
    return os.path.join(path, run + RUN_FILE_SUFFIX) if is_directory(path) else path


def candidates(name):
    """``name``, ``name-1``, ``name-2``, ...: the names a run may take, in order."""
    yield name
    number = 1
    while True:
        yield f"{name}-{number}"
        number += 1


class RunNames:
    """What a recorder shares with its deep copies: the runs they created and the copies.

    Attributes:
        written: ``{(file, run)}`` of the runs created (added by the recording
            that creates one).
        copies: the live copies (weak references), so that closing the
            original closes a copy whose ``fit`` raised.
    """

    def __init__(self):
        self.written = set()
        self.copies = weakref.WeakSet()

    def place(self, path, name, *, strict, overwrite):
        """Return ``(file, run)`` for a new run called ``name`` in ``path`` (a file or a directory).

        Args:
            path: the recorder's ``path``.
            name: the name asked for.
            strict: take ``name`` as it is: an existing run of that name is the
                recording's error (or, with ``overwrite``, replaced).
            overwrite: replace a run of that name that this recorder and its
                copies did not write.
        """
        for run in candidates(name):
            file = run_file(path, run)
            if (file, run) in self.written:
                continue  # never over a run of this sweep
            if strict or overwrite or not _holds(file, run, whole_file=file != path):
                return file, run
        raise AssertionError("unreachable: candidates() never ends")


def _holds(file, run, *, whole_file):
    """Whether ``file`` already holds ``run`` (any file at all, for one file per run)."""
    if not os.path.exists(file):
        return False
    if whole_file:
        return True
    return run in runfile.list_runs(file)
