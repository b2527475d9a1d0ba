"""The network as a graph: units as nodes, weights as edges, moving over the snapshots.

For small dense nets (at most 32 units per layer and 2,000 connections, by
default) every unit is a node and every kernel entry an edge: edges are
coloured and sized by their weight (a diverging colour map with limits fixed
over the run: blue negative, red positive, thin and grey near 0), nodes are
coloured by their mean activation on the recorded samples (or by the
activation of one chosen sample). Animating moves only colours and widths,
so frames blit.

Findings of :func:`replay.diagnose.diagnose` can be marked: units that are
dead, saturated or symmetric get a red ring while the finding holds, and the
column of a layer shows a short tag (``"dead 3"``, ``"frozen"``, ...).
"""

import matplotlib as mpl
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D

from replay.errors import LayerNotFoundError, OptionError
from replay.io import schema
from replay.views.base import View
from replay.views.ranges import iter_snapshots
from replay.views.reader import SnapshotReader
from replay.views.registry import SOURCE, register
from replay.views.style import ERROR_COLOR

#: Most units drawn per layer (the inputs count as a layer) and most edges in all.
MAX_UNITS = 32
MAX_EDGES = 2000
#: Colour maps: weights (diverging, its centre a light grey that shows on white) and
#: node activations (sequential).
WEIGHT_CMAP = "coolwarm"
NODE_CMAP = "viridis"
#: Edge widths in points, for a weight of 0 and for the largest |weight| of the run.
MIN_EDGE_WIDTH = 0.3
MAX_EDGE_WIDTH = 3.5
#: Largest node diameter in points (small layers), and its share of the spacing.
MAX_NODE_DIAMETER = 24.0
NODE_SHARE = 0.6
#: Findings about single units: those get a ring around their node.
UNIT_FINDINGS = ("dead-units", "saturated-units", "symmetric-units")


@register("network-graph", options=(SOURCE,), short_title="network")
class NetworkGraph(View):
    """Units as nodes, weights as edges: a small dense net over its snapshots.

    Column 0 holds the inputs of the first layer shown, then one column per
    layer. An edge from node ``i`` of one column to node ``j`` of the next
    is the kernel entry ``w[i, j]`` of the layer; biases are not drawn.

    Args:
        run: the :class:`replay.Run`.
        layers: consecutive layers with a 2-D kernel (Dense layers), in
            model order; ``None`` for every layer with a kernel. When the
            first one is not the model's first, column 0 is the layer
            before it (its activations).
        source: the samples of the node colours, ``"train"`` or ``"validation"``.
        sample: colour nodes by the values of this one sample (an index
            into ``source``) instead of the mean over all samples.
        findings: a :class:`replay.diagnose.Diagnosis` (or a list of its
            findings) to mark; ``True`` runs :func:`replay.diagnose.diagnose`;
            ``None`` marks nothing.
        weight_limit: |weight| at which edge colours and widths saturate;
            ``None`` for the largest |weight| of the shown layers over the run.
        max_units: most units per column (the picture gets unreadable past 32).
        max_edges: most edges in all.
        colorbars: draw the colour bars of edges and nodes.
        ax: the axes to draw into; ``None`` makes a new figure.

    Attributes:
        layers: the layers shown (one column each, after the inputs).
        columns: the name of each column (``"inputs"`` first, or the layer
            feeding the first one).
        positions_: ``(n_nodes, 2)`` node positions, column after column,
            unit 0 on top.
        node_values_: ``(n_snapshots, n_nodes)``: what the node colours show.
        edges_: the ``LineCollection`` of the edges (its array holds the
            weights shown); ``nodes_``: the node ``PathCollection``.
        weight_limit_: the fixed limit of the weight colours.

    Raises:
        OptionError: a layer is too wide, the net has too many edges, or the
            layers are not consecutive Dense layers; the message names the
            layer and says what to choose.

    Example:
        >>> NetworkGraph(run).plot(60).savefig("graph.png")                 # doctest: +SKIP
        >>> NetworkGraph(run, findings=run.diagnose()).save("graph.mp4")    # doctest: +SKIP
    """

    figsize = (7.5, 5.0)
    title = "Network: weights and activations"
    blit_safe = True  # update() only recolours the edges and nodes; nothing moves

    def __init__(self, run, *, layers=None, source="train", sample=None, findings=None,
                 weight_limit=None, max_units=MAX_UNITS, max_edges=MAX_EDGES, colorbars=True,
                 ax=None):
        super().__init__(run, ax=ax)
        if source not in ("train", "validation"):
            raise OptionError(f"source must be 'train' or 'validation'. Got {source!r}.")
        self.source = source
        self.max_units = _positive(max_units, "max_units")
        self.max_edges = _positive(max_edges, "max_edges")
        self.layers = self._choose_layers(layers)
        self._check_size()
        n_samples = len(run.inputs(source))
        if sample is not None:
            if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) \
                    or not -n_samples <= sample < n_samples:
                raise OptionError(f"sample must be an index of the {n_samples} {source} "
                                  f"samples. Got {sample!r}.")
            sample = int(sample) % n_samples
        self.sample = sample
        self.colorbars = bool(colorbars)
        self.reader = SnapshotReader(run)
        self.node_values_ = self._read_node_values()
        self.weight_limit_ = self._weight_limit(weight_limit)
        finite = self.node_values_[np.isfinite(self.node_values_)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if high - low < 1e-9:
            low, high = low - 0.5, high + 0.5
        self.node_norm = Normalize(low, high)
        self.positions_ = self._layout()
        self.findings = self._findings(findings)

    # -- which layers ----------------------------------------------------------

    def _choose_layers(self, layers):
        run = self.run
        with_kernel = [layer.name for layer in run.layers if "kernel" in layer.weights]
        if layers is None:
            names = with_kernel
            if not names:
                raise OptionError(f"Run {run.name!r} has no layer with a kernel to draw.")
        else:
            names = [layers] if isinstance(layers, str) else list(layers)
            if not names:
                raise OptionError("layers must name at least one layer.")
            for name in names:
                if "kernel" not in run.layer(name).weights:
                    raise OptionError(
                        f"Layer {name!r} has no kernel, so no edges to draw; layers with a "
                        f"kernel: {', '.join(with_kernel)}.")
        self._shapes = {}
        for name in names:
            shape = tuple(run.series(schema.weights(name, "kernel"), [0]).shape[1:])
            if len(shape) != 2:
                raise OptionError(
                    f"NetworkGraph draws Dense layers (a 2-D kernel, inputs x units); layer "
                    f"{name!r} ({run.layer(name).class_name}) has a kernel of shape {shape}. "
                    "Choose Dense layers with layers=[...].")
            self._shapes[name] = shape
        first = run.layer(names[0])
        position = run.layer_names.index(first.name)
        previous = [layer for layer in run.layers[:position] if "kernel" in layer.weights]
        if previous:
            feeding = previous[-1]
            if not feeding.hidden:
                raise LayerNotFoundError(
                    f"Layer {names[0]!r} is fed by {feeding.name!r}, whose activations were "
                    "not recorded; start layers= at a layer fed by the inputs or a hidden layer.")
            self.columns = [feeding.name]
            fed = feeding.size
        else:
            self.columns = ["inputs"]
            fed = int(np.prod(run.inputs(self.source).shape[1:]))
        for name in names:
            fan_in, units = self._shapes[name]
            if fan_in != fed:
                raise OptionError(
                    f"Layer {name!r} takes {fan_in} inputs but the column before it "
                    f"({self.columns[-1]!r}) has {fed} units: NetworkGraph draws a chain of "
                    "consecutive Dense layers. Choose such layers with layers=[...].")
            self.columns.append(name)
            fed = units
        return names

    def _check_size(self):
        widths = {self.columns[0]: self._shapes[self.layers[0]][0]}
        widths.update({name: self._shapes[name][1] for name in self.layers})
        suggestion = self._suggestion(widths)
        for name, width in widths.items():
            if width > self.max_units:
                what = "the inputs have" if name == "inputs" else f"layer {name!r} has"
                raise OptionError(
                    f"NetworkGraph draws at most {self.max_units} units per layer, and {what} "
                    f"{width}. {suggestion}")
        edges = sum(fan_in * units for fan_in, units in self._shapes.values())
        if edges > self.max_edges:
            raise OptionError(
                f"NetworkGraph draws at most {self.max_edges} edges, and layers "
                f"{', '.join(self.layers)} have {edges} weights. {suggestion}")
        self.widths = [widths[name] for name in self.columns]

    def _suggestion(self, widths):
        small = [name for name, width in widths.items()
                 if name != "inputs" and width <= self.max_units]
        hint = (f"Choose consecutive smaller Dense layers with layers=[...] (of "
                f"{', '.join(repr(name) for name in small)})" if small
                else "Choose smaller consecutive Dense layers with layers=[...]")
        return hint + ", or raise max_units= / max_edges= (a crowded picture)."

    # -- data --------------------------------------------------------------------

    def _node_paths(self):
        """Per column: a dataset path, or ``None`` for the static inputs."""
        run = self.run
        paths = [None if self.columns[0] == "inputs"
                 else schema.activations(self.source, self.columns[0])]
        for name in self.layers:
            info = run.layer(name)
            if info.hidden:
                paths.append(schema.activations(self.source, name))
            elif name == run.layers[-1].name:
                paths.append(schema.outputs(self.source))
            else:
                raise LayerNotFoundError(
                    f"Layer {name!r} of run {run.name!r} has no recorded activations to "
                    f"colour its nodes; hidden layers: {', '.join(run.hidden_layers)}.")
        return paths

    def _reduce(self, values):
        """``(k, N, ...) -> (k, units)``: the mean over samples, or the chosen sample."""
        values = np.asarray(values, dtype=np.float64)
        values = values.reshape(values.shape[0], values.shape[1], -1)
        if self.sample is not None:
            return values[:, self.sample]
        return values.mean(axis=1)

    def _read_node_values(self):
        run = self.run
        columns = []
        for path, width in zip(self._node_paths(), self.widths):
            if path is None:
                inputs = np.asarray(run.inputs(self.source), dtype=np.float64)[None]
                columns.append(np.repeat(self._reduce(inputs), run.n_snapshots, axis=0))
                continue
            chunks = []
            for chunk in iter_snapshots(run, path):
                if path == schema.outputs(self.source):
                    chunk = run.output_probabilities(chunk)  # logits: show probabilities
                chunks.append(self._reduce(chunk))
            column = np.concatenate(chunks) if chunks else np.zeros((0, width))
            columns.append(column)
        return np.concatenate(columns, axis=1)

    def _weight_limit(self, weight_limit):
        if weight_limit is not None:
            try:
                limit = float(weight_limit)
            except (TypeError, ValueError):
                limit = float("nan")
            if not limit > 0 or not np.isfinite(limit):
                raise OptionError(f"weight_limit must be a positive number. Got {weight_limit!r}.")
            return limit
        largest = 0.0
        for name in self.layers:
            for chunk in iter_snapshots(self.run, schema.weights(name, "kernel")):
                finite = np.abs(chunk[np.isfinite(chunk)])
                if finite.size:
                    largest = max(largest, float(finite.max()))
        return largest if largest > 0 else 1.0

    def _layout(self):
        """Node positions: column ``c`` at x = ``c``, its units evenly spaced, centred, unit 0 on top."""
        self.spacing = 1.0 / max(max(self.widths), 2)
        positions = []
        for column, width in enumerate(self.widths):
            offsets = (np.arange(width) - (width - 1) / 2) * self.spacing
            positions.append(np.column_stack([np.full(width, float(column)), 0.5 - offsets]))
        self.starts = np.cumsum([0, *self.widths])
        return np.concatenate(positions)

    def _findings(self, findings):
        if findings is None or findings is False:
            return []
        if findings is True:
            from replay.diagnose import diagnose

            findings = diagnose(self.run, source=self.source)
        return [finding for finding in findings
                if any(finding.concerns(name) for name in self.columns)]

    def edge_weights(self, epoch):
        """The weights of the edges at snapshot ``epoch``, in the order of the segments."""
        epoch = self.check_epoch(epoch)
        return np.concatenate([
            np.asarray(self.reader.read(schema.weights(name, "kernel"), epoch),
                       dtype=np.float64).ravel() for name in self.layers])

    def edge_widths(self, weights):
        """Line widths of edges of ``weights``: linear in |w|, up to the weight limit."""
        share = np.clip(np.nan_to_num(np.abs(weights) / self.weight_limit_), 0.0, 1.0)
        return MIN_EDGE_WIDTH + (MAX_EDGE_WIDTH - MIN_EDGE_WIDTH) * share

    # -- drawing -------------------------------------------------------------------

    def draw_static(self):
        ax = self.ax_
        ax.set_title(self.title)
        segments = []
        for column, name in enumerate(self.layers):
            fan_in, units = self._shapes[name]
            sources = self.positions_[self.starts[column]:self.starts[column + 1]]
            targets = self.positions_[self.starts[column + 1]:self.starts[column + 2]]
            for i in range(fan_in):  # row-major: the order of kernel.ravel()
                for j in range(units):
                    segments.append([sources[i], targets[j]])
        weight_cmap = mpl.colormaps[WEIGHT_CMAP].with_extremes(bad="#000000")
        self.weight_norm = Normalize(-self.weight_limit_, self.weight_limit_)
        self.edges_ = LineCollection(segments, cmap=weight_cmap, norm=self.weight_norm,
                                     linewidths=MIN_EDGE_WIDTH, zorder=1, alpha=0.9,
                                     capstyle="round")
        self.edges_.set_array(np.zeros(len(segments)))
        ax.add_collection(self.edges_)
        diameter = min(MAX_NODE_DIAMETER, NODE_SHARE * self._spacing_points())
        node_cmap = mpl.colormaps[NODE_CMAP].with_extremes(bad="#FFFFFF")
        self.nodes_ = ax.scatter(self.positions_[:, 0], self.positions_[:, 1],
                                 c=np.zeros(len(self.positions_)), cmap=node_cmap,
                                 norm=self.node_norm, s=diameter ** 2, edgecolors="#333333",
                                 linewidths=0.8, zorder=3)
        self.rings_ = self.tags_ = None
        if self.findings:
            self.rings_ = ax.scatter([], [], s=(1.45 * diameter) ** 2, facecolors="none",
                                     edgecolors=ERROR_COLOR, linewidths=1.6, zorder=4)
            self.tags_ = [ax.text(column, 0.5 + ((width - 1) / 2 + 0.65) * self.spacing, "",
                                  ha="center", va="bottom", fontsize="x-small",
                                  color=ERROR_COLOR, zorder=5, clip_on=False)
                          for column, width in enumerate(self.widths)]
            ax.legend(handles=[Line2D([], [], linestyle="none", marker="o", markersize=8,
                                      markerfacecolor="none", markeredgecolor=ERROR_COLOR,
                                      markeredgewidth=1.6,
                                      label="unit with a finding (dead, saturated, symmetric)")],
                      loc="upper left", fontsize="x-small", frameon=False,
                      borderaxespad=0.0)
        ax.set_xlim(-0.35, len(self.columns) - 0.65)
        top = 0.5 + (max(self.widths) - 1) / 2 * self.spacing
        margin = max(0.7 * self.spacing, 0.05)
        ax.set_ylim(1.0 - top - margin, top + margin + self._tag_room(2 * top - 1 + 2 * margin))
        labels = [self._column_label(column) for column in range(len(self.columns))]
        ax.set_xticks(range(len(self.columns)), labels, fontsize="small")
        ax.tick_params(axis="x", length=0)
        ax.set_yticks([])
        ax.spines[:].set_visible(False)
        if self.colorbars:
            figure = self.figure_
            # Below the graph, where they take height, not the width the columns need.
            what = (f"activation of {self.source} sample {self.sample}"
                    if self.sample is not None else f"mean activation on {self.source}")
            for mappable, label in ((self.nodes_, f"nodes: {what}"),
                                    (ScalarMappable(self.weight_norm, weight_cmap),
                                     "edges: weight (colour and width)")):
                bar = figure.colorbar(mappable, ax=ax, location="bottom", fraction=0.035,
                                      pad=0.02, shrink=0.8, aspect=40)
                bar.set_label(label, fontsize="small")
                bar.ax.tick_params(labelsize="x-small")

    def _column_label(self, column):
        name = self.columns[column]
        width = self.widths[column]
        if name == "inputs":
            return f"inputs\n{width}"
        activation = self.run.layer(name).activation
        if name == self.run.layers[-1].name and self.run.outputs_are_logits:
            activation = "logits \u2192 p"
        return f"{name}\n{width} {activation}"

    def _tag_room(self, span):
        """Height in data units to keep above the nodes for the tags of the findings."""
        if not self.findings:
            return 0.0
        lines = max(len({finding.tag for finding in self.findings if finding.concerns(name)})
                    for name in self.columns)
        needed = lines * 9.0 + 6.0  # points: x-small lines, and a gap
        # The colour bars below take about a quarter of the height the axes start with.
        height = 0.75 * self.ax_.get_position().height * self.figure_.get_figheight() * 72
        return needed * span / max(height - needed, needed)

    def _spacing_points(self):
        """The vertical distance between two nodes, in points (from the axes' height)."""
        height = self.ax_.get_position().height * self.figure_.get_figheight() * 72
        top = 0.5 + (max(self.widths) - 1) / 2 * self.spacing
        span = 2 * top - 1 + 2 * max(0.7 * self.spacing, 0.05)
        return height * self.spacing / max(span, 1e-9)

    def update(self, epoch):
        epoch = self.check_epoch(epoch)
        weights = self.edge_weights(epoch)
        self.edges_.set_array(weights)
        self.edges_.set_linewidths(self.edge_widths(weights))
        self.nodes_.set_array(self.node_values_[epoch])
        artists = [self.edges_, self.nodes_]
        if self.findings:
            marked, tags = [], [[] for _ in self.columns]
            for finding in self.findings:
                if not finding.covers(epoch):
                    continue
                for column, name in enumerate(self.columns):
                    if not finding.concerns(name):
                        continue
                    if finding.kind in UNIT_FINDINGS:
                        if column == 0 and name != finding.layer:
                            continue
                        marked.extend(self.starts[column] + unit for unit in finding.units
                                      if unit < self.widths[column])
                    tags[column].append(finding.tag)
            self.rings_.set_offsets(self.positions_[sorted(set(marked))]
                                    if marked else np.zeros((0, 2)))
            for text, found in zip(self.tags_, tags):
                text.set_text("\n".join(dict.fromkeys(found)))
            artists += [self.rings_, *self.tags_]
        return artists


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise OptionError(f"{name} must be a positive integer. Got {value!r}.")
    return int(value)
