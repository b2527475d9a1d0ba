"""Where a :class:`replay.Run` gets its arrays: the storage behind every kind of run.

A store answers the questions :class:`replay.Run` asks of a run, by
:mod:`replay.io.schema` path: ``path in store``, ``store[path]`` (an
array-like that slices like an h5py dataset: ``[index]``, ``[:n]``,
``[indices]``, ``[()]``), ``store.get(path)``, ``store.attrs`` and
:meth:`arrays`. Three kinds implement it:

- :class:`HDF5Store`: a run group of a replay run file (arrays read from disk);
- :class:`ArrayStore`: a flat ``{path: dataset}`` mapping, whose datasets
  may be in memory (:class:`StaticDataset`, e.g. ``Run.from_arrays``),
  read from an HDF5 file, or **computed on demand** (:class:`ComputedDataset`,
  e.g. the activations of a DeepReplay run, see :mod:`replay.io.deepreplay`).

``Run`` does not know which one it reads: its API is the same for every run.
"""

import os

import h5py
import numpy as np

from replay.errors import ReplayError, RunFileError
from replay.io import schema
from replay.io.recompute import RecomputedDatasets

#: What h5py and the OS raise on a damaged file: turned into :class:`RunFileError`.
_DAMAGE = (OSError, KeyError, RuntimeError, ValueError, TypeError, IndexError,
           AttributeError, SystemError)
#: Largest array a read may allocate, as a multiple of the file's size
#: (compressed data can expand; a damaged shape must not allocate gigabytes).
EXPANSION_LIMIT = 200
#: ... and never less than this many bytes.
READ_FLOOR = 64 << 20


class _Guard:
    """Turn h5py / OS errors while touching ``member`` into replay's own error."""

    def __init__(self, store, member):
        self.store, self.member = store, member

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is None or not issubclass(kind, _DAMAGE) or isinstance(error, ReplayError):
            return False
        raise RunFileError(
            f"Cannot read {self.member!r} of run {self.store.run!r} in '{self.store.path}': "
            f"{type(error).__name__}: {str(error)[:200]}. The file is damaged (or was "
            "changed by another program)."
        ) from error


class HDF5Store:
    """A run group of a replay run file, read as it is stored, with damage caught.

    Every access (``in``, ``[path]``, reading a dataset, listing a group) is
    guarded: what h5py raises on a damaged file becomes a
    :class:`replay.RunFileError` naming the file, the run and the member, and a
    read that would allocate far more than the file holds (a damaged shape)
    is refused before it allocates.

    Args:
        group: the run's ``h5py.Group``.
        path: the file's path, for messages.
    """

    def __init__(self, group, path=None):
        self.group = group
        self.path = path if path is not None else getattr(group.file, "filename", "?")
        self.run = group.name.lstrip("/")
        with _Guard(self, "attributes"):
            self.attrs = dict(group.attrs.items())
        try:
            self.file_bytes = max(os.path.getsize(self.path), 1)
        except OSError:
            self.file_bytes = 1
        # Datasets the run recomputes from its weights instead of storing them.
        self.recomputed = RecomputedDatasets.from_attribute(
            self, self.attrs.get(schema.RECOMPUTED_ATTRIBUTE))
        # Members and the array list, looked up once per store: a store lives as long as
        # its file handle (a reopened or refreshed run gets a new one), and an h5py lookup
        # by path costs more than reading a small array.
        self._members = {}
        self._arrays = None

    @property
    def valid(self):
        """Whether the file handle behind the group is still open."""
        return self.group.id.valid

    def release(self):
        """Drop what the store keeps (members, the array list, recomputed rows).

        The store and its members refer to each other, so without this they
        would wait for Python's cycle collector: a process diagnosing
        hundreds of runs would hold several of them at once.
        """
        self._members.clear()
        self._arrays = None
        if self.recomputed is not None:
            self.recomputed.clear()

    def _recomputed(self, path):
        """The :class:`ComputedDataset` of a recomputed (not stored) ``path``, or ``None``."""
        recomputed = self.recomputed
        if recomputed is None or path not in recomputed:
            return None
        return ComputedDataset(recomputed.shape(path),
                               lambda indices: recomputed.rows(path, indices))

    def guard(self, member):
        """A context in which h5py errors about ``member`` become a :class:`RunFileError`."""
        return _Guard(self, member)

    def __contains__(self, path):
        if self.recomputed is not None and path in self.recomputed:
            return True
        with _Guard(self, path):
            return path in self.group

    def __getitem__(self, path):
        member = self._members.get(path)
        if member is not None:
            return member
        computed = self._recomputed(path)
        if computed is not None:
            return computed
        with _Guard(self, path):
            member = self._members[path] = self._wrap(path, self.group[path])
        return member

    def get(self, path, default=None):
        computed = self._recomputed(path)
        if computed is not None:
            return computed
        with _Guard(self, path):
            item = self.group.get(path, default)
        return default if item is default else self._wrap(path, item)

    def _wrap(self, path, item):
        if isinstance(item, h5py.Dataset):
            return GuardedDataset(item, self, path)
        if isinstance(item, h5py.Group):
            return GuardedGroup(item, self, path)
        raise RunFileError(
            f"{path!r} of run {self.run!r} in '{self.path}' is neither an array nor a group "
            "(the file is damaged).")

    def arrays(self):
        """Return ``{dataset path: (shape, dtype, stored bytes)}`` of every array."""
        if self._arrays is None:
            self._arrays = self._list_arrays()
        return dict(self._arrays)

    def _list_arrays(self):
        found = {}

        def visit(name, item):
            if hasattr(item, "shape"):
                found[name] = (item.shape, item.dtype, item.id.get_storage_size())

        with _Guard(self, "the list of arrays"):
            self.group.visititems(visit)
        # Listed with 0 stored bytes, once snapshot 0 made the weights they
        # are computed from (a run stopped before it has none).
        index_shape = found.get(schema.SNAPSHOT_EPOCHS, ((0,),))[0]
        if self.recomputed is not None and index_shape[0] > 0:
            found.update(self.recomputed.arrays())
        return found


class GuardedGroup:
    """An h5py group of a run, read through its store's guard (keys, ``in``, ``[key]``)."""

    def __init__(self, group, store, path):
        self._group, self._store, self._path = group, store, path

    def __iter__(self):
        with self._store.guard(self._path):
            return iter(list(self._group.keys()))

    def keys(self):
        return list(self)

    def __len__(self):
        with self._store.guard(self._path):
            return len(self._group)

    def __contains__(self, key):
        with self._store.guard(f"{self._path}/{key}"):
            return key in self._group

    def __getitem__(self, key):
        return self._store[f"{self._path}/{key}"]


class GuardedDataset:
    """An h5py dataset of a run, read through its store's guard, with its size checked.

    Reads must be numbers (a dataset of strings in place of numbers is
    damage) and no larger than the file could hold.
    """

    def __init__(self, dataset, store, path):
        self._dataset, self._store, self._path = dataset, store, path
        with store.guard(path):
            self.shape = tuple(dataset.shape)
            self.dtype = dataset.dtype
            self.id = dataset.id
        # float16 storage (activations, probe outputs) is read back as float32.
        self.stored_dtype = self.dtype
        if self.dtype == np.float16:
            self.dtype = np.dtype(np.float32)
        if self.dtype.kind not in "fiub":
            raise RunFileError(
                f"{path!r} of run {store.run!r} in '{store.path}' holds {self.dtype} values "
                "where numbers belong (the file is damaged).")

    def __len__(self):
        if not self.shape:
            raise RunFileError(
                f"{self._path!r} of run {self._store.run!r} in '{self._store.path}' is a "
                "single value where an array belongs (the file is damaged).")
        return self.shape[0]

    def __getitem__(self, key):
        store = self._store
        with store.guard(self._path):
            rows = _selected_rows(key, self.shape)
            row_bytes = int(np.prod(self.shape[1:], dtype=np.float64)) * self.dtype.itemsize
            if rows * row_bytes > max(READ_FLOOR, EXPANSION_LIMIT * store.file_bytes):
                raise RunFileError(
                    f"{self._path!r} of run {store.run!r} in '{store.path}' claims shape "
                    f"{self.shape}, far more than the file's {store.file_bytes} bytes can "
                    "hold (the file is damaged); it was not read.")
            values = self._dataset[key]
        if self.stored_dtype == np.float16:
            return np.asarray(values, dtype=np.float32)
        return values


def _selected_rows(key, shape):
    """How many rows of the first axis ``key`` selects (an upper bound)."""
    if not shape:
        return 1
    n = shape[0]
    if isinstance(key, (int, np.integer)):
        return 1
    if isinstance(key, slice):
        return len(range(*key.indices(n)))
    if key is Ellipsis or (isinstance(key, tuple) and not key):
        return n
    try:
        return len(key)
    except TypeError:
        return n


class StaticDataset:
    """An array held in memory, read like an h5py dataset (every read is a copy).

    Args:
        array: the array (not copied; kept as a read-only view).
        stored_bytes: what :meth:`ArrayStore.arrays` reports as its size
            (default: its bytes in memory).
    """

    def __init__(self, array, *, stored_bytes=None):
        self.array = np.asarray(array).view()
        self.array.flags.writeable = False
        self.stored_bytes = self.array.nbytes if stored_bytes is None else int(stored_bytes)

    shape = property(lambda self: self.array.shape)
    dtype = property(lambda self: self.array.dtype)

    def __len__(self):
        return len(self.array)

    def __getitem__(self, key):
        return np.array(self.array[key])


class ComputedDataset:
    """A per-snapshot dataset whose rows are computed when they are read.

    Args:
        shape: the full shape ``(n_snapshots, ...)``.
        compute: function of a list of snapshot indices (increasing, no
            repeats) returning the array ``(len(indices), ...)`` of those rows.
        dtype: the dtype of the rows.
    """

    stored_bytes = 0

    def __init__(self, shape, compute, dtype=np.float32):
        self.shape = tuple(int(size) for size in shape)
        self.dtype = np.dtype(dtype)
        self._compute = compute

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        n = self.shape[0]
        if (isinstance(key, tuple) and not key) or key is Ellipsis:
            return self._rows(list(range(n)))
        if isinstance(key, slice):
            return self._rows(list(range(*key.indices(n))))
        if isinstance(key, (int, np.integer)):
            index = int(key)
            if not -n <= index < n:
                raise IndexError(f"Index {index} is out of range for {n} snapshots.")
            return self._rows([index % n])[0]
        indices = np.asarray(key)
        if indices.dtype == bool:
            indices = np.flatnonzero(indices)
        if indices.ndim != 1 or indices.dtype.kind not in "iu":
            raise TypeError(f"A computed dataset is indexed by snapshots only. Got {key!r}.")
        return self._rows([int(index) % n for index in indices])

    def _rows(self, indices):
        if not indices:
            return np.zeros((0, *self.shape[1:]), dtype=self.dtype)
        unique = sorted(set(indices))
        rows = np.asarray(self._compute(unique), dtype=self.dtype)
        if unique == indices:
            return rows
        position = {index: place for place, index in enumerate(unique)}
        return rows[[position[index] for index in indices]]


class ArrayStore:
    """A run held as a flat ``{schema path: dataset}`` mapping.

    Groups are implied by the paths: ``store["history"]`` is the mapping of
    every ``history/<key>`` dataset by key, and ``"gradients/hidden" in
    store`` is true when a dataset lies below it.

    Args:
        datasets: ``{path: dataset}``; datasets are numpy arrays (wrapped in
            :class:`StaticDataset`), :class:`StaticDataset`,
            :class:`ComputedDataset` or h5py datasets.
        attrs: the run attributes (as :class:`replay.Run` decodes them:
            JSON strings or plain values).
        valid: a function telling whether the store can still be read (a
            store reading an HDF5 file is not, once the file is closed);
            ``None`` for always.
    """

    def __init__(self, datasets, attrs, *, valid=None):
        self.attrs = dict(attrs)
        self._valid = valid
        self.datasets = {}
        self._groups = set()
        self.add(datasets)

    def add(self, datasets):
        """Add ``{path: dataset}`` to the store (replacing datasets of the same path)."""
        self.datasets.update({path: StaticDataset(value) if isinstance(value, np.ndarray)
                              else value for path, value in datasets.items()})
        self._groups = {path.rsplit("/", depth)[0] for path in self.datasets
                        for depth in range(1, path.count("/") + 1)}

    @property
    def valid(self):
        return True if self._valid is None else bool(self._valid())

    def __contains__(self, path):
        return path in self.datasets or path in self._groups

    def __getitem__(self, path):
        if path in self.datasets:
            return self.datasets[path]
        if path in self._groups:
            prefix = path + "/"
            return {name[len(prefix):]: dataset for name, dataset in self.datasets.items()
                    if name.startswith(prefix) and "/" not in name[len(prefix):]}
        raise KeyError(path)

    def get(self, path, default=None):
        return self[path] if path in self else default

    def arrays(self):
        """Return ``{dataset path: (shape, dtype, stored bytes)}`` of every array.

        Computed datasets are listed with 0 bytes: nothing of them is stored.
        """
        return {path: (tuple(dataset.shape), dataset.dtype, _stored_bytes(dataset))
                for path, dataset in self.datasets.items()}


def _stored_bytes(dataset):
    size = getattr(dataset, "stored_bytes", None)
    if size is not None:
        return size
    return dataset.id.get_storage_size()  # an h5py dataset
