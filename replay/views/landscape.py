"""The loss landscape and the optimiser's path over it; the loss along the straight line.

:class:`LossLandscape` draws the filled contours of the loss on the plane
of :mod:`replay.landscape` once, and per frame only moves the path (drawn
up to the current epoch) and the current point. :class:`LossLine` draws the
loss along the line from the initial to the final weights once, and per
frame moves a point to where the current weights project on that line, at
their loss. Both take one run, or several runs of one model (one plane,
one colour per run, a legend).
"""

import os

import numpy as np
from matplotlib import patheffects
from matplotlib.colors import LogNorm
from matplotlib.ticker import FormatStrFormatter, LogLocator

from replay.errors import OptionError
from replay.landscape import RESOLUTION, compute_landscape
from replay.results import run_labels
from replay.views.base import View
from replay.views.registry import ViewOption, register
from replay.views.style import LABEL_SIZE, LEGEND_SIZE, LEGEND_ZORDER, run_color, run_marker

DIRECTIONS = ViewOption("directions", "plane of the loss landscape: the weight trajectory's "
                                      "top two principal directions (pca, default) or "
                                      "filter-normalised random ones",
                        choices=("pca", "random"))
#: The filled contours' colour map (dark = low loss) and their number of levels.
SURFACE_CMAP = "viridis"
LEVELS = 24
#: A light outline under the paths, so they stay visible over dark valleys.
#: Drawing order: the filled contours (1), the legend of several runs, the
#: static start points, then what moves: the paths, the current points on
#: top. Static artists all under the moving ones, so blitted frames (moving
#: artists over a static background) equal full redraws, where the
#: semi-transparent outlines of overlapping paths would otherwise differ.
SURFACE_LEGEND_ZORDER = 1.5
START_ZORDER = 1.9
PATH_ZORDER = 2.0
POINT_ZORDER = 2.2
PATH_OUTLINE = [patheffects.withStroke(linewidth=3.2, foreground="white", alpha=0.85)]


def _landscape_of(runs, landscape, directions, resolution):
    if landscape is not None:
        return landscape
    if len(runs) == 1:
        return runs[0].landscape(**({} if directions == "pca" else {"directions": directions}),
                                 **({} if resolution == RESOLUTION
                                    else {"resolution": resolution}))
    return compute_landscape(runs, directions=directions, resolution=resolution)


def as_runs(runs):
    """A list of runs from a :class:`replay.Run`, runs, a ``replay.Runs`` or a file, folder or glob."""
    if isinstance(runs, (str, os.PathLike)):
        from replay.collection import Runs

        return list(Runs(runs))
    if hasattr(runs, "n_snapshots"):  # one Run
        return [runs]
    return list(runs)


class _LandscapeView(View):
    """What the two landscape views share: one or several runs, their landscape, labels."""

    blit_safe = True  # update() only moves lines and markers; limits are set once

    def __init__(self, run, *, directions="pca", resolution=RESOLUTION, labels=None,
                 landscape=None, ax=None):
        runs = as_runs(run)
        if not runs:
            raise OptionError(f"{type(self).__name__} needs at least one run. Got none.")
        super().__init__(min(runs, key=lambda each: each.n_snapshots), ax=ax)
        self.runs = runs
        self.labels = run_labels(runs) if labels is None else list(labels)
        if len(self.labels) != len(runs):
            raise OptionError(f"Got {len(self.labels)} labels for {len(runs)} runs.")
        self.landscape_ = _landscape_of(runs, landscape, directions, resolution)

    def _index(self, position, epoch):
        """The snapshot of run ``position`` shown at the clock's snapshot ``epoch``."""
        return min(epoch, len(self.landscape_.paths[position]) - 1)

    def _color(self, position):
        return run_color(position)


@register("loss-landscape", options=(DIRECTIONS,), short_title="loss landscape")
class LossLandscape(_LandscapeView):
    """The loss on a plane through the final weights, with the optimiser's path over it.

    Filled contours of the mean loss of the recorded samples (log-scaled
    when it spans more than two decades), the path of the weights projected
    on the plane up to the current epoch, the starting point (hollow) and
    the current one; the axes say how much of the trajectory's variance
    each direction explains.

    Args:
        run: a :class:`replay.Run`; or runs of one model (the plane of their
            combined trajectories; one colour each): a list, a
            :class:`replay.Runs`, or a file, folder or glob of run files.
        directions: ``"pca"`` or ``"random"`` (see :func:`replay.landscape.compute_landscape`).
        resolution: grid points per axis.
        labels: the runs' legend labels (default: their names).
        landscape: a :class:`replay.landscape.Landscape` computed already.
        ax: the axes to draw into; ``None`` makes a figure.

    Example:
        >>> LossLandscape(run).plot(60)                             # doctest: +SKIP
        >>> LossLandscape([zeros, normal_x10, he]).plot()           # doctest: +SKIP
    """

    title = "Loss landscape"
    figsize = (5.8, 5.0)

    def draw_static(self):
        ax, landscape = self.ax_, self.landscape_
        surface = np.ma.masked_invalid(landscape.surface)
        if landscape.spans_decades:
            positive = surface[surface > 0]
            levels = np.geomspace(positive.min(), positive.max(), LEVELS)
            norm = LogNorm(levels[0], levels[-1])
            surface = np.ma.masked_less_equal(surface, 0)
        else:
            levels, norm = LEVELS, None
        self.surface_ = ax.contourf(landscape.alpha, landscape.beta, surface, levels=levels,
                                    cmap=SURFACE_CMAP, norm=norm)
        colorbar = self.figure_.colorbar(self.surface_, ax=ax, shrink=0.9)
        if norm is not None:  # ticks at 1, 2 and 5 of each decade, as plain numbers
            colorbar.set_ticks(LogLocator(subs=(1.0, 2.0, 5.0)).tick_values(*norm.inverse([0, 1])))
            colorbar.ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            colorbar.ax.minorticks_off()
            colorbar.ax.set_ylim(levels[0], levels[-1])
        colorbar.set_label("mean loss" + (" (log scale)" if norm is not None else ""),
                           fontsize=LABEL_SIZE)
        ax.set_xlim(landscape.alpha[0], landscape.alpha[-1])
        ax.set_ylim(landscape.beta[0], landscape.beta[-1])
        ax.set_xlabel(self._axis_label(0), fontsize=LABEL_SIZE)
        ax.set_ylabel(self._axis_label(1), fontsize=LABEL_SIZE)
        ax.set_title(self.title)
        self.paths_, self.points_ = [], []
        for position, (path, label) in enumerate(zip(landscape.paths, self.labels)):
            color = self._color(position)
            ax.plot(path[0, 0], path[0, 1], marker=run_marker(position), markersize=7,
                    markerfacecolor="none", markeredgecolor=color, markeredgewidth=1.5,
                    linestyle="none", path_effects=PATH_OUTLINE, zorder=START_ZORDER)
            line, = ax.plot([], [], color=color, linewidth=1.6, label=label,
                            path_effects=PATH_OUTLINE, zorder=PATH_ZORDER)
            point, = ax.plot([], [], marker=run_marker(position), markersize=7, color=color,
                             markeredgecolor="white", linestyle="none", zorder=POINT_ZORDER)
            self.paths_.append(line)
            self.points_.append(point)
        if len(self.runs) > 1:
            legend = ax.legend(handles=[
                ax.plot([], [], color=self._color(position), marker=run_marker(position),
                        label=label)[0] for position, label in enumerate(self.labels)],
                loc="upper right", fontsize=LEGEND_SIZE, framealpha=0.85)
            legend.set_zorder(SURFACE_LEGEND_ZORDER)

    def _axis_label(self, axis):
        landscape = self.landscape_
        if landscape.directions_kind == "pca":
            share = landscape.explained_variance[axis]
            return f"PC{axis + 1} ({100 * share:.1f}% of the path's variance)"
        return f"random direction {axis + 1} (filter-normalised)"

    def update(self, epoch):
        for position, path in enumerate(self.landscape_.paths):
            index = self._index(position, epoch)
            self.paths_[position].set_data(path[:index + 1, 0], path[:index + 1, 1])
            self.points_[position].set_data(path[index:index + 1, 0], path[index:index + 1, 1])
        return [*self.paths_, *self.points_]


@register("loss-line", short_title="loss from initial to final weights")
class LossLine(_LandscapeView):
    """The loss along the straight line from the initial to the final weights.

    Goodfellow et al.'s picture: the mean loss at ``initial + t (final -
    initial)`` for ``t`` from -0.25 to 1.25 (0: the initial weights, 1: the
    final ones). The moving point is the current snapshot: its weights
    projected on the line (``t``) at their own loss, so a path that leaves
    the line shows as a point off the curve.

    Args:
        run: a :class:`replay.Run`; or runs of one model (one line each): a
            list, a :class:`replay.Runs`, or a file, folder or glob of run files.
        directions: the landscape's plane, ``"pca"`` or ``"random"``.
        resolution: grid points per axis of the landscape.
        labels: the runs' legend labels (default: their names).
        landscape: a :class:`replay.landscape.Landscape` computed already
            (e.g. ``LossLandscape(...).landscape_``, to share it).
        ax: the axes to draw into; ``None`` makes a figure.
    """

    title = "Loss along the line from initial to final weights"
    figsize = (5.8, 4.0)

    def draw_static(self):
        ax, landscape = self.ax_, self.landscape_
        values = [landscape.line_loss[position] for position in range(len(self.runs))] + [
            landscape.path_loss[position] for position in range(len(self.runs))]
        finite = np.concatenate([value[np.isfinite(value)] for value in values])
        positive = finite[finite > 0]
        if positive.size and positive.max() / positive.min() > 100.0:
            ax.set_yscale("log")
            ax.set_ylim(positive.min() / 1.5, positive.max() * 1.5)
        elif finite.size:
            pad = 0.05 * max(float(finite.max() - finite.min()), 1e-6)
            ax.set_ylim(finite.min() - pad, finite.max() + pad)
        ax.set_xlim(landscape.line_t[0], landscape.line_t[-1])
        for mark in (0.0, 1.0):
            ax.axvline(mark, color="#999999", linewidth=0.8, linestyle=":")
        self.points_ = []
        for position, label in enumerate(self.labels):
            color = self._color(position)
            ax.plot(landscape.line_t, landscape.line_loss[position], color=color,
                    linewidth=1.6, label=label)
            point, = ax.plot([], [], marker=run_marker(position), markersize=7, color=color,
                             markeredgecolor="white", linestyle="none", zorder=POINT_ZORDER)
            self.points_.append(point)
        ax.set_xlabel("t (0: initial weights, 1: final weights)", fontsize=LABEL_SIZE)
        ax.set_ylabel("mean loss", fontsize=LABEL_SIZE)
        ax.set_title(self.title)
        if len(self.runs) > 1:
            # Beside the axes: the curves of several runs fill the plot at any height.
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=LEGEND_SIZE,
                      borderaxespad=0.0).set_zorder(LEGEND_ZORDER)

    def update(self, epoch):
        landscape = self.landscape_
        for position, point in enumerate(self.points_):
            index = self._index(position, epoch)
            point.set_data(landscape.path_t[position][index:index + 1],
                           landscape.path_loss[position][index:index + 1])
        return list(self.points_)
