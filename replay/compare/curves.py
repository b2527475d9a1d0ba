"""History curves of several runs overlaid on one axes, e.g. the validation accuracy of six activations."""

import numpy as np
from matplotlib.ticker import FixedLocator, NullFormatter, StrMethodFormatter

from replay.compare.runs import open_runs, run_labels
from replay.compare.table import lower_is_better
from replay.errors import OptionError
from replay.io import schema
from replay.views.base import View
from replay.views.curves import BOUNDED_METRICS, Y_RANGES, history_curve
from replay.views.ranges import padded_range
from replay.views.style import (
    HEADROOM,
    LEGEND_SIZE,
    RUN_COLORS,
    despine,
    headroom_limits,
    light_grid,
    run_color,
    run_marker,
    style_axes,
)

__all__ = ["RUN_COLORS", "OverlaidCurves", "run_color"]

#: Ticks of a logit y-axis.
LOGIT_TICKS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99,
               0.995, 0.998, 0.999]


class OverlaidCurves(View):
    """One or more history keys of several runs against epochs, on one axes.

    The curves start at epoch 0 where it can be known (see
    :func:`replay.views.curves.history_curve`). Each run has its own colour (:data:`replay.views.style.RUN_COLORS`, none
    of them a class colour) and marker, the marker drawn at the current
    epoch; the keys are told apart by line style (solid, dashed, dotted,
    ...), so ``keys=["accuracy", "val_accuracy"]`` shows training solid and
    validation dashed. When animated, the curves grow up to the current
    epoch of the clock; both axes are fixed over the whole of every run, the
    y-axis fitted to the values (``y_range="fit"``) or [0, 1] for bounded
    metrics (``y_range="unit"``).

    The view's :attr:`run` (its epoch clock in a scene) is the run with the
    fewest snapshots; :attr:`runs` holds them all.

    Args:
        runs: the runs (``Run`` objects, ``"file.h5:run"`` specs, ...; see
            :func:`replay.compare.open_runs`).
        keys: a history key or a list of keys, e.g. ``"val_accuracy"``.
        labels: the legend names of the runs; ``None`` for their names.
        yscale: ``"linear"``, ``"log"`` (for losses spanning decades) or
            ``"logit"`` (for accuracies close to 1: 0.95, 0.98 and 0.99 lie
            far apart). A log scale asked for curves with values of 0 or
            below becomes a ``"symlog"`` one, linear below the smallest
            positive value's decade, so every point stays on the axes; a
            logit scale with values of 0 or 1 becomes linear.
        y_range: ``"fit"`` (default) or ``"unit"`` (linear scale only).
        legend: ``True`` draws the legend inside the axes, in the upper
            right corner for losses and the lower right one otherwise (a fixed
            place, so it does not jump between frames); ``"outside"`` puts it
            right of the axes; ``False`` draws none.
        ax: the axes to draw into; ``None`` makes a new figure.

    Attributes:
        runs: the runs.
        keys: the history keys shown.
        lines_: ``{(run label, key): Line2D}``.
        markers_: ``{(run label, key): Line2D}``, the run's marker at the current epoch.
        yscale_: the y-scale drawn: ``yscale``, or ``"symlog"`` in place of
            ``"log"`` when a value is 0 or below, or ``"linear"`` when none
            is above 0.

    Example:
        >>> runs = open_runs(["sigmoid", "relu"], path="digits.h5")          # doctest: +SKIP
        >>> OverlaidCurves(runs, "val_accuracy").plot().savefig("val.png")  # doctest: +SKIP
    """

    figsize = (6.0, 4.0)
    blit_safe = True
    shows_history = True
    LINESTYLES = ("-", "--", ":", "-.")

    def __init__(self, runs, keys, *, labels=None, yscale="linear", y_range="fit", legend=True,
                 ax=None):
        runs = open_runs(runs)
        super().__init__(min(runs, key=lambda run: run.n_snapshots), ax=ax)
        self.runs = runs
        self.keys = [keys] if isinstance(keys, str) else list(keys)
        if not self.keys:
            raise OptionError("OverlaidCurves needs at least one history key.")
        if len(self.keys) > len(self.LINESTYLES):
            raise OptionError(f"OverlaidCurves shows at most {len(self.LINESTYLES)} keys "
                              f"(one line style each). Got {len(self.keys)}.")
        self.labels = run_labels(runs) if labels is None else list(labels)
        if len(self.labels) != len(runs):
            raise OptionError(f"Got {len(self.labels)} labels for {len(runs)} runs.")
        for run in runs:
            missing = [key for key in self.keys if key not in run.history]
            if missing:
                recorded = [key for key in run.history if key != schema.HISTORY_INDEX]
                raise OptionError(
                    f"Run {run.name!r} of '{run.path}' has no history {missing[0]!r}. "
                    f"Recorded: {', '.join(recorded) or 'none'}."
                )
        if yscale not in ("linear", "log", "logit"):
            raise OptionError(f"yscale must be 'linear', 'log' or 'logit'. Got {yscale!r}.")
        if y_range not in Y_RANGES:
            raise OptionError(f"y_range must be 'fit' or 'unit'. Got {y_range!r}.")
        self.yscale = yscale
        self.y_range = y_range
        self.legend = legend
        #: Whether the keys are one metric and its validation twin (``loss``, ``val_loss``).
        self._validation_pair = self.keys == [self.keys[0], f"val_{self.keys[0]}"]
        self.title = (f"{self.keys[0].replace('_', ' ')} (dashed: validation)"
                      if self._validation_pair
                      else " and ".join(key.replace("_", " ") for key in self.keys))
        self.snapshot_epochs = np.asarray(self.run.epochs, dtype=np.float64)

    def draw_static(self):
        ax = self.ax_
        self.lines_, self.markers_ = {}, {}
        self._curves = {}
        values = []
        last_epoch = 1.0
        for index, (run, label) in enumerate(zip(self.runs, self.labels)):
            last_epoch = max(last_epoch, float(run.epochs[-1]))
            for key, style in zip(self.keys, self.LINESTYLES):
                self._curves[(label, key)] = history_curve(run, key)
                values.append(self._curves[(label, key)][1])
                if len(self.keys) == 1 or self._validation_pair:
                    # A train/validation pair: one legend entry per run (the solid line).
                    name = label if key == self.keys[0] else "_nolegend_"
                else:
                    name = f"{label} {key.replace('_', ' ')}"
                (self.lines_[(label, key)],) = ax.plot(
                    [], [], color=run_color(index), linestyle=style, linewidth=1.6,
                    marker=run_marker(index), markersize=5, markevery=[-1],
                    markerfacecolor="white" if key.startswith("val_") and len(self.keys) > 1
                    else run_color(index), label=name)
                self.markers_[(label, key)] = self.lines_[(label, key)]
        ax.set_xlim(0.0, last_epoch)
        values = np.concatenate(values)
        self._set_y_axis(values[np.isfinite(values)])
        ax.set_title(self.title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(self.keys[0].replace("_", " ")
                      if len(self.keys) == 1 or self._validation_pair else "value")
        despine(ax)
        light_grid(ax)
        style_axes(ax)
        if self.legend == "outside":
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=LEGEND_SIZE,
                      frameon=False)
        elif self.legend:
            lower = all(lower_is_better(key) for key in self.keys)
            ax.legend(loc="upper right" if lower else "lower right", fontsize=LEGEND_SIZE,
                      framealpha=0.9)

    def _set_y_axis(self, finite):
        """Set the y-scale and fixed y-limits from all finite values of the curves."""
        ax = self.ax_
        bounded = all(any(name in key for name in BOUNDED_METRICS) for key in self.keys)
        positive = finite[finite > 0]
        scale = self.yscale
        if scale == "logit" and finite.size and (finite.min() > 0 and finite.max() < 1):
            self.yscale_ = "logit"
            ax.set_yscale("logit")
            # Plain decimals (0.9, 0.95, 0.99), not matplotlib's 1 - 10^-1.
            ax.yaxis.set_major_locator(FixedLocator(LOGIT_TICKS))
            ax.yaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            # Limits just outside the values, in logit space.
            logits = np.log(finite / (1 - finite))
            low, high = padded_range(logits.min(), logits.max())
            ax.set_ylim(1 / (1 + np.exp(-low)), 1 / (1 + np.exp(-high)))
            return
        if scale == "logit":
            scale = "linear"  # 0 or 1 has no logit
        if scale == "log" and not positive.size:
            scale = "linear"  # nothing a log axis could show
        elif scale == "log" and (finite <= 0).any():
            # A log axis would drop these points and, asked for limits down to 0,
            # span hundreds of decades: a symlog axis is linear near 0 instead.
            scale = "symlog"
        self.yscale_ = scale
        if scale in ("log", "symlog"):
            high = 1.02 if bounded and positive.max() <= 1.0 else 1.5 * positive.max()
        if scale == "symlog":
            linthresh = 10.0 ** np.floor(np.log10(positive.min()))
            ax.set_yscale("symlog", linthresh=linthresh)
            ax.set_ylim(min(0.0, 1.5 * finite.min()), high)
            return
        ax.set_yscale(scale)
        if scale == "log":
            ax.set_ylim(positive.min() / 1.5, high)
        elif bounded and self.y_range == "unit":
            ax.set_ylim(*headroom_limits(0.0, 1.0, HEADROOM / 4))
        elif bounded and finite.size:
            # Fitted, and a little above the best value so a curve at 1.0 is
            # not drawn on the frame.
            low, high = padded_range(finite.min(), finite.max())
            ax.set_ylim(max(low, 0.0) if finite.min() >= 0 else low, high)
        elif finite.size:
            low = min(0.0, finite.min()) if all("loss" in key for key in self.keys) \
                else finite.min()
            ax.set_ylim(*padded_range(low, finite.max()))

    def update(self, epoch):
        shown_until = self.snapshot_epochs[epoch] + 1e-9
        for label, key in self.lines_:
            epochs, values = self._curves[(label, key)]
            shown = epochs <= shown_until
            line = self.lines_[(label, key)]
            line.set_data(epochs[shown], values[shown])
            line.set_markevery([-1] if shown.any() else None)
        return list(self.lines_.values())

    def final_values(self):
        """Return ``{(run label, key): last value}`` of the curves (the whole run)."""
        return {(label, key): float(run.history[key][-1])
                for run, label in zip(self.runs, self.labels) for key in self.keys}
