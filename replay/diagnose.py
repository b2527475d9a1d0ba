"""What went wrong in a training run, read off the recording: :func:`diagnose`.

Seven checks, each run per layer over every snapshot, a few snapshots at a
time (never every epoch of a large array at once):

- **dead units** (relu layers): a unit whose activation is 0 on every
  recorded sample;
- **saturated units** (sigmoid and tanh layers, and a one-unit sigmoid
  output): ``|z| >= 5`` (sigmoid) or ``>= 2.5`` (tanh) on at least 95 % of
  the samples, where the slope of the activation is below 3 % of its peak;
- **symmetric units**: units with identical incoming weights and bias (a
  constant initialiser such as zeros), which get identical updates forever;
- **vanishing or exploding gradients**: the standard deviation of the kernel
  gradients shrinking (growing) by 10× or more per hidden layer towards the
  input;
- **divergence**: NaN or inf in the loss, the weights or the outputs, or a
  loss that grows to 10× its initial value;
- **a stalled loss**: the loss moving by less than 1 % over 10 epochs while
  it is still above 5 % of its initial value;
- **frozen weights**: a layer whose weights do not change at all over 10
  epochs.

Every threshold is a module constant below, and ``docs/diagnose.md``
explains each. A :class:`Finding` names the check, the layer, the epochs,
the measured number, what it means and what usually helps. Findings are
``"warning"`` (alarming) or ``"note"`` (worth knowing: a few dead relu units
of a wide layer, for instance). Checks that need something the run did not
record (gradients, z-values) are listed in :attr:`Diagnosis.skipped`.

This module needs numpy only (it reads through :class:`replay.Run`).

Example:
    >>> from replay import Run                                     # doctest: +SKIP
    >>> diagnosis = Run("runs/part2.h5", "sigmoid-normal").diagnose()   # doctest: +SKIP
    >>> print(diagnosis.format())                                   # doctest: +SKIP
"""

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from replay.errors import OptionError
from replay.io import schema

# -- thresholds ---------------------------------------------------------------------------

#: Dead units: activations a relu unit must exceed on some sample to count as alive.
DEAD_ACTIVATION = 0.0
#: Activation names whose units can die (output exactly 0 for every negative input).
RELU_ACTIVATIONS = ("relu", "relu6")
#: Saturated units: |z| from which a unit counts as saturated on a sample. There the
#: slope of the activation is below 3 % of its peak (sigmoid'(5) = 0.0066 = 2.7 % of
#: 0.25; tanh'(2.5) = 0.027); tanh(z) = 2 sigmoid(2z) - 1, so the two agree.
SATURATION_Z = {"sigmoid": 5.0, "tanh": 2.5}
#: Saturated units: the fraction of samples on which a unit must be saturated.
SATURATED_FRACTION = 0.95
#: A saturated one-unit sigmoid output is only alarming when it is confidently wrong:
#: saturated and misclassified on at least this fraction of the samples (a well-trained
#: classifier saturates its output on the samples it gets right).
SATURATED_WRONG_FRACTION = 0.10
#: Dead or saturated units are a warning from this fraction of a layer's units, a note below.
UNIT_WARNING_FRACTION = 0.25
#: Symmetric units: columns (incoming weights and bias) equal to within this fraction of
#: the layer's largest absolute weight count as identical.
SYMMETRY_TOLERANCE = 1e-6
#: Vanishing / exploding gradients: the factor per hidden layer, towards the input, by
#: which the standard deviation of the kernel gradients shrinks / grows (a least-squares
#: fit of log10 std against depth, over the hidden layers with a gradient).
GRADIENT_FACTOR = 10.0
#: Divergence: a loss that grows to this multiple of its initial value.
DIVERGENCE_LOSS_FACTOR = 10.0
#: Stalled loss and frozen weights: the window, in epochs (the whole run when shorter,
#: if it spans at least MIN_WINDOW_EPOCHS).
STALL_EPOCHS = 10.0
MIN_WINDOW_EPOCHS = 3.0
#: Stalled loss: the loss moves by less than this fraction of its mean within a window...
STALL_TOLERANCE = 0.01
#: ...while it is still above this fraction of its initial value (below: converged).
CONVERGED_FRACTION = 0.05
#: Frozen weights: a layer whose largest change between snapshots stays below this
#: fraction of its largest absolute weight (0 for weights that are all 0).
FROZEN_TOLERANCE = 1e-6
#: A condition that comes and goes in more stretches than this is reported once, over
#: its whole span, with the number of snapshots it held in.
MAX_RANGES = 3
#: Bytes of one array read per HDF5 call while scanning a run.
CHUNK_BYTES = 32 * 2**20
#: Most snapshots read per call.
MAX_CHUNK = 64
#: Arrays of at most this many bytes (all their snapshots) are read whole, once per
#: diagnosis, and kept while it runs: several checks read the same weights, losses and
#: activations, and one HDF5 call per array is most of the speed of diagnosing a sweep.
WHOLE_ARRAY_BYTES = 16 * 2**20
#: ... up to this many bytes kept in all.
KEPT_BYTES = 96 * 2**20

#: The checks, in the order they run and findings are listed.
CHECKS = ("divergence", "stalled-loss", "vanishing-gradients", "exploding-gradients",
          "dead-units", "saturated-units", "symmetric-units", "frozen-weights")
#: Severities: ``warning`` is alarming, ``note`` is worth knowing.
SEVERITIES = ("warning", "note")

#: What usually helps, per kind of finding.
ADVICE = {
    "divergence": "a smaller learning rate (try 10x smaller), gradient clipping "
                  "(clipnorm=1.0), standardised inputs",
    "stalled-loss": "a larger learning rate, a random initialiser (He for relu, Glorot for "
                    "sigmoid/tanh) if the weights start constant; fix the dead, saturated "
                    "or symmetric units reported here, which stop the gradient",
    "vanishing-gradients": "Glorot (sigmoid/tanh) or He (relu) initialisation instead of "
                           "tiny weights, relu-like activations, batch normalisation or "
                           "fewer layers",
    "exploding-gradients": "smaller initial weights (Glorot/He), a smaller learning rate, "
                           "gradient clipping (clipnorm=1.0)",
    "dead-units": "He initialisation with zero biases, a smaller learning rate, or leaky "
                  "relu / elu, which keep a gradient for negative inputs",
    "saturated-units": "smaller initial weights (Glorot for sigmoid/tanh, not a large "
                       "sigma), standardised inputs, a smaller learning rate, or relu",
    "symmetric-units": "a random initialiser (Glorot for sigmoid/tanh, He for relu): units "
                       "that start equal get equal updates and never become different",
    "frozen-weights": "the loss gives this layer (almost) no gradient: fix the vanishing "
                      "gradients, dead, saturated or symmetric units reported here; check "
                      "the learning rate is not 0 and the layer is trainable",
}


@dataclass(frozen=True)
class Finding:
    """One thing a check found, over one stretch of snapshots.

    Attributes:
        kind: the check, one of :data:`CHECKS`.
        layer: the layer concerned (for gradients: the one nearest the
            input), or ``None`` for the whole model (divergence, loss).
        epochs: ``(first, last)`` epoch values of the stretch (as
            :attr:`replay.Run.epochs`).
        value: the measured number (see :attr:`message` for its meaning):
            units concerned, a factor per layer, a relative change.
        message: what was measured, in words and numbers.
        advice: what usually helps.
        severity: ``"warning"`` (alarming) or ``"note"``.
        snapshots: ``(first, last)`` snapshot indices of the stretch.
        units: indices of the units concerned at the last snapshot of the
            stretch (dead, saturated, symmetric units).
        layers: every layer concerned (e.g. the hidden layers of a
            gradient fit); ``(layer,)`` for a one-layer finding.
    """

    kind: str
    layer: str | None
    epochs: tuple
    value: float
    message: str
    advice: str
    severity: str = "warning"
    snapshots: tuple = ()
    units: tuple = ()
    layers: tuple = ()

    @property
    def alarming(self):
        """Whether it is a warning (not a note)."""
        return self.severity == "warning"

    def covers(self, snapshot):
        """Whether the finding holds at snapshot index ``snapshot``."""
        return bool(self.snapshots) and self.snapshots[0] <= snapshot <= self.snapshots[1]

    def concerns(self, layer):
        """Whether the finding is about ``layer``."""
        return layer == self.layer or layer in self.layers

    @property
    def tag(self):
        """A short label for a picture, e.g. ``"dead 3/10"`` or ``"vanishing"``."""
        return TAGS[self.kind](self)

    def epochs_text(self):
        first, last = self.epochs
        return f"epoch {first:g}" if first == last else f"epochs {first:g}..{last:g}"

    def format(self):
        """One line: severity, kind, layer, epochs, message and advice."""
        return (f"{self.severity:<7}  {self.kind:<19}  {self.layer or '(model)':<10}  "
                f"{self.epochs_text():<14}  {self.message}. Helps: {self.advice}")

    def to_dict(self):
        """A JSON-ready dict of every field."""
        data = asdict(self)
        data["epochs"] = [float(value) for value in self.epochs]
        data["snapshots"] = [int(value) for value in self.snapshots]
        data["units"] = [int(value) for value in self.units]
        data["layers"] = list(self.layers)
        data["value"] = _json_number(self.value)
        return data


TAGS = {
    "divergence": lambda finding: "diverged",
    "stalled-loss": lambda finding: "stalled",
    "vanishing-gradients": lambda finding: "vanishing",
    "exploding-gradients": lambda finding: "exploding",
    "dead-units": lambda finding: f"dead {len(finding.units)}",
    "saturated-units": lambda finding: f"saturated {len(finding.units)}",
    "symmetric-units": lambda finding: f"symmetric {len(finding.units)}",
    "frozen-weights": lambda finding: "frozen",
}


@dataclass
class Diagnosis:
    """The findings of :func:`diagnose` on one run; iterates over the findings.

    Attributes:
        run: the run's name.
        path: its file.
        n_snapshots: its snapshot count.
        epochs: ``(first, last)`` epoch values of the run.
        findings: the :class:`Finding` list, warnings first.
        skipped: ``[(check, reason)]`` of the checks that could not run
            (e.g. no gradients recorded).
    """

    run: str
    path: str
    n_snapshots: int
    epochs: tuple
    findings: list = field(default_factory=list)
    skipped: list = field(default_factory=list)

    def __iter__(self):
        return iter(self.findings)

    def __len__(self):
        return len(self.findings)

    def __getitem__(self, index):
        return self.findings[index]

    @property
    def alarming(self):
        """The warnings (findings that are not notes)."""
        return [finding for finding in self.findings if finding.alarming]

    def kinds(self):
        """The set of kinds found."""
        return {finding.kind for finding in self.findings}

    def of_kind(self, kind):
        """The findings of one kind."""
        return [finding for finding in self.findings if finding.kind == kind]

    def for_layer(self, layer):
        """The findings about one layer."""
        return [finding for finding in self.findings if finding.concerns(layer)]

    def format(self):
        """Readable text: a header, then one line per finding and per skipped check."""
        first, last = self.epochs
        warnings, notes = len(self.alarming), len(self.findings) - len(self.alarming)
        found = (f"{warnings} warning{'' if warnings == 1 else 's'}, "
                 f"{notes} note{'' if notes == 1 else 's'}") if self.findings else "nothing found"
        lines = [f"run {self.run!r} ({self.n_snapshots} snapshots, epochs {first:g}..{last:g})"
                 f": {found}"]
        lines += [f"  {finding.format()}" for finding in self.findings]
        if self.findings and not self.alarming:
            lines.append("  nothing alarming")
        lines += [f"  skipped  {check}: {reason}" for check, reason in self.skipped]
        return "\n".join(lines)

    def __str__(self):
        return self.format()

    def to_dict(self):
        """A JSON-ready dict: the run, its findings and skipped checks."""
        return {"run": self.run, "path": self.path, "n_snapshots": self.n_snapshots,
                "epochs": [float(value) for value in self.epochs],
                "findings": [finding.to_dict() for finding in self.findings],
                "skipped": [{"check": check, "reason": reason}
                            for check, reason in self.skipped]}


def diagnose(run, *, checks=None, source="train"):
    """Check a recorded run for the usual ways training goes wrong.

    Args:
        run: a :class:`replay.Run`.
        checks: the checks to run, among :data:`CHECKS` (default: all;
            ``"vanishing-gradients"`` and ``"exploding-gradients"`` are one
            check, run when either is asked for).
        source: the recorded samples to look at, ``"train"`` or
            ``"validation"``.

    Returns:
        A :class:`Diagnosis`: the findings (warnings first, then notes; in
        the order of :data:`CHECKS` and of the layers) and the checks skipped.

    Raises:
        OptionError: an unknown check or source.

    Example:
        >>> diagnosis = diagnose(Run("runs/part4/part4.h5", "zeros"))   # doctest: +SKIP
        >>> sorted(diagnosis.kinds())                                   # doctest: +SKIP
        ['dead-units', 'frozen-weights', 'stalled-loss', 'symmetric-units']
    """
    if checks is None:
        checks = CHECKS
    checks = [checks] if isinstance(checks, str) else list(checks)
    unknown = [check for check in checks if check not in CHECKS]
    if unknown:
        raise OptionError(f"Unknown check {unknown[0]!r}. Checks: {', '.join(CHECKS)}.")
    if source not in schema.SAMPLE_SOURCES:
        raise OptionError(
            f"source must be one of {', '.join(schema.SAMPLE_SOURCES)}. Got {source!r}.")
    scan = _Scan(run, source)
    if schema.inputs(source) not in scan.recorded:
        raise OptionError(f"Run {run.name!r} of '{run.path}' has no {source!r} samples. It "
                          f"has: {', '.join(run.sources) or 'none'}.")
    findings, skipped = [], []
    steps = [("divergence", _check_divergence), ("stalled-loss", _check_stalled_loss),
             ("gradients", _check_gradients), ("dead-units", _check_dead_units),
             ("saturated-units", _check_saturated_units),
             ("symmetric-units", _check_symmetric_units),
             ("frozen-weights", _check_frozen_weights)]
    for name, check in steps:
        wanted = (("vanishing-gradients" in checks or "exploding-gradients" in checks)
                  if name == "gradients" else name in checks)
        if wanted:
            check(scan, findings, skipped)
    if "vanishing-gradients" not in checks or "exploding-gradients" not in checks:
        findings = [finding for finding in findings if finding.kind in checks]
    layer_order = {name: position for position, name in enumerate(run.layer_names)}
    findings.sort(key=lambda finding: (SEVERITIES.index(finding.severity),
                                       CHECKS.index(finding.kind),
                                       layer_order.get(finding.layer, -1),
                                       finding.snapshots))
    epochs = np.asarray(run.epochs, dtype=np.float64)
    return Diagnosis(run=run.name, path=run.path, n_snapshots=run.n_snapshots,
                     epochs=(float(epochs[0]), float(epochs[-1])) if len(epochs) else (0, 0),
                     findings=findings, skipped=skipped)


# -- reading --------------------------------------------------------------------------------


class _Scan:
    """What the checks share: the run, its epochs, its datasets, chunked reads."""

    def __init__(self, run, source):
        self.run = run
        self.source = source
        self.recorded = run.arrays()
        self.epochs = np.asarray(run.epochs, dtype=np.float64)
        self.n = run.n_snapshots
        self._loss = None
        self._whole = {}  # path -> every snapshot of a small array (WHOLE_ARRAY_BYTES)
        self._kept = 0

    def truncate(self, n, skipped):
        """Look at the first ``n`` snapshots only: the ones before a divergence.

        Once NaN or inf appear, every other check would report nonsense (dead
        units, identical NaN columns); they stop where the run diverged.
        """
        if n >= self.n:
            return
        self.n = n
        self.epochs = self.epochs[:n]
        self._loss = None
        where = (f"look at epochs {self.epochs[0]:g}..{self.epochs[-1]:g} only, before the "
                 "first NaN/inf" if n else "have nothing to look at: the first snapshot "
                 "already holds NaN/inf")
        skipped.append(("after divergence", f"the other checks {where}"))

    def chunks(self, path):
        """Yield ``(start, array (k, ...))`` of consecutive snapshots of ``path``.

        As :func:`replay.views.ranges.iter_snapshots`, with the chunk sized to
        :data:`CHUNK_BYTES` (and without importing the views, which load
        matplotlib).
        """
        shape, dtype, _ = self.recorded[path]
        per_snapshot = max(int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(dtype).itemsize, 1)
        whole = self._whole.get(path)
        total = per_snapshot * self.run.n_snapshots
        if whole is None and total <= WHOLE_ARRAY_BYTES and self._kept + total <= KEPT_BYTES:
            whole = self._whole[path] = np.asarray(self.run.series(path))
            self._kept += total
        if whole is not None:
            if self.n:
                yield 0, whole[:self.n]
            return
        size = int(min(MAX_CHUNK, max(1, CHUNK_BYTES // per_snapshot)))
        for start in range(0, self.n, size):
            yield start, np.asarray(self.run.series(path, range(start, min(start + size, self.n))))

    def summarized(self, path):
        """Whether ``path`` is stored as a summary only (the recorder's size budget)."""
        return path not in self.recorded and schema.summary(path, "mean") in self.recorded

    def summary_chunks(self, path):
        """Yield ``(start, mean (k, units), std (k, units))`` of a summarized ``path``."""
        means = self.chunks(schema.summary(path, "mean"))
        stds = self.chunks(schema.summary(path, "std"))
        for (start, mean), (_, std) in zip(means, stds):
            yield start, mean.astype(np.float64), std.astype(np.float64)

    def values_per_unit(self, path):
        """How many values a summary's per-unit statistics pool (samples × positions)."""
        shape = self.recorded[schema.summary(path, "mean")][0]
        counts = next(self.chunks(schema.summary(path, "histogram")))[1][0]
        return int(round(float(counts.sum()) / max(int(np.prod(shape[1:])), 1)))

    def hidden_layers(self):
        return [layer for layer in self.run.layers if layer.hidden]

    def trainable(self, layer):
        names = layer.weights if layer.trainable_weights is None else layer.trainable_weights
        return [name for name in names if schema.weights(layer.name, name) in self.recorded]

    def loss(self):
        """``(epochs, values, what)`` of the loss per snapshot, or ``None``.

        The mean recorded per-sample loss at every snapshot (the model's own
        loss on the recorded samples, from snapshot 0 on); without it, the
        training loss Keras logged per epoch.
        """
        if self._loss is None:
            path = schema.loss(self.source)
            if path in self.recorded and self.n:
                values = np.empty(self.n)
                for start, chunk in self.chunks(path):
                    flat = chunk.reshape(len(chunk), -1).astype(np.float64)
                    values[start:start + len(chunk)] = flat.mean(axis=1) if flat.size else np.nan
                self._loss = (self.epochs, values, f"mean loss on the {self.source} samples")
            else:
                history = self.run.history
                key = "loss" if self.source == "train" else "val_loss"
                logged = np.asarray(history.get("epoch", ()), dtype=np.float64)
                keep = logged <= (self.epochs[-1] if self.n else -np.inf)
                if key in history and keep.any():
                    self._loss = (logged[keep],
                                  np.asarray(history[key], dtype=np.float64)[keep],
                                  f"{key} logged by Keras")
                else:
                    self._loss = False
        return self._loss or None


# -- helpers ----------------------------------------------------------------------------------


def _ranges(mask):
    """Return the ``(first, last)`` index pairs of the stretches where ``mask`` is true."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return []
    padded = np.concatenate([[False], mask, [False]])
    changes = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(start), int(stop) - 1) for start, stop in zip(changes[::2], changes[1::2])]


def _stretches(mask):
    """The stretches to report: each ``(first, last, count)``, at most :data:`MAX_RANGES`."""
    ranges = _ranges(mask)
    if len(ranges) > MAX_RANGES:
        return [(ranges[0][0], ranges[-1][1], int(np.sum(mask)))]
    return [(first, last, last - first + 1) for first, last in ranges]


def _held(first, last, count):
    """Text for a condition that held in only ``count`` snapshots of a stretch."""
    return "" if count == last - first + 1 else f", in {count} of {last - first + 1} snapshots"


def _percent(fraction):
    return f"{100 * fraction:.0f} %" if fraction >= 0.01 or fraction == 0 else f"{100 * fraction:.1g} %"


def _json_number(value):
    value = float(value)
    return value if math.isfinite(value) else str(value)


def _window(scan, epochs, what):
    """The window of the stall and frozen checks in epochs, or the reason it cannot run."""
    span = float(epochs[-1] - epochs[0]) if len(epochs) else 0.0
    if span < MIN_WINDOW_EPOCHS:
        return None, (f"the {what} cover {span:g} epochs; the check needs at least "
                      f"{MIN_WINDOW_EPOCHS:g}")
    return min(STALL_EPOCHS, span), None


def _windows(epochs, width):
    """Yield ``(first, last)`` index pairs of every window of ``width`` epochs."""
    tolerance = 1e-9 * max(1.0, width)
    last = 0
    for first in range(len(epochs)):
        last = max(last, first)
        while last + 1 < len(epochs) and epochs[last + 1] <= epochs[first] + width + tolerance:
            last += 1
        if epochs[last] - epochs[first] < width - tolerance:
            return
        yield first, last


def _finding(scan, kind, layer, first, last, value, message, *, severity="warning",
             units=(), layers=None, epochs=None):
    """A :class:`Finding` over indices ``first..last`` of ``epochs`` (default: the snapshots)."""
    if epochs is None:
        epochs, snapshots = scan.epochs, (first, last)
    else:  # e.g. the epochs of the logged history: name the nearest snapshots too
        snapshots = (_snapshot_of_epoch(scan, epochs[first]), _snapshot_of_epoch(scan, epochs[last]))
    return Finding(kind=kind, layer=layer, epochs=(float(epochs[first]), float(epochs[last])),
                   value=float(value), message=message, advice=ADVICE[kind],
                   severity=severity, snapshots=(int(snapshots[0]), int(snapshots[1])),
                   units=tuple(int(unit) for unit in units),
                   layers=tuple(layers) if layers is not None else ((layer,) if layer else ()))


def _snapshot_of_epoch(scan, epoch):
    """The snapshot index recorded at ``epoch`` (the nearest one)."""
    return int(np.argmin(np.abs(scan.epochs - epoch))) if len(scan.epochs) else 0


# -- the checks ---------------------------------------------------------------------------------


def _check_divergence(scan, findings, skipped):
    """NaN / inf in the loss, weights or outputs; or a loss that grew 10x."""
    n = scan.n
    bad = np.zeros(n, dtype=bool)
    where = [[] for _ in range(n)]  # what was non-finite at each snapshot
    fraction = np.zeros(n)  # fraction of non-finite weights
    counts, totals = np.zeros(n), 0
    for layer in scan.run.layers:
        for weight in layer.weights:
            path = schema.weights(layer.name, weight)
            if path not in scan.recorded:
                continue
            for start, chunk in scan.chunks(path):
                flat = chunk.reshape(len(chunk), -1)
                nonfinite = (~np.isfinite(flat)).sum(axis=1)
                counts[start:start + len(chunk)] += nonfinite
                for offset in np.flatnonzero(nonfinite):
                    bad[start + offset] = True
                    if layer.name not in where[start + offset]:
                        where[start + offset].append(layer.name)
            totals += int(np.prod(scan.recorded[path][0][1:], dtype=np.int64))
    if totals:
        fraction = counts / totals
    for path, label in ((schema.outputs(scan.source), "outputs"),
                        (schema.loss(scan.source), "per-sample loss")):
        if path not in scan.recorded:
            continue
        for start, chunk in scan.chunks(path):
            nonfinite = ~np.isfinite(chunk.reshape(len(chunk), -1)).all(axis=1)
            for offset in np.flatnonzero(nonfinite):
                bad[start + offset] = True
                where[start + offset].append(label)
    history = scan.run.history
    key = "loss" if scan.source == "train" else "val_loss"
    if key in history and "epoch" in history:
        logged = np.asarray(history[key], dtype=np.float64)
        for epoch in np.asarray(history["epoch"], dtype=np.float64)[~np.isfinite(logged)]:
            index = _snapshot_of_epoch(scan, epoch)
            bad[index] = True
            where[index].append(f"the {key} Keras logged")
    for first, last, count in _stretches(bad):
        names = [name for name in where[first]]
        layers = [name for name in names if name in scan.run.layer_names]
        message = (f"non-finite values (NaN or inf) from epoch {scan.epochs[first]:g} on, "
                   f"first in {', '.join(names)}")
        if totals:
            message += f"; {_percent(fraction[last])} of the weights are NaN/inf at " \
                       f"epoch {scan.epochs[last]:g}"
        message += _held(first, last, count)
        findings.append(_finding(scan, "divergence", layers[0] if layers else None, first, last,
                                 fraction[last], message, layers=layers))
    _check_loss_growth(scan, findings, skipped)
    if bad.any():
        scan.truncate(int(np.argmax(bad)), skipped)


def _check_loss_growth(scan, findings, skipped):
    """The divergence of a loss that stays finite: it grows to 10x its initial value."""
    loss = scan.loss()
    if loss is None:
        skipped.append(("divergence", "no loss recorded: only the weights and outputs were "
                                      "checked for NaN/inf"))
        return
    loss_epochs, values, what = loss
    finite = np.isfinite(values)
    if not finite.any():
        return
    initial = values[np.flatnonzero(finite)[0]]
    if initial <= 0:
        return
    grown = finite & (values >= DIVERGENCE_LOSS_FACTOR * initial)
    for first, last, count in _stretches(grown):
        peak = float(np.nanmax(values[first:last + 1]))
        findings.append(_finding(
            scan, "divergence", None, first, last, peak / initial,
            f"the {what} grew from {initial:.3g} to {peak:.3g} ({peak / initial:.0f}x, "
            f"threshold {DIVERGENCE_LOSS_FACTOR:g}x){_held(first, last, count)}",
            epochs=loss_epochs))


def _check_stalled_loss(scan, findings, skipped):
    """The loss moving less than 1 % over 10 epochs, while far from converged."""
    loss = scan.loss()
    if loss is None:
        skipped.append(("stalled-loss", "no loss recorded (neither per-sample losses nor a "
                                        "history)"))
        return
    epochs, values, what = loss
    width, reason = _window(scan, epochs, "loss values")
    if width is None:
        skipped.append(("stalled-loss", reason))
        return
    finite = np.isfinite(values)
    if not finite.any():
        return
    initial = values[np.flatnonzero(finite)[0]]
    stalled = np.zeros(len(values), dtype=bool)
    for first, last in _windows(epochs, width):
        window = values[first:last + 1]
        if not np.isfinite(window).all():
            continue
        low, high = window.min(), window.max()
        if low <= CONVERGED_FRACTION * initial:
            continue
        if high - low < STALL_TOLERANCE * abs(window.mean()):
            stalled[first:last + 1] = True
    for first, last, count in _stretches(stalled):
        window = values[first:last + 1]
        change = (window.max() - window.min()) / abs(window.mean())
        findings.append(_finding(
            scan, "stalled-loss", None, first, last, change,
            f"the {what} stays at {window.mean():.4g}: it moves by {_percent(change)} of its "
            f"value over these {epochs[last] - epochs[first]:g} epochs (threshold "
            f"{_percent(STALL_TOLERANCE)} per {width:g} epochs; initial loss "
            f"{initial:.4g}){_held(first, last, count)}", epochs=epochs))


def _check_gradients(scan, findings, skipped):
    """Kernel-gradient std shrinking or growing 10x per hidden layer towards the input."""
    kinds = ("vanishing-gradients", "exploding-gradients")
    layers = [layer for layer in scan.hidden_layers() if "kernel" in (
        layer.weights if layer.trainable_weights is None else layer.trainable_weights)]
    paths = [schema.gradients(layer.name, "kernel") for layer in layers]
    if not any(path in scan.recorded or scan.summarized(path) for path in paths):
        for kind in kinds:
            skipped.append((kind, "no gradients recorded (record with "
                                  "Recorder(..., gradients=True))"))
        return
    chosen = [(layer, path) for layer, path in zip(layers, paths)
              if path in scan.recorded or scan.summarized(path)]
    if len(chosen) < 2:
        for kind in kinds:
            skipped.append((kind, "needs at least 2 hidden layers with kernel gradients; "
                                  f"the run has {len(chosen)}"))
        return
    names = [layer.name for layer, _ in chosen]
    stds = np.full((scan.n, len(chosen)), np.nan)
    for column, (_, path) in enumerate(chosen):
        if scan.summarized(path):
            # The pooled std of a summary's per-unit mean and std (each unit
            # pools the same number of values): the std of every value.
            for start, mean, std in scan.summary_chunks(path):
                second = (std ** 2 + mean ** 2).mean(axis=1)
                with np.errstate(invalid="ignore"):
                    stds[start:start + len(mean), column] = np.sqrt(
                        np.maximum(second - mean.mean(axis=1) ** 2, 0.0))
            continue
        for start, chunk in scan.chunks(path):
            flat = chunk.reshape(len(chunk), -1).astype(np.float64)
            with np.errstate(invalid="ignore"):
                stds[start:start + len(chunk), column] = flat.std(axis=1)
    depth = np.arange(len(chosen), dtype=np.float64)
    factors = np.full(scan.n, np.nan)  # std multiplier per layer towards the input
    for snapshot in range(scan.n):
        row = stds[snapshot]
        usable = np.isfinite(row) & (row > 0)
        if usable.sum() < 2:
            continue  # no gradient at all, or NaN: the frozen / divergence checks say so
        slope = np.polyfit(depth[usable], np.log10(row[usable]), 1)[0]
        factors[snapshot] = 10.0 ** (-slope)
    for kind, mask in (("vanishing-gradients", factors <= 1 / GRADIENT_FACTOR),
                       ("exploding-gradients", factors >= GRADIENT_FACTOR)):
        for first, last, count in _stretches(mask):
            inside = factors[first:last + 1]
            if kind == "vanishing-gradients":
                inside = 1 / inside
            per_layer = float(np.nanmedian(inside))
            # The stds of the snapshot whose factor is nearest the median one.
            typical = first + int(np.nanargmin(np.abs(inside - per_layer)))
            row = stds[typical]
            verb = "shrinks" if kind == "vanishing-gradients" else "grows"
            findings.append(_finding(
                scan, kind, names[0], first, last, per_layer,
                f"the std of the kernel gradients {verb} {per_layer:.3g}x per layer towards "
                f"the input (threshold {GRADIENT_FACTOR:g}x): {row[-1]:.2g} in {names[-1]}"
                f" to {row[0]:.2g} in {names[0]} at epoch {scan.epochs[typical]:g}"
                f"{_held(first, last, count)}", layers=names))


def _check_dead_units(scan, findings, skipped):
    """Relu units never active on any recorded sample."""
    layers = [layer for layer in scan.hidden_layers() if layer.activation in RELU_ACTIVATIONS]
    for layer in layers:
        path = schema.activations(scan.source, layer.name)
        if scan.summarized(path):
            dead, samples = _dead_from_summary(scan, path)
        elif path in scan.recorded:
            dead, samples = _dead_from_values(scan, path)
        else:
            skipped.append(("dead-units", f"{layer.name}: no activations recorded on "
                                          f"{scan.source!r}"))
            continue
        if dead is None:
            continue
        units = dead.shape[1]
        counts = dead.sum(axis=1)
        for first, last, count in _stretches(counts > 0):
            most = int(counts[first:last + 1].max())
            severity = "warning" if most >= UNIT_WARNING_FRACTION * units else "note"
            shown = np.flatnonzero(dead[last])
            ever = np.flatnonzero(dead[first:last + 1].any(axis=0))
            which = shown if len(shown) else ever
            findings.append(_finding(
                scan, "dead-units", layer.name, first, last, most,
                f"{_how_many(counts[first:last + 1], units)} {layer.activation} units "
                f"({_percent(most / units)}) never active: output 0 on all {samples} recorded "
                f"{scan.source} values ({_which(which, units, scan, first, last, counts)})"
                f"{_held(first, last, count)}", severity=severity, units=which))


def _dead_from_values(scan, path):
    """``(dead (snapshots, units) or None, values per unit)`` from raw activations."""
    dead, samples = None, 0
    for start, chunk in scan.chunks(path):
        values = chunk.reshape(len(chunk), -1, chunk.shape[-1])
        samples = values.shape[1]
        if dead is None:
            dead = np.zeros((scan.n, values.shape[2]), dtype=bool)
        # NaN compares false: a diverged layer is not called dead.
        dead[start:start + len(chunk)] = (values <= DEAD_ACTIVATION).all(axis=1)
    return dead, samples


def _dead_from_summary(scan, path):
    """As :func:`_dead_from_values`, from a summary's per-unit means.

    Relu outputs are >= 0, so a unit's mean is 0 exactly when every value
    is: the check needs nothing the summary lost.
    """
    dead = None
    for start, mean, _ in scan.summary_chunks(path):
        if dead is None:
            dead = np.zeros((scan.n, mean.shape[1]), dtype=bool)
        dead[start:start + len(mean)] = mean <= DEAD_ACTIVATION
    return dead, (scan.values_per_unit(path) if dead is not None else 0)


def _unit_list(units, total, limit=8):
    units = [int(unit) for unit in units]
    if len(units) == total and total > 1:
        return "every unit"
    text = ", ".join(str(unit) for unit in units[:limit])
    return ("unit " if len(units) == 1 else "units ") + text + (
        f", ... ({len(units)} in all)" if len(units) > limit else "")


def _how_many(counts, total):
    """``"3 of 10"``, or ``"up to 3 of 10"`` when the count varies over the stretch."""
    most = int(np.max(counts))
    if most == total:
        return f"all {total}" if np.all(counts == most) else f"up to all {total}"
    return f"{most} of {total}" if np.all(counts == most) else f"up to {most} of {total}"


def _which(units, total, scan, first, last, counts):
    """The units concerned at the end of a stretch, with its epoch when the count varied."""
    text = _unit_list(units, total)
    if np.all(counts[first:last + 1] == counts[last]) or first == last:
        return text
    return f"at epoch {scan.epochs[last]:g}: {text}"


def _saturation_masks(values, activation, *, logits):
    """``|z| >= threshold`` per value, from z-values (``logits``) or from activations."""
    threshold = SATURATION_Z[activation]
    if logits:
        return np.abs(values) >= threshold
    if activation == "sigmoid":
        high = 1.0 / (1.0 + math.exp(-threshold))
        return (values >= high) | (values <= 1.0 - high)
    return np.abs(values) >= math.tanh(threshold)


def _check_saturated_units(scan, findings, skipped):
    """Sigmoid / tanh units with |z| past the threshold on >= 95 % of the samples."""
    run = scan.run
    for layer in scan.hidden_layers():
        if layer.activation not in SATURATION_Z:
            continue
        z_path = schema.preactivations(scan.source, layer.name)
        a_path = schema.activations(scan.source, layer.name)
        if layer.preactivations and z_path in scan.recorded:
            path, logits = z_path, True
        elif a_path in scan.recorded:
            path, logits = a_path, False
        elif scan.summarized(z_path) or scan.summarized(a_path):
            skipped.append(("saturated-units", f"{layer.name}: z-values and activations kept "
                                               "as summaries (the size budget); the share of "
                                               "saturated samples needs the values: record "
                                               "with Recorder(..., max_snapshot_bytes=None)"))
            continue
        else:
            skipped.append(("saturated-units", f"{layer.name}: no z-values or activations "
                                               f"recorded on {scan.source!r}"))
            continue
        fractions, samples = None, 0
        for start, chunk in scan.chunks(path):
            values = chunk.reshape(len(chunk), -1, chunk.shape[-1]).astype(np.float64)
            samples = values.shape[1]
            if fractions is None:
                fractions = np.zeros((scan.n, values.shape[2]))
            fractions[start:start + len(chunk)] = _saturation_masks(
                values, layer.activation, logits=logits).mean(axis=1)
        if fractions is None:
            continue
        saturated = fractions >= SATURATED_FRACTION
        units = saturated.shape[1]
        counts = saturated.sum(axis=1)
        threshold = SATURATION_Z[layer.activation]
        for first, last, count in _stretches(counts > 0):
            most = int(counts[first:last + 1].max())
            severity = "warning" if most >= UNIT_WARNING_FRACTION * units else "note"
            which = np.flatnonzero(saturated[last]) if counts[last] else np.flatnonzero(
                saturated[first:last + 1].any(axis=0))
            detail = (f"; median |z| of the layer {_largest_median_abs(scan, path, first, last):.3g}"
                      if logits else "")
            findings.append(_finding(
                scan, "saturated-units", layer.name, first, last, most,
                f"{_how_many(counts[first:last + 1], units)} {layer.activation} units "
                f"({_percent(most / units)}) saturated: |z| >= {threshold:g} on >= "
                f"{_percent(SATURATED_FRACTION)} of the {samples} recorded {scan.source} values "
                f"({_which(which, units, scan, first, last, counts)}){detail}"
                f"{_held(first, last, count)}", severity=severity, units=which))
    _check_saturated_output(scan, findings, skipped, run)


def _largest_median_abs(scan, path, first, last):
    """The largest, over snapshots ``first..last``, of the median ``|value|`` of ``path``.

    Computed for the stretches found only: a median is a partial sort of
    every value of a snapshot.
    """
    largest = np.nan
    for start, chunk in scan.chunks(path):
        low, high = max(first - start, 0), min(last + 1 - start, len(chunk))
        if low >= high:
            continue
        values = np.abs(chunk[low:high].reshape(high - low, -1).astype(np.float64))
        largest = np.nanmax([largest, *np.median(values, axis=1)])
    return largest


def _check_saturated_output(scan, findings, skipped, run):
    """A one-unit sigmoid output saturated on >= 95 % of samples and wrong on >= 10 %."""
    if not run.layers:
        return
    output = run.layers[-1]
    logits = run.outputs_are_logits
    path = schema.outputs(scan.source)
    if output.units != 1 or path not in scan.recorded:
        return
    if not (output.activation == "sigmoid" or (logits and output.activation == "linear")):
        return
    if run.task != "classification" or schema.targets(scan.source) not in scan.recorded:
        return
    positive = np.asarray(run.targets(scan.source), dtype=np.float64).reshape(-1) > 0.5
    saturated_share = np.zeros(scan.n)
    wrong_share = np.zeros(scan.n)
    for start, chunk in scan.chunks(path):
        values = chunk.reshape(len(chunk), -1).astype(np.float64)
        saturated = _saturation_masks(values, "sigmoid", logits=logits)
        predicted = values > (0.0 if logits else 0.5)
        wrong = predicted != positive[None, :]
        saturated_share[start:start + len(chunk)] = saturated.mean(axis=1)
        wrong_share[start:start + len(chunk)] = (saturated & wrong).mean(axis=1)
    mask = (saturated_share >= SATURATED_FRACTION) & (wrong_share >= SATURATED_WRONG_FRACTION)
    for first, last, count in _stretches(mask):
        share = float(saturated_share[first:last + 1].min())
        wrong = float(wrong_share[first:last + 1].max())
        findings.append(_finding(
            scan, "saturated-units", output.name, first, last, wrong,
            f"the sigmoid output is saturated (|z| >= {SATURATION_Z['sigmoid']:g}) on "
            f"{_percent(share)} of the {scan.source} samples and confidently wrong on "
            f"{_percent(wrong)} (thresholds {_percent(SATURATED_FRACTION)} and "
            f"{_percent(SATURATED_WRONG_FRACTION)}): where Keras clips such probabilities "
            f"the loss has no gradient{_held(first, last, count)}", units=(0,)))


def _check_symmetric_units(scan, findings, skipped):
    """Units whose incoming weights and bias are identical."""
    for layer in scan.run.layers:
        kernel_path = schema.weights(layer.name, "kernel")
        if scan.summarized(kernel_path):
            skipped.append(("symmetric-units", _summarized_weights(layer)))
            continue
        if kernel_path not in scan.recorded or layer.units < 2:
            continue
        shape = scan.recorded[kernel_path][0]
        if shape[-1] != layer.units:
            continue  # e.g. recurrent kernels: one column per gate and unit
        bias_path = schema.weights(layer.name, "bias")
        bias_chunks = (scan.chunks(bias_path) if bias_path in scan.recorded
                       and scan.recorded[bias_path][0][1:] == (layer.units,) else None)
        shared = np.zeros((scan.n, layer.units), dtype=bool)
        groups = np.zeros(scan.n, dtype=np.int64)
        largest = np.zeros(scan.n, dtype=np.int64)
        zero = np.zeros(scan.n, dtype=bool)
        for start, kernels in scan.chunks(kernel_path):
            biases = next(bias_chunks)[1] if bias_chunks is not None else None
            columns = np.swapaxes(kernels.reshape(len(kernels), -1, layer.units), 1, 2)
            if biases is not None:
                columns = np.concatenate([columns, biases[:, :, None]], axis=2)
            _symmetric_columns(columns.astype(np.float64), start, shared, groups, largest,
                               zero)
        counts = shared.sum(axis=1)
        for first, last, count in _stretches(counts > 0):
            most = int(counts[first:last + 1].max())
            which = np.flatnonzero(shared[last])
            forever = first == 0 and last == scan.n - 1 and scan.n > 1
            text = _how_many(counts[first:last + 1], layer.units)
            grouping = ("one group" if groups[last] == 1 else
                        f"{groups[last]} groups, the largest of {largest[last]}")
            message = (f"{text} units have identical incoming weights and bias "
                       f"({grouping}{'; every weight is 0' if zero[last] else ''})")
            if forever:
                message += ": symmetry never broken"
            findings.append(_finding(scan, "symmetric-units", layer.name, first, last, most,
                                     message + _held(first, last, count), units=which))


#: Most values compared at once when telling which units of a layer share their weights.
PAIRWISE_VALUES = 2**22


def _symmetric_columns(columns, start, shared, groups, largest, zero):
    """Fill ``shared``, ``groups``, ``largest`` and ``zero`` from ``start`` on for
    ``columns (snapshots, units, incoming weights [+ bias])``.

    Two units are identical when their columns, rounded to a grid of
    ``SYMMETRY_TOLERANCE`` times the snapshot's largest absolute weight, are
    equal. Snapshots with NaN or inf are left out (divergence reports them).
    """
    count, units, width = columns.shape
    finite = np.isfinite(columns).all(axis=(1, 2))
    scale = np.where(finite, np.abs(np.where(np.isfinite(columns), columns, 0)).max(
        axis=(1, 2)), 0.0)
    all_zero = finite & (scale == 0)
    indices = start + np.flatnonzero(all_zero)
    shared[indices], groups[indices], largest[indices], zero[indices] = True, 1, units, True
    live = np.flatnonzero(finite & (scale > 0))
    step = max(1, PAIRWISE_VALUES // max(units * units * width, 1))
    for first in range(0, len(live), step):
        chosen = live[first:first + step]
        keys = np.round(columns[chosen] / (scale[chosen] * SYMMETRY_TOLERANCE)[:, None, None])
        equal = (keys[:, :, None, :] == keys[:, None, :, :]).all(axis=3)
        counts = equal.sum(axis=2)  # per unit: the units with its weights, itself included
        shared[start + chosen] = counts > 1
        # Each group of g identical units adds g times 1/g.
        groups[start + chosen] = np.rint(np.where(counts > 1, 1.0 / counts, 0.0).sum(axis=1))
        largest[start + chosen] = counts.max(axis=1)


def _check_frozen_weights(scan, findings, skipped):
    """Layers whose trainable weights do not change at all for 10 epochs."""
    width, reason = _window(scan, scan.epochs, "snapshots")
    if width is None:
        skipped.append(("frozen-weights", reason))
        return
    for layer in scan.run.layers:
        names = scan.trainable(layer)
        if not names:
            if any(scan.summarized(schema.weights(layer.name, name)) for name in layer.weights):
                skipped.append(("frozen-weights", _summarized_weights(layer)))
            continue
        updates = np.zeros(scan.n)  # largest change into each snapshot
        scales = np.zeros(scan.n)  # largest |weight| before it
        for name in names:
            previous = None
            for start, chunk in scan.chunks(schema.weights(layer.name, name)):
                flat = chunk.reshape(len(chunk), -1).astype(np.float64)
                stacked = flat if previous is None else np.concatenate([previous, flat])
                offset = 0 if previous is None else 1
                if len(stacked) > 1:
                    change = np.abs(np.diff(stacked, axis=0)).max(axis=1, initial=0.0)
                    size = np.abs(stacked[:-1]).max(axis=1, initial=0.0)
                    first = start + 1 - offset
                    updates[first:first + len(change)] = np.maximum(
                        updates[first:first + len(change)], change)
                    scales[first:first + len(size)] = np.maximum(
                        scales[first:first + len(size)], size)
                previous = flat[-1:]
        frozen_step = np.zeros(scan.n, dtype=bool)  # snapshot t unchanged from t - 1
        with np.errstate(invalid="ignore"):
            frozen_step[1:] = (updates[1:] <= FROZEN_TOLERANCE * scales[1:])
        frozen = np.zeros(scan.n, dtype=bool)
        for first, last in _windows(scan.epochs, width):
            if last > first and frozen_step[first + 1:last + 1].all():
                frozen[first:last + 1] = True
        for first, last, count in _stretches(frozen):
            biggest = float(updates[first + 1:last + 1].max()) if last > first else 0.0
            gradient = _gradient_note(scan, layer, first, last)
            with np.errstate(divide="ignore", invalid="ignore"):
                relative = float(np.nanmax(np.where(
                    scales[first + 1:last + 1] > 0,
                    updates[first + 1:last + 1] / scales[first + 1:last + 1], 0.0))) \
                    if last > first else 0.0
            moved = (f"no weight of {layer.name} changes" if biggest == 0 else
                     f"the weights of {layer.name} barely move (largest change between "
                     f"snapshots {biggest:.2g}, {relative:.2g} x its largest weight)")
            findings.append(_finding(
                scan, "frozen-weights", layer.name, first, last, relative,
                f"{moved} from epoch {scan.epochs[first]:g} to {scan.epochs[last]:g} "
                f"(threshold {FROZEN_TOLERANCE:g} x its largest weight for {width:g} epochs)"
                f"{gradient}{_held(first, last, count)}"))


def _summarized_weights(layer):
    return (f"{layer.name}: weights kept as summaries (the size budget); comparing "
            "weights needs the values: record with Recorder(..., max_snapshot_bytes=None)")


def _gradient_note(scan, layer, first, last):
    """``"; its recorded gradient is exactly 0"`` when it is, over the stretch."""
    paths = [schema.gradients(layer.name, name) for name in scan.trainable(layer)]
    paths = [path for path in paths if path in scan.recorded]
    if not paths:
        return ""
    for path in paths:
        for start in range(first, last + 1, MAX_CHUNK):
            values = np.asarray(scan.run.series(path, range(start, min(start + MAX_CHUNK,
                                                                       last + 1))))
            if np.any(values != 0):
                return ""
    return "; its recorded gradient is exactly 0"
