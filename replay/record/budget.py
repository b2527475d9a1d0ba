"""The size budget of a snapshot: what the recorder keeps when everything would be too much.

:func:`apply_budget` estimates the bytes one snapshot of a
:class:`replay.record.capture.CapturePlan` would store (before
compression) and, when that exceeds ``Recorder(max_snapshot_bytes=...)``,
records less, in this order, each step only while the snapshot is still
too large:

1. the z-values of wide layers (:data:`WIDE_UNITS` values per sample or
   more) become summaries (their violins stay exact, see
   :mod:`replay.io.storage`);
2. a fixed, seeded subset of the samples (not when ``max_samples=`` was
   given), small enough for the bytes and, for a heavy model, for the
   time: the snapshot's pass over the recorded samples (forward, and
   backward for the gradients) costs at most :data:`CAPTURE_SHARE` of the
   training between two snapshots, once it costs more than
   :data:`HEAVY_MACS` multiply-adds. The bytes alone never take it below
   :data:`MIN_SAMPLES`; the time rule takes it down to
   :data:`MIN_TIMED_SAMPLES` (a heavy model's snapshot at 1,000 samples
   cost a fifth of an epoch: see the constant);
3. the activations of the widest layers become summaries, all but the
   layer the default figure shows (:func:`feature_layer`);
4. the weights and gradients of the largest layers become summaries.

Quantities recomputed from the weights cost nothing. The result says what
was dropped, for the one warning the recorder gives. No Keras here: the
plan's quantities carry their sizes.
"""

from dataclasses import dataclass, field

import numpy as np

from replay.io import schema
from replay.io.storage import HALF_PRECISION_MIN_VALUES

#: The default ``Recorder(max_snapshot_bytes=...)``.
DEFAULT_MAX_SNAPSHOT_BYTES = 8_000_000
#: Layers of at least this many values per sample are "wide" (step 1).
WIDE_UNITS = 64
#: The size budget never records fewer samples than this (step 2)...
MIN_SAMPLES = 1000
#: ... nor does the time rule of a heavy model record fewer than this. It
#: used to stop at :data:`MIN_SAMPLES` too: a 65k-parameter CNN (Conv
#: 32-64-64 on 32 x 32 x 3) trained on 5,000 samples kept 1,000 and their
#: gradients, a fifth of an epoch's work per snapshot where its rule says
#: 5 %, and its 3-epoch fit took x1.32 a plain one (scripts/bench_scale.py
#: --only cnn32). 200 samples still fill a loss or probability histogram.
MIN_TIMED_SAMPLES = 200
#: Float32 bytes.
FLOAT32 = 4
#: A snapshot's forward pass may cost this share of the training between two
#: snapshots (3 passes' worth per trained sample: forward and backward)...
CAPTURE_SHARE = 0.05
#: ... once it costs more than this many multiply-adds (about 10 ms of CPU).
HEAVY_MACS = 100_000_000


@dataclass
class BudgetResult:
    """What :func:`apply_budget` decided.

    Attributes:
        counts: ``{source: samples to record}``.
        before: bytes of one snapshot as asked.
        after: bytes of one snapshot as recorded.
        dropped: what was recorded less, one phrase each, for the warning.
        too_large: whether the snapshot as asked exceeded the limit.
        too_slow: whether its forward pass as asked exceeded :data:`CAPTURE_SHARE`.
        share_before: the estimated cost of a snapshot's pass over the samples
            as asked, as a share of the training between two snapshots
            (``None`` when that training is unknown).
        share_after: the same for the samples recorded.
    """

    counts: dict
    before: int
    after: int
    dropped: list = field(default_factory=list)
    too_large: bool = False
    too_slow: bool = False
    share_before: float = None
    share_after: float = None


def summary_bytes(units):
    """Bytes of one summary of a quantity of ``units`` units (float32 statistics)."""
    return FLOAT32 * (2 * units + schema.SUMMARY_BINS + 2)


def _weight_sizes(plan):
    """``{layer: (values of every weight, values of its trainable weights, units)}``."""
    sizes = {}
    for info in plan.layers:
        layer = plan._layer_objects[info["name"]]
        every = sum(int(np.prod(weight.shape)) for weight in layer.weights)
        trainable = sum(int(np.prod(weight.shape)) for weight in layer.weights
                        if weight.trainable)
        sizes[info["name"]] = (every, trainable, max(1, int(info["units"])))
    return sizes


def snapshot_bytes(plan, counts, probes, *, itemsize, gradients, sizes=None):
    """Bytes one snapshot stores (before compression) with the plan's modes.

    Args:
        plan: the :class:`CapturePlan` (its modes are read, not changed).
        counts: ``{source: samples}`` of the sample sources.
        probes: ``{source: number of points}`` of the probe sources.
        itemsize: bytes per value of activations, z-values and probe outputs.
        gradients: whether gradients are recorded.
    """
    sizes = _weight_sizes(plan) if sizes is None else sizes
    total = 0
    for name, (every, trainable, units) in sizes.items():
        for mode, values in ((plan.weights[name], every),
                             (plan.gradients[name] if gradients else None, trainable)):
            if mode == "raw":
                total += FLOAT32 * values
            elif mode == "summary":
                total += summary_bytes(units)
    for quantity in plan.all_quantities:
        mode = quantity.mode
        if mode not in ("raw", "summary"):
            continue
        units = quantity.shape[-1] if quantity.shape else 1
        for n in counts.values():
            if mode == "summary":
                total += summary_bytes(units)
            else:
                total += _array_bytes(n * quantity.size, FLOAT32 if quantity.kind == "outputs"
                                      else itemsize)
        if mode == "raw" and quantity.kind != "preactivations":
            total += sum(_array_bytes(points * quantity.size, itemsize)
                         for points in probes.values())
    if plan.losses:
        total += FLOAT32 * sum(counts.values())
    return int(total)


def _array_bytes(values, itemsize):
    """Bytes of one snapshot of an array of ``values`` values (small ones stay float32)."""
    return values * (itemsize if values >= HALF_PRECISION_MIN_VALUES else FLOAT32)


def feature_layer(plan):
    """The layer the default figure shows in its feature space: kept raw by the budget.

    The only 2-unit hidden layer; else the last hidden layer of at least 2
    values per sample (as :func:`replay.render.presets.feature_layer` picks it).
    """
    hidden = [quantity for quantity in plan.quantities if quantity.kind == "activations"]
    pairs = [quantity.layer for quantity in hidden if quantity.size == 2]
    if len(pairs) == 1:
        return pairs[0]
    wide = [quantity.layer for quantity in hidden if quantity.size >= 2]
    return wide[-1] if wide else None


def apply_budget(plan, counts, probes, *, limit, itemsize, gradients, samples_fixed=False,
                 min_samples=MIN_SAMPLES, trained_per_snapshot=None):
    """Set the plan's modes and the sample counts so that a snapshot fits ``limit`` bytes.

    Args:
        plan: the :class:`CapturePlan`, recipes checked (modes are changed in place).
        counts: ``{source: samples}`` offered (after ``max_samples=``).
        probes: ``{source: points}``.
        limit: bytes per snapshot, or ``None`` for no budget.
        itemsize: bytes per value in the storage dtype.
        gradients: whether gradients are recorded.
        samples_fixed: the user chose the samples (``max_samples=``): keep them.
        min_samples: the fewest samples step 2 keeps.
        trained_per_snapshot: samples trained between two snapshots (for
            the time limit of step 2), ``None`` when unknown.

    Returns:
        A :class:`BudgetResult`.
    """
    sizes = _weight_sizes(plan)
    plan.resolve()

    def estimate(of=None):
        return snapshot_bytes(plan, counts if of is None else of, probes, itemsize=itemsize,
                              gradients=gradients, sizes=sizes)

    before = estimate()
    result = BudgetResult(dict(counts), before, before)
    total = sum(counts.values())
    probe_points = sum(probes.values())
    fastest = _samples_for_time(plan, total, probe_points, gradients, trained_per_snapshot)
    result.share_before = result.share_after = capture_share(
        total, probe_points, gradients, trained_per_snapshot)
    if limit is None or (before <= limit and fastest >= total):
        return result
    dropped = result.dropped
    result.too_large, result.too_slow = before > limit, fastest < total

    # 1. z-values of wide layers: summaries.
    wide = [quantity for quantity in plan.quantities
            if quantity.kind == "preactivations" and quantity.mode == "raw"
            and quantity.size >= WIDE_UNITS]
    if wide and before > limit:
        for quantity in wide:
            quantity.mode = quantity.fallback = "summary"
        dropped.append(f"the z-values of {_names(wide)} as summaries (mean, std and "
                       "histogram per snapshot: what LayerViolins draws)")

    # 2. a subset of the samples.
    # The time rule of a heavy model goes below the size budget's floor: a
    # snapshot that costs a fifth of an epoch is the recorder's cost, not a
    # detail (see MIN_TIMED_SAMPLES).
    floor = min_samples if fastest >= total else max(min(min_samples, fastest),
                                                     MIN_TIMED_SAMPLES)
    if (estimate() > limit or fastest < total) and not samples_fixed and total > floor:
        fixed = estimate({source: 0 for source in counts})
        per_sample = (estimate() - fixed) / max(total, 1)
        target = int((limit - fixed) // per_sample) if per_sample > 0 else total
        target = min(total, max(min(target, fastest), floor))
        if target < total:
            offered, counts = counts, _shares(counts, target)
            result.counts = counts
            result.share_after = capture_share(sum(counts.values()), probe_points, gradients,
                                               trained_per_snapshot)
            given = ", ".join(f"{counts[source]:,} of the {number:,} {source}"
                              for source, number in offered.items())
            dropped.append(f"{given} samples (a fixed random subset; max_samples= sets it, "
                           "the indices are in samples/<source>)")

    # 3. activations of the widest layers but the feature layer, 4. weights and
    # gradients of the largest layers: summaries, largest first, while they help.
    keep_raw = feature_layer(plan)
    candidates = sorted(
        (quantity for quantity in plan.quantities
         if quantity.kind in ("activations", "preactivations") and quantity.mode == "raw"
         and not (quantity.kind == "activations" and quantity.layer == keep_raw)),
        key=lambda quantity: -quantity.size)
    summarized = []
    for quantity in candidates:
        if estimate() <= limit:
            break
        saved = _modes(plan)
        current = estimate()
        quantity.mode = quantity.fallback = "summary"
        plan.resolve()
        if estimate() < current:
            summarized.append(quantity)
        else:
            _restore(plan, saved)
    if summarized:
        dropped.append(f"the {_kinds(summarized)} of {_names(summarized)} as summaries")
    heavy = sorted(sizes, key=lambda name: -sizes[name][0])
    weights_summarized = []
    for name in heavy:
        current = estimate()
        if current <= limit:
            break
        saved = _modes(plan), dict(plan.weights), dict(plan.gradients)
        changed = False
        for table in (plan.weights, plan.gradients):
            if table.get(name) == "raw":
                table[name] = "summary"
                changed = True
        if changed:
            plan.resolve()  # what was recomputed from these weights is stored now
            if estimate() < current:
                weights_summarized.append(name)
            else:
                _restore(plan, saved[0])
                plan.weights.update(saved[1])
                plan.gradients.update(saved[2])
    if weights_summarized:
        dropped.append(f"the weights (and gradients) of {', '.join(map(repr, weights_summarized))} "
                       "as summaries")
    result.after = estimate()
    return result


def capture_share(samples, probe_points, gradients, trained_per_snapshot):
    """A snapshot's pass over ``samples`` (and the probe points) as a share of the training.

    Training costs 3 passes per sample (forward and backward); the capture
    costs one per probe point and sample, 3 per sample with gradients.
    ``None`` when the training between two snapshots is unknown.
    """
    if not trained_per_snapshot:
        return None
    passes = 3 if gradients else 1  # a gradient costs a backward pass too
    return (samples * passes + probe_points) / (3 * trained_per_snapshot)


def _samples_for_time(plan, total, probe_points, gradients, trained_per_snapshot):
    """The most samples whose forward pass stays within :data:`CAPTURE_SHARE` of the training."""
    if not trained_per_snapshot:
        return total
    macs = plan.macs_per_sample()
    passes = 3 if gradients else 1  # a gradient costs a backward pass too
    if (total * passes + probe_points) * macs <= HEAVY_MACS:
        return total
    allowed = (CAPTURE_SHARE * 3 * trained_per_snapshot - probe_points) / passes
    return int(max(0, min(total, allowed)))


def _shares(counts, target):
    """Split ``target`` samples over the sources in proportion, at least one each."""
    total = sum(counts.values())
    shares = {source: max(1, int(round(target * number / total)))
              for source, number in counts.items()}
    return {source: min(number, counts[source]) for source, number in shares.items()}


def _modes(plan):
    return [(quantity, quantity.mode, quantity.fallback) for quantity in plan.all_quantities]


def _restore(plan, saved):
    for quantity, mode, fallback in saved:
        quantity.mode, quantity.fallback = mode, fallback


def _names(quantities):
    return ", ".join(repr(quantity.layer) for quantity in quantities)


def _kinds(quantities):
    kinds = sorted({quantity.kind for quantity in quantities})
    return " and ".join("z-values" if kind == "preactivations" else kind for kind in kinds)


def describe_bytes(size):
    """``size`` in bytes as a short text: ``"85.1 MB"``."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


@dataclass
class RecordingPlan:
    """What a recorder records, decided once per model: see :func:`plan_recording`.

    Attributes:
        sources: ``{source: (inputs, targets)}`` of the recorded samples.
        indices: ``{source: indices into the given samples}`` of the sources
            recorded as a subset (``max_samples=`` or the budget).
        budget: the :class:`BudgetResult`.
        recipes: ``{dataset path: recipe}`` of the recomputed datasets.
    """

    sources: dict
    indices: dict
    budget: BudgetResult
    recipes: dict


def subset_indices(n, size, seed=0):
    """A fixed random subset of ``size`` of ``range(n)``, sorted.

    The first ``size`` of one seeded permutation: a smaller subset is part
    of every larger one.
    """
    if size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).permutation(n)[:size])


def plan_recording(plan, sources, probe_points, *, max_samples=None, seed=0, recompute=True,
                   itemsize=2, gradients=False, limit=DEFAULT_MAX_SNAPSHOT_BYTES,
                   trained_per_snapshot=None):
    """Decide how ``plan`` records: recipes, the budget, the sample subset; finalize it.

    Args:
        plan: a new :class:`replay.record.capture.CapturePlan`.
        sources: ``{source: (inputs, targets)}`` as given to the recorder.
        probe_points: ``{source: points}``.
        max_samples: at most this many samples per source (a seeded subset).
        seed: the subset's seed.
        recompute: recompute what the weights give (cheap Dense and
            convolution layers) instead of storing it.
        itemsize: bytes per value of the storage dtype.
        gradients: whether gradients are recorded.
        limit: ``max_snapshot_bytes`` (``None``: no budget).
        trained_per_snapshot: samples trained between two snapshots, if known.

    Returns:
        A :class:`RecordingPlan`; ``plan`` is finalized.
    """
    counts = {source: len(inputs) if max_samples is None else min(len(inputs), max_samples)
              for source, (inputs, _) in sources.items()}
    if recompute:
        plan.use_recipes()
    probes = {source: int(np.prod(points.shape[:-1])) for source, points in probe_points.items()}
    result = apply_budget(plan, counts, probes, limit=limit, itemsize=itemsize,
                          gradients=gradients, samples_fixed=max_samples is not None,
                          trained_per_snapshot=trained_per_snapshot)
    plan.finalize()
    recorded, indices = {}, {}
    for source, (inputs, targets) in sources.items():
        count = result.counts[source]
        if count < len(inputs):
            chosen = subset_indices(len(inputs), count, seed)
            indices[source] = chosen
            recorded[source] = (inputs[chosen], targets[chosen])
        else:
            recorded[source] = (inputs, targets)
    return RecordingPlan(recorded, indices, result, plan.recipes([*sources, *probe_points]))


def budget_message(run, path, result, limit):
    """The one warning of a recorder that records less: what, why, and how to get it back."""
    reasons = []
    if result.too_large:
        reasons.append(f"one snapshot would store {describe_bytes(result.before)}, more than "
                       f"max_snapshot_bytes={limit:,} ({describe_bytes(limit)})")
    if result.too_slow:
        reasons.append(f"its pass over every sample would cost about "
                       f"{_percent(result.share_before)} of the training between two snapshots "
                       f"(more than {CAPTURE_SHARE:.0%})")
    cost = ""
    if result.share_after is not None and result.too_slow:
        cost = (f"; a snapshot's pass over the samples it keeps costs about "
                f"{_percent(result.share_after)} of the training between two snapshots "
                "(counted in multiply-adds)")
    return (
        f"Run {run!r} of '{path}': {' and '.join(reasons)}, so the recorder keeps "
        f"{'; '.join(result.dropped)}: {describe_bytes(result.after)} per snapshot (before "
        f"compression){cost}. Everything else is recorded in full. To record everything, pass "
        f"max_snapshot_bytes=None ({describe_bytes(result.before)} per snapshot); to choose "
        "yourself, pass max_samples=, layers= or quantities=.")


def _percent(share):
    """A share as a short percentage: ``"5.0%"``, ``"0.4%"``, ``"1,200%"``."""
    percent = 100 * share
    return f"{percent:.1f}%" if percent < 10 else f"{percent:,.0f}%"
