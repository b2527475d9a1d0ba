"""Run-wide ranges (axis limits, histogram bins), read a few snapshots at a time.

Views fix their limits over the whole run so that frames are comparable and
the axes never move. Computing those limits must not load every epoch of an
array at once: these helpers read ``chunk_size`` snapshots per HDF5 call.
"""

import numpy as np

#: Snapshots read per HDF5 call when scanning a whole run...
CHUNK_SIZE = 64
#: ... and at most this many bytes of them (a wide layer's snapshot is megabytes).
CHUNK_BYTES = 32 << 20


def iter_snapshots(run, dataset, *, chunk_size=None):
    """Yield arrays ``(k, ...)`` of consecutive snapshots of ``dataset``.

    Args:
        run: a :class:`replay.Run`.
        dataset: a dataset path of the run (:mod:`replay.io.schema`), e.g. ``schema.outputs("train")``.
        chunk_size: snapshots per chunk; ``None`` for :func:`chunk_size_of` the
            dataset. Datasets read side by side (``zip``) need the same one.
    """
    if chunk_size is None:
        chunk_size = chunk_size_of(run, [dataset])
    for start in range(0, run.n_snapshots, chunk_size):
        stop = min(start + chunk_size, run.n_snapshots)
        yield run.series(dataset, range(start, stop))


def chunk_size_of(run, datasets):
    """Snapshots per chunk for reading ``datasets`` together: :data:`CHUNK_SIZE`, fewer
    when their snapshots would take more than :data:`CHUNK_BYTES`."""
    if not run.n_snapshots:
        return CHUNK_SIZE
    row_bytes = sum(run.series(dataset, [0]).nbytes for dataset in datasets)
    return int(max(1, min(CHUNK_SIZE, CHUNK_BYTES // max(row_bytes, 1))))


def padded_range(low, high, padding=0.05):
    """Return ``(low, high)`` widened by ``padding`` of the span on each side."""
    low, high = float(low), float(high)
    if not np.isfinite(low) or not np.isfinite(high):
        return 0.0, 1.0
    span = high - low
    if span <= 0:
        span = max(abs(low), 1.0)
    return low - padding * span, high + padding * span


def max_count(run, dataset, histogram, *, per_row=False, chunk_size=None, batched=False):
    """Return the largest bar a per-snapshot ``histogram`` reaches over the run.

    Args:
        run: a :class:`replay.Run`.
        dataset: the per-snapshot array to histogram (a :mod:`replay.io.schema` path).
        histogram: a function from one snapshot's array to an array of counts;
            with ``batched``, from a chunk of snapshots ``(k, ...)`` to their
            counts ``(k, ..., bins)`` (see :func:`grouped_counts`): one numpy
            pass a chunk instead of a Python call a snapshot.
        per_row: return the largest bar of each row of a ``(rows, bins)``
            histogram (an int array) instead of one int.
    """
    largest = 0
    for chunk in iter_snapshots(run, dataset, chunk_size=chunk_size):
        for counts in ([histogram(chunk)] if batched else map(histogram, chunk)):
            counts = np.asarray(counts)
            if batched:
                counts = counts.max(axis=0)
            largest = np.maximum(largest, counts.max(axis=-1) if per_row else int(counts.max()))
    return largest


def grouped_counts(values, groups, edges, n_groups):
    """Histograms of many snapshots at once, one row per group: ``(k, n_groups, bins)``.

    Counts as ``np.histogram(values[i][groups[i] == g], edges)`` for every
    snapshot ``i`` and group ``g``: bins ``[e_j, e_j+1)``, the last one
    closed; values outside the edges, NaN, or of a group outside
    ``[0, n_groups)`` are not counted.

    Args:
        values: ``(k, n)`` the values of ``k`` snapshots.
        groups: ``(n,)`` or ``(k, n)`` integer group of each value.
        edges: the ``bins + 1`` increasing bin edges.
        n_groups: the number of groups.
    """
    values = np.asarray(values, dtype=np.float64)
    k, n = values.shape
    edges = np.asarray(edges, dtype=np.float64)
    bins = len(edges) - 1
    index = np.searchsorted(edges, values, side="right") - 1
    index[values == edges[-1]] = bins - 1
    groups = np.broadcast_to(np.asarray(groups, dtype=np.int64), (k, n))
    counted = (index >= 0) & (index < bins) & (groups >= 0) & (groups < n_groups)
    rows = np.broadcast_to(np.arange(k)[:, None], (k, n))
    flat = ((rows * n_groups + groups) * bins + index)[counted]
    return np.bincount(flat, minlength=k * n_groups * bins).reshape(k, n_groups, bins)
