"""Opening run files: one HDF5 file holding one group per recorded run.

The checks the reader and the writers use to open a file and a run, with
replay's own errors for the usual mistakes (no such file, not HDF5, not a
replay file, no such run, unknown schema version, no snapshot index). The
layout itself is :mod:`replay.io.schema`; writing is :mod:`replay.io.writer`.
numpy and h5py only.
"""

import contextlib
import os
import stat

import h5py

from replay.errors import (
    ReplayError,
    RunFileError,
    RunNotFoundError,
    SchemaVersionError,
)
from replay.io import schema
from replay.io.schema import FORMAT_NAME, SCHEMA_VERSION, SUPPORTED_SCHEMA_VERSIONS


def _describe(path):
    return f"'{os.fspath(path)}'"


def open_file(path, mode="r"):
    """Open a replay run file, with replay's errors for the usual mistakes.

    Args:
        path: path of the HDF5 file.
        mode: ``"r"`` to read, ``"a"`` to read and write (created if absent).

    Returns:
        An open ``h5py.File``.
    """
    path = os.fspath(path)
    if mode == "r":
        _check_regular(path, mode)
    else:
        check_writable(path)
    created = mode != "r" and not os.path.exists(path)
    try:
        handle = h5py.File(path, mode)
    except OSError as error:
        if created and os.path.exists(path) and not h5py.is_hdf5(path):
            os.remove(path)  # e.g. a full disk: leave no 0-byte file behind
        raise RunFileError(_open_failure(path, mode, error)) from error
    if mode == "r":
        _check_format(handle, path)
    elif handle.attrs.get(schema.FORMAT_ATTRIBUTE) is None:
        problem = _foreign_file_problem(handle, path)  # a file filled since the check
        if problem is not None:
            handle.close()
            raise RunFileError(problem)
        handle.attrs[schema.FORMAT_ATTRIBUTE] = FORMAT_NAME
        handle.attrs[schema.VERSION_ATTRIBUTE] = SCHEMA_VERSION
    return handle


def _check_regular(path, mode):
    """Refuse a missing path (to read), a folder, a FIFO or a device, without opening it."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        if mode == "r":
            raise RunFileError(
                f"No such run file: {_describe(path)}. Check the path, or record a run "
                "into it first with replay.Recorder."
            ) from None
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise RunFileError(
                f"Cannot create run file {_describe(path)}: the folder '{folder}' does not "
                "exist. Create it first, or choose another path."
            ) from None
        return
    except OSError as error:
        raise RunFileError(f"Cannot open run file {_describe(path)}: {error}.") from error
    if stat.S_ISDIR(status.st_mode):
        raise RunFileError(f"{_describe(path)} is a directory, not a run file.")
    if not stat.S_ISREG(status.st_mode):
        raise RunFileError(
            f"{_describe(path)} is not a regular file (a pipe, socket or device), so it "
            "cannot be a run file; it was not opened."
        )


def _open_failure(path, mode, error):
    """The message of an ``h5py.File`` that failed to open, by what went wrong."""
    text = str(error)
    if mode == "r" and not h5py.is_hdf5(path):
        return (f"{_describe(path)} is not an HDF5 file, so it cannot be a replay run file. "
                "Pass the .h5 file written by replay.Recorder.")
    if "already open" in text:
        return (f"Cannot write to run file {_describe(path)}: it is already open in this "
                "process (for example by a replay.Run). Call run.close() (or use "
                "`with Run(...) as run:`) before recording into the same file.")
    if "lock" in text.lower():
        doing = "read" if mode == "r" else "write to"
        return (f"Cannot {doing} run file {_describe(path)}: another process has it open "
                "(a recorder writing it, or a reader). Wait until it has finished, or "
                "record into another file.")
    if isinstance(error, PermissionError) or "ermission" in text:
        return f"Cannot open run file {_describe(path)} (mode {mode!r}): permission denied."
    if mode == "r":
        return (f"Cannot read run file {_describe(path)}: {text}. The file is damaged or "
                "truncated (e.g. a copy that did not finish).")
    return f"Cannot open run file {_describe(path)} (mode {mode!r}): {text}."


def compact(path):
    """Rewrite a run file without the space of deleted runs; return ``(bytes before, after)``.

    HDF5 never gives back the space of a deleted group (a run replaced with
    ``overwrite=True``, when the file holds other runs too). This copies
    every run into a new file beside it and replaces the old one, so a crash
    leaves one of the two whole.

    Args:
        path: a replay run file nobody is writing.
    """
    path = os.fspath(path)
    before = os.path.getsize(path)
    temporary = f"{path}.compacting"
    with open_file(path) as source, h5py.File(temporary, "w") as target:
        for key, value in source.attrs.items():
            target.attrs[key] = value
        for name in source:
            source.copy(source[name], target, name=name)
    os.replace(temporary, path)
    return before, os.path.getsize(path)


def check_writable(path):
    """Refuse to write into an HDF5 file that is not a replay run file.

    replay writes only into new files, empty HDF5 files and its own run
    files. A file of DeepReplay (or of anything else) is refused **before**
    it is opened for writing, so it stays byte for byte as it was; replay
    still reads DeepReplay files. The recorder calls this when it is created
    and again when it opens the file.

    Args:
        path: the file to record into.

    Raises:
        RunFileError: ``path`` is an HDF5 file of another kind; the message
            says what to do instead.
    """
    path = os.fspath(path)
    _check_regular(path, "a")
    if not os.path.isfile(path) or not h5py.is_hdf5(path):
        return  # a new file; or not HDF5, which opening reports
    try:
        handle = h5py.File(path, "r")
    except OSError:
        return  # busy or damaged: opening it for writing says which
    with handle:
        problem = _foreign_file_problem(handle, path)
    if problem is not None:
        raise RunFileError(problem)


def _foreign_file_problem(handle, path):
    """Why replay must not write into an open file, or ``None`` when it may."""
    if handle.attrs.get(schema.FORMAT_ATTRIBUTE) == FORMAT_NAME or not len(handle):
        return None
    legacy = [name for name, group in handle.items()
              if isinstance(group, h5py.Group) and schema.LEGACY_ATTRIBUTE in group.attrs]
    if legacy:
        stem, _ = os.path.splitext(os.path.basename(path))
        return (
            f"{_describe(path)} was written by the old DeepReplay package (runs: "
            f"{', '.join(repr(name) for name in legacy)}); replay reads it but does not "
            "write into it, so that it stays as DeepReplay wrote it. Record into a new "
            f"file (e.g. '{stem}_replay.h5') and compare the runs across files, e.g. "
            f"`replay compare {os.path.basename(path)} {stem}_replay.h5`."
        )
    return (
        f"{_describe(path)} is an HDF5 file but not a replay run file; refusing to write "
        "into it. Choose another path."
    )


def _is_legacy(handle):
    """Whether the file looks like one written by the old DeepReplay package."""
    return any(
        isinstance(group, h5py.Group) and schema.LEGACY_ATTRIBUTE in group.attrs
        for group in handle.values()
    )


@contextlib.contextmanager
def damage_of(path, what):
    """Turn what h5py raises on a damaged file, while reading ``what``, into a RunFileError."""
    try:
        yield
    except (OSError, KeyError, RuntimeError, ValueError, TypeError, IndexError,
            AttributeError, SystemError) as error:
        if isinstance(error, ReplayError):
            raise
        raise RunFileError(
            f"Cannot read {what} of {_describe(path)}: {type(error).__name__}: "
            f"{str(error)[:200]}. The file is damaged (or was changed by another program)."
        ) from error


def _check_format(handle, path):
    with damage_of(path, "the file's format"):
        known = handle.attrs.get(schema.FORMAT_ATTRIBUTE) == FORMAT_NAME or _is_legacy(handle)
    if known:
        return
    handle.close()
    raise RunFileError(
        f"{_describe(path)} is an HDF5 file but not a replay run file (its root has no "
        f"format attribute {FORMAT_NAME!r}). Pass a file written by replay.Recorder."
    )


def list_runs(path):
    """Return the names of the runs in a run file, in the order they were written.

    Args:
        path: path of the run file.

    Returns:
        List of run names.
    """
    with open_file(path) as handle:
        return _run_names(handle, path)


def _run_names(handle, path="the file"):
    with damage_of(path, "the list of runs"):
        names = [name for name, group in handle.items() if isinstance(group, h5py.Group)]
        created = {name: handle[name].attrs.get("created", "") for name in names}
    return sorted(names, key=lambda name: str(created[name]))


def open_run_group(handle, path, run):
    """Return the group of ``run`` in an open file, checked for a readable schema.

    Args:
        handle: an open ``h5py.File``.
        path: its path, for messages.
        run: the run name, or ``None`` to take the only run of the file.

    Returns:
        The run's ``h5py.Group``.
    """
    names = _run_names(handle, path)
    if run is None:
        if len(names) == 1:
            run = names[0]
        else:
            listed = ", ".join(repr(name) for name in names) or "none"
            raise RunNotFoundError(
                f"{_describe(path)} holds {len(names)} runs ({listed}); pass run=NAME "
                "to choose one."
            )
    if run not in names:
        listed = ", ".join(repr(name) for name in names) or "none"
        raise RunNotFoundError(
            f"No run {run!r} in {_describe(path)}. Runs there: {listed}."
        )
    with damage_of(path, f"run {run!r}"):
        group = handle[run]
        legacy = (schema.LEGACY_ATTRIBUTE in group.attrs
                  and schema.VERSION_ATTRIBUTE not in group.attrs)
        version = group.attrs.get(schema.VERSION_ATTRIBUTE)
        indexed = schema.SNAPSHOT_EPOCHS in group
    if legacy:
        return group  # a DeepReplay group: read through replay.io.deepreplay
    if version is None:
        raise RunFileError(
            f"Run {run!r} in {_describe(path)} has no schema_version attribute; it was "
            "not written by replay.Recorder or the file is damaged."
        )
    try:
        number = int(version.decode() if isinstance(version, bytes) else version)
        whole = float(version) == number if not isinstance(version, bytes) else True
    except (TypeError, ValueError, UnicodeDecodeError, OverflowError):
        number, whole = None, False
    if number is None or not whole:
        raise RunFileError(
            f"Run {run!r} in {_describe(path)} has a schema_version attribute of "
            f"{version!r}, not a version number; the file is damaged."
        )
    if number not in SUPPORTED_SCHEMA_VERSIONS:
        raise SchemaVersionError(
            f"Run {run!r} in {_describe(path)} uses run-file schema version {version}, "
            f"but this replay reads versions {list(SUPPORTED_SCHEMA_VERSIONS)}. Upgrade "
            "replay (pip install -U) to read it."
        )
    if not indexed:
        raise RunFileError(
            f"Run {run!r} in {_describe(path)} has no snapshot index "
            "('snapshots/epoch'); the file is truncated or damaged."
        )
    return group
