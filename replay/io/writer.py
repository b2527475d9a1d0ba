"""Writing a run into a run file, one snapshot at a time: :class:`RunWriter`.

Crash safety: every per-snapshot array grows along its first axis, and the
snapshot index (:data:`replay.io.schema.SNAPSHOT_EPOCHS`) is grown *last*,
after all arrays of the snapshot are written, followed by a flush. The
reader trusts only the length of that index, so a process killed in the
middle of a snapshot leaves a run holding every completed snapshot. The
history has its own index (:data:`replay.io.schema.HISTORY_EPOCHS`), grown
last in the same way.

Dtypes: float arrays are stored as float32, except float16 arrays, which
stay float16 (the recorder hands activations and probe outputs over in
float16, see :mod:`replay.io.storage`). A float32 row for a float16 dataset
(a value beyond float16's range) widens that dataset to float32 for good.

Compression: with ``compression`` set, every per-snapshot array gets the
shuffle filter and that compressor. A chunk holds one snapshot of a large
array (at most :data:`CHUNK_BYTES` of consecutive snapshots of a small
one), so reading a snapshot reads (and decompresses) little more than that
snapshot.

Live reading (SWMR): once a run's first snapshot is written (every
per-snapshot dataset then exists), the writer switches the file to HDF5's
single-writer/multiple-reader mode, in which readers in other processes
open it and see every flushed snapshot. SWMR forbids creating objects and
attributes; the few moments that need it (the history's datasets at the
first epoch's end, a key logged late, a float16 dataset widened, the final
attributes) leave SWMR mode by reopening the file, create, and enter it
again: a handful of reopens per run, not one per snapshot. Files in the
format before SWMR (superblock 0) are written as before, readers locked
out until the end.

numpy and h5py only: the writer child process (:mod:`replay.io.writer_process`)
runs this without Keras.
"""

import contextlib
import gc
import json
import os
import sys
import traceback

import h5py
import numpy as np

from replay.errors import RecordingError
from replay.io import runfile, schema, superblock

#: What h5py raises when a write reaches no disk (full, over quota, too large).
_WRITE_FAILURES = (OSError, RuntimeError)

#: Largest chunk of a growable dataset in bytes (uncompressed): a snapshot of
#: a larger array is one chunk by itself. A chunk is allocated whole (a short
#: run's small arrays take this much each), and a compressed partial chunk is
#: compressed again at every flush.
CHUNK_BYTES = 64 * 1024


def compression_filter(compression):
    """Return the h5py ``create_dataset`` options of ``compression``, checked.

    Args:
        compression: ``None``, ``"lzf"``, ``"gzip"`` (level 4) or a gzip
            level 0-9 (an int).

    Raises:
        ValueError: another value.
    """
    if compression is None:
        return {}
    if isinstance(compression, (int, np.integer)) and not isinstance(compression, bool) \
            and 0 <= compression <= 9:
        return {"compression": "gzip", "compression_opts": int(compression), "shuffle": True}
    if compression in ("gzip", "lzf"):
        return {"compression": compression, "shuffle": True}
    raise ValueError(f"compression must be None, 'gzip', 'lzf' or a gzip level 0-9. "
                     f"Got {compression!r}.")


class RunWriter:
    """Writes one run into an open run file, one snapshot at a time.

    The recorder uses it; it is public so that other tools can write runs
    that replay reads.

    Args:
        handle: an ``h5py.File`` opened for writing (see :func:`open_file`).
        run: name of the run (an HDF5 group name).
        compression: HDF5 filter for the per-snapshot arrays (``None``,
            ``"gzip"``, a gzip level 0-9 or ``"lzf"``; with the shuffle
            filter).
        static_compression: the same for the static arrays (inputs, targets).
    """

    def __init__(self, handle, run, *, compression=None, static_compression=None):
        self.handle = handle
        self.run = run
        self.compression = compression
        self._filter = compression_filter(compression)
        self._static_filter = compression_filter(static_compression)
        self.group = handle.require_group(run)
        self._datasets = {}  # name -> (dataset, memory space of one row, dtype)
        self._n_snapshots = None
        self._history_rows = None
        self._history_keys = set()
        self._live = False  # the file is in SWMR mode
        self._lock = None  # runfile.WriterLock while live
        self._failed = None  # the RecordingError of a write that failed

    @contextlib.contextmanager
    def _writing(self):
        """Turn a failed write (a full disk) into a RecordingError naming the file, once.

        The file is then closed and left readable with every snapshot
        written before (see :func:`replay.io.superblock.fit_end_of_file`);
        later writes raise the same error.
        """
        if self._failed is not None:
            raise self._failed
        try:
            yield
        except _WRITE_FAILURES as error:
            if isinstance(error, RecordingError):
                raise
            path = self.handle.filename if self.handle.id.valid else "?"
            detail = " ".join(str(error).split())[:300]
            self._failed = RecordingError(
                f"Writing run {self.run!r} of '{path}' failed: {type(error).__name__}: "
                f"{detail}. The run keeps the snapshots written before; free some disk "
                "space (or choose another file) and record again.")
            self._abandon(path, error.__traceback__)
            error = None
            raise self._failed from None

    def _abandon(self, path, trace=None):
        """Close after a failed write, quietly, and make the file open again.

        HDF5 cannot close a file whose flush fails: it keeps it, and crashes
        when the process exits (measured: SIGSEGV at exit, every time). So
        the library's descriptor of the file is pointed at ``/dev/null``
        first: its last flush and close then succeed without touching the
        file, which keeps what reached the disk before the failure. The
        superblock is then made to match it (``fit_end_of_file``).
        """
        handle = self.handle
        try:
            descriptor = handle.id.get_vfd_handle()
            devnull = os.open(os.devnull, os.O_RDWR)
            try:
                os.dup2(devnull, descriptor)
            finally:
                os.close(devnull)
        except (OSError, RuntimeError, ValueError):
            pass  # closing may then fail (and HDF5 complain at exit)
        hook, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
        try:
            # Only now release the h5py objects (cached, and in the failed
            # call's frames): each release flushes, into /dev/null.
            self.group, self._datasets = None, {}
            if trace is not None:
                traceback.clear_frames(trace)
            gc.collect()
            handle.close()
        except Exception:  # noqa: BLE001 - nothing more to report than the first error
            pass
        finally:
            gc.collect()
            sys.unraisablehook = hook
        if self._lock is not None:
            self._lock.release()
        self._live, self._lock = False, None
        try:
            superblock.fit_end_of_file(path)
        except OSError:
            pass

    @property
    def live(self):
        """Whether the file is in SWMR mode (other processes may read it now)."""
        return self._live

    def start_live(self):
        """Let other processes read the file from now on (HDF5 SWMR mode), if its format allows.

        Every dataset and attribute must exist before: :meth:`append_snapshot`
        calls this after the first snapshot; later creations go through
        :meth:`_creating`.
        """
        if self._live or not runfile.allows_live_reading(self.handle):
            return
        if self._lock is None:  # taken before SWMR mode, held through reopens
            self._lock = runfile.WriterLock(self.handle.filename)
            self._lock.acquire()
        self.handle.flush()
        self.handle.swmr_mode = True
        self._live = True

    @contextlib.contextmanager
    def _creating(self):
        """A context in which datasets and attributes may be created (out of SWMR mode).

        SWMR mode cannot be left but by closing the file: this reopens it,
        lets the body create, and enters SWMR mode again. Readers meanwhile
        keep what they have open and retry opening (see ``runfile.open_file``).
        """
        if not self._live:
            yield
            return
        path = self.handle.filename
        self.handle.close()
        self._live = False
        self.handle = runfile.open_writable(path, REOPEN_SECONDS)
        self.group = self.handle[self.run]
        self._datasets = {}
        yield
        self.start_live()

    @classmethod
    def create(cls, handle, run, attributes, *, compression=None, static_compression=None):
        """Create the run group with its metadata attributes."""
        handle.create_group(run)
        writer = cls(handle, run, compression=compression, static_compression=static_compression)
        with writer._writing():
            group = writer.group
            group.attrs[schema.VERSION_ATTRIBUTE] = schema.run_version(
                attributes.get(schema.RECOMPUTED_ATTRIBUTE))
            group.attrs["complete"] = False
            for key, value in attributes.items():
                group.attrs[key] = _attribute(value)
            writer._growable(schema.SNAPSHOT_EPOCHS, (), np.float64)
            writer._growable(schema.SNAPSHOT_STEPS, (), np.int64)
        return writer

    @property
    def failed(self):
        """Whether a write failed (a full disk): the file is closed, the run keeps what it had."""
        return self._failed is not None

    @property
    def n_snapshots(self):
        if self._n_snapshots is None:
            self._n_snapshots = self.group[schema.SNAPSHOT_EPOCHS].shape[0]
        return self._n_snapshots

    def set_attributes(self, **attributes):
        with self._writing(), self._creating():
            for key, value in attributes.items():
                self.group.attrs[key] = _attribute(value)

    def close(self):
        """Close the file handle this writer was given (it leaves SWMR mode)."""
        if self._failed is not None:
            return  # closed when the write failed
        with self._writing():
            self.handle.close()
        if self._lock is not None:
            self._lock.release()
        self._live, self._lock = False, None

    def sync(self):
        """Flush the file (the writer child's ``sync`` also waits for its queue)."""
        self.handle.flush()

    def write_static(self, name, array):
        """Write an array that does not change over the run (inputs, targets)."""
        array = np.asarray(array)
        with self._writing(), self._creating():
            if name in self.group:
                del self.group[name]
            # Created, then written: a write that fails (a full disk) then
            # fails here, with the dataset still held (see _abandon).
            dataset = self.group.create_dataset(
                name, shape=array.shape, dtype=array.dtype,
                **(self._static_filter if array.ndim and array.size else {}))
            if array.size:
                dataset[()] = array
            self.handle.flush()  # while the dataset is held: see above

    def _growable(self, name, item_shape, dtype, fillvalue=None):
        if name in self.group:
            return self.group[name]
        row_bytes = max(1, int(np.prod(item_shape))) * np.dtype(dtype).itemsize
        compressed = bool(self._filter) and bool(item_shape)
        chunk_rows = max(1, min(256, CHUNK_BYTES // row_bytes))
        return self.group.create_dataset(
            name,
            shape=(0, *item_shape),
            maxshape=(None, *item_shape),
            dtype=dtype,
            chunks=(chunk_rows, *item_shape),
            fillvalue=fillvalue,
            **(self._filter if compressed else {}),
        )

    def _widen(self, name):
        """Store the float16 dataset ``name`` as float32 from now on (rows copied over)."""
        with self._creating():
            self._widen_now(name)

    def _widen_now(self, name):
        old = self.group[name]
        self._datasets.pop(name, None)
        wider = f"{name}.float32"
        if wider in self.group:
            del self.group[wider]
        new = self.group.create_dataset(
            wider, shape=old.shape, maxshape=old.maxshape, dtype=np.float32,
            chunks=old.chunks, **(self._filter if old.compression else {}))
        for start in range(0, old.shape[0], max(1, old.chunks[0])):
            stop = min(start + max(1, old.chunks[0]), old.shape[0])
            new[start:stop] = old[start:stop].astype(np.float32)
        del self.group[name]
        self.group.move(wider, name)

    def _row_dataset(self, name, item_shape, dtype, fillvalue=None):
        """Return ``(dataset, memory space of one row, dtype)`` of a growable dataset, cached."""
        entry = self._datasets.get(name)
        if entry is None:
            if name not in self.group:
                with self._creating():
                    self._growable(name, item_shape, dtype, fillvalue)
            dataset = self._growable(name, item_shape, dtype, fillvalue)
            entry = (dataset, h5py.h5s.create_simple((1, *item_shape)), dataset.dtype)
            self._datasets[name] = entry
        return entry

    def _write_row(self, name, index, array, *, dtype=None, fillvalue=None):
        """Write ``array`` as row ``index`` of the growable dataset ``name``.

        Uses h5py's low-level calls with a cached dataset and memory space:
        the high-level ``dataset[index] = array`` costs several times more,
        and this runs for every array of every snapshot during training.
        New datasets store floats as float32 (float16 arrays as float16)
        unless ``dtype`` says otherwise.
        """
        if dtype is None:
            dtype = (array.dtype if array.dtype == np.float16
                     else np.float32 if array.dtype.kind == "f" else array.dtype)
        dataset, memory_space, dtype = self._row_dataset(name, array.shape, dtype, fillvalue)
        if dtype == np.float16 and array.dtype.kind == "f" and array.dtype != np.float16:
            self._widen(name)  # a row that does not fit float16
            dataset, memory_space, dtype = self._row_dataset(name, array.shape, np.float32,
                                                             fillvalue)
        if dataset.shape[1:] != array.shape:
            raise ValueError(
                f"Array {name!r} changed shape from {dataset.shape[1:]} to "
                f"{array.shape} between snapshots."
            )
        if dataset.shape[0] < index + 1:
            dataset.id.set_extent((index + 1, *array.shape))
        file_space = dataset.id.get_space()
        file_space.select_hyperslab((index,) + (0,) * array.ndim, (1, *array.shape))
        dataset.id.write(memory_space, file_space, np.ascontiguousarray(array, dtype=dtype))

    def append_snapshot(self, epoch, step, arrays, history=None):
        """Append one snapshot: ``arrays`` maps dataset paths to arrays.

        The arrays are written first; the snapshot index is grown last, so a
        crash in between leaves the previous snapshot count in force.
        ``history``, an ``(epoch, logs)`` pair, is appended with
        :meth:`append_history` under the same flush.
        """
        with self._writing():
            if history is not None:
                self._append_history(*history, flush=False)
            index = self.n_snapshots
            for name, array in arrays.items():
                self._write_row(name, index, np.asarray(array))
            self._write_row(schema.SNAPSHOT_STEPS, index, np.asarray(step, dtype=np.int64))
            self._write_row(schema.SNAPSHOT_EPOCHS, index, np.asarray(epoch, dtype=np.float64))
            self._n_snapshots = index + 1
            self.handle.flush()
            self.start_live()  # every per-snapshot dataset exists now
        return index

    def append_history(self, epoch, logs, *, flush=True):
        """Append one epoch of Keras ``logs`` (plus ``epoch``) to ``history/``.

        ``history/epoch`` is grown last: it is the history's index, as
        ``snapshots/epoch`` is the snapshots'. A key that first appears late
        is filled with NaN before it, a key missing this epoch gets NaN (the
        datasets' fill value). Pass ``flush=False`` when an
        :meth:`append_snapshot` (which flushes) follows at once.
        """
        with self._writing():
            self._append_history(epoch, logs, flush=flush)

    def _append_history(self, epoch, logs, *, flush=True):
        index = self._history_length()
        for key, value in logs.items():
            if key != schema.HISTORY_INDEX:
                self._write_history(key, index, value)
        # A key logged before but missing this epoch: grown, filled with NaN.
        for key in self._history_keys - logs.keys() - {schema.HISTORY_INDEX}:
            self._row_dataset(schema.history(key), (), np.float64)[0].id.set_extent((index + 1,))
        self._write_history(schema.HISTORY_INDEX, index, epoch)
        self._history_rows = index + 1
        if flush:
            self.handle.flush()

    def _history_length(self):
        if self._history_rows is None:
            history = self.group.get(schema.HISTORY)
            self._history_keys = set(history or ())
            index = schema.HISTORY_INDEX
            self._history_rows = history[index].shape[0] if index in self._history_keys else 0
        return self._history_rows

    def _write_history(self, key, index, value):
        self._history_keys.add(key)
        self._write_row(schema.history(key), index, np.asarray(float(value)), dtype=np.float64,
                        fillvalue=np.nan)


#: How long the writer retries reopening its file while another process
#: holds a lock on it for a moment (a reader of another program opening it).
REOPEN_SECONDS = 5.0


def _attribute(value):
    """Return a value HDF5 can store as an attribute (JSON for containers)."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    if value is None:
        return "null"
    return value
