"""The feature space: the data, the input grid and the decision regions as a hidden layer bends them."""

import numpy as np
from matplotlib.collections import LineCollection, PathCollection

from replay.errors import LayerNotFoundError, OptionError
from replay.io import schema
from replay.views.base import View
from replay.views.ranges import iter_snapshots, padded_range
from replay.views.reader import SnapshotReader
from replay.views.regions import (
    boundary_segments,
    check_region_style,
    filled_regions,
    region_colors,
    region_legend,
    run_is_binary,
    thinned_indices,
)
from replay.views.registry import LAYER, LIMITS, SOURCE, register
from replay.views.style import BOUNDARY_COLOR, GRID_COLOR, class_color, style_axes

#: Colour map of the samples of a regression run, by target value.
TARGET_CMAP = "viridis"
#: At most this many probe-mesh points per side are drawn as regions.
MESH_DRAW_LIMIT = 60
#: At most this many points per grid line are drawn.
GRID_DRAW_LIMIT = 200
#: Margin around the samples and the bent grid, as a fraction of their span.
LIMIT_PADDING = 0.05
#: The ``limits=`` modes; ``"auto"`` resolves to ``"fixed"`` or ``"grow"``.
LIMIT_MODES = ("auto", "fixed", "grow", "epoch")
#: ``limits="auto"`` grows the limits when the first snapshot's box is narrower
#: than this share of the run's box along both axes (the first frames would
#: fill a corner of the panel: a relu layer whose activations grow tenfold).
AUTO_GROW_FRACTION = 1 / 3


def point_boxes(points):
    """``(low, high)``, each ``(k, 2)``: the box of the finite points of each row of
    ``points`` ``(k, n, 2)`` (inf / -inf for a row without one).

    Each coordinate is reduced on its own: numpy reduces the middle axis of a
    ``(k, n, 2)`` array some 40 times slower than a strided ``(k, n)`` view.
    """
    k = len(points)
    if not points.shape[1]:
        return np.full((k, 2), np.inf), np.full((k, 2), -np.inf)
    x, y = points[..., 0], points[..., 1]
    if np.isfinite(points).all():
        return (np.stack([x.min(axis=1), y.min(axis=1)], axis=1),
                np.stack([x.max(axis=1), y.max(axis=1)], axis=1))
    finite = np.isfinite(x) & np.isfinite(y)
    return (np.stack([np.where(finite, x, np.inf).min(axis=1),
                      np.where(finite, y, np.inf).min(axis=1)], axis=1),
            np.stack([np.where(finite, x, -np.inf).max(axis=1),
                      np.where(finite, y, -np.inf).max(axis=1)], axis=1))


@register("feature-space", options=(LAYER, SOURCE, LIMITS), short_title="feature space")
class FeatureSpace(View):
    """The samples, the input grid and the decision regions in a hidden layer's space.

    For a 2-unit layer the axes are the two units. For a wider layer the
    activations are shown through a **fixed 2-D PCA projection**, fitted
    once on the activations of the training samples at the **last**
    snapshot (where the classes are best separated) and then applied to every
    snapshot, so that the frames stay comparable. The projection is kept in
    ``projection_`` as ``(mean, components)``.

    When the run has probe points (2-D inputs), the view also draws the grid
    lines of the input space and the decision regions of the probe mesh, both
    carried into the hidden space, with the decision boundary (p = 0.5) as a
    line for binary models. The regions of a binary model are filled
    contours of its outputs on the bent mesh (interpolated within the mesh
    cells, banded by how sure the model is), and the boundary is their
    p = 0.5 contour: smooth curves, no staircase of mesh cells. A legend below the axes names the classes, the
    boundary and the shading.

    **Limits.** ``limits="auto"`` picks ``"fixed"`` or, when
    the first snapshot spans less than a third of the run's box along both
    axes, ``"grow"`` (see :attr:`resolved_limits`). ``limits="fixed"`` (the
    default: it renders several times faster, frames are blitted) keeps one pair of axis
    limits for the whole run: the smallest box that holds the samples *and*
    the whole bent input grid at every snapshot, plus 5 % on each side, so
    nothing is ever cut off and no frame rescales (frames can be blitted:
    the fastest to render). A layer whose activations grow tenfold during
    training (relu) then fills the panel only late in the run; for it,
    ``limits="grow"`` fits each snapshot's limits to the box of the samples
    and grid of every snapshot **up to** it: the panel is filled from the
    first frame, the axes only ever widen, and nothing is cut off.
    ``limits="epoch"`` fits each snapshot alone (the axes may shrink again).
    Both redraw whole frames (slower to render than ``"fixed"``).

    Args:
        run: the :class:`replay.Run`.
        layer: the hidden layer to show; ``None`` for the run's only 2-unit
            hidden layer (see :func:`default_layer`).
        source: the samples to show, ``"train"`` or ``"validation"``.
        limits: ``"fixed"`` (default) keeps the axis limits of the whole run;
            ``"auto"``: ``"fixed"``, or ``"grow"`` for a run whose first
            snapshot spans under a third of the run's box;
            ``"grow"`` widens them as the run goes (see above); ``"epoch"``
            fits them to each epoch's points and grid.
        grid: draw the bent grid lines.
        regions: draw the decision regions and boundary: ``True`` or
            ``"probability"`` (shade = how sure the model is), ``"hard"``
            (DeepReplay's hard cut: one flat colour per predicted class), or
            ``False``.
        legend: draw the legend below the axes.
        point_size: marker diameter of the samples, in points.
        ax: the axes to draw into; ``None`` makes a new figure.

    Attributes:
        points_: ``{class label: Line2D}``, the samples of each class (drawn
            as markers: much faster than a scatter of per-point colours).
        grid_lines_: ``LineCollection`` of the bent grid (or ``None``).
        regions_: the decision regions (or ``None``): a ``PathCollection`` of
            filled contours (binary models, see
            :func:`replay.views.regions.filled_regions`), or a ``QuadMesh``
            coloured by predicted class (multiclass).
        legend_: the legend (or ``None``).
        boundary_: ``LineCollection`` of the decision boundary (or ``None``).
        projection_: ``(mean, components)`` of the PCA, ``None`` for 2 units.

    Example:
        >>> view = FeatureSpace(run, layer="hidden")     # doctest: +SKIP
        >>> view.plot(60).savefig("feature_space.png")   # doctest: +SKIP
    """

    figsize = (5.5, 5.0)

    def __init__(self, run, layer=None, *, source="train", limits="fixed", grid=True,
                 regions=True, legend=True, point_size=2.5, ax=None):
        super().__init__(run, ax=ax)
        if limits not in LIMIT_MODES:
            raise OptionError(
                f"limits must be {', '.join(map(repr, LIMIT_MODES[:-1]))} or "
                f"{LIMIT_MODES[-1]!r}. Got {limits!r}.")
        layer = default_layer(run) if layer is None else layer
        info = run.layer(layer)
        if not info.hidden:
            raise LayerNotFoundError(
                f"Layer {layer!r} of run {run.name!r} has no recorded activations, so it "
                f"has no feature space; hidden layers: {', '.join(run.hidden_layers)}."
            )
        if info.size < 2:
            raise OptionError(
                f"FeatureSpace needs a layer of at least 2 units; layer {layer!r} has "
                f"{info.size}. Show the input space with DecisionBoundary instead."
            )
        self.layer = layer
        self.shape = tuple(info.shape)
        self.units = info.size  # values per sample: a conv layer's are all its cells
        self.source = source
        self.reader = SnapshotReader(run)
        self.limits = limits
        self._boxes = None
        self.point_size = float(point_size)
        #: Regression runs colour the samples by target value (a colour bar),
        #: classification runs by class; only classification has regions.
        self.regression = run.task == "regression"
        if self.regression:
            targets = np.asarray(run.targets(source), dtype=np.float64)
            self.values = targets.reshape(len(targets), -1)[:, 0]
            self.labels = np.zeros(len(targets), dtype=np.int64)
        else:
            self.labels = run.labels(source)
        self.classes = np.unique(self.labels)
        has_probes = "grid" in run.sources and "mesh" in run.sources
        self.show_grid = grid and has_probes
        self.region_style = check_region_style(regions)
        self.show_regions = self.region_style is not None and has_probes and not self.regression
        self.show_legend = legend
        self.projection_ = self._fit_projection()
        if self.units == 2:
            self.title = f"Feature space of layer '{layer}'"
        elif len(self.shape) > 1:
            cells = " \u00d7 ".join(str(size) for size in self.shape)
            self.title = f"Feature space of layer '{layer}' (PCA of {self.units} values, {cells})"
        else:
            self.title = f"Feature space of layer '{layer}' (PCA of {self.units} units)"

    # -- data ----------------------------------------------------------------

    def _fit_projection(self):
        if self.units == 2:
            return None
        activations = self._flat(self.run.activations(self.layer, -1, source=self.source), 1)
        mean = activations.mean(axis=0)
        _, _, components = np.linalg.svd(activations - mean, full_matrices=False)
        return mean, components[:2]

    def _flat(self, activations, leading):
        """``activations`` with the layer's cells as one last axis, after ``leading`` axes."""
        activations = np.asarray(activations, dtype=np.float64)
        return activations.reshape(*activations.shape[:leading], self.units)

    def project(self, activations):
        """Map activations ``(..., *layer shape)`` to the view's 2-D coordinates ``(..., 2)``."""
        activations = np.asarray(activations, dtype=np.float64)
        activations = activations.reshape(*activations.shape[:activations.ndim - len(self.shape)],
                                          self.units)
        if self.projection_ is None:
            return activations
        mean, components = self.projection_
        return (activations - mean) @ components.T

    @property
    def blit_safe(self):
        """Frames can be blitted when the axis limits never change (``"fixed"``)."""
        return self.resolved_limits == "fixed"

    @property
    def resolved_limits(self):
        """The limits mode in use: ``limits``, or for ``"auto"`` the one that fits the run.

        ``"auto"`` is ``"fixed"`` unless the first snapshot's box is narrower
        than :data:`AUTO_GROW_FRACTION` of the run's box along both axes (a
        relu layer whose activations grow tenfold): then ``"grow"``, so the
        panel is filled from the first frame.
        """
        if self.limits != "auto":
            return self.limits
        if getattr(self, "_auto_limits", None) is None:
            low, high = self.snapshot_boxes()
            first = high[0] - low[0]
            whole = high.max(axis=0) - low.min(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                narrow = np.isfinite(first).all() and np.isfinite(whole).all() and bool(
                    (first < AUTO_GROW_FRACTION * whole).all())
            self._auto_limits = "grow" if narrow else "fixed"
        return self._auto_limits

    def snapshot_boxes(self):
        """``(low, high)``, each ``(n_snapshots, 2)``: the box of the samples and the
        bent grid at every snapshot (NaN-free; inf where a snapshot has no finite point)."""
        if self._boxes is None:
            self._boxes = self._read_boxes()
        return self._boxes

    def _read_boxes(self):
        n = self.run.n_snapshots
        low, high = np.full((n, 2), np.inf), np.full((n, 2), -np.inf)
        datasets = [schema.activations(self.source, self.layer)]
        if self.show_grid:
            datasets.append(schema.activations("grid", self.layer))
        for dataset in datasets:
            start = 0
            for chunk in iter_snapshots(self.run, dataset):
                # Two units: the values themselves (min and max need no float64 copy).
                points = (np.asarray(chunk) if self.projection_ is None
                          else self.project(chunk)).reshape(len(chunk), -1, 2)
                rows = slice(start, start + len(chunk))
                chunk_low, chunk_high = point_boxes(points)
                low[rows] = np.minimum(low[rows], chunk_low)
                high[rows] = np.maximum(high[rows], chunk_high)
                start += len(chunk)
        return low, high

    def _run_limits(self):
        """The fixed limits: the box of the samples and the bent grid over all snapshots."""
        low, high = self.snapshot_boxes()
        return [padded_range(low[:, axis].min(), high[:, axis].max(), padding=LIMIT_PADDING)
                for axis in range(2)]

    # -- drawing -------------------------------------------------------------

    def draw_static(self):
        ax = self.ax_
        ax.set_title(self.title)
        if self.projection_ is None:
            ax.set_xlabel(f"{self.layer} unit 1")
            ax.set_ylabel(f"{self.layer} unit 2")
        else:
            ax.set_xlabel("first principal component")
            ax.set_ylabel("second principal component")
        self.regions_ = None
        self.boundary_ = None
        self.grid_lines_ = None
        if self.show_regions:
            mesh_shape = self.run.inputs("mesh").shape[:2]
            self._mesh_rows = thinned_indices(mesh_shape[0], MESH_DRAW_LIMIT)
            self._mesh_columns = thinned_indices(mesh_shape[1], MESH_DRAW_LIMIT)
            shape = (len(self._mesh_rows), len(self._mesh_columns))
            self._binary = run_is_binary(self.run)
            if self._binary:
                # Filled contours of the outputs on the bent mesh: smooth edges,
                # and a few paths that are cheap to draw; set per frame.
                self.regions_ = PathCollection([], linewidths=0, antialiaseds=True,
                                               zorder=0.5, transform=ax.transData)
                ax.add_collection(self.regions_, autolim=False)
            else:
                # Multiclass: each cell in the colour of its predicted class.
                self.regions_ = ax.pcolormesh(np.zeros(shape), np.zeros(shape),
                                              np.zeros((shape[0] - 1, shape[1] - 1)),
                                              shading="flat", zorder=0.5, antialiased=False)
                self.regions_.set_array(None)
            self.boundary_ = LineCollection([], colors=BOUNDARY_COLOR, linewidths=1.5,
                                            zorder=1.5)
            ax.add_collection(self.boundary_)
        if self.show_grid:
            self._grid_points = thinned_indices(self.run.inputs("grid").shape[1],
                                                GRID_DRAW_LIMIT)
            self.grid_lines_ = LineCollection([], colors=GRID_COLOR, linewidths=0.6,
                                              alpha=0.7, zorder=1)
            ax.add_collection(self.grid_lines_)
        self.points_, self.scatter_ = {}, None
        if self.regression:
            # One collection coloured by target value: the colours are fixed,
            # only the offsets move per frame.
            self.scatter_ = ax.scatter(np.zeros(len(self.values)), np.zeros(len(self.values)),
                                       c=self.values, cmap=TARGET_CMAP,
                                       s=self.point_size ** 2, linewidths=0, zorder=2)
            self.figure_.colorbar(self.scatter_, ax=ax, label="target", shrink=0.8)
        else:
            self.points_ = {
                label: ax.plot([], [], "o", markersize=self.point_size, markeredgewidth=0,
                               color=class_color(label), zorder=2, label=f"class {label}")[0]
                for label in self.classes
            }
        if self.resolved_limits == "fixed":
            x_limits, y_limits = self._run_limits()
            ax.set_xlim(*x_limits)
            ax.set_ylim(*y_limits)
        elif self.resolved_limits == "grow":
            # The box of every snapshot up to each one: limits that only widen.
            low, high = self.snapshot_boxes()
            self._grown = (np.minimum.accumulate(low), np.maximum.accumulate(high))
        style_axes(ax)
        self.legend_ = None
        if self.show_legend and not self.regression:
            binary = self.show_regions and run_is_binary(self.run)
            self.legend_ = region_legend(ax, self.classes, binary=binary,
                                         style=self.region_style or "probability",
                                         regions=self.show_regions,
                                         boundary=self.show_regions,
                                         point_size=self.point_size)

    def update(self, epoch):
        read = self.reader.read
        points = self.project(read(schema.activations(self.source, self.layer), epoch))
        for label, line in self.points_.items():
            selected = points[self.labels == label]
            line.set_data(selected[:, 0], selected[:, 1])
        artists = list(self.points_.values())
        if self.scatter_ is not None:
            self.scatter_.set_offsets(points)
            artists.append(self.scatter_)
        if self.grid_lines_ is not None:
            grid = read(schema.activations("grid", self.layer), epoch)
            self.grid_lines_.set_segments(self.project(grid[:, self._grid_points]))
            artists.append(self.grid_lines_)
        if self.regions_ is not None:
            mesh = self.project(read(schema.activations("mesh", self.layer), epoch))
            outputs = self.reader.probabilities("mesh", epoch)
            self.boundary_.set_segments(boundary_segments(mesh[..., 0], mesh[..., 1], outputs))
            if self._binary:
                paths, colors = filled_regions(mesh[..., 0], mesh[..., 1], outputs,
                                               style=self.region_style)
                self.regions_.set_paths(paths)
                self.regions_.set_facecolor(colors)
            else:
                rows, columns = np.ix_(self._mesh_rows, self._mesh_columns)
                set_mesh_coordinates(self.regions_, mesh[rows, columns])
                self.regions_.set_facecolor(
                    region_colors(outputs[rows, columns], cells=True).reshape(-1, 4))
            artists = [self.regions_, self.boundary_, *artists]
        if self.resolved_limits == "grow":
            low, high = (bound[epoch] for bound in self._grown)
            self.ax_.set_xlim(*padded_range(low[0], high[0], padding=LIMIT_PADDING))
            self.ax_.set_ylim(*padded_range(low[1], high[1], padding=LIMIT_PADDING))
        elif self.resolved_limits == "epoch":
            shown = points if self.grid_lines_ is None else np.concatenate(
                [points, self.project(grid).reshape(-1, 2)])
            x_limits, y_limits = (padded_range(np.nanmin(shown[:, axis]),
                                               np.nanmax(shown[:, axis]), padding=LIMIT_PADDING)
                                  for axis in range(2))
            self.ax_.set_xlim(*x_limits)
            self.ax_.set_ylim(*y_limits)
        return artists


def default_layer(run):
    """Return the run's only 2-unit hidden layer, or raise an error listing the candidates.

    The layer a feature space shows when none is named (``layer=None``,
    no ``--layer``).
    """
    candidates = [layer.name for layer in run.layers if layer.hidden and layer.size == 2]
    if len(candidates) == 1:
        return candidates[0]
    hidden = ", ".join(f"{layer.name} ({layer.size} units)"
                       for layer in run.layers if layer.hidden) or "none"
    reason = "several 2-unit hidden layers" if candidates else "no 2-unit hidden layer"
    raise LayerNotFoundError(
        f"Run {run.name!r} of '{run.path}' has {reason}; choose the layer of the "
        f"feature space (layer=... or --layer). Hidden layers: {hidden}. "
        "Wider layers are shown through a fixed 2-D PCA projection."
    )


def set_mesh_coordinates(mesh, coordinates):
    """Move the vertices of a ``QuadMesh`` in place.

    Matplotlib has no public setter for a QuadMesh's vertices, and creating a
    new ``pcolormesh`` per frame is what makes animations slow; the vertex
    array is replaced in place (same shape) and the cached paths dropped.
    """
    mesh._coordinates[...] = coordinates
    mesh._paths = None
    mesh.stale = True
