"""Loss and a metric against epochs, on twin axes."""

import numpy as np

from replay.errors import OptionError
from replay.io import schema
from replay.views.base import View
from replay.views.ranges import padded_range
from replay.views.registry import METRIC, register

#: Colours of the loss and the metric curves (not class colours).
LOSS_COLOR = "#222222"
METRIC_COLOR = "#7B3294"
#: Metrics that live in [0, 1]: their axis is fixed to that range.
BOUNDED_METRICS = ("acc", "auc", "precision", "recall", "f1")


def _short_title(view):
    if not view.has_history:
        return "loss"
    if view.metric is None:
        return "loss" + (", val dashed" if len(view.keys["loss"]) > 1 else "")
    return f"loss & {view.metric}" + (
        ", val dashed" if len(view.keys["loss"]) + len(view.keys["metric"]) > 2 else "")


@register("loss-and-metric", options=(METRIC,), short_title=_short_title, share_y=True)
class LossAndMetric(View):
    """The mean loss (left axis) and a metric (right axis) against epochs, up to the current one.

    The values are the ones Keras logged at the end of each epoch
    (``run.history``); validation curves (``val_*``) are drawn dashed when the
    run has them. Both axes are fixed over the whole run. The axis labels
    are coloured like their curves (no legend: it would have to be redrawn
    over the curves on every frame). A run without history (recorded with
    ``Recorder.snapshot``, or stopped before its first epoch ended) gets a
    panel that says so.

    Args:
        run: the :class:`replay.Run`.
        metric: the metric to draw on the right axis; ``None`` for
            ``accuracy`` when recorded, else the first recorded metric (none
            when the run logged only its loss).
        validation: also draw the validation curves when recorded.
        ax: the axes to draw into (the metric axes is its twin); ``None``
            makes a new figure.

    Attributes:
        metric_ax_: the twin axes of the metric.
        lines_: ``{history key: Line2D}``.

    Example:
        >>> LossAndMetric(run, metric="accuracy").plot(60).savefig("curves.png")  # doctest: +SKIP
    """

    figsize = (5.0, 3.5)
    blit_safe = True

    def __init__(self, run, *, metric=None, validation=True, ax=None):
        super().__init__(run, ax=ax)
        history = run.history
        self.has_history = "loss" in history and len(history["loss"]) > 0
        available = recorded_metrics(history)
        if metric is not None and metric not in available:
            raise OptionError(
                f"Run {run.name!r} has no metric {metric!r}. Recorded metrics: "
                f"{', '.join(available) or 'none'}."
            )
        if metric is None and available:
            metric = "accuracy" if "accuracy" in available else available[0]
        self.metric = metric
        self.keys = {"loss": ["loss"] if self.has_history else [],
                     "metric": [metric] if metric is not None else []}
        if validation:
            self.keys["loss"] += [key for key in ("val_loss",) if key in history]
            self.keys["metric"] += [key for key in (f"val_{metric}",) if key in history]
        self.history_epochs = (np.asarray(history[schema.HISTORY_INDEX], dtype=np.float64)
                               if self.has_history else np.zeros(0))
        self.snapshot_epochs = np.asarray(run.epochs, dtype=np.float64)
        self.title = f"Loss and {metric}" if metric is not None else "Loss"
        if len(self.keys["loss"]) + len(self.keys["metric"]) > 2 or (
                metric is None and len(self.keys["loss"]) > 1):
            self.title += " (dashed: validation)"

    def draw_static(self):
        ax = self.ax_
        history = self.run.history
        self.lines_ = {}
        self.metric_ax_ = None
        ax.spines[["top", "right"]].set_visible(False)
        if not self.has_history:
            ax.set_title(self.title)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, "no training recorded:\nthe run holds no epoch's loss",
                    transform=ax.transAxes, ha="center", va="center", color="#555555")
            return
        if self.metric is not None:
            self.metric_ax_ = ax.twinx()
            # The twin draws over the main axes: keep one copy of each spine.
            self.metric_ax_.spines[["top", "bottom", "left"]].set_visible(False)
        for axes, role, color in ((ax, "loss", LOSS_COLOR),
                                  (self.metric_ax_, "metric", METRIC_COLOR)):
            for key in self.keys[role]:
                label = key.replace("_", " ")
                (self.lines_[key],) = axes.plot([], [], color=color, linewidth=1.6,
                                                linestyle="--" if key.startswith("val_") else "-",
                                                label=label)
        last_epoch = max(float(self.snapshot_epochs[-1]), 1.0)
        ax.set_xlim(0.0, last_epoch)
        losses = np.concatenate([history[key] for key in self.keys["loss"]])
        finite = losses[np.isfinite(losses)]
        ax.set_ylim(0.0, padded_range(0.0, finite.max() if finite.size else 1.0)[1])
        ax.set_title(self.title)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss", color=LOSS_COLOR)
        if self.metric_ax_ is None:
            return
        metrics = np.concatenate([history[key] for key in self.keys["metric"]])
        finite = metrics[np.isfinite(metrics)]
        if any(name in self.metric for name in BOUNDED_METRICS):
            self.metric_ax_.set_ylim(0.0, 1.02)
        elif finite.size:
            self.metric_ax_.set_ylim(*padded_range(finite.min(), finite.max()))
        self.metric_ax_.set_ylabel(self.metric, color=METRIC_COLOR)
        self.metric_ax_.tick_params(axis="y", colors=METRIC_COLOR)

    def update(self, epoch):
        shown = self.history_epochs <= self.snapshot_epochs[epoch] + 1e-9
        history = self.run.history
        for key, line in self.lines_.items():
            line.set_data(self.history_epochs[shown], history[key][shown])
        return list(self.lines_.values())


#: History keys that are not metrics.
NOT_METRICS = ("loss", schema.HISTORY_INDEX, "learning_rate", "lr")


def recorded_metrics(history):
    """Return the metrics a history holds (not the loss, the epoch or the learning rate)."""
    return [key for key in history if key not in NOT_METRICS and not key.startswith("val_")]
