"""Writing a run from a child process, so that HDF5 never competes with training.

h5py drops and re-takes the GIL around its calls. On a thread of the
training process each re-take waits behind the training loop, which holds
the GIL almost all the time: measured here, a writer thread asked for one
part-1 snapshot every 14 ms managed 6 a second, and the training thread
lost about 3 ms per epoch to the hand-offs (a part-1 fit 20% slower). A
child process has its own interpreter; the training process only pickles
each snapshot into a pipe.

The parent creates the run (metadata, static inputs) itself, closes the
file and hands it to a child, which appends snapshots, history rows and
attributes with :class:`replay.io.writer.RunWriter`, in order, flushing after
each. If the parent dies, the child reads to the end of the pipe, writes
every complete message and closes the file: a killed training keeps every
snapshot it handed over. The child imports numpy, h5py and
:mod:`replay.io` only (no Keras).

A child that closed its run waits, idle, for the next one: starting a
Python with numpy and h5py takes ~0.2 s of CPU, which during the first
epoch competes with Keras compiling the training step, so a sweep of runs
in one session pays it once. Idle children end with the session.

The parent runs it as ``python -c _CHILD_START`` (:data:`WRITER_NICENESS`
lower in CPU priority, then ``python -m replay.io.writer_process``).
"""

import atexit
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import weakref
from pathlib import Path

from replay.errors import RecordingError


class WriterProcess:
    """Appends snapshots to one run of a run file from a child process.

    It has the writing methods of :class:`replay.io.writer.RunWriter`
    (``append_snapshot``, ``append_history``, ``set_attributes``, ``close``);
    each sends one message and returns once the pipe has taken it.

    Args:
        path: the run file; the run must already exist in it.
        run: the run's name.
        compression: HDF5 filter for arrays the child creates.
        handover: the :class:`replay.io.runfile.WriterLock` the caller took
            on the file before closing it, or ``None``. It is released once
            the child has the file open (the first :meth:`sync`) or is gone,
            so the file never looks abandoned to a reader following the run
            while the child starts up.
    """

    def __init__(self, path, run, *, compression=None, handover=None):
        self.path = os.fspath(path)
        self.run = run
        self._handover = handover
        opening = ("open", self.path, run, compression, handover is not None)
        process = _idle_child()
        if process is not None:
            try:
                _write(process, opening)
                opening = None
            except OSError:  # the idle child died meanwhile
                _end(process)
                process = None
        self._process = process or self._start_child()
        # A recorder dropped without close() (e.g. after an interrupted fit)
        # ends its child: the closed pipe is the child's signal to finish.
        self._finalizer = weakref.finalize(self, _close_pipe, self._process)
        if opening is not None:
            self._send(opening)

    def _start_child(self):
        try:
            return _spawn()
        except OSError as error:
            raise RecordingError(
                f"Cannot start the writer process for run {self.run!r} of '{self.path}': "
                f"{error}. Pass writer='thread' to write from the training process."
            ) from error

    def append_snapshot(self, epoch, step, arrays, history=None):
        self._send(("snapshot", epoch, step, arrays, history))

    def append_history(self, epoch, logs, *, flush=True):
        # ``flush`` is RunWriter's; the child flushes after every message.
        self._send(("history", epoch, logs))

    def set_attributes(self, **attributes):
        self._send(("attributes", attributes))

    def sync(self):
        """Wait until the child has written and flushed every message sent so far.

        Raises:
            RecordingError: if the child failed (e.g. it could not open the
                file); its error is in the message.
        """
        self._send(("sync",))
        reply = _read_reply(self._process)
        self._release_handover()  # the child has the file open, or has failed
        if reply[0] == "synced":
            return
        process, self._process = self._process, None
        self._finalizer.detach()
        _end(process)
        raise RecordingError(self._failure(reply, process.returncode))

    def close(self):
        """Wait until every message is written and the file closed.

        Raises:
            RecordingError: if the child failed; its error is in the message.
        """
        process, self._process = self._process, None
        if process is None:
            self._release_handover()
            return
        self._finalizer.detach()
        try:
            _write(process, ("close",))
        except OSError:
            pass  # the child is gone; its reply says why
        reply = _read_reply(process)
        self._release_handover()
        if reply[0] == "closed":
            _make_idle(process)
            return
        _end(process)
        raise RecordingError(self._failure(reply, process.returncode))

    def _send(self, message):
        if self._process is None:
            raise RecordingError(f"The writer of run {self.run!r} of '{self.path}' is closed.")
        try:
            if _replied(self._process):
                # The child only replies unasked when it failed (e.g. a full
                # disk): say so now, not once the pipe has filled up.
                raise OSError("the writer child reported an error")
            _write(self._process, message)
        except OSError:
            process, self._process = self._process, None
            self._finalizer.detach()
            reply = _read_reply(process)
            _end(process)
            self._release_handover()
            raise RecordingError(self._failure(reply, process.returncode)) from None

    def _release_handover(self):
        if self._handover is not None:
            self._handover.release()

    def _failure(self, reply, returncode):
        if reply[0] == "error":
            if reply[1].startswith("Writing run "):  # the writer's own RecordingError
                return reply[1]
            return f"Writing run {self.run!r} of '{self.path}' failed: {reply[1]}"
        return (f"The writer process of run {self.run!r} of '{self.path}' ended unexpectedly "
                f"(exit code {returncode}). The run keeps every snapshot written before; "
                "pass writer='thread' to write from the training process instead.")


#: A frame: its header (pickle length, buffer count), the buffer lengths,
#: the pickle, then the buffers.
_FRAME = struct.Struct("<QI")
_LENGTH = struct.Struct("<Q")
#: The pipe's capacity where the system lets us set it (Linux): a snapshot
#: then passes in one write instead of waking the child for every 64 KiB.
PIPE_BYTES = 1 << 20


def _write(process, message):
    """Send one message: a pickle whose arrays travel out of band, uncopied."""
    buffers = []
    data = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    views = [buffer.raw() for buffer in buffers]
    stream = process.stdin
    stream.write(_FRAME.pack(len(data), len(views))
                 + b"".join(_LENGTH.pack(view.nbytes) for view in views) + data)
    for view in views:
        stream.write(view)  # large writes go to the pipe directly, GIL released
    stream.flush()


def _read(stream):
    """Receive one message of :func:`_write`; ``EOFError`` at the end of the pipe."""
    header = stream.read(_FRAME.size)
    if len(header) < _FRAME.size:
        raise EOFError
    size, count = _FRAME.unpack(header)
    lengths = [_LENGTH.unpack(stream.read(_LENGTH.size))[0] for _ in range(count)]
    data = stream.read(size)
    buffers = [stream.read(length) for length in lengths]
    if len(data) < size or any(len(buffer) < length
                               for buffer, length in zip(buffers, lengths)):
        raise EOFError  # the parent died mid-frame
    return pickle.loads(data, buffers=buffers)


def _widen_pipe(stream):
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or above the system's limit: the default pipe works


def _close_pipe(process):
    try:
        process.stdin.close()
    except OSError:
        pass


def _end(process):
    """Let a child finish (closed pipe) and reap it."""
    _close_pipe(process)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


#: Idle children, as (pid of the process that started them, Popen); a
#: forked copy of this process must not share its parent's pipes.
_IDLE = []
_IDLE_LOCK = threading.Lock()
_IDLE_MAX = 2


#: How much lower the writer child's CPU priority is than the trainer's
#: (Unix ``nice``). Its start-up (~0.3 s of CPU importing numpy and h5py)
#: and its writes then take the CPU training leaves, instead of slowing the
#: first batch, when Keras compiles its training step on both cores.
WRITER_NICENESS = 10
#: The child's command: lower its priority before anything is imported, then run :func:`main`.
_CHILD_START = (
    "import os, sys, runpy\n"
    "if hasattr(os, 'nice'):\n"
    "    try:\n"
    "        os.nice(int(sys.argv[1]))\n"
    "    except OSError:\n"
    "        pass\n"
    "runpy.run_module('replay.io.writer_process', run_name='__main__', alter_sys=True)\n")


def _spawn():
    """Start a writer child (it imports numpy and h5py, then waits for its first "open")."""
    package_root = str(Path(__file__).resolve().parents[2])  # the folder holding replay/
    environment = dict(os.environ)
    # The child must import this replay, even when it is not installed.
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [package_root, environment.get("PYTHONPATH")]))
    process = subprocess.Popen([sys.executable, "-c", _CHILD_START, str(WRITER_NICENESS)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment)
    _widen_pipe(process.stdin)
    return process


def prestart():
    """Start a writer child now, unless one is idle, so its start-up overlaps the caller's work.

    A new Python importing numpy and h5py takes ~0.2 s of CPU; the recorder
    calls this before it builds and traces its capture, and the
    :class:`WriterProcess` it makes then takes the child from the idle ones.
    """
    with _IDLE_LOCK:
        if any(owner == os.getpid() and process.poll() is None for owner, process in _IDLE):
            return
    try:
        _make_idle(_spawn())
    except OSError:
        pass  # WriterProcess starts its own, and reports why it cannot


def _idle_child():
    with _IDLE_LOCK:
        while _IDLE:
            owner, process = _IDLE.pop()
            if owner == os.getpid() and process.poll() is None:
                return process
    return None


def _make_idle(process):
    with _IDLE_LOCK:
        if len(_IDLE) < _IDLE_MAX:
            _IDLE.append((os.getpid(), process))
            return
    _end(process)


@atexit.register
def _end_idle_children():
    with _IDLE_LOCK:
        idle, _IDLE[:] = list(_IDLE), []
    for owner, process in idle:
        if owner == os.getpid():
            _end(process)


def _replied(process):
    """Whether the child has written something (or ended) without being asked: a failure."""
    try:
        readable, _, _ = select.select([process.stdout], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _read_reply(process):
    try:
        return pickle.load(process.stdout)
    except (EOFError, pickle.UnpicklingError, OSError):
        return ("gone",)


def _file_identity(path):
    """``(device, inode)`` of the file at ``path``, or ``None`` when there is none."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _check_same_file(path, identity):
    """Raise when the run file was deleted or replaced since the writer opened it."""
    if _file_identity(path) != identity:
        raise _moved(path)


def _moved(path):
    return RecordingError(
        f"the run file '{path}' was deleted or replaced while it was being recorded; "
        "the snapshots written since are lost with it. Record again into a file that "
        "stays in place.")


def main():
    """The child: apply the parent's messages to run files until its pipe closes."""
    from replay.io import runfile
    from replay.io.writer import RunWriter

    # Ctrl-C in a terminal reaches the whole process group; the parent
    # decides when writing ends (a closed pipe or a "close" message).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    messages, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the replies
    writer = path = identity = None
    try:
        while True:
            try:
                message = _read(messages)
            except (EOFError, pickle.UnpicklingError):
                return 0  # the parent is gone: keep what was written
            kind = message[0]
            if kind in ("snapshot", "history", "attributes"):
                _check_same_file(path, identity)
            if kind == "open":
                _, path, run, compression, handed_over = message
                writer = RunWriter(runfile.open_file(path, "a", handed_over=handed_over), run,
                                   compression=compression)
                identity = _file_identity(path)
            elif kind == "snapshot":
                writer.append_snapshot(*message[1:])
            elif kind == "history":
                writer.append_history(*message[1:])
            elif kind == "attributes":
                writer.set_attributes(**message[1])
                writer.handle.flush()
            elif kind == "sync":  # every earlier message is written and flushed
                replies.write(pickle.dumps(("synced",)))
                replies.flush()
            elif kind == "close":  # then wait, idle, for the next "open"
                writer, closing = None, writer
                closing.close()
                replies.write(pickle.dumps(("closed",)))
                replies.flush()
    except Exception as error:  # reported to the parent, which raises it
        failure = error
        if identity is not None and _file_identity(path) != identity:
            # Deleted during a write (e.g. as SWMR mode starts, which opens
            # the file's lock by name): that is the cause, not the disk.
            failure = _moved(path)
        text = str(failure) if isinstance(failure, RecordingError) else \
            f"{type(failure).__name__}: {failure}"
        replies.write(pickle.dumps(("error", text)))
        replies.flush()
        return 1
    finally:
        if writer is not None:
            _close_quietly(writer)


def _close_quietly(writer):
    """Close the file after an error (a full disk may refuse the last flush too)."""
    try:
        writer.close()
    except Exception:  # noqa: BLE001 - the first error was reported already
        pass


if __name__ == "__main__":
    sys.exit(main())
