"""Views of a regression run: predictions against targets, and the residuals."""

import numpy as np

from replay.errors import OptionError
from replay.io import schema
from replay.views.base import View
from replay.views.histograms import Bars
from replay.views.ranges import iter_snapshots, max_count, padded_range
from replay.views.reader import SnapshotReader
from replay.views.registry import BINS, SOURCE, register
from replay.views.style import despine

#: Colour of the samples and of the residual bars; of the identity line.
SAMPLE_COLOR = "#0072B2"
IDENTITY_COLOR = "#333333"


def _regression_targets(run, source, view):
    """The targets ``(N, n_outputs)`` of a regression run, or a clear error."""
    if run.task != "regression":
        raise OptionError(
            f"{view} shows a regression; run {run.name!r} of '{run.path}' is a "
            f"{run.task} (loss {run.attrs.get('loss')!r}). Use ProbabilityHistogram, "
            "DecisionBoundary or Scene.default(run)."
        )
    targets = np.asarray(run.targets(source), dtype=np.float64)
    return targets.reshape(len(targets), -1)


@register("prediction-scatter", options=(SOURCE,), short_title="predicted vs target")
class PredictionScatter(View):
    """Each sample's prediction against its target, with the line of perfect predictions.

    For models with several outputs every output's points are drawn (one
    colour); the axes are fixed over the whole run, so the cloud visibly
    gathers onto the diagonal as the model learns.

    Args:
        run: a regression :class:`replay.Run`.
        source: ``"train"`` or ``"validation"``.
        point_size: marker diameter in points.
        ax: the axes to draw into; ``None`` makes a new figure.

    Attributes:
        points_: the ``Line2D`` of the samples.

    Example:
        >>> PredictionScatter(run).plot(-1).savefig("predictions.png")   # doctest: +SKIP
    """

    figsize = (5.0, 5.0)
    title = "Predicted vs target"
    blit_safe = True

    def __init__(self, run, *, source="train", point_size=2.5, ax=None):
        super().__init__(run, ax=ax)
        self.source = source
        self.targets = _regression_targets(run, source, "PredictionScatter")
        self.point_size = float(point_size)
        self.reader = SnapshotReader(run)

    def _limits(self):
        low, high = float(self.targets.min()), float(self.targets.max())
        for chunk in iter_snapshots(self.run, schema.outputs(self.source)):
            finite = chunk[np.isfinite(chunk)]
            if finite.size:
                low, high = min(low, float(finite.min())), max(high, float(finite.max()))
        return padded_range(low, high)

    def draw_static(self):
        ax = self.ax_
        ax.set_title(self.title)
        ax.set_xlabel("target")
        ax.set_ylabel("prediction")
        low, high = self._limits()
        ax.plot([low, high], [low, high], color=IDENTITY_COLOR, linewidth=0.8,
                linestyle="--", zorder=1, label="prediction = target")
        (self.points_,) = ax.plot([], [], "o", markersize=self.point_size, markeredgewidth=0,
                                  color=SAMPLE_COLOR, alpha=0.7, zorder=2)
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.legend(loc="upper left", fontsize="small", frameon=False)
        despine(ax)

    def update(self, epoch):
        predictions = self.reader.read(schema.outputs(self.source), epoch)
        predictions = np.asarray(predictions, dtype=np.float64).reshape(len(self.targets), -1)
        self.points_.set_data(self.targets.ravel(), predictions.ravel())
        return [self.points_]


@register("residual-histogram", options=(SOURCE, BINS), short_title="residuals",
          share_y=True)
class ResidualHistogram(View):
    """Histogram of the residuals (prediction − target), bins fixed over the run.

    Args:
        run: a regression :class:`replay.Run`.
        source: ``"train"`` or ``"validation"``.
        bins: number of bins, symmetric around 0 over the largest residual of
            any epoch.
        ax: the axes to draw into; ``None`` makes a new figure.

    Attributes:
        counts_: ``(bins,)`` bar heights of the epoch shown last.
        edges_: the bin edges.

    Example:
        >>> ResidualHistogram(run).plot(-1).savefig("residuals.png")   # doctest: +SKIP
    """

    figsize = (5.0, 3.5)
    title = "Residuals"
    blit_safe = True

    def __init__(self, run, *, source="train", bins=30, ax=None):
        super().__init__(run, ax=ax)
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise OptionError(f"bins must be a positive integer. Got {bins!r}.")
        self.source = source
        self.bins = int(bins)
        self.targets = _regression_targets(run, source, "ResidualHistogram")
        self.reader = SnapshotReader(run)
        largest = 0.0
        for chunk in iter_snapshots(run, schema.outputs(source)):
            residuals = chunk.reshape(len(chunk), *self.targets.shape) - self.targets
            finite = np.abs(residuals[np.isfinite(residuals)])
            if finite.size:
                largest = max(largest, float(finite.max()))
        bound = padded_range(0.0, largest, padding=0.02)[1] if largest > 0 else 1.0
        self.edges_ = np.linspace(-bound, bound, self.bins + 1)
        self.counts_ = np.zeros(self.bins, dtype=np.int64)

    def histogram(self, outputs):
        """Return the ``(bins,)`` counts of one snapshot's outputs."""
        residuals = np.asarray(outputs, dtype=np.float64).reshape(self.targets.shape) - self.targets
        return np.histogram(residuals, bins=self.edges_)[0]

    def draw_static(self):
        ax = self.ax_
        self.bars_ = Bars(ax, self.edges_, SAMPLE_COLOR)
        top = max_count(self.run, schema.outputs(self.source), self.histogram)
        ax.axvline(0.0, color=IDENTITY_COLOR, linewidth=0.8, linestyle="--", zorder=2)
        despine(ax)
        ax.set_title(self.title)
        ax.set_xlabel("prediction \u2212 target")
        ax.set_ylabel("samples")
        ax.set_xlim(self.edges_[0], self.edges_[-1])
        ax.set_ylim(0.0, max(int(top), 1) * 1.05)

    def update(self, epoch):
        self.counts_ = self.histogram(self.reader.read(schema.outputs(self.source), epoch))
        self.bars_.set_heights(self.counts_)
        return [self.bars_.collection]
