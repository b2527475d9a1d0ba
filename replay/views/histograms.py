"""Histograms of each epoch: predicted probabilities and per-sample losses."""

import numpy as np
from matplotlib.collections import PolyCollection

from replay.errors import OptionError
from replay.io import schema
from replay.views.base import View
from replay.views.ranges import grouped_counts, iter_snapshots, max_count, padded_range
from replay.views.reader import SnapshotReader
from replay.views.registry import BINS, SOURCE, register
from replay.views.style import (
    BAR_ZORDER,
    ERROR_COLOR,
    HEADROOM,
    LEGEND_SIZE,
    NEUTRAL_COLOR,
    NOTE_COLOR,
    CountNote,
    class_color,
    despine,
    headroom_limits,
    style_axes,
    ticks_below_band,
)

__all__ = ["Bars", "LossHistogram", "ProbabilityHistogram", "SmallBarMarks", "despine"]

#: Bars lower than this fraction of the axes' height get a mark above them,
#: so that a handful of samples (2 misclassified of 1,437) stays visible.
SMALL_BAR = 0.025


def _check_bins(bins):
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise OptionError(f"bins must be a positive integer. Got {bins!r}.")
    return int(bins)


class Bars:
    """A row of histogram bars drawn as **one** ``PolyCollection``.

    One collection draws in a fraction of the time of one ``Rectangle`` per
    bar, which matters when a frame redraws a few dozen bars.

    Args:
        ax: the axes.
        edges: the bin edges, ``(n_bins + 1,)``.
        colors: one colour, or one per bar.
        fill: fraction of the bin width the bars of a bin cover.
        zorder: stacking order.
        slot: ``(index, count)``: draw this row of bars as the ``index``-th of
            ``count`` rows side by side in each bin (``(0, 1)``: the whole bin).

    Attributes:
        collection: the ``PolyCollection``.
        heights: the current bar heights ``(n_bins,)``.
        bottoms: the current bar bottoms ``(n_bins,)``.
    """

    def __init__(self, ax, edges, colors, *, fill=0.9, zorder=BAR_ZORDER, slot=(0, 1)):
        edges = np.asarray(edges, dtype=np.float64)
        margin = 0.5 * (1.0 - fill) * np.diff(edges)
        width = fill * np.diff(edges) / slot[1]
        self.left = edges[:-1] + margin + slot[0] * width
        self.right = self.left + width
        self.heights = np.zeros(len(self.left))
        self.bottoms = np.zeros(len(self.left))
        self.collection = PolyCollection(self._verts(), facecolors=colors, linewidths=0,
                                         zorder=zorder)
        ax.add_collection(self.collection)

    def _verts(self):
        top = self.bottoms + self.heights
        return np.stack([np.stack([self.left, self.bottoms], axis=1),
                         np.stack([self.left, top], axis=1),
                         np.stack([self.right, top], axis=1),
                         np.stack([self.right, self.bottoms], axis=1)], axis=1)

    def set_heights(self, heights, bottoms=None):
        """Set the bar heights (and bottoms, for stacked bars)."""
        self.heights = np.asarray(heights, dtype=np.float64)
        if bottoms is not None:
            self.bottoms = np.asarray(bottoms, dtype=np.float64)
        self.collection.set_verts(self._verts())


class SmallBarMarks:
    """Marks above bars too low to see (a few samples on an axis of hundreds).

    One ``Line2D`` of downward triangles, moved per frame: a bar shorter than
    :data:`SMALL_BAR` of the axes' height, but not empty, gets a triangle
    just above it.

    Args:
        ax: the axes (its y-limits must be set before :meth:`update`).
        centers: the bar centres.
        color: the marks' colour.
    """

    def __init__(self, ax, centers, color=NOTE_COLOR):
        self.ax = ax
        self.centers = np.asarray(centers, dtype=np.float64)
        (self.line,) = ax.plot([], [], linestyle="none", marker="v", markersize=5,
                               color=color, zorder=3)

    def update(self, tops):
        """Mark the non-empty bars lower than :data:`SMALL_BAR` (``tops``: their tops)."""
        tops = np.asarray(tops, dtype=np.float64)
        low, high = self.ax.get_ylim()
        small = (tops > 0) & (tops < low + SMALL_BAR * (high - low))
        self.line.set_data(self.centers[small], tops[small] + 0.03 * (high - low))
        return self.line


@register("probability-histogram", options=(SOURCE, BINS), share_y=True)
class ProbabilityHistogram(View):
    """Histograms of predicted probabilities, negatives and positives on two axes.

    For a binary model (one sigmoid output) each axes shows the probability
    of class 1 the model gives to the samples of one class, in ``bins`` bins
    on [0, 1]; bars on the wrong side of ``threshold`` (misclassified
    samples) are red. For a multiclass model the two axes show the
    probability of the **predicted** class, for correctly classified and for
    misclassified samples (the latter in red).

    The y-axes are fixed over the whole run at the largest bar of any epoch:
    one limit for both axes of a binary model (the classes stay comparable),
    one per axes for a multiclass model. Non-empty bars too low to see get a
    small triangle above them (:class:`SmallBarMarks`), so two misclassified
    samples are not lost on an axis of a thousand. Each axes also tells its
    count, in a band kept free above the bars (never over them): how many of
    its samples are misclassified (binary), or how many samples it holds
    (multiclass). The dashed threshold line stops below that band.

    Args:
        run: the :class:`replay.Run`.
        source: ``"train"`` or ``"validation"``.
        bins: number of bins on [0, 1].
        threshold: decision threshold of a binary model.
        ax: two axes to draw into; ``None`` makes a new figure.

    Attributes:
        counts_: ``(2, bins)`` bar heights of the epoch shown last.
        edges_: the bin edges.
        bars_: the two :class:`Bars`.
        texts_: the two count texts.
        marks_: the two :class:`SmallBarMarks`.

    Example:
        >>> ProbabilityHistogram(run).plot(60).savefig("probabilities.png")  # doctest: +SKIP
    """

    figsize = (8.0, 3.5)
    n_axes = 2
    blit_safe = True

    def __init__(self, run, *, source="train", bins=10, threshold=0.5, ax=None):
        super().__init__(run, ax=ax)
        self.source = source
        self.reader = SnapshotReader(run)
        self.bins = _check_bins(bins)
        if not 0.0 < threshold < 1.0:
            raise OptionError(f"threshold must be between 0 and 1. Got {threshold!r}.")
        self.threshold = float(threshold)
        run.check_classification("predicted probabilities")
        self.labels = run.labels(source)
        self.binary = run.outputs(0, source=source).shape[-1] == 1
        self.edges_ = np.linspace(0.0, 1.0, self.bins + 1)
        self.counts_ = np.zeros((2, self.bins), dtype=np.int64)

    def _classify(self, probabilities):
        """Return ``(probability shown, axes index, misclassified)`` of every sample.

        ``probabilities``: one snapshot's, ``(samples, outputs)`` (logits
        already turned into probabilities, as :meth:`replay.Run.probabilities`
        gives them). Binary: the probability of class 1, drawn on the axes of
        the sample's class; multiclass: the probability of the predicted
        class, on axes 1 when the prediction is wrong. Predictions follow
        Keras' accuracy (class 1 where ``p > threshold``; the argmax).
        """
        if self.binary:
            shown = probabilities[:, 0]
            wrong = (shown > self.threshold) != (self.labels == 1)
            return shown, self.labels, wrong
        wrong = probabilities.argmax(axis=1) != self.labels
        return probabilities.max(axis=1), wrong.astype(int), wrong

    def _counts(self, probabilities, axes_index):
        return np.stack([np.histogram(probabilities[axes_index == index], bins=self.edges_)[0]
                         for index in (0, 1)])

    def histograms(self, outputs):
        """Return the ``(2, bins)`` counts of one epoch's outputs (as recorded: logits too)."""
        probabilities, axes_index, _ = self._classify(self.run.output_probabilities(outputs))
        return self._counts(probabilities, axes_index)

    def histograms_of_snapshots(self, outputs):
        """Return the ``(k, 2, bins)`` counts of ``k`` snapshots' outputs at once."""
        outputs = self.run.output_probabilities(outputs)
        if self.binary:
            probabilities, axes_index = outputs[..., 0], self.labels
        else:
            probabilities = outputs.max(axis=-1)
            axes_index = (outputs.argmax(axis=-1) != self.labels).astype(np.int64)
        return grouped_counts(probabilities.reshape(len(outputs), -1), axes_index,
                              self.edges_, 2)

    def _counts_and_rests(self, axes_index, wrong):
        """The two count notes as ``(count, rest)``: misclassified per class (binary),
        samples per axes. The rests are the same at every snapshot."""
        total = len(axes_index)
        if self.binary:
            return [(int(np.sum(wrong[axes_index == label])),
                     f" of {int(np.sum(axes_index == label))} misclassified") for label in (0, 1)]
        correct = total - int(wrong.sum())
        return [(correct, f" of {total} samples"), (total - correct, f" of {total} samples")]

    def draw_static(self):
        centers = 0.5 * (self.edges_[:-1] + self.edges_[1:])
        if self.binary:
            titles = ("Negatives (class 0)", "Positives (class 1)")
            wrong = [centers > self.threshold, centers < self.threshold]
            colors = [np.where(wrong[group], ERROR_COLOR, class_color(group))
                      for group in (0, 1)]
            xlabel = "predicted probability of class 1"
        else:
            titles = ("Correctly classified", "Misclassified")
            colors = [[NEUTRAL_COLOR] * self.bins, [ERROR_COLOR] * self.bins]
            xlabel = "probability of the predicted class"
        tops = max_count(self.run, schema.outputs(self.source), self.histograms_of_snapshots,
                         per_row=True, batched=True)
        if self.binary:
            tops = np.full(2, tops.max())
        self.bars_, self.texts_, self.marks_ = [], [], []
        _, axes_index, wrong = self._classify(self.reader.probabilities(self.source, 0))
        rests = [rest for _, rest in self._counts_and_rests(axes_index, wrong)]
        for ax, title, bar_colors, top in zip(self.axes_, titles, colors, tops):
            self.bars_.append(Bars(ax, self.edges_, list(bar_colors)))
            self.texts_.append(CountNote(ax, rests[len(self.texts_)]))
            if self.binary:
                # Up to the top of the bars' room: not through the note above it.
                ax.axvline(self.threshold, ymax=1.0 - HEADROOM, color=NOTE_COLOR,
                           linewidth=0.8, linestyle="--", zorder=2)
            despine(ax)
            ax.set_title(title)
            ax.set_xlabel(xlabel)
            ax.set_xlim(0.0, 1.0)
            ax.set_ylim(*headroom_limits(0.0, max(int(top), 1)))
            ticks_below_band(ax.yaxis)
            self.marks_.append(SmallBarMarks(ax, centers))
            style_axes(ax)
        self.axes_[0].set_ylabel("samples")

    def update(self, epoch):
        probabilities, axes_index, wrong = self._classify(
            self.reader.probabilities(self.source, epoch))
        self.counts_ = self._counts(probabilities, axes_index)
        for bars, counts in zip(self.bars_, self.counts_):
            bars.set_heights(counts)
        numbers = [note.set_count(count) for note, (count, _) in
                   zip(self.texts_, self._counts_and_rests(axes_index, wrong))]
        marks = [mark.update(counts) for mark, counts in zip(self.marks_, self.counts_)]
        return [bars.collection for bars in self.bars_] + numbers + marks


@register("loss-histogram", options=(SOURCE, BINS), short_title="per-sample losses",
          share_y=True)
class LossHistogram(View):
    """Histogram of the per-sample losses by class, bins fixed over the run.

    The bins span 0 to the largest per-sample loss of any epoch, and the
    y-axis the largest bar of any epoch (plus a band for the legend), so
    frames are comparable. The loss is the model's own (any Keras loss), as
    recorded. Two classes are drawn side by side in each bin (so the axis
    fits the larger class's bar, not the sum of both); more classes are
    stacked, with a legend right of the axes naming their colours.

    Args:
        run: the :class:`replay.Run`.
        source: ``"train"`` or ``"validation"``.
        bins: number of bins.
        by_class: stack the bars by class (class colours); otherwise one grey bar.
        ax: the axes to draw into; ``None`` makes a new figure.

    Attributes:
        counts_: ``(n_groups, bins)`` bar heights of the epoch shown last.
        edges_: the bin edges.
        bars_: one :class:`Bars` per class (side by side for two, else
            stacked in class order).
        stacked: whether the bars are stacked.

    Example:
        >>> LossHistogram(run).plot(60).savefig("losses.png")   # doctest: +SKIP
    """

    figsize = (5.0, 3.5)
    title = "Per-sample losses"
    blit_safe = True

    def __init__(self, run, *, source="train", bins=20, by_class=True, ax=None):
        super().__init__(run, ax=ax)
        self.source = source
        self.reader = SnapshotReader(run)
        self.bins = _check_bins(bins)
        labels = run.labels(source)
        self.classes = np.unique(labels) if by_class else None
        self.groups = [labels == label for label in self.classes] if by_class else \
            [np.ones(len(labels), dtype=bool)]
        self.group_colors = ([class_color(label) for label in self.classes]
                             if by_class else [NEUTRAL_COLOR])
        self.stacked = len(self.groups) > 2
        self.edges_ = np.linspace(0.0, self._largest_loss(), self.bins + 1)
        self.counts_ = np.zeros((len(self.groups), self.bins), dtype=np.int64)

    def _largest_loss(self):
        largest = 0.0
        for chunk in iter_snapshots(self.run, schema.loss(self.source)):
            finite = chunk[np.isfinite(chunk)]
            if finite.size:
                largest = max(largest, float(finite.max()))
        return padded_range(0.0, largest, padding=0.01)[1] if largest > 0 else 1.0

    def histograms(self, losses):
        """Return the ``(n_groups, bins)`` counts of one epoch's per-sample losses."""
        losses = np.asarray(losses).reshape(len(self.groups[0]))
        return np.stack([np.histogram(losses[group], bins=self.edges_)[0]
                         for group in self.groups])

    def _tallest_of_snapshots(self, losses):
        """The ``(k, bins)`` bar heights of ``k`` snapshots: stacked sums or the tallest group."""
        group_index = np.full(len(self.groups[0]), -1, dtype=np.int64)
        for index, group in enumerate(self.groups):
            group_index[group] = index
        counts = grouped_counts(np.asarray(losses).reshape(len(losses), -1), group_index,
                                self.edges_, len(self.groups))
        return counts.sum(axis=1) if self.stacked else counts.max(axis=1)

    def draw_static(self):
        ax = self.ax_
        count = len(self.groups)
        self.bars_ = [Bars(ax, self.edges_, color,
                           slot=(0, 1) if self.stacked else (index, count))
                      for index, color in enumerate(self.group_colors)]
        top = max_count(self.run, schema.loss(self.source), self._tallest_of_snapshots,
                        batched=True)
        despine(ax)
        ax.set_title(self.title)
        loss = self.run.attrs.get("loss")
        ax.set_xlabel(str(loss).replace("_", " ") if loss else "loss per sample")
        ax.set_ylabel("samples")
        ax.set_xlim(self.edges_[0], self.edges_[-1])
        ax.set_ylim(*headroom_limits(0.0, max(top, 1)))
        ticks_below_band(ax.yaxis)
        style_axes(ax)
        if self.stacked and self.classes is not None:
            # More classes than the other panels name: a key, right of the
            # axes (inside, it would cover bars). Two classes share their
            # colours with the feature space's legend.
            ax.legend([bars.collection for bars in self.bars_],
                      [f"class {label}" for label in self.classes],
                      loc="upper left", bbox_to_anchor=(1.01, 1.0),
                      fontsize=LEGEND_SIZE, ncol=2 if len(self.classes) > 5 else 1,
                      frameon=False, handlelength=0.9, columnspacing=0.6,
                      handletextpad=0.3, borderaxespad=0.0)

    def update(self, epoch):
        self.counts_ = self.histograms(self.reader.read(schema.loss(self.source), epoch))
        bottoms = np.zeros(self.bins)
        for bars, counts in zip(self.bars_, self.counts_):
            bars.set_heights(counts, bottoms)
            if self.stacked:
                bottoms = bottoms + counts
        return [bars.collection for bars in self.bars_]
