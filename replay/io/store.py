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

import numpy as np


class HDF5Store:
    """A run group of a replay run file, read as it is stored.

    Args:
        group: the run's ``h5py.Group``.
    """

    def __init__(self, group):
        self.group = group
        self.attrs = group.attrs

    @property
    def valid(self):
        """Whether the file handle behind the group is still open."""
        return self.group.id.valid

    def __contains__(self, path):
        return path in self.group

    def __getitem__(self, path):
        return self.group[path]

    def get(self, path, default=None):
        return self.group.get(path, default)

    def arrays(self):
        """Return ``{dataset path: (shape, dtype, stored bytes)}`` of every array."""
        found = {}

        def visit(name, item):
            if hasattr(item, "shape"):
                found[name] = (item.shape, item.dtype, item.id.get_storage_size())

        self.group.visititems(visit)
        return found


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
