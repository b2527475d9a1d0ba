"""Violins per layer: how weights, z-values, activations or gradients are spread.

One violin per layer shows the distribution of every value of one quantity
at one snapshot: all units and all samples pooled for activations and
z-values (pre-activations), all entries of the kernel for weights and
gradients. Reading the violins left to right shows a signal travelling
through the net: with a tiny initial spread of the weights the activations
of sigmoid or tanh layers squeeze together layer after layer, and the
gradients shrink from the output back to the input (vanishing gradients);
a good initializer keeps them spread.

The violins are drawn once as polygons and only their vertices change per
frame, from a binned Gaussian kernel density estimate (cost linear in the
number of values), so animating is cheap.

A quantity the recorder stored as a **summary** (a wide layer under the
size budget, see :mod:`replay.io.storage`) is drawn from it: the stored
histogram is the one the estimate bins the raw values into, and the
per-unit moments give the standard deviation, so its violin and
``std_per_layer()`` are those of the raw values.
"""

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Polygon
from matplotlib.transforms import blended_transform_factory

from replay.errors import LayerNotFoundError, OptionError
from replay.io import schema
from replay.io.storage import Summary
from replay.views.base import View
from replay.views.ranges import chunk_size_of, iter_snapshots, padded_range
from replay.views.registry import QUANTITY, SOURCE, register
from replay.views.style import (
    ERROR_COLOR,
    NOTE_COLOR,
    NOTE_SIZE,
    headroom_limits,
    style_axes,
    ticks_below_band,
)

#: Accepted names of the quantity → canonical name.
QUANTITIES = {
    "activations": "activations", "activation": "activations",
    "preactivations": "preactivations", "pre-activations": "preactivations",
    "z": "preactivations", "z-values": "preactivations",
    "weights": "weights", "weight": "weights",
    "gradients": "gradients", "gradient": "gradients",
}
#: Panel titles of the quantities.
TITLES = {"activations": "Activations", "preactivations": "Z-values (pre-activations)",
          "weights": "Weights", "gradients": "Gradients of the loss"}
#: The y-axis label of each quantity.
VALUE_LABELS = {"activations": "activation", "preactivations": "z-value",
                "weights": "weight", "gradients": "gradient"}
#: Violin colours of the quantities (Okabe-Ito; violin figures show no classes).
COLORS = {"activations": "#0072B2", "preactivations": "#009E73",
          "weights": "#E69F00", "gradients": "#CC79A7"}
INPUTS_COLOR = "#999999"
#: Output ranges of bounded activations: their violins get these fixed limits.
ACTIVATION_RANGES = {"sigmoid": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0),
                     "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0), "softsign": (-1.0, 1.0)}
#: Bins of the density estimate (those of a stored summary's histogram) and
#: points along each violin's outline.
DENSITY_BINS = schema.SUMMARY_BINS
OUTLINE_POINTS = 80


def std_label(std):
    """The note above a violin: ``"σ=0.031"``; tiny or huge values in short
    scientific notation (``"σ=2e-11"``), so neighbouring notes do not collide."""
    if np.isfinite(std) and std != 0 and not 1e-3 <= abs(std) < 1e4:
        return f"\u03c3={std:.0e}"
    return f"\u03c3={std:.2g}"


def violin_outline(values, position, *, width=0.8, points=OUTLINE_POINTS):
    """Return the ``(2 * points, 2)`` polygon of one violin centred on x = ``position``.

    The density is a Gaussian kernel estimate (Scott's bandwidth, as
    ``matplotlib.axes.Axes.violinplot``) evaluated between the smallest and
    the largest value, computed on a histogram so that it costs O(n); the
    widest point of the violin is ``width`` wide. Values that are all equal
    give a flat line of that width. ``values`` may also be a
    :class:`replay.io.storage.Summary`: its histogram is that same binning.
    """
    half = width / 2
    if isinstance(values, Summary):
        low, high, size, std = values.low, values.high, values.size, values.pooled_std
        counts = values.histogram
        if size == 0 or not np.isfinite(low):
            return np.full((2, 2), [position, np.nan])
    else:
        values = np.asarray(values, dtype=np.float64).ravel()
        values = values[np.isfinite(values)]
        if values.size == 0:
            return np.full((2, 2), [position, np.nan])
        low, high, size, std = values.min(), values.max(), values.size, values.std()
        counts = None
    if high - low <= 1e-12 * max(1.0, abs(low)):
        return np.array([[position - half, low], [position + half, low],
                         [position + half, high], [position - half, high]])
    if counts is None:
        counts, _ = np.histogram(values, bins=DENSITY_BINS, range=(low, high))
    edges = np.linspace(low, high, DENSITY_BINS + 1)
    bin_width = edges[1] - edges[0]
    bandwidth = std * size ** (-1 / 5)
    sigma_bins = max(bandwidth / bin_width, 0.5)
    reach = int(np.ceil(4 * sigma_bins))
    offsets = np.arange(-reach, reach + 1)
    kernel = np.exp(-0.5 * (offsets / sigma_bins) ** 2)
    padded = np.concatenate([np.zeros(reach), counts, np.zeros(reach)])
    density = np.convolve(padded, kernel, mode="same")[reach:reach + DENSITY_BINS]
    centres = (edges[:-1] + edges[1:]) / 2
    heights = np.linspace(low, high, points)
    density = np.interp(heights, centres, density)
    density = half * density / density.max()
    right = np.column_stack([position + density, heights])
    left = np.column_stack([position - density[::-1], heights[::-1]])
    return np.concatenate([right, left])


def activation_range(run, layers):
    """Return the common output range of the layers' activations, or ``None``.

    ``(0, 1)`` when every layer is sigmoid, ``(-1, 1)`` when every layer is
    tanh; ``None`` for unbounded or mixed activations.
    """
    ranges = {ACTIVATION_RANGES.get(run.layer(name).activation) for name in layers}
    return ranges.pop() if len(ranges) == 1 and None not in ranges else None


@register("layer-violins", options=(QUANTITY, SOURCE), share_y=True)
class LayerViolins(View):
    """One violin per layer of one quantity: activations, z-values, weights or gradients.

    Args:
        run: the :class:`replay.Run`.
        quantity: ``"activations"``, ``"preactivations"`` (or ``"z"``),
            ``"weights"`` or ``"gradients"`` (recorded with
            ``Recorder(..., gradients=True)``, the default for small models).
        layers: layer names, in the order to show; ``None`` for every
            hidden layer. The output layer may be named for activations (its
            outputs), weights and gradients.
        include_inputs: add an ``inputs`` violin first (the values fed to
            the first layer); for activations and z-values.
        weight: for weights and gradients, the weight of each layer to show
            (``"kernel"``), or ``None`` for all of a layer's weights pooled.
        source: ``"train"`` or ``"validation"`` samples (activations, z-values).
        ylim: ``None`` (the activation's range for bounded activations such
            as sigmoid and tanh, else the range over the whole run), ``"run"``,
            ``"frame"`` (rescaled on every frame) or ``(low, high)``.
        show_std: write each violin's standard deviation above it.
        findings: findings of :func:`replay.diagnose.diagnose` (a ``Diagnosis``
            or a list) to mark: a short red tag under the violin of each layer
            concerned, while the finding holds. ``None`` marks nothing.
        ax: the axes to draw into; ``None`` makes a new figure.

    Attributes:
        labels: the violins' names (layer names, ``"inputs"`` first if asked).
        bodies_: the violin polygons, after drawing.
        std_: ``(n_violins,)`` standard deviations of the snapshot shown last.

    Example:
        >>> violins = LayerViolins(run, "activations", include_inputs=True)  # doctest: +SKIP
        >>> violins.plot(0).savefig("activations.png")                       # doctest: +SKIP
        >>> violins.std_per_layer()[0]       # std of every layer, snapshot 0  # doctest: +SKIP
    """

    figsize = (6.0, 4.0)

    def __init__(self, run, quantity="activations", *, layers=None, include_inputs=False,
                 weight="kernel", source="train", ylim=None, show_std=True, findings=None,
                 ax=None):
        super().__init__(run, ax=ax)
        if quantity not in QUANTITIES:
            raise OptionError(
                "quantity must be 'activations', 'preactivations' (or 'z'), 'weights' or "
                f"'gradients'. Got {quantity!r}."
            )
        self.quantity = QUANTITIES[quantity]
        if source not in ("train", "validation"):
            raise OptionError(f"source must be 'train' or 'validation'. Got {source!r}.")
        self.source = source
        if include_inputs and self.quantity in ("weights", "gradients"):
            raise OptionError(
                f"include_inputs adds the input values, which only make sense next to "
                f"activations or z-values, not {self.quantity}."
            )
        self.weight = weight
        self._recorded = None  # dataset paths of the run, read on first need
        self.show_std = bool(show_std)
        self.findings = list(findings or [])
        if layers is None:
            # Every hidden layer that has the quantity: a batch-norm layer has
            # no kernel, a recurrent layer no z-values.
            paths, errors = {}, []
            for name in run.hidden_layers:
                try:
                    paths[name] = self._paths(name)
                except (LayerNotFoundError, OptionError) as error:
                    errors.append(error)
            if not paths and errors and not include_inputs:
                raise errors[0]  # no layer has it: say why for the first one
            layers = list(paths)
        else:
            layers = [layers] if isinstance(layers, str) else list(layers)
            paths = {name: self._paths(name) for name in layers}
        if not layers and not include_inputs:
            raise OptionError(
                f"Run {run.name!r} has no layers with recorded {self.quantity} to show; pass "
                f"layers=[...] (hidden layers: {', '.join(run.hidden_layers) or 'none'}).")
        self.layers = layers
        self.labels = (["inputs"] if include_inputs else []) + layers
        # One list of dataset paths per violin; None means the static inputs.
        self._datasets = ([None] if include_inputs else []) + [paths[name] for name in layers]
        self.ylim = self._check_ylim(ylim)
        self.blit_safe = self.ylim != "frame"
        self.title = TITLES[self.quantity]
        self.color = COLORS[self.quantity]
        self.bodies_ = []
        self.std_ = np.full(len(self.labels), np.nan)
        self._scan_cache = None

    # -- which data ----------------------------------------------------------

    def _paths(self, name):
        run = self.run
        info = run.layer(name)
        if self._recorded is None:
            self._recorded = set(run.arrays())
        group = self._recorded
        if self.quantity == "activations":
            if info.hidden:
                return [self._stored(schema.activations(self.source, name))]
            if name == run.layers[-1].name:
                return [schema.outputs(self.source)]
        elif self.quantity == "preactivations":
            path = self._stored(schema.preactivations(self.source, name))
            if info.hidden and (path in group or isinstance(path, SummaryPath)):
                return [path]
            raise LayerNotFoundError(
                f"Run {run.name!r} has no recorded z-values of layer {name!r} on "
                f"{self.source!r}; they are recorded for hidden Dense-like layers: "
                f"{', '.join(run.hidden_layers)}."
            )
        else:
            names = info.weights
            if self.quantity == "gradients" and info.trainable_weights is not None:
                names = info.trainable_weights
            if self.weight is not None:
                if self.weight not in names:
                    raise OptionError(
                        f"Layer {name!r} has no weight {self.weight!r}; its weights are "
                        f"{', '.join(names) or 'none'}. Pass weight=None to pool them all."
                    )
                names = [self.weight]
            if not names:
                raise LayerNotFoundError(f"Layer {name!r} has no weights.")
            path_of = schema.weights if self.quantity == "weights" else schema.gradients
            paths = [self._stored(path_of(name, weight)) for weight in names]
            if len(paths) > 1 and any(isinstance(path, SummaryPath) for path in paths):
                raise OptionError(
                    f"The weights of layer {name!r} are stored as summaries, which cannot be "
                    "pooled; pass weight='kernel' (or another weight) to show one.")
            missing = [path for path in paths
                       if path not in group and not isinstance(path, SummaryPath)]
            if missing:
                hint = (" Record with Recorder(..., gradients=True)."
                        if self.quantity == "gradients" else "")
                raise LayerNotFoundError(
                    f"Run {run.name!r} of '{run.path}' has no {missing[0]!r}.{hint}")
            return paths
        raise LayerNotFoundError(
            f"Layer {name!r} of run {run.name!r} has no recorded activations; the hidden "
            f"layers are {', '.join(run.hidden_layers)} and the output layer is "
            f"{run.layers[-1].name!r}."
        )

    def _stored(self, path):
        """``path``, or a :class:`SummaryPath` when the run stores it as a summary only."""
        group = self._recorded
        if path not in group and schema.summary(path, "histogram") in group:
            return SummaryPath(path)
        return path

    def _check_ylim(self, ylim):
        if ylim is None:
            bounds = (activation_range(self.run, self.layers)
                      if self.quantity == "activations" and None not in self._datasets else None)
            return "run" if bounds is None else self._limits(*bounds)
        if isinstance(ylim, str):
            if ylim not in ("run", "frame"):
                raise OptionError(f"ylim must be None, 'run', 'frame' or (low, high). Got {ylim!r}.")
            return ylim
        try:
            low, high = (float(value) for value in ylim)
        except (TypeError, ValueError) as error:
            raise OptionError(f"ylim must be None, 'run', 'frame' or (low, high). Got {ylim!r}.") from error
        if not low < high:
            raise OptionError(f"ylim must have low < high. Got {ylim!r}.")
        return (low, high)

    def values(self, epoch):
        """Return the values of every violin at snapshot ``epoch``.

        A list of 1-D arrays; a :class:`replay.io.storage.Summary` for a
        quantity the run stores as a summary.
        """
        epoch = self.check_epoch(epoch)
        result = []
        for paths in self._datasets:
            if paths is None:
                result.append(np.asarray(self.run.inputs(self.source), dtype=np.float64).ravel())
            elif isinstance(paths[0], SummaryPath):
                result.append(paths[0].read(self.run, epoch))
            else:
                result.append(np.concatenate(
                    [np.asarray(self.run.series(path, [epoch])[0]).ravel() for path in paths]))
        return result

    def _scan(self):
        """Per-snapshot ``(std, low, high)`` arrays ``(n_snapshots, n_violins)``, read once."""
        if self._scan_cache is not None:
            return self._scan_cache
        n = self.run.n_snapshots
        stds, lows, highs = (np.empty((n, len(self.labels))) for _ in range(3))
        for column, paths in enumerate(self._datasets):
            if paths is None:
                inputs = np.asarray(self.run.inputs(self.source), dtype=np.float64)
                stds[:, column], lows[:, column], highs[:, column] = (
                    inputs.std(), inputs.min(), inputs.max())
                continue
            if isinstance(paths[0], SummaryPath):
                stds[:, column], lows[:, column], highs[:, column] = paths[0].scan(self.run)
                continue
            start = 0
            size = chunk_size_of(self.run, paths)
            for chunks in zip(*(iter_snapshots(self.run, path, chunk_size=size)
                                for path in paths)):
                block = np.concatenate([chunk.reshape(len(chunk), -1) for chunk in chunks],
                                       axis=1).astype(np.float64)
                stop = start + len(block)
                stds[start:stop, column] = block.std(axis=1)
                lows[start:stop, column] = block.min(axis=1)
                highs[start:stop, column] = block.max(axis=1)
                start = stop
        self._scan_cache = stds, lows, highs
        return self._scan_cache

    def std_per_layer(self, epochs=None):
        """Return the standard deviation of every violin at every snapshot.

        The articles read vanishing and exploding signals off these numbers:
        a standard deviation that shrinks (or grows) by a constant factor
        from one layer to the next.

        Args:
            epochs: snapshot indices; ``None`` for all.

        Returns:
            Array ``(n_snapshots, n_violins)`` (``len(epochs)`` rows when
            given); columns in the order of :attr:`labels`.
        """
        stds = self._scan()[0]
        if epochs is None:
            return stds.copy()
        return stds[[self.check_epoch(epoch) for epoch in epochs]]

    # -- drawing -------------------------------------------------------------

    def draw_static(self):
        ax = self.ax_
        n = len(self.labels)
        ax.set_title(self.title)
        ax.set_ylabel(VALUE_LABELS[self.quantity])
        # What the marks mean, where a legend would cover violins.
        ax.set_xlabel("layer \u00b7 white dot: mean \u00b7 line: min to max")
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_xticks(range(n), self.labels, rotation=30 if n > 6 else 0,
                      ha="right" if n > 6 else "center")
        ax.axhline(0.0, color="#BBBBBB", linewidth=0.6, zorder=0)
        ax.grid(axis="y", alpha=0.3)
        self.bodies_ = []
        for paths in self._datasets:
            color = INPUTS_COLOR if paths is None else self.color
            body = Polygon(np.zeros((2, 2)), closed=True, facecolor=color, edgecolor=color,
                           alpha=0.55, linewidth=0.8)
            ax.add_patch(body)
            self.bodies_.append(body)
        self.ranges_ = LineCollection([], colors="#333333", linewidths=0.8)
        ax.add_collection(self.ranges_)
        (self.means_,) = ax.plot([], [], linestyle="none", marker="o", markersize=3.5,
                                 color="white", markeredgecolor="#333333",
                                 markeredgewidth=0.6)
        self.std_texts_ = []
        if self.show_std:
            transform = blended_transform_factory(ax.transData, ax.transAxes)
            self.std_texts_ = [ax.text(column, 0.985, "", transform=transform, ha="center",
                                       va="top", fontsize=NOTE_SIZE, color=NOTE_COLOR)
                               for column in range(n)]
        self.tags_ = []
        if self.findings:
            transform = blended_transform_factory(ax.transData, ax.transAxes)
            self.tags_ = [ax.text(column, 0.015, "", transform=transform, ha="center",
                                  va="bottom", fontsize="xx-small", color=ERROR_COLOR)
                          for column in range(n)]
        style_axes(ax)
        if self.show_std:
            ticks_below_band(ax.yaxis)
        if isinstance(self.ylim, tuple):
            ax.set_ylim(*self.ylim)
        elif self.ylim == "run":
            _, lows, highs = self._scan()
            ax.set_ylim(*self._limits(np.nanmin(lows), np.nanmax(highs)))

    def _limits(self, low, high):
        # The standard deviations go in a band above the data (style.HEADROOM).
        low, high = padded_range(low, high)
        return headroom_limits(low, high) if self.show_std else (low, high)

    def update(self, epoch):
        values = self.values(epoch)
        segments, means = [], []
        for column, (body, data) in enumerate(zip(self.bodies_, values)):
            body.set_xy(violin_outline(data, column))
            if isinstance(data, Summary):
                segments.append([(column, data.low), (column, data.high)])
                means.append(data.pooled_mean)
                self.std_[column] = data.pooled_std
                continue
            finite = data[np.isfinite(data)]
            if finite.size:
                segments.append([(column, finite.min()), (column, finite.max())])
                means.append(finite.mean())
                self.std_[column] = finite.std()
            else:
                means.append(np.nan)
                self.std_[column] = np.nan
        self.ranges_.set_segments(segments)
        self.means_.set_data(np.arange(len(values)), means)
        for text, std in zip(self.std_texts_, self.std_):
            text.set_text(std_label(std))
        if self.ylim == "frame":
            lows = [data.low if isinstance(data, Summary) else data.min()
                    for data in values if isinstance(data, Summary) or data.size]
            highs = [data.high if isinstance(data, Summary) else data.max()
                     for data in values if isinstance(data, Summary) or data.size]
            if lows:
                self.ax_.set_ylim(*self._limits(min(lows), max(highs)))
        index = self.check_epoch(epoch)
        for text, label in zip(self.tags_, self.labels):
            text.set_text("\n".join(dict.fromkeys(
                finding.tag for finding in self.findings
                if finding.covers(index) and finding.concerns(label))))
        return [*self.bodies_, self.ranges_, self.means_, *self.std_texts_, *self.tags_]


class SummaryPath(str):
    """A dataset path the run stores as a summary (:func:`replay.io.schema.summary`) only."""

    def read(self, run, epoch):
        """The :class:`replay.io.storage.Summary` of snapshot ``epoch``."""
        return Summary(*(run.series(schema.summary(self, statistic), [epoch])[0]
                         for statistic in schema.SUMMARY_STATISTICS))

    def scan(self, run):
        """Per-snapshot ``(pooled std, low, high)`` over the run, a few snapshots at a time."""
        parts = [[], [], []]
        paths = [schema.summary(self, statistic) for statistic in ("mean", "std", "range")]
        size = chunk_size_of(run, paths)
        chunks = zip(*(iter_snapshots(run, path, chunk_size=size) for path in paths))
        for means, stds, ranges in chunks:
            means = np.asarray(means, dtype=np.float64).reshape(len(means), -1)
            stds = np.asarray(stds, dtype=np.float64).reshape(len(stds), -1)
            pooled = means.mean(axis=1)
            second = np.mean(stds ** 2 + means ** 2, axis=1)
            parts[0].append(np.sqrt(np.maximum(second - pooled ** 2, 0.0)))
            ranges = np.asarray(ranges, dtype=np.float64).reshape(len(ranges), 2)
            parts[1].append(ranges[:, 0])
            parts[2].append(ranges[:, 1])
        return tuple(np.concatenate(part) for part in parts)
