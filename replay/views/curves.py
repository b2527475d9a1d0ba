"""Loss and a metric against epochs, on twin axes, from epoch 0.

By default the curves show the state each frame shows: every snapshot's
mean per-sample loss and the accuracy of its outputs
(:mod:`replay.views.snapshot_curves`). Keras' logged history, an average
over each epoch's batches in training mode, is the other choice
(``values="history"``), or drawn beside them (``values="both"``).
"""

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from replay.errors import OptionError
from replay.io import schema
from replay.views.base import View
from replay.views.ranges import padded_range
from replay.views.registry import METRIC, VALUES, register
from replay.views.snapshot_curves import ACCURACY_METRICS, metric_kind, snapshot_curves
from replay.views.style import (
    HEADROOM,
    HISTORY_ALPHA,
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
#: The y-ranges of the curves: fitted to the values, or [0, 1] for bounded metrics.
Y_RANGES = ("fit", "unit")
#: What the curves show: each snapshot's state, Keras' logged history, or both.
CURVE_VALUES = ("snapshots", "history", "both")
#: Legend and title words of the history where it stands beside the snapshots.
KERAS_LOG = "Keras log"


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
    # Validation curves are told apart by the legend (dashed), which a grid
    # draws once for the figure: the title only says what the values are.
    if not view.has_curves:
        return "loss"
    title = "loss" if view.metric is None else f"loss & {view.metric}"
    if view.values == "history" or view.shows_only_history:
        return f"{title} ({KERAS_LOG})"
    return f"{title} at each snapshot"


@register("loss-and-metric", options=(METRIC, VALUES), short_title=_short_title,
          share_y=True)
class LossAndMetric(View):
    """The mean loss (left axis) and a metric (right axis) against epochs, up to the current one.

    By default (``values="snapshots"``) every point is the **state of a
    snapshot**, the state the other panels of a frame show: the mean of the
    snapshot's recorded per-sample losses, and its accuracy counted from its
    recorded outputs as the probability histograms count it (regression:
    ``mae``, ``mse`` or ``rmse`` of its outputs); see
    :func:`replay.views.snapshot_curves.snapshot_curves`. The title says
    "at each snapshot".

    Keras' logged history (``run.history``) is another quantity: each
    epoch's value is the average over its batches while the weights still
    moved, in training mode (dropout, batch statistics) and with the
    regularisers' penalties in the loss. ``values="history"`` draws it
    instead (from epoch 0, computed from snapshot 0 where it can be:
    :func:`history_curve`), titled "(Keras log)"; ``values="both"`` draws
    it beside the snapshots' curves, thin and dotted, as the legend's
    "Keras log" entry says. A curve the snapshots cannot give (a run
    recorded without per-sample losses or outputs, a metric such as AUC)
    is the history's, and its legend entry (or the title, when every
    curve is) says "Keras log".

    Validation curves (``val_*``) are drawn dashed when the run has them:
    from the recorded validation samples, or from the history. Each curve
    has a dot at the current epoch. Both axes are fixed over the whole run
    and fit the values (``y_range="fit"``) or, for a metric in [0, 1], span
    [0, 1] (``y_range="unit"``); the top of a bounded metric's axis is a
    labelled tick (1.0 for a run that reaches it). A band above the curves
    holds the legend, so the legend never covers them. A run without
    training (only snapshot 0, no history) gets a panel that says so.

    Args:
        run: the :class:`replay.Run`.
        metric: the metric to draw on the right axis; ``None`` for
            ``accuracy`` when recorded (or, for classification, computable
            from the outputs), else the first recorded metric (none when the
            run logged only its loss).
        validation: also draw the validation curves when recorded.
        values: ``"snapshots"`` (default), ``"history"`` or ``"both"`` (see above).
        y_range: ``"fit"`` (default) or ``"unit"`` (see above).
        legend: draw the legend (in the band above the curves).
        ax: the axes to draw into (the metric axes is its twin); ``None``
            makes a new figure.

    Attributes:
        metric_ax_: the twin axes of the metric.
        lines_: ``{key: Line2D}`` of the curves (``"loss"``, the metric,
            ``"val_loss"``, ...).
        markers_: ``{key: Line2D}``, the dot at the current epoch.
        curves_: ``{key: (epochs, values)}`` of the curves, epoch 0 included when known.
        curve_values_: ``{key: "snapshots" or "history"}``: what each curve shows.
        history_lines_, history_curves_: the Keras log beside the
            snapshots' curves (``values="both"``), by key.
        legend_: the legend (or ``None``).

    Example:
        >>> LossAndMetric(run, metric="accuracy").plot(60).savefig("curves.png")  # doctest: +SKIP
        >>> LossAndMetric(run, values="both").plot(60)                             # doctest: +SKIP
    """

    figsize = (5.0, 3.5)
    blit_safe = True
    shows_history = True

    def __init__(self, run, *, metric=None, validation=True, values="snapshots", y_range="fit",
                 legend=True, ax=None):
        super().__init__(run, ax=ax)
        if y_range not in Y_RANGES:
            raise OptionError(f"y_range must be 'fit' or 'unit'. Got {y_range!r}.")
        if values not in CURVE_VALUES:
            raise OptionError(
                f"values must be 'snapshots', 'history' or 'both'. Got {values!r}.")
        self.y_range = y_range
        self.values = values
        self.show_legend = legend
        history = run.history
        self.has_history = "loss" in history and len(history["loss"]) > 0
        self._snapshots = {}
        if values != "history":
            sources = ("train", "validation") if validation else ("train",)
            self._snapshots = {source: snapshot_curves(run, source) for source in sources
                               if source in run.sources}
        available = recorded_metrics(history)
        train = self._snapshots.get("train")
        if "accuracy" not in available and train is not None and "accuracy" in train.metrics:
            available = ["accuracy", *available]  # computable from the outputs
        if metric is not None and metric not in available:
            raise OptionError(
                f"Run {run.name!r} has no metric {metric!r}. Recorded metrics: "
                f"{', '.join(available) or 'none'}."
            )
        if metric is None and available:
            metric = "accuracy" if "accuracy" in available else available[0]
        self.metric = metric
        self.curves_, self.curve_values_, self.history_curves_ = {}, {}, {}
        candidates = {"loss": ["loss"], "metric": [metric] if metric is not None else []}
        if validation:
            candidates["loss"].append("val_loss")
            candidates["metric"] += [f"val_{metric}"] if metric is not None else []
        self.keys = {role: [key for key in keys if self._add_curve(key)]
                     for role, keys in candidates.items()}
        # Snapshot 0 alone (``Recorder.snapshot``, a kill in the first epoch) is no curve.
        trained = self.has_history or (self.curve_values_.get("loss") == "snapshots"
                                       and run.n_snapshots > 1)
        self.has_curves = bool(self.curves_) and trained
        self.shows_only_history = self.values != "history" and bool(self.curve_values_) and \
            all(kind == "history" for kind in self.curve_values_.values())
        name = f"Loss and {metric}" if metric is not None else "Loss"
        if self.values == "history" or self.shows_only_history:
            self.title = f"{name} ({KERAS_LOG})"
        else:
            self.title = f"{name} at each snapshot"

    def _add_curve(self, key):
        """Find the curve of history ``key``: the snapshots' (unless ``values="history"``), or the log's."""
        if self.values != "history":
            source = "validation" if key.startswith("val_") else "train"
            snapshots = self._snapshots.get(source)
            name = key[4:] if key.startswith("val_") else key
            values = None
            if snapshots is not None and (name == "loss" or metric_kind(name, self.run.task)):
                values = snapshots.values(name)
            if values is not None:
                self.curves_[key] = (snapshots.epochs, values)
                self.curve_values_[key] = "snapshots"
                if self.values == "both" and key in self.run.history:
                    self.history_curves_[key] = history_curve(self.run, key)
                return True
        if key in self.run.history and len(self.run.history[key]):
            self.curves_[key] = history_curve(self.run, key)
            self.curve_values_[key] = "history"
            return True
        return False

    def _label(self, key):
        label = key.replace("_", " ")
        mixed = self.values != "history" and not self.shows_only_history
        return f"{label} ({KERAS_LOG})" if mixed and self.curve_values_[key] == "history" \
            else label

    def draw_static(self):
        ax = self.ax_
        self.lines_, self.markers_, self.history_lines_ = {}, {}, {}
        self.metric_ax_ = None
        self.legend_ = None
        despine(ax)
        if not self.has_curves:
            ax.set_title(self.title)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, "no training recorded:\nthe run holds no epoch's loss",
                    transform=ax.transAxes, ha="center", va="center", color=NOTE_COLOR)
            return
        if self.keys["metric"]:
            self.metric_ax_ = ax.twinx()
            # The twin draws over the main axes: keep one copy of each spine.
            self.metric_ax_.spines[["top", "bottom", "left"]].set_visible(False)
        for axes, role, color in ((ax, "loss", LOSS_COLOR),
                                  (self.metric_ax_, "metric", METRIC_COLOR)):
            for key in self.keys[role]:
                style = "--" if key.startswith("val_") else "-"
                if key in self.history_curves_:
                    epochs, values = self.history_curves_[key]
                    # The whole log at once, static: it is the background the
                    # snapshots' curves grow over.
                    (self.history_lines_[key],) = axes.plot(
                        epochs, values, color=color, linewidth=1.0, linestyle=":",
                        alpha=HISTORY_ALPHA, zorder=1.5)
                (self.lines_[key],) = axes.plot([], [], color=color, linewidth=1.6,
                                                linestyle=style, label=self._label(key))
                (self.markers_[key],) = axes.plot([], [], linestyle="none", marker="o",
                                                  markersize=4.5, color=color,
                                                  markerfacecolor="white" if style == "--"
                                                  else color, zorder=3)
        last_epoch = max(float(self.run.epochs[-1]), 1.0)
        ax.set_xlim(0.0, last_epoch)
        losses = self._all_values("loss")
        ax.set_ylim(*headroom_limits(0.0, padded_range(0.0, losses.max())[1]
                                     if losses.size else 1.0))
        ax.set_title(self.title)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss", color=LOSS_COLOR)
        ticks_below_band(ax.yaxis)
        style_axes(ax)
        if self.metric_ax_ is not None:
            low, top, high = self._metric_limits()
            self.metric_ax_.set_ylim(low, high)
            self.metric_ax_.set_ylabel(self.metric, color=METRIC_COLOR)
            self.metric_ax_.tick_params(axis="y", colors=METRIC_COLOR)
            ticks_below_band(self.metric_ax_.yaxis, top=top, steps=NICE_STEPS)
            style_axes(self.metric_ax_)
        if self.show_legend:
            handles = [self.lines_[key] for key in self.keys["loss"] + self.keys["metric"]]
            if self.history_lines_:
                handles.append(Line2D([], [], color=NOTE_COLOR, linewidth=1.0, linestyle=":",
                                      label=KERAS_LOG))
            # In the band above the curves, and below them in drawing order:
            # blitted frames (curves drawn over a static background) and full
            # redraws then look the same even in a figure too small for the band.
            self.legend_ = ax.legend(handles=handles, loc="upper center",
                                     ncol=len(handles) if len(handles) <= 2 else
                                     (3 if len(handles) == 3 else 2),
                                     fontsize=LEGEND_SIZE,
                                     frameon=False, handlelength=1.6,
                                     columnspacing=0.9, handletextpad=0.4,
                                     borderaxespad=0.1)
            self.legend_.set_zorder(LEGEND_ZORDER)

    def _all_values(self, role):
        """The finite values of every curve of ``role`` (``"loss"`` or ``"metric"``), the log's too."""
        arrays = [self.curves_[key][1] for key in self.keys[role]]
        arrays += [self.history_curves_[key][1] for key in self.keys[role]
                   if key in self.history_curves_]
        values = np.concatenate(arrays) if arrays else np.zeros(0)
        return values[np.isfinite(values)]

    def _metric_limits(self):
        """``(low, top, high)`` of the metric axis: the data in ``[low, top]``, the band above.

        Fitted to the values, or [0, 1]. A bounded metric's axis ends on a
        round value at or above the best one (1.0 at most) that is labelled
        (``top``; ``None`` for other metrics), so a run reaching 1.0 shows
        a 1.0 tick.
        """
        finite = self._all_values("metric")
        bounded = any(name in self.metric for name in BOUNDED_METRICS)
        top = None
        if self.y_range == "unit" and bounded:
            low, high, top = 0.0, 1.0, 1.0
        elif finite.size:
            low, high = padded_range(finite.min(), finite.max())
            if bounded:
                # Not below 0 nor (much) above 1: no tick at 1.05 on an accuracy.
                low = max(low, 0.0) if finite.min() >= 0 else low
                step = _nice_step(low, finite.max())
                top = high = round(float(np.ceil(finite.max() / step - 1e-9) * step), 12)
                if finite.max() <= 1.0:
                    top = high = min(high, 1.0)
        else:
            low, high = 0.0, 1.0
        # The data keep below the band; pad a little so 1.0 is off the top line.
        span = high - low
        low, high = headroom_limits(low, high + 0.02 * span, HEADROOM)
        return low, top, high

    def update(self, epoch):
        until = float(self.run.epochs[epoch]) + 1e-9
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


#: Tick steps of a bounded metric's axis: 1.0 minus any number of them is a round value.
NICE_STEPS = (1, 2, 2.5, 5, 10)


def _nice_step(low, high):
    """The tick step ``MaxNLocator`` takes on ``[low, high]`` with :data:`NICE_STEPS`."""
    ticks = MaxNLocator(nbins=5, steps=NICE_STEPS).tick_values(low, high)
    return float(ticks[1] - ticks[0]) if len(ticks) > 1 else max(high - low, 1e-3)


#: History keys that are not metrics.
NOT_METRICS = ("loss", schema.HISTORY_INDEX, "learning_rate", "lr")


def recorded_metrics(history):
    """Return the metrics a history holds (not the loss, the epoch or the learning rate)."""
    return [key for key in history if key not in NOT_METRICS and not key.startswith("val_")]
