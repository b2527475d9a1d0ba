"""The loss and metrics of every snapshot, from its recorded per-sample losses and outputs.

A frame of a scene shows one snapshot: the weights, outputs and per-sample
losses as they were at that moment. Keras' history is another quantity:
each epoch's ``loss`` and ``accuracy`` are running averages over the
epoch's batches, taken while the weights still moved, in training mode
(dropout on, batch statistics of each batch) and with the regularisers'
penalties added to the loss. Beside histograms of the snapshot, a curve of
the history disagrees with them (the DeepReplay part-1 run at epoch 20: the
histograms count 462 of 2,000 misclassified, 76.9 % accuracy; Keras logged
74.5 %). :func:`snapshot_curves` computes the curves that agree with the
picture: for every snapshot, the mean of its per-sample losses and the
metrics of its outputs against the targets.

It reads the losses and outputs once, a chunk of snapshots per HDF5 call
(:func:`replay.views.ranges.iter_snapshots`), and keeps the result per run
object, so the several views of a scene (and every frame) share one pass.
"""

import itertools
import weakref
from dataclasses import dataclass, field

import numpy as np

from replay.errors import LayerNotFoundError
from replay.io import schema
from replay.views.ranges import iter_snapshots

#: Metrics of a classification run counted from its outputs: the share of
#: samples whose predicted class (``p > 0.5``, or the argmax) is the target's.
ACCURACY_METRICS = ("accuracy", "acc", "binary_accuracy", "categorical_accuracy",
                    "sparse_categorical_accuracy")
#: Metrics of a regression run computed from its outputs and targets.
REGRESSION_METRICS = {
    "mae": "absolute", "mean_absolute_error": "absolute",
    "mse": "squared", "mean_squared_error": "squared",
    "rmse": "root_squared", "root_mean_squared_error": "root_squared",
}

#: ``{run: {(source, n_snapshots): SnapshotCurves}}``: one pass per run and source.
_CACHE = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class SnapshotCurves:
    """The loss and metrics of each snapshot of a run, on one source's samples.

    Attributes:
        source: ``"train"`` or ``"validation"``.
        epochs: ``(n_snapshots,)`` the epoch of each snapshot.
        loss: ``(n_snapshots,)`` the mean of each snapshot's per-sample losses,
            or ``None`` when the run holds no per-sample losses.
        metrics: ``{name: (n_snapshots,)}`` of the metrics computable from the
            outputs (see :func:`metric_kind`); empty without outputs.
        n_samples: how many samples each value is computed on.
    """

    source: str
    epochs: np.ndarray
    loss: np.ndarray = None
    metrics: dict = field(default_factory=dict)
    n_samples: int = 0

    def values(self, name):
        """Return the curve of ``name`` (``"loss"`` or a metric), or ``None`` when not computable."""
        if name == "loss":
            return self.loss
        kind = metric_kind(name, "classification") or metric_kind(name, "regression")
        return self.metrics.get(kind)


def metric_kind(name, task):
    """What a metric of a ``task`` run counts from the outputs, or ``None`` when it cannot.

    ``"accuracy"`` for the accuracies of a classification run;
    ``"absolute"``, ``"squared"`` or ``"root_squared"`` errors for the
    ``mae``/``mse``/``rmse`` of a regression run. Other metrics (AUC,
    precision, ...) need more than a mean per snapshot: ``None``.
    """
    if task == "classification" and name in ACCURACY_METRICS:
        return "accuracy"
    if task == "regression":
        return REGRESSION_METRICS.get(name)
    return None


def snapshot_curves(run, source="train"):
    """Return the :class:`SnapshotCurves` of ``run`` on ``source``: every snapshot's loss and metrics.

    The loss of a snapshot is the mean of its recorded per-sample losses;
    the accuracy of a classification run is the share of samples whose
    predicted class is right (what the probability histograms count); a
    regression run gets its mean absolute and squared errors. What the run
    did not record (per-sample losses or outputs, e.g. a run recorded with
    ``quantities=["weights"]``) is ``None`` or missing: callers fall back to
    the history. Computed once per run object, source and snapshot count.

    Args:
        run: a :class:`replay.Run`.
        source: ``"train"`` or ``"validation"``.

    Raises:
        RunFileError: a damaged run file.

    Example:
        >>> curves = snapshot_curves(run)                   # doctest: +SKIP
        >>> accuracy = curves.metrics["accuracy"]           # doctest: +SKIP
        >>> curves.loss[20], accuracy[20]                   # doctest: +SKIP
        (0.4837, 0.769)
    """
    per_run = _CACHE.setdefault(run, {})
    key = (source, run.n_snapshots)
    if key not in per_run:
        per_run[key] = _compute(run, source)
    return per_run[key]


def _compute(run, source):
    epochs = np.asarray(run.epochs, dtype=np.float64)
    if source not in run.sources or not run.n_snapshots:
        return SnapshotCurves(source, epochs)
    loss = _mean_losses(run, source)
    metrics = _output_metrics(run, source)
    n_samples = len(run.inputs(source)) if loss is not None or metrics else 0
    return SnapshotCurves(source, epochs, loss, metrics, n_samples)


def predicted_labels(probabilities, n_samples, threshold=0.5):
    """The classes ``(k, n_samples)`` that ``k`` snapshots' probabilities predict.

    Keras' accuracy rule, as the probability histograms count it: class 1
    where the one output is above ``threshold``, else the argmax.
    """
    probabilities = np.asarray(probabilities).reshape(len(probabilities), n_samples, -1)
    if probabilities.shape[-1] == 1:
        return (probabilities[..., 0] > threshold).astype(np.int64)
    return probabilities.argmax(axis=-1)


def _mean_losses(run, source):
    try:
        means = [np.mean(np.asarray(chunk, dtype=np.float64).reshape(len(chunk), -1), axis=1)
                 for chunk in iter_snapshots(run, schema.loss(source))]
    except LayerNotFoundError:
        return None  # not recorded (quantities), or a DeepReplay net numpy cannot compute
    return np.concatenate(means)


def _output_metrics(run, source):
    if run.task not in ("classification", "regression"):
        return {}
    try:
        chunks = iter_snapshots(run, schema.outputs(source))
        first = next(chunks)
    except LayerNotFoundError:
        return {}  # not recorded: no metric from the outputs
    targets = np.asarray(run.targets(source))
    n = len(targets)
    if run.task == "classification":
        labels = run.labels(source)
        correct = [np.mean(predicted_labels(run.output_probabilities(chunk), n) == labels, axis=1)
                   for chunk in itertools.chain([first], chunks)]
        return {"accuracy": np.concatenate(correct)}
    targets = targets.reshape(n, -1).astype(np.float64)
    absolute, squared = [], []
    for chunk in itertools.chain([first], chunks):
        errors = np.asarray(chunk, dtype=np.float64).reshape(len(chunk), *targets.shape) - targets
        absolute.append(np.mean(np.abs(errors), axis=(1, 2)))
        squared.append(np.mean(errors ** 2, axis=(1, 2)))
    squared = np.concatenate(squared)
    return {"absolute": np.concatenate(absolute), "squared": squared,
            "root_squared": np.sqrt(squared)}
