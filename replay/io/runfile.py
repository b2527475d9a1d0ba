"""Opening run files: one HDF5 file holding one group per recorded run.

The checks the reader and the writers use to open a file and a run, with
replay's own errors for the usual mistakes (no such file, not HDF5, not a
replay file, no such run, unknown schema version, no snapshot index). The
layout itself is :mod:`replay.io.schema`; writing is :mod:`replay.io.writer`.
numpy and h5py only.
"""

import contextlib
import fcntl
import os
import stat
import struct
import threading
import time

import h5py

from replay.errors import (
    FileBusyError,
    ReplayError,
    RunFileError,
    RunNotFoundError,
    SchemaVersionError,
)
from replay.io import schema, superblock
from replay.io.schema import FORMAT_NAME, SCHEMA_VERSION, SUPPORTED_SCHEMA_VERSIONS


def _describe(path):
    return f"'{os.fspath(path)}'"


#: The file-format bounds of the files replay creates: HDF5 1.10's formats
#: (superblock 3), the oldest that allow single-writer/multiple-reader
#: (SWMR) access, so that a run can be read while it is recorded. Files
#: written this way need HDF5 >= 1.10 (h5py >= 2.7) to read.
LIBVER = ("v110", "v110")
#: How long a reader retries a file whose writer is between two states
#: (it leaves SWMR mode for a moment to create datasets or attributes).
BUSY_RETRY_SECONDS = 2.0
#: What HDF5 says of a file a writer has open (its superblock's status flags).
_OPEN_FOR_WRITE = "already open for write"
#: ... and, to a SWMR reader, of a file a writer has open without SWMR.
_OPEN_WITHOUT_SWMR = "not already open for SWMR writing"


def _marked_open(error):
    """Whether HDF5 refused a file because its superblock says a writer has it open."""
    return _OPEN_FOR_WRITE in str(error) or _OPEN_WITHOUT_SWMR in str(error)


def allows_live_reading(handle):
    """Whether a file opened for writing can enter SWMR mode (superblock version 3 or later).

    Files created by replay before schema version 3 have superblock 0: they
    are recorded as before, with readers locked out until the recording ends.
    """
    return handle.id.get_create_plist().get_version()[0] >= 3


class WriterLock:
    """The lock a recorder holds on its run file while it may be in SWMR mode.

    In SWMR mode HDF5 releases its own file lock (so that readers may open
    the file), which leaves nothing to tell a live writer from a killed one:
    both leave the file marked "open for write". This lock does. It is an
    open-file-description record lock (Linux ``F_OFD_SETLK``): independent
    of HDF5's ``flock`` (so it is taken before SWMR mode starts and held
    through the reopens of :class:`replay.io.writer.RunWriter`), bound to its
    own descriptor (other descriptors of the file closing do not drop it),
    and released by the kernel when the writer dies.

    A recorder with a writer child also holds one from creating the run
    until the child has the file open (``open_file(..., handed_over=True)``),
    so that a reader following the run never sees it without a writer while
    the child starts up.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._descriptor = None
        self._releasing = threading.Lock()  # released from either of two threads

    def acquire(self):
        if self._descriptor is None and _OFD_LOCKS:
            descriptor = os.open(self.path, os.O_RDONLY)
            try:
                fcntl.fcntl(descriptor, fcntl.F_OFD_SETLK, _lock_record(fcntl.F_RDLCK))
            except OSError:
                os.close(descriptor)
                raise
            self._descriptor = descriptor

    def release(self):
        with self._releasing:
            descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            os.close(descriptor)  # closing its description drops the lock

    def __del__(self):  # a writer dropped without close() (its file closed by its caller)
        self.release()


_OFD_LOCKS = hasattr(fcntl, "F_OFD_SETLK")
#: ``struct flock``: type, whence, start, length (0: the whole file), pid.
_FLOCK_RECORD = struct.Struct("hhqqi4x")


def _lock_record(kind):
    return _FLOCK_RECORD.pack(kind, os.SEEK_SET, 0, 0, 0)


def _lock_held(path, exclusive):
    """Whether another process holds a ``flock`` on ``path`` that conflicts with ours."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(descriptor)


def writer_alive(path):
    """Whether a writer has ``path`` open: HDF5's exclusive lock, or a :class:`WriterLock`."""
    if _lock_held(path, exclusive=True):
        return True
    if not _OFD_LOCKS:
        return True  # cannot tell: assume the marks are a live writer's
    return _writer_lock_held(path)


def wait_for_writers(path, seconds=60.0, interval=0.05):
    """Wait until no writer has ``path`` open; ``False`` if one still has after ``seconds``.

    After a training was killed, its writer child still writes what it was
    handed and then closes the file; a reader opening the file meanwhile (in
    SWMR mode) sees only the snapshots written so far. Call this before
    reading without this process holding the file open (a reader's own
    HDF5 lock looks like a writer's).
    """
    deadline = time.monotonic() + seconds
    while writer_alive(path):
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def _writer_lock_held(path):
    """Whether a :class:`WriterLock` is held on ``path`` (by any descriptor but ours)."""
    if not _OFD_LOCKS:
        return False
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        answer = fcntl.fcntl(descriptor, fcntl.F_OFD_GETLK, _lock_record(fcntl.F_WRLCK))
        return _FLOCK_RECORD.unpack(answer)[0] != fcntl.F_UNLCK
    except OSError:
        return True
    finally:
        os.close(descriptor)


def _clear_stale_marks(path):
    """Clear the marks of a writer that was killed; ``True`` when it did (see :mod:`.superblock`)."""
    if writer_alive(path):
        return False
    try:
        return superblock.clear_write_marks(path)
    except OSError:
        return False  # e.g. a read-only file: opening reports HDF5's error


def _open_for_reading(path, locking=True):
    """Open a run file to read, also while a recorder writes it in SWMR mode.

    Readers never take HDF5's file lock (a live recorder must be able to
    leave and re-enter SWMR mode while they read). A file held by a writer
    that does not allow readers (an exclusive ``flock``: a file recorded in
    the format before SWMR, or a writer of another program) is refused, as
    reading it could see half-written metadata.
    """
    deadline = time.monotonic() + BUSY_RETRY_SECONDS
    while _lock_held(path, exclusive=False):
        if time.monotonic() > deadline:
            raise OSError("unable to lock file: another process has it open for writing")
        time.sleep(0.02)
    while True:
        try:
            # HDF5's shared lock (as any h5py reader of the file in this
            # process takes it), unless following a recording.
            return h5py.File(path, "r", locking=None if locking else False)
        except OSError as error:
            if not _marked_open(error):
                raise
        try:
            # Being recorded (or its writer was killed): SWMR reading shows
            # every snapshot the writer has flushed.
            return h5py.File(path, "r", swmr=True, locking=False)
        except OSError as error:
            if not _marked_open(error):
                raise
            # Marked open by a writer that was killed, or by one out of SWMR
            # mode for a moment (creating datasets): clear the first, wait
            # for the second.
            if not _clear_stale_marks(path) and time.monotonic() > deadline:
                raise
        time.sleep(0.02)


def _open_for_writing(path, handed_over=False):
    """Open (or create) a run file to write, clearing the marks of a writer that was killed.

    ``handed_over``: the process that created the run holds its
    :class:`WriterLock` for this writer until it has the file open.
    """
    if not handed_over and os.path.exists(path) and _writer_lock_held(path):
        # A recorder in SWMR mode, perhaps reopening the file this instant
        # (when HDF5's own marks and lock are briefly gone).
        raise OSError("unable to lock file: a recorder is writing it")
    try:
        # A reader's shared lock may be there for a moment only (one that
        # polls the file between the recorder's trainer closing it and its
        # writer process opening it): wait it out a little.
        return open_writable(path, BUSY_RETRY_SECONDS)
    except OSError as error:
        if _OPEN_FOR_WRITE not in str(error) or not _clear_stale_marks(path):
            raise
    return h5py.File(path, "a", libver=LIBVER)


def open_writable(path, seconds):
    """``h5py.File(path, "a")`` in replay's format, retried for up to ``seconds`` while
    another process holds HDF5's lock on it (a reader opening it for a moment)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return h5py.File(path, "a", libver=LIBVER)
        except OSError as error:
            if "unable to lock" not in str(error).lower() or time.monotonic() > deadline:
                raise
        time.sleep(0.02)


def open_file(path, mode="r", *, locking=True, handed_over=False):
    """Open a replay run file, with replay's errors for the usual mistakes.

    Args:
        path: path of the HDF5 file.
        mode: ``"r"`` to read, ``"a"`` to read and write (created if absent).
        locking: to read: take HDF5's shared file lock while the file is
            not being recorded (as h5py does by default); ``False`` when
            following a recording, so as never to block its writer. A file
            being recorded is read without the lock either way.
        handed_over: to write: the file is handed over by the process that
            created the run, which holds its :class:`WriterLock` until the
            new writer has it open (a recorder's writer child). Without it,
            a file whose ``WriterLock`` is held is refused as being recorded.

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
        handle = (_open_for_reading(path, locking) if mode == "r"
                  else _open_for_writing(path, handed_over))
    except OSError as error:
        if created and os.path.exists(path) and not h5py.is_hdf5(path):
            os.remove(path)  # e.g. a full disk: leave no 0-byte file behind
        message = _open_failure(path, mode, error)
        busy = "unable to lock" in str(error).lower() or _marked_open(error)
        raise (FileBusyError if busy else RunFileError)(message) from error
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
    if _marked_open(error) and mode != "r":
        return (f"Cannot write to run file {_describe(path)}: another process is recording "
                "into it. Wait until it has finished, or record into another file.")
    if _marked_open(error):
        return (f"Cannot read run file {_describe(path)}: a recorder is writing it and did "
                "not let readers in (try again in a moment).")
    if "already open" in text or "flag values don't match" in text:
        return (f"Cannot write to run file {_describe(path)}: it is already open in this "
                "process (for example by a replay.Run). Call run.close() (or use "
                "`with Run(...) as run:`) before recording into the same file.")
    if "unable to lock" in text.lower():
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
    with open_file(path) as source, h5py.File(temporary, "w", libver=LIBVER) as target:
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
        handle = h5py.File(path, "r", locking=False)  # no lock: a live writer reopens it
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
                f"{_describe(path)} holds {len(names)} runs ({listed}); choose one "
                "with run=NAME in Python or --run NAME on the command line."
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
