"""How a snapshot's arrays are stored: their dtype, and summaries instead of raw values.

numpy only: the recorder (both captures) calls these before a snapshot goes
to the writer, the writer child and the replay side read what they wrote.

**Storage dtype.** Large arrays of activations, z-values and outputs on
probe points (:data:`HALF_PRECISION_QUANTITIES`, at least
:data:`HALF_PRECISION_MIN_VALUES` values per snapshot) are stored as
float16 by default: half the bytes, at a relative precision of 2^-11
(0.05 %). That is below what a picture shows to the eye, but not below
what a pixel comparison sees: the rounding moves a feature space's axis
limits and lines by a fraction of a pixel (measured on the part-1 figure:
2.7 % of the pixels change, none visibly), so the small arrays, where
half the bytes save little, stay float32 and their pictures exact.
Weights, gradients, per-sample losses and the outputs on the samples stay
float32: gradients shrink to 1e-11 in a deep sigmoid net (float16 flushes
anything below 6e-8 to zero), losses feed tables, and the outputs of a
regression can exceed float16's range (65,504). An array that does not
fit float16 (a value beyond its range) is handed over as float32, and the
writer widens its dataset to float32 for good
(:meth:`replay.io.writer.RunWriter`).

**Summaries.** A layer too wide to store raw (see the recorder's size
budget) can be stored per snapshot as a few statistics of its values
(:data:`replay.io.schema.SUMMARY_STATISTICS`): per unit (the last axis)
the mean and standard deviation over every sample (and position), and for
all values pooled their range and a histogram of
:data:`replay.io.schema.SUMMARY_BINS` bins between min and max. These are
exactly what a violin of :class:`replay.views.LayerViolins` draws, so its
pictures and ``std_per_layer()`` are those of the raw values.
"""

import numpy as np

from replay.io import schema

#: The largest finite float16.
FLOAT16_MAX = float(np.finfo(np.float16).max)
#: Storage dtypes a recorder accepts.
STORAGE_DTYPES = ("float16", "float32")
#: Arrays of fewer values per snapshot stay float32 (see above).
HALF_PRECISION_MIN_VALUES = 1 << 16
#: ``(quantity, sources)`` stored in the storage dtype (``None``: every source).
HALF_PRECISION_QUANTITIES = {
    "activations": None,
    "preactivations": None,
    "outputs": schema.PROBE_SOURCES,
}


def check_storage_dtype(value):
    """Return ``value`` as a numpy dtype if it is a storage dtype, or raise ``ValueError``."""
    if value is None or str(value) not in STORAGE_DTYPES:
        raise ValueError(f"storage_dtype must be one of {', '.join(STORAGE_DTYPES)}. "
                         f"Got {value!r}.")
    return np.dtype(str(value))


def is_half_precision_path(path):
    """Whether the dataset ``path`` is one of those stored in the storage dtype."""
    quantity, source = schema.quantity_of(path)
    if quantity not in HALF_PRECISION_QUANTITIES:
        return False
    sources = HALF_PRECISION_QUANTITIES[quantity]
    return sources is None or source in sources


def to_storage(arrays, dtype=np.float16):
    """Return ``{path: array}`` with the large arrays that :func:`is_half_precision_path` in ``dtype``.

    Large: at least :data:`HALF_PRECISION_MIN_VALUES` values. An array with a
    finite value beyond float16's range stays float32 (the writer then
    widens its dataset); every other float array becomes float32.
    """
    dtype = np.dtype(dtype)
    stored = {}
    for path, array in arrays.items():
        array = np.asarray(array)
        if array.dtype.kind == "f" and not (array.dtype == np.float16 and dtype == np.float16):
            if dtype == np.float16 and array.size >= HALF_PRECISION_MIN_VALUES \
                    and is_half_precision_path(path) and fits_float16(array):
                array = array.astype(np.float16)
            elif array.dtype != np.float32:
                array = array.astype(np.float32)
        stored[path] = array
    return stored


def fits_float16(array):
    """Whether every finite value of ``array`` is within float16's range."""
    if array.size == 0:
        return True
    high, low = array.max(), array.min()  # no temporary array
    if np.isfinite(high) and np.isfinite(low):
        return bool(max(high, -low) <= FLOAT16_MAX)
    finite = array[np.isfinite(array)]
    return bool(finite.size == 0 or np.abs(finite).max() <= FLOAT16_MAX)


# -- summaries ------------------------------------------------------------------------


def summarize(values):
    """Return the summary of one snapshot of a quantity: ``{statistic: array}``.

    Args:
        values: ``(N, ..., units)``: every sample (and position) of the
            quantity at one snapshot; a weight array works too (its last
            axis is the unit).

    Returns:
        ``{"mean": (units,), "std": (units,), "histogram": (SUMMARY_BINS,),
        "range": (2,)}``, float32. The histogram counts every value between
        the pooled min and max (``range``), as ``np.histogram`` does.
    """
    values = np.asarray(values, dtype=np.float32)
    flat = values.reshape(-1, values.shape[-1] if values.ndim else 1).astype(np.float64)
    finite = flat[np.isfinite(flat)]
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        counts, _ = np.histogram(finite, bins=schema.SUMMARY_BINS, range=(low, high)
                                 if high > low else (low, low + 1.0))
    else:
        low = high = np.nan
        counts = np.zeros(schema.SUMMARY_BINS)
    return {"mean": flat.mean(axis=0).astype(np.float32),
            "std": flat.std(axis=0).astype(np.float32),
            "histogram": counts.astype(np.float32),
            "range": np.array([low, high], dtype=np.float32)}


def summary_arrays(path, values):
    """Return ``{summary path: array}`` of ``values`` of the dataset ``path`` (one snapshot)."""
    return {schema.summary(path, statistic): array
            for statistic, array in summarize(values).items()}


class Summary:
    """The summary of one quantity at one snapshot, as a violin reads it.

    Built from the stored statistics (:func:`summarize`); every unit holds
    the same number of values, so the pooled mean and standard deviation
    follow from the per-unit ones exactly.

    Attributes:
        mean, std: per-unit statistics ``(units,)``.
        histogram: pooled counts ``(SUMMARY_BINS,)`` between ``low`` and ``high``.
        low, high: the pooled range.
        size: the number of values summarized.
    """

    def __init__(self, mean, std, histogram, value_range):
        self.mean = np.asarray(mean, dtype=np.float64).ravel()
        self.std = np.asarray(std, dtype=np.float64).ravel()
        self.histogram = np.asarray(histogram, dtype=np.float64).ravel()
        self.low, self.high = (float(value) for value in np.asarray(value_range).ravel()[:2])
        self.size = int(round(self.histogram.sum()))

    @property
    def pooled_mean(self):
        """The mean of every value."""
        return float(self.mean.mean()) if self.mean.size else np.nan

    @property
    def pooled_std(self):
        """The standard deviation of every value (from the per-unit moments)."""
        if not self.mean.size:
            return np.nan
        second = np.mean(self.std ** 2 + self.mean ** 2)
        return float(np.sqrt(max(second - self.pooled_mean ** 2, 0.0)))
