"""Scenes of several runs: any view as a grid of runs, and overlaid history curves.

:class:`ComparisonScene` is a :class:`replay.scene.Scene` (one figure, one
epoch clock, the same writers) built by two class methods:

- :meth:`ComparisonScene.grid`: one column per run, one row per view (e.g.
  the feature space on top and the input-space boundary below: the
  "showdown"), with the runs wrapping onto more rows past ``ncols``;
- :meth:`ComparisonScene.curves`: one panel per history key with the curves
  of every run overlaid (e.g. loss and accuracy side by side).

Panels of the same view share their y-limits where that makes them
comparable (curves and histograms), so a glance across a row compares runs.
"""

import math

from replay.compare.curves import OverlaidCurves
from replay.compare.runs import open_runs, run_labels
from replay.errors import OptionError
from replay.render.scene import Scene
from replay.views.registry import VIEWS, view_spec
from replay.views.style import LEGEND_SIZE


class ComparisonScene(Scene):
    """A :class:`replay.scene.Scene` of several runs, built by :meth:`grid` or :meth:`curves`.

    It draws, renders and animates like any scene (``plot``, ``save``,
    ``animate``); the clock is the run with the fewest snapshots.

    Attributes:
        compared_runs: the runs, in column order.
        labels: their labels (the run names, or ``"file:name"`` where names repeat).
        cells: ``{(run label, view name): view}`` of a grid.
        legend_: the one legend of a grid, below the panels (``None`` when
            fewer than two panels have one): the panels' legends say the same
            for every run, so it is said once.
    """

    def __init__(self, **options):
        super().__init__(**options)
        self.compared_runs = []
        self.labels = []
        self.cells = {}
        self._panel_titles = {}
        self._shared_rows = []
        self.legend_ = None

    @classmethod
    def grid(cls, runs=None, views=("feature-space", "decision-boundary"), *, path=None,
             labels=None, ncols=None, panel_size=(4.2, 3.9), figsize=None, title_prefix="",
             share_limits=True, **options):
        """Any view across runs: one column per run, one row per view.

        Args:
            runs: the runs (``Run`` objects, ``"file.h5:run"``, run names of
                ``path``, ...; see :func:`replay.compare.open_runs`).
            views: the views of each run, top to bottom: names of registered
                views (:data:`replay.views.VIEWS`: ``"feature-space"``,
                ``"decision-boundary"``, ``"error-scatter"``,
                ``"loss-and-metric"``, ``"probability-histogram"``,
                ``"loss-histogram"``, ``"layer-violins"``) or callables
                ``run -> View``.
            path: the run file of bare run names (all its runs when ``runs``
                is None).
            labels: the run names heading each run's top panel (``"<label>:
                <view>"``, or the label alone when there is one view); ``None``
                for the run names.
            ncols: runs per row of the figure; ``None`` puts them all in one row.
            panel_size: ``(width, height)`` of one panel in inches.
            figsize: the figure size; ``None`` derives it from ``panel_size``.
            title_prefix: text before ``"Epoch N"`` in the figure title.
            share_limits: give the panels of one row of curves or histograms
                the same y-limits.
            **options: passed to the named views that declare them (see
                :func:`replay.views.registry.view_options`): ``layer`` (feature
                space; default: each run's only 2-unit hidden layer),
                ``source`` (``"train"``/``"validation"``), ``metric``,
                ``bins``, ``quantity`` (layer violins).

        Returns:
            A :class:`ComparisonScene`.

        Example:
            >>> scene = ComparisonScene.grid(["sigmoid", "tanh", "relu"], path="part1.h5")  # doctest: +SKIP
            >>> scene.save("showdown.mp4", epochs="0:150:2")                           # doctest: +SKIP
        """
        runs = open_runs(runs, path)
        labels = run_labels(runs) if labels is None else list(labels)
        if len(labels) != len(runs):
            raise OptionError(f"Got {len(labels)} labels for {len(runs)} runs.")
        views = [views] if isinstance(views, str) or callable(views) else list(views)
        if not views:
            raise OptionError("ComparisonScene.grid needs at least one view.")
        specs = [None if callable(view) else view_spec(view) for view in views]
        known = {option.name for spec in VIEWS.values() for option in spec.options}
        unknown = sorted(set(options) - known)
        if unknown:
            raise OptionError(
                f"ComparisonScene.grid got unknown option(s) {', '.join(unknown)}; the views "
                f"take {', '.join(sorted(known))}.")
        ncols = len(runs) if ncols is None else int(ncols)
        if ncols < 1:
            raise OptionError(f"ncols must be a positive integer. Got {ncols!r}.")
        ncols = min(ncols, len(runs))
        names = [view if isinstance(view, str) else getattr(view, "__name__", f"view{index}")
                 for index, view in enumerate(views)]
        built = {}
        for run, label in zip(runs, labels):
            for name, view, spec in zip(names, views, specs):
                built[(label, name)] = view(run) if spec is None else spec.build(run, **options)
        # Rows per view: its number of axes (the probability histograms have two).
        heights = [max(built[(label, name)].n_axes for label in labels) for name in names]
        block = sum(heights)
        block_rows = math.ceil(len(runs) / ncols)
        height_ratios = [1.0 / height for height in heights for _ in range(height)] * block_rows
        if figsize is None:
            figsize = (panel_size[0] * ncols,
                       panel_size[1] * len(views) * block_rows + 0.5)
        scene = cls(nrows=block * block_rows, ncols=ncols, figsize=figsize,
                    height_ratios=height_ratios, title_prefix=title_prefix)
        scene.compared_runs, scene.labels, scene.cells = runs, labels, built
        for index, label in enumerate(labels):
            top, column = block * (index // ncols), index % ncols
            for position, (name, spec, height) in enumerate(zip(names, specs, heights)):
                cell = built[(label, name)]
                positions = [(top + row, column) for row in range(cell.n_axes)]
                scene.add(cell, *positions)
                # The run's label heads its top panel ("relu: feature space");
                # with one view per run the label alone names the panel.
                scene._panel_titles[id(cell)] = (label if position == 0 else "", spec,
                                                 len(views) == 1)
                top += height
        if share_limits:
            scene._shared_rows = [[built[(label, name)] for label in labels]
                                  for name, spec in zip(names, specs)
                                  if spec is not None and spec.share_y]
        return scene

    @classmethod
    def curves(cls, runs=None, keys=("loss", "accuracy"), *, path=None, labels=None,
               validation=False, yscale="linear", panel_size=(5.0, 3.8), figsize=None,
               title_prefix=""):
        """History curves of several runs overlaid, one panel per key, side by side.

        Args:
            runs: the runs (see :meth:`grid`).
            keys: the history keys, one panel each, e.g. ``["val_accuracy",
                "val_loss"]``.
            path: the run file of bare run names.
            labels: the legend names; ``None`` for the run names.
            validation: also draw each key's ``val_`` curve (dashed) in its panel.
            yscale: ``"linear"`` or ``"log"`` for every panel, or a dict
                ``{key: scale}`` (missing keys are linear), e.g. ``{"loss": "log"}``.
            panel_size: ``(width, height)`` of one panel in inches.
            figsize: the figure size; ``None`` derives it from ``panel_size``.
            title_prefix: text before ``"Epoch N"`` in the title.

        Returns:
            A :class:`ComparisonScene`; ``scene.views`` are :class:`OverlaidCurves`.

        Example:
            >>> ComparisonScene.curves(runs, ["val_accuracy", "val_loss"]).save("val.png")  # doctest: +SKIP
        """
        runs = open_runs(runs, path)
        keys = [keys] if isinstance(keys, str) else list(keys)
        if not keys:
            raise OptionError("ComparisonScene.curves needs at least one history key.")
        labels = run_labels(runs) if labels is None else list(labels)
        if figsize is None:
            # Room on the right for the legend.
            figsize = (panel_size[0] * len(keys) + 1.6, panel_size[1] + 0.4)
        scene = cls(nrows=1, ncols=len(keys), figsize=figsize, title_prefix=title_prefix)
        scene.compared_runs, scene.labels = runs, labels
        for column, key in enumerate(keys):
            shown = [key]
            if validation and not key.startswith("val_") and all(
                    f"val_{key}" in run.history for run in runs):
                shown.append(f"val_{key}")
            scale = yscale.get(key, "linear") if isinstance(yscale, dict) else yscale
            view = OverlaidCurves(runs, shown, labels=labels, yscale=scale,
                                  legend="outside" if column == len(keys) - 1 else False)
            scene.add(view, (0, column))
            scene.cells[("all", key)] = view
        return scene

    def plot(self, epoch=-1):
        """Draw snapshot ``epoch`` and return the figure (see :meth:`Scene.plot`).

        A still picture of the last epoch of charts of the whole history
        (:meth:`curves`) is titled by its prefix only: "Epoch N" would only
        repeat where the x-axes end. Frames of animations keep it.
        """
        figure = super().plot(epoch)
        last = self.epoch_ == self.clock.n_snapshots - 1
        if last and all(getattr(view, "shows_history", False) for view in self.views):
            self._epoch_title = self.title_.get_text()
            self.title_.set_text(self.title_prefix)
            self.epoch_label_.set_text("")
        return figure

    def frame(self, epoch):
        """Move every view to snapshot ``epoch`` (see :meth:`Scene.frame`), titled "Epoch N"."""
        if getattr(self, "_epoch_title", None) is not None:
            self.title_.set_text(self._epoch_title)
            self._epoch_title = None
        return super().frame(epoch)

    def attach(self):
        """Create the figure (see :meth:`Scene.attach`), title the panels by run, share limits."""
        if self.figure_ is not None:
            return self
        super().attach()
        for view in self.views:
            if id(view) not in self._panel_titles:
                continue
            label, spec, alone = self._panel_titles[id(view)]
            short = view.ax_.get_title() if spec is None else spec.panel_title(view)
            view.ax_.set_title(label if alone else f"{label}: {short}" if label else short)
        for row in self._shared_rows:
            share_y_limits(row)
        if self.cells:
            self.legend_ = one_legend(self.figure_, list(self.cells.values()))
        return self


#: Entries of a figure legend laid out in one row up to this many.
ONE_ROW_ENTRIES = 8


def one_legend(figure, views):
    """Replace the legends of ``views``' axes by one legend of ``figure``, below the panels.

    Entries are taken once per label, in reading order (a two-column
    panel legend reads across: class 0, class 1, predicted 0, ...);
    blank padding entries are dropped. Returns the legend, or ``None``
    when fewer than two panels had one (nothing repeats: left as it is).
    """
    legends = []
    for view in views:
        axes = list(view.axes_)
        if getattr(view, "metric_ax_", None) is not None:
            axes.append(view.metric_ax_)
        legends += [(view, ax.get_legend()) for ax in axes if ax.get_legend() is not None]
    if len(legends) < 2:
        return None
    handles = {}
    for view, legend in legends:
        for handle, text in _reading_order(legend):
            if text.get_text().strip():
                handles.setdefault(text.get_text(), handle)
        legend.remove()
        if getattr(view, "legend_", None) is legend:
            view.legend_ = None
    count = len(handles)
    ncol = count if count <= ONE_ROW_ENTRIES else math.ceil(count / 2)
    return figure.legend(list(handles.values()), list(handles), loc="outside lower center",
                         ncol=ncol, fontsize=LEGEND_SIZE, frameon=False, handlelength=1.4,
                         columnspacing=1.4, handletextpad=0.4)


def _reading_order(legend):
    """``(handle, text)`` pairs of a legend row by row (matplotlib fills it column by column)."""
    pairs = list(zip(legend.legend_handles, legend.get_texts()))
    ncol = max(1, int(getattr(legend, "_ncols", 1)))
    rows = math.ceil(len(pairs) / ncol)
    return [pairs[column * rows + row] for row in range(rows) for column in range(ncol)
            if column * rows + row < len(pairs)]


def share_y_limits(views):
    """Give the matching axes of ``views`` (same kind, one per run) the union of their y-limits."""
    groups = {}
    for view in views:
        axes = list(view.axes_)
        if getattr(view, "metric_ax_", None) is not None:
            axes.append(view.metric_ax_)
        for index, ax in enumerate(axes):
            groups.setdefault(index, []).append(ax)
    for axes in groups.values():
        if len({ax.get_yscale() for ax in axes}) != 1:
            continue
        limits = [ax.get_ylim() for ax in axes]
        low, high = min(min(pair) for pair in limits), max(max(pair) for pair in limits)
        for ax, pair in zip(axes, limits):
            ax.set_ylim((low, high) if pair[0] <= pair[1] else (high, low))
