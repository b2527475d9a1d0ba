"""The runs an explorer page shows, from runs, files, ``FILE:RUN``, directories and globs.

Until the run collection (``replay.Runs``) is there for every reader, the
explorer takes what a user would hand it: a :class:`replay.Run`, any
iterable of runs (a run collection is one), or paths: a run file (every
run it holds), ``FILE:RUN``, a directory (its run files, recursively) or
a glob.
"""

import glob
import os
from pathlib import Path

from replay.errors import OptionError, RunFileError
from replay.io.runfile import list_runs

#: Extensions of run files found in a directory or by a glob.
RUN_FILE_SUFFIXES = (".h5", ".hdf5")


def run_addresses(sources):
    """Return ``[(file, run name), ...]`` for ``sources``, in the order given, each run once.

    Args:
        sources: a :class:`replay.Run`, a path (file, ``FILE:RUN``,
            directory, glob) or an iterable of these.

    Raises:
        RunFileError: a path names no run file, or a directory or glob holds none.
        OptionError: nothing was given.
    """
    if isinstance(sources, (str, os.PathLike)) or hasattr(sources, "n_snapshots"):
        sources = [sources]
    addresses = []
    for source in sources:
        if hasattr(source, "n_snapshots"):  # a Run
            addresses.append((os.fspath(source.path), source.name))
        else:
            addresses.extend(_addresses_of_path(os.fspath(source)))
    if not addresses:
        raise OptionError("No runs to explore: give a run, a run file, a directory or a glob.")
    seen = set()
    unique = []
    for address in addresses:
        key = (os.path.realpath(address[0]), address[1])
        if key not in seen:
            seen.add(key)
            unique.append(address)
    return unique


def _addresses_of_path(spec):
    path = Path(spec)
    if path.is_file():
        return [(spec, name) for name in list_runs(spec)]
    if path.is_dir():
        files = sorted(str(found) for found in path.rglob("*")
                       if found.suffix.lower() in RUN_FILE_SUFFIXES and found.is_file())
        if not files:
            raise RunFileError(f"No run files (*.h5, *.hdf5) in the directory '{spec}'.")
        return [(file, name) for file in files for name in list_runs(file)]
    file, colon, run = spec.rpartition(":")
    if colon and file and Path(file).is_file():
        return [(file, run)]
    if glob.has_magic(spec):
        files = sorted(found for found in glob.glob(spec, recursive=True)
                       if Path(found).is_file())
        if not files:
            raise RunFileError(f"No run files match '{spec}'.")
        return [(file, name) for file in files for name in list_runs(file)]
    raise RunFileError(f"No such run file, directory or glob: '{spec}'. Check the path, or "
                       "record a run into it first with replay.Recorder.")


def run_labels(addresses):
    """A unique, short name per run: its name, else ``file-stem/name``, else ``file:name``."""
    names = [name for _, name in addresses]
    labels = []
    for file, name in addresses:
        if names.count(name) == 1:
            labels.append(name)
        else:
            labels.append(f"{Path(file).stem}/{name}")
    if len(set(labels)) < len(labels):
        labels = [f"{file}:{name}" for file, name in addresses]
    return labels
