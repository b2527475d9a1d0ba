"""The run file: an HDF5 file holding one group per recorded run.

This module owns the schema (see ``docs/run-file-schema.md``): the writer the
recorder uses, and the checks the reader uses to open a file and a run. It
needs numpy and h5py only.

Crash safety: every per-snapshot array grows along its first axis, and the
snapshot index ``snapshots/epoch`` is grown *last*, after all arrays of the
snapshot are written, followed by a flush. The reader trusts only
``len(snapshots/epoch)``, so a process killed in the middle of a snapshot
leaves a run holding every completed snapshot.
"""

import json
import os

import h5py
import numpy as np

from replay.errors import (
    RunFileError,
    RunNotFoundError,
    SchemaVersionError,
)

FORMAT_NAME = "replay run file"
SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = (1,)

#: The kinds of recorded inputs. ``train`` and ``validation`` are samples
#: (with targets and per-sample loss); ``grid`` and ``mesh`` are probe points.
SOURCES = ("train", "validation", "grid", "mesh")


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
    if mode == "r" and not os.path.exists(path):
        raise RunFileError(
            f"No such run file: {_describe(path)}. Check the path, or record a run "
            "into it first with replay.Recorder."
        )
    if mode == "r" and os.path.isdir(path):
        raise RunFileError(f"{_describe(path)} is a directory, not a run file.")
    try:
        handle = h5py.File(path, mode)
    except OSError as error:
        if mode == "r" and not h5py.is_hdf5(path):
            raise RunFileError(
                f"{_describe(path)} is not an HDF5 file, so it cannot be a replay run "
                "file. Pass the .h5 file written by replay.Recorder."
            ) from error
        if mode != "r" and "already open" in str(error):
            raise RunFileError(
                f"Cannot write to run file {_describe(path)}: it is already open in this "
                "process (for example by a replay.Run). Call run.close() (or use "
                "`with Run(...) as run:`) before recording into the same file."
            ) from error
        raise RunFileError(
            f"Cannot open run file {_describe(path)} (mode {mode!r}): {error}. If the "
            "file was being written by a process that crashed during a write, it may "
            "be damaged; if another process has it open for writing, close it first."
        ) from error
    if mode == "r":
        _check_format(handle, path)
    elif handle.attrs.get("format") is None:
        if len(handle) and not _is_legacy(handle):
            handle.close()
            raise RunFileError(
                f"{_describe(path)} is an HDF5 file but not a replay run file; refusing "
                "to write into it. Choose another path."
            )
        handle.attrs["format"] = FORMAT_NAME
        handle.attrs["schema_version"] = SCHEMA_VERSION
    return handle


def _is_legacy(handle):
    """Whether the file looks like one written by the old DeepReplay package."""
    return any(
        isinstance(group, h5py.Group) and "n_epochs" in group.attrs
        for group in handle.values()
    )


def _check_format(handle, path):
    if handle.attrs.get("format") == FORMAT_NAME or _is_legacy(handle):
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
        return _run_names(handle)


def _run_names(handle):
    names = [name for name, group in handle.items() if isinstance(group, h5py.Group)]
    return sorted(names, key=lambda name: handle[name].attrs.get("created", ""))


def open_run_group(handle, path, run):
    """Return the group of ``run`` in an open file, checked for a readable schema.

    Args:
        handle: an open ``h5py.File``.
        path: its path, for messages.
        run: the run name, or ``None`` to take the only run of the file.

    Returns:
        The run's ``h5py.Group``.
    """
    names = _run_names(handle)
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
    group = handle[run]
    if "n_epochs" in group.attrs and "schema_version" not in group.attrs:
        return group  # a DeepReplay file: see replay.legacy
    version = group.attrs.get("schema_version")
    if version is None:
        raise RunFileError(
            f"Run {run!r} in {_describe(path)} has no schema_version attribute; it was "
            "not written by replay.Recorder or the file is damaged."
        )
    if int(version) not in SUPPORTED_SCHEMA_VERSIONS:
        raise SchemaVersionError(
            f"Run {run!r} in {_describe(path)} uses run-file schema version {version}, "
            f"but this replay reads versions {list(SUPPORTED_SCHEMA_VERSIONS)}. Upgrade "
            "replay (pip install -U) to read it."
        )
    if "snapshots/epoch" not in group:
        raise RunFileError(
            f"Run {run!r} in {_describe(path)} has no snapshot index "
            "('snapshots/epoch'); the file is truncated or damaged."
        )
    return group


class RunWriter:
    """Writes one run into an open run file, one snapshot at a time.

    The recorder uses it; it is public so that other tools can write runs
    that replay reads.

    Args:
        handle: an ``h5py.File`` opened for writing (see :func:`open_file`).
        run: name of the run (an HDF5 group name).
        compression: HDF5 filter for the per-snapshot arrays (``None``,
            ``"gzip"`` or ``"lzf"``).
    """

    def __init__(self, handle, run, *, compression=None):
        self.handle = handle
        self.run = run
        self.compression = compression
        self.group = handle.require_group(run)
        self._datasets = {}  # name -> (dataset, memory space of one row, dtype)
        self._n_snapshots = None
        self._history_rows = None
        self._history_keys = set()

    @classmethod
    def create(cls, handle, run, attributes, *, compression=None):
        """Create the run group with its metadata attributes."""
        group = handle.create_group(run)
        group.attrs["schema_version"] = SCHEMA_VERSION
        group.attrs["complete"] = False
        for key, value in attributes.items():
            group.attrs[key] = _attribute(value)
        writer = cls(handle, run, compression=compression)
        writer._growable("snapshots/epoch", (), np.float64)
        writer._growable("snapshots/step", (), np.int64)
        return writer

    @property
    def n_snapshots(self):
        if self._n_snapshots is None:
            self._n_snapshots = self.group["snapshots/epoch"].shape[0]
        return self._n_snapshots

    def set_attributes(self, **attributes):
        for key, value in attributes.items():
            self.group.attrs[key] = _attribute(value)

    def close(self):
        """Close the file handle this writer was given."""
        self.handle.close()

    def write_static(self, name, array):
        """Write an array that does not change over the run (inputs, targets)."""
        array = np.asarray(array)
        if name in self.group:
            del self.group[name]
        self.group.create_dataset(name, data=array)

    def _growable(self, name, item_shape, dtype, fillvalue=None):
        if name in self.group:
            return self.group[name]
        chunk_bytes = max(1, int(np.prod(item_shape))) * np.dtype(dtype).itemsize
        chunk_rows = max(1, min(256, (64 * 1024) // chunk_bytes))
        return self.group.create_dataset(
            name,
            shape=(0, *item_shape),
            maxshape=(None, *item_shape),
            dtype=dtype,
            chunks=(chunk_rows, *item_shape),
            compression=self.compression if item_shape else None,
            fillvalue=fillvalue,
        )

    def _row_dataset(self, name, item_shape, dtype, fillvalue=None):
        """Return ``(dataset, memory space of one row, dtype)`` of a growable dataset, cached."""
        entry = self._datasets.get(name)
        if entry is None:
            dataset = self._growable(name, item_shape, dtype, fillvalue)
            entry = (dataset, h5py.h5s.create_simple((1, *item_shape)), dataset.dtype)
            self._datasets[name] = entry
        return entry

    def _write_row(self, name, index, array, *, dtype=None, fillvalue=None):
        """Write ``array`` as row ``index`` of the growable dataset ``name``.

        Uses h5py's low-level calls with a cached dataset and memory space:
        the high-level ``dataset[index] = array`` costs several times more,
        and this runs for every array of every snapshot during training.
        New datasets store floats as float32 unless ``dtype`` says otherwise.
        """
        if dtype is None:
            dtype = np.float32 if array.dtype.kind == "f" else array.dtype
        dataset, memory_space, dtype = self._row_dataset(name, array.shape, dtype, fillvalue)
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
        if history is not None:
            self.append_history(*history, flush=False)
        index = self.n_snapshots
        for name, array in arrays.items():
            self._write_row(name, index, np.asarray(array))
        self._write_row("snapshots/step", index, np.asarray(step, dtype=np.int64))
        self._write_row("snapshots/epoch", index, np.asarray(epoch, dtype=np.float64))
        self._n_snapshots = index + 1
        self.handle.flush()
        return index

    def append_history(self, epoch, logs, *, flush=True):
        """Append one epoch of Keras ``logs`` (plus ``epoch``) to ``history/``.

        ``history/epoch`` is grown last: it is the history's index, as
        ``snapshots/epoch`` is the snapshots'. A key that first appears late
        is filled with NaN before it, a key missing this epoch gets NaN (the
        datasets' fill value). Pass ``flush=False`` when an
        :meth:`append_snapshot` (which flushes) follows at once.
        """
        index = self._history_length()
        for key, value in logs.items():
            if key != "epoch":
                self._write_history(key, index, value)
        for key in self._history_keys - logs.keys() - {"epoch"}:  # missing this epoch
            self._row_dataset(f"history/{key}", (), np.float64)[0].id.set_extent((index + 1,))
        self._write_history("epoch", index, epoch)
        self._history_rows = index + 1
        if flush:
            self.handle.flush()

    def _history_length(self):
        if self._history_rows is None:
            history = self.group.get("history")
            self._history_keys = set(history or ())
            self._history_rows = history["epoch"].shape[0] if "epoch" in self._history_keys else 0
        return self._history_rows

    def _write_history(self, key, index, value):
        self._history_keys.add(key)
        self._write_row(f"history/{key}", index, np.asarray(float(value)), dtype=np.float64,
                        fillvalue=np.nan)


def _attribute(value):
    """Return a value HDF5 can store as an attribute (JSON for containers)."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    if value is None:
        return "null"
    return value
