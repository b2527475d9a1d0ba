"""Loss and a metric against epochs, on twin axes, from epoch 0."""

import numpy as np

from replay.errors import OptionError
from replay.io import schema
from replay.views.base import View
from replay.views.ranges import padded_range
from replay.views.registry import METRIC, register
from replay.views.style import (
    HEADROOM,
    LEGEND_SIZE,
    LEGEND_ZORDER,
    LOSS_COLOR,
    METRIC_COLOR,
    NOTE_COLOR,
    despine,
    headroom_limits,
    style_axes,
    ticks_below_band,
)

#: Metrics that live in [0, 1] (with ``y_range="unit"`` their axis is [0, 1]).
BOUNDED_METRICS = ("acc", "auc", "precision", "recall", "f1")
#: Metrics that can be computed from the recorded outputs and targets at snapshot 0.
ACCURACY_METRICS = ("accuracy", "acc", "binary_accuracy", "categorical_accuracy",
                    "sparse_categorical_accuracy")
#: The y-ranges of the curves: fitted to the values, or [0, 1] for bounded metrics.
Y_RANGES = ("fit", "unit")


def epoch_zero_values(run, key):
    """The value of history ``key`` at epoch 0 (before training), or NaN.

    Keras logs its history at the end of each epoch; the state before the
    first batch is snapshot 0. Its loss is the mean of snapshot 0's recorded
    per-sample losses, and an accuracy is computed from snapshot 0's
    recorded outputs and the targets (what Keras' accuracy counts). Other
    metrics cannot be recomputed: NaN.

    Args:
        run: the :class:`replay.Run`.
        key: a history key, e.g. ``"loss"``, ``"val_accuracy"``.
    """
    source = "validation" if key.startswith("val_") else "train"
    name = key[4:] if key.startswith("val_") else key
    if source not in run.sources or not run.n_snapshots or float(run.epochs[0]) != 0.0:
        return np.nan
    try:
        if name == "loss":
            losses = np.asarray(run.per_sample_loss(0, source=source), dtype=np.float64)
            return float(np.mean(losses)) if losses.size else np.nan
        if name in ACCURACY_METRICS and run.task != "regression":
            predicted = run.predicted_labels(0, source=source)
            return float(np.mean(predicted == run.labels(source)))
    except (KeyError, OSError, ValueError):
        return np.nan  # not recorded (e.g. no per-sample losses): no epoch-0 point
    return np.nan


def history_curve(run, key):
    """``(epochs, values)`` of history ``key``, with epoch 0 in front when it is known.

    See :func:`epoch_zero_values`; float arrays.
    """
    epochs = np.asarray(run.history[schema.HISTORY_INDEX], dtype=np.float64)
    values = np.asarray(run.history[key], dtype=np.float64)
    if len(epochs) and epochs[0] > 0:
        first = epoch_zero_values(run, key)
        if np.isfinite(first):
            epochs, values = np.r_[0.0, epochs], np.r_[first, values]
    return epochs, values


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
    (``run.history``), from **epoch 0**: the state before training, computed
    from snapshot 0 (:func:`epoch_zero_values`: the mean per-sample loss; an
    accuracy from the recorded outputs). Validation curves (``val_*``) are
    drawn dashed when the run has them. Each curve has a dot at the current
    epoch. Both axes are fixed over the whole run and fit the values
    (``y_range="fit"``) or, for a metric in [0, 1], span [0, 1]
    (``y_range="unit"``); a band above the curves holds the legend, so the
    legend never covers them and a metric at 1.0 does not sit on the frame.
    A run without history (recorded with ``Recorder.snapshot``, or stopped
    before its first epoch ended) gets a panel that says so.

    Args:
        run: the :class:`replay.Run`.
        metric: the metric to draw on the right axis; ``None`` for
            ``accuracy`` when recorded, else the first recorded metric (none
            when the run logged only its loss).
        validation: also draw the validation curves when recorded.
        y_range: ``"fit"`` (default) or ``"unit"`` (see above).
        legend: draw the legend (in the band above the curves).
        ax: the axes to draw into (the metric axes is its twin); ``None``
            makes a new figure.

    Attributes:
        metric_ax_: the twin axes of the metric.
        lines_: ``{history key: Line2D}``.
        markers_: ``{history key: Line2D}``, the dot at the current epoch.
        curves_: ``{history key: (epochs, values)}``, epoch 0 included when known.
        legend_: the legend (or ``None``).

    Example:
        >>> LossAndMetric(run, metric="accuracy").plot(60).savefig("curves.png")  # doctest: +SKIP
    """

    figsize = (5.0, 3.5)
    blit_safe = True
    shows_history = True

    def __init__(self, run, *, metric=None, validation=True, y_range="fit", legend=True,
                 ax=None):
        super().__init__(run, ax=ax)
        if y_range not in Y_RANGES:
            raise OptionError(f"y_range must be 'fit' or 'unit'. Got {y_range!r}.")
        self.y_range = y_range
        self.show_legend = legend
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
        self.curves_ = {key: self._curve(key)
                        for key in self.keys["loss"] + self.keys["metric"]}
        self.title = f"Loss and {metric}" if metric is not None else "Loss"

    def _curve(self, key):
        return history_curve(self.run, key)

    def draw_static(self):
        ax = self.ax_
        self.lines_, self.markers_ = {}, {}
        self.metric_ax_ = None
        self.legend_ = None
        despine(ax)
        if not self.has_history:
            ax.set_title(self.title)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, "no training recorded:\nthe run holds no epoch's loss",
                    transform=ax.transAxes, ha="center", va="center", color=NOTE_COLOR)
            return
        if self.metric is not None:
            self.metric_ax_ = ax.twinx()
            # The twin draws over the main axes: keep one copy of each spine.
            self.metric_ax_.spines[["top", "bottom", "left"]].set_visible(False)
        for axes, role, color in ((ax, "loss", LOSS_COLOR),
                                  (self.metric_ax_, "metric", METRIC_COLOR)):
            for key in self.keys[role]:
                style = "--" if key.startswith("val_") else "-"
                (self.lines_[key],) = axes.plot([], [], color=color, linewidth=1.6,
                                                linestyle=style, label=key.replace("_", " "))
                (self.markers_[key],) = axes.plot([], [], linestyle="none", marker="o",
                                                  markersize=4.5, color=color,
                                                  markerfacecolor="white" if style == "--"
                                                  else color, zorder=3)
        last_epoch = max(float(self.snapshot_epochs[-1]), 1.0)
        ax.set_xlim(0.0, last_epoch)
        losses = np.concatenate([self.curves_[key][1] for key in self.keys["loss"]])
        finite = losses[np.isfinite(losses)]
        ax.set_ylim(*headroom_limits(0.0, padded_range(0.0, finite.max())[1]
                                     if finite.size else 1.0))
        ax.set_title(self.title)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss", color=LOSS_COLOR)
        ticks_below_band(ax.yaxis)
        style_axes(ax)
        if self.metric_ax_ is not None:
            self.metric_ax_.set_ylim(*self._metric_limits())
            self.metric_ax_.set_ylabel(self.metric, color=METRIC_COLOR)
            self.metric_ax_.tick_params(axis="y", colors=METRIC_COLOR)
            ticks_below_band(self.metric_ax_.yaxis)
            style_axes(self.metric_ax_)
        if self.show_legend:
            handles = [self.lines_[key] for key in self.keys["loss"] + self.keys["metric"]]
            # In the band above the curves, and below them in drawing order:
            # blitted frames (curves drawn over a static background) and full
            # redraws then look the same even in a figure too small for the band.
            self.legend_ = ax.legend(handles=handles, loc="upper center",
                                     ncol=len(handles) if len(handles) <= 2 else 2,
                                     fontsize=LEGEND_SIZE,
                                     frameon=False, handlelength=1.6,
                                     columnspacing=0.9, handletextpad=0.4,
                                     borderaxespad=0.1)
            self.legend_.set_zorder(LEGEND_ZORDER)

    def _metric_limits(self):
        """The metric axis: fitted to the values (or [0, 1]), with the legend's band above."""
        metrics = np.concatenate([self.curves_[key][1] for key in self.keys["metric"]])
        finite = metrics[np.isfinite(metrics)]
        bounded = any(name in self.metric for name in BOUNDED_METRICS)
        if self.y_range == "unit" and bounded:
            low, high = 0.0, 1.0
        elif finite.size:
            low, high = padded_range(finite.min(), finite.max())
            if bounded:
                # Not below 0 nor (much) above 1: no tick at 1.05 on an accuracy.
                low = max(low, 0.0) if finite.min() >= 0 else low
                high = min(high, 1.0) if finite.max() <= 1.0 else high
        else:
            low, high = 0.0, 1.0
        # The data keep below the band; pad a little so 1.0 is off the top line.
        span = high - low
        return headroom_limits(low, high + 0.02 * span, HEADROOM)

    def update(self, epoch):
        until = self.snapshot_epochs[epoch] + 1e-9
        artists = []
        for key, line in self.lines_.items():
            epochs, values = self.curves_[key]
            shown = epochs <= until
            line.set_data(epochs[shown], values[shown])
            marker = self.markers_[key]
            if shown.any():
                marker.set_data(epochs[shown][-1:], values[shown][-1:])
            else:
                marker.set_data([], [])
            artists += [line, marker]
        return artists


#: History keys that are not metrics.
NOT_METRICS = ("loss", schema.HISTORY_INDEX, "learning_rate", "lr")


def recorded_metrics(history):
    """Return the metrics a history holds (not the loss, the epoch or the learning rate)."""
    return [key for key in history if key not in NOT_METRICS and not key.startswith("val_")]
