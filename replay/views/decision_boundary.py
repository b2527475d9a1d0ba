"""The input space: the data, its grid and the decision regions of each epoch."""

import numpy as np
from matplotlib.collections import LineCollection

from replay.errors import OptionError
from replay.views.base import View
from replay.views.reader import SnapshotReader
from replay.views.regions import (
    boundary_segments,
    check_region_style,
    mesh_image,
    region_colors,
    region_legend,
    run_is_binary,
)
from replay.views.registry import SOURCE, register
from replay.views.style import BOUNDARY_COLOR, GRID_COLOR, class_color, style_axes


@register("decision-boundary", options=(SOURCE,), short_title="input space")
class DecisionBoundary(View):
    """The 2-D input space with its grid, the samples and the decision regions per epoch.

    The regions come from the model's outputs on the recorded probe mesh, so
    the run must have 2-D inputs recorded with probe points (the default of
    :class:`replay.Recorder` for 2-D inputs). The regions are the mesh
    outputs interpolated between the mesh points; the boundary is their
    p = 0.5 contour, interpolated within the cells (smooth). A legend below
    the axes names the classes, the boundary and the shading.

    Args:
        run: the :class:`replay.Run`.
        source: the samples to show, ``"train"`` or ``"validation"``.
        grid: draw the input grid lines (the ones :class:`FeatureSpace` bends).
        point_size: marker diameter of the samples, in points.
        regions: ``"probability"`` (default; shade = how sure the model is)
            or ``"hard"`` (DeepReplay's hard cut, one flat colour per
            predicted class).
        legend: draw the legend below the axes.
        ax: the axes to draw into; ``None`` makes a new figure.

    Example:
        >>> DecisionBoundary(run).plot(60).savefig("boundary.png")   # doctest: +SKIP
    """

    figsize = (5.5, 5.0)
    title = "Decision boundary in the input space"
    blit_safe = True

    def __init__(self, run, *, source="train", grid=True, point_size=2.5,
                 regions="probability", legend=True, ax=None):
        super().__init__(run, ax=ax)
        if "mesh" not in run.sources:
            raise OptionError(
                f"DecisionBoundary needs 2-D inputs recorded with probe points; run "
                f"{run.name!r} of '{run.path}' has none (inputs of shape "
                f"{run.inputs('train').shape}). Record 2-D inputs with probes='auto'."
            )
        self.source = source
        self.reader = SnapshotReader(run)
        self.grid = grid
        self.point_size = float(point_size)
        self.region_style = check_region_style(regions) or "probability"
        self.show_legend = legend

    def draw_static(self):
        ax = self.ax_
        ax.set_title(self.title)
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        mesh = self.run.inputs("mesh")
        self.mesh_x_, self.mesh_y_ = mesh[..., 0], mesh[..., 1]
        self.regions_ = mesh_image(ax, mesh)
        self.boundary_ = LineCollection([], colors=BOUNDARY_COLOR, linewidths=1.5,
                                        zorder=1.5)
        ax.add_collection(self.boundary_)
        if self.grid and "grid" in self.run.sources:
            ax.add_collection(LineCollection(self.run.inputs("grid"), colors=GRID_COLOR,
                                             linewidths=0.6, alpha=0.7, zorder=1))
        inputs = self.run.inputs(self.source)
        labels = self.run.labels(self.source)
        for label in np.unique(labels):
            ax.plot(inputs[labels == label, 0], inputs[labels == label, 1], "o",
                    markersize=self.point_size, markeredgewidth=0, color=class_color(label),
                    zorder=2)
        style_axes(ax)
        self.legend_ = None
        if self.show_legend:
            self.legend_ = region_legend(ax, np.unique(labels),
                                         binary=run_is_binary(self.run),
                                         style=self.region_style, point_size=self.point_size)

    def update(self, epoch):
        outputs = self.reader.probabilities("mesh", epoch)
        self.regions_.set_data(region_colors(outputs, style=self.region_style))
        self.boundary_.set_segments(boundary_segments(self.mesh_x_, self.mesh_y_, outputs))
        return [self.regions_, self.boundary_]
