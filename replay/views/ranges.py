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


def max_count(run, dataset, histogram, *, per_row=False, chunk_size=None):
    """Return the largest bar a per-snapshot ``histogram`` reaches over the run.

    Args:
        run: a :class:`replay.Run`.
        dataset: the per-snapshot array to histogram (a :mod:`replay.io.schema` path).
        histogram: a function from one snapshot's array to an array of counts.
        per_row: return the largest bar of each row of a ``(rows, bins)``
            histogram (an int array) instead of one int.
    """
    largest = 0
    for chunk in iter_snapshots(run, dataset, chunk_size=chunk_size):
        for snapshot in chunk:
            counts = np.asarray(histogram(snapshot))
            largest = np.maximum(largest, counts.max(axis=-1) if per_row else int(counts.max()))
    return largest
