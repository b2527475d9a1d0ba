"""Naming the runs to compare: ``Run`` objects, ``"file.h5:run"``, run names of one file,
directories and globs of run files, or a :class:`replay.Runs` collection."""

import glob
import os
from pathlib import Path

from replay.collection import Runs
from replay.errors import OptionError
from replay.io.runfile import list_runs
from replay.results import run_labels  # noqa: F401 (its home before replay.results)
from replay.run import Run


def open_runs(runs=None, path=None):
    """Return a list of :class:`replay.Run` from run objects, names or ``"file:run"`` specs.

    Args:
        runs: what to compare; each item is a :class:`replay.Run`, a string
            ``"file.h5:run"``, a file (every run it holds), a directory or
            a glob of run files (every run they hold; see :class:`replay.Runs`),
            a :class:`replay.Runs` or, with ``path``, the name of a run of
            ``path``. ``None`` (or an empty list) with ``path`` means every
            run of ``path``.
        path: the run file that bare run names refer to (or a directory or
            glob, when ``runs`` is ``None``).

    Returns:
        The runs, in the order given (a file's runs in their stored order).

    Raises:
        OptionError: a run is named twice (each run may appear once), or
            cannot be found.

    Example:
        >>> open_runs(["sigmoid", "relu"], path="part1.h5")         # doctest: +SKIP
        >>> open_runs(["a.h5:relu", "b.h5:relu"])                   # doctest: +SKIP
        >>> open_runs("sweep/")                                      # doctest: +SKIP
        >>> open_runs(Runs("sweep/").where(activation="relu"))       # doctest: +SKIP
    """
    if isinstance(runs, (str, os.PathLike, Run, Runs)):
        runs = [runs]
    if not runs:
        if path is None:
            raise OptionError("Nothing to compare: give runs=[...] or the file path=.")
        if not Path(path).is_file():
            return list(Runs(path))  # a directory or a glob
        return [Run(path, name) for name in list_runs(path)]
    opened = []
    for spec in runs:
        if isinstance(spec, Run):
            opened.append(spec)
            continue
        if isinstance(spec, Runs):
            opened.extend(spec)
            continue
        if not isinstance(spec, (str, os.PathLike)):
            raise OptionError(
                f"A run to compare must be a Run, 'file.h5:run' or a run name. Got {spec!r}."
            )
        spec = os.fspath(spec)
        file, _, name = spec.rpartition(":")
        if file and Path(file).is_file():
            opened.append(Run(file, name))
        elif Path(spec).is_file():
            opened.extend(Run(spec, run) for run in list_runs(spec))
        elif Path(spec).is_dir() or glob.has_magic(spec):
            opened.extend(Runs(spec))
        elif path is not None:
            opened.append(Run(path, spec))
        else:
            raise OptionError(
                f"Cannot find run {spec!r}: it is neither an existing file nor "
                "'file.h5:run', and no run file was given for bare run names."
            )
    if not opened:
        raise OptionError("Nothing to compare: the files hold no runs.")
    _check_each_run_once(opened, runs)
    return opened


def _check_each_run_once(opened, given):
    """Raise :class:`OptionError` naming the first run that appears twice in ``opened``.

    A run is its file and its name: the same run twice would share its labels
    and panels, so the second panel would be left empty.
    """
    seen = set()
    for run in opened:
        key = (os.path.normcase(os.path.realpath(run.path)), run.name)
        if key in seen:
            for other in opened:  # the runs opened here; the caller's own stay open
                if not any(other is item for item in given):
                    other.close()
            raise OptionError(
                f"Run {run.name!r} of '{run.path}' is given twice; each run may appear "
                "once in a comparison."
            )
        seen.add(key)
