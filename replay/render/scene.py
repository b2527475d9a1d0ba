"""Scenes: several views on one figure, one epoch clock and one title.

A :class:`Scene` lays its views out on a grid of the figure (computed once,
then frozen, so frames never re-run the layout), shows ``"Epoch N"`` as the
figure title and moves every view to the same epoch. It is a
:class:`replay.views.FrameSource`, like a single view. The articles' figures
are presets (:mod:`replay.render.presets`): :meth:`Scene.part1` (the
five-panel figure of the activation-function experiment) and
:meth:`Scene.part2` (the layer violins of the initializer experiment).
"""

from matplotlib.animation import FuncAnimation
from matplotlib.text import Annotation

from replay.errors import OptionError
from replay.render import presets
from replay.render.notebook import to_html
from replay.render.save import save
from replay.views.base import freeze_layout, new_figure, use_bundled_ffmpeg

#: Font size of the scene title.
TITLE_SIZE = "x-large"


class Scene:
    """Several views on one figure, driven by one epoch clock.

    Args:
        nrows: rows of the layout grid.
        ncols: columns of the layout grid.
        figsize: figure size in inches.
        width_ratios: relative column widths.
        height_ratios: relative row heights.
        title_prefix: text before ``"Epoch N"`` in the title, e.g. the run name.

    Attributes:
        views: the views, in the order added.
        figure_: the figure (after :meth:`attach`, :meth:`plot` or a render).
        title_: the static part of the title (``"prefix — Epoch"``).
        epoch_label_: the epoch number after it. Only the number is redrawn
            per frame: text is costly to draw, glyph by glyph.

    Example:
        ```python
        scene = Scene(nrows=1, ncols=2, figsize=(10, 5), title_prefix="relu")
        scene.add(FeatureSpace(run, layer="hidden"), (0, 0))
        scene.add(DecisionBoundary(run), (0, 1))
        scene.plot(epoch=60).savefig("epoch60.png")
        scene.save("relu.mp4", fps=10)
        ```
    """

    def __init__(self, *, nrows=1, ncols=1, figsize=(12.0, 6.0), width_ratios=None,
                 height_ratios=None, title_prefix=""):
        self.nrows, self.ncols = int(nrows), int(ncols)
        self.figsize = tuple(figsize)
        self.width_ratios = width_ratios
        self.height_ratios = height_ratios
        self.title_prefix = title_prefix
        self.views = []
        self._positions = []
        self.figure_ = None
        self.title_ = None
        self.epoch_label_ = None
        self.epoch_ = None

    # -- composing -----------------------------------------------------------

    def add(self, view, *positions):
        """Place ``view`` on the grid and return it.

        Args:
            view: a :class:`replay.views.View`.
            *positions: one grid position per axes of the view (most views
                have one; :class:`ProbabilityHistogram` has two), each an
                index into the grid such as ``(0, 1)`` or ``(slice(None), 0)``.
        """
        if self.figure_ is not None:
            raise OptionError("Add every view before the scene is first drawn.")
        if len(positions) != view.n_axes:
            raise OptionError(
                f"{type(view).__name__} draws into {view.n_axes} axes; give "
                f"{view.n_axes} grid position(s). Got {len(positions)}."
            )
        self.views.append(view)
        self._positions.append(positions)
        return view

    @property
    def runs(self):
        """The distinct runs of the views."""
        runs = []
        for view in self.views:
            if all(view.run is not run for run in runs):
                runs.append(view.run)
        return runs

    @property
    def clock(self):
        """The run whose epochs the title shows (the one with the fewest snapshots)."""
        if not self.views:
            raise OptionError("The scene has no views; add some with Scene.add(view, position).")
        return min(self.runs, key=lambda run: run.n_snapshots)

    @property
    def blit_safe(self):
        """Whether every view only changes the artists it returns (see ``View.blit_safe``)."""
        return all(view.blit_safe for view in self.views)

    # -- drawing -------------------------------------------------------------

    def attach(self):
        """Create the figure, lay the views out and draw their static parts (once)."""
        if self.figure_ is not None:
            return self
        clock = self.clock
        figure = new_figure(self.figsize)
        grid = figure.add_gridspec(self.nrows, self.ncols, width_ratios=self.width_ratios,
                                   height_ratios=self.height_ratios)
        for view, positions in zip(self.views, self._positions):
            axes = [figure.add_subplot(grid[position]) for position in positions]
            view.attach(axes if view.n_axes > 1 else axes[0])
        self.title_ = figure.suptitle(
            f"{self.title_prefix} \u2014 Epoch" if self.title_prefix else "Epoch",
            fontsize=TITLE_SIZE)
        # The number sits right after the static text, on the same baseline.
        self.epoch_label_ = Annotation(
            f" {clock.epochs[0]:g}", xy=(1.0, 0.0), xycoords=self.title_, ha="left",
            va="bottom", fontsize=TITLE_SIZE)
        figure.add_artist(self.epoch_label_)
        self._snapshot_epochs = clock.epochs
        self.figure_ = figure
        return self

    @property
    def title_text(self):
        """The whole title as shown, e.g. ``"sigmoid — Epoch 60"``."""
        return self.title_.get_text() + self.epoch_label_.get_text()

    def freeze_layout(self):
        """Compute the layout once and keep it: later draws skip the layout engine."""
        self.attach()
        freeze_layout(self.figure_)

    def check_epoch(self, epoch):
        """Return ``epoch`` as a snapshot index of the clock (see :meth:`replay.Run.snapshot_index`)."""
        return self.clock.snapshot_index(epoch)

    def frame(self, epoch):
        """Move every view to snapshot ``epoch``; return the changed artists."""
        artists = []
        for view in self.views:
            artists.extend(view.show(epoch))
        self.epoch_label_.set_text(f" {self._snapshot_epochs[epoch]:g}")
        artists.append(self.epoch_label_)
        self.epoch_ = epoch
        return artists

    def plot(self, epoch=-1):
        """Draw snapshot ``epoch`` (default: the last) and return the figure."""
        epoch = self.check_epoch(epoch)
        self.attach()
        self.frame(epoch)
        return self.figure_

    def select_epochs(self, epochs=None):
        """Return the snapshot indices of a selection of the clock (see :meth:`replay.Run.select`)."""
        return self.clock.select(epochs)

    def animate(self, epochs=None, *, interval=100, **kwargs):
        """Return a ``matplotlib.animation.FuncAnimation`` over ``epochs`` (for notebooks)."""
        epochs = self.select_epochs(epochs)
        self.freeze_layout()
        use_bundled_ffmpeg()
        return FuncAnimation(self.figure_, self.frame, frames=epochs,
                             init_func=lambda: [], interval=interval, **kwargs)

    def _repr_html_(self):
        """A notebook shows the scene as a video of every snapshot (see :mod:`replay.render.notebook`)."""
        return to_html(self)

    def save(self, path, *, epochs=None, epoch=-1, fps=10, dpi=None, progress=None, **options):
        """Render to ``path``: ``.mp4`` / ``.gif`` (``epochs``) or ``.png`` (``epoch``).

        See :func:`replay.render.save` for the options.
        """
        return save(self, path, epochs=epochs, epoch=epoch, fps=fps, dpi=dpi,
                    progress=progress, **options)

    # -- the articles' figures (replay.render.presets) --------------------------

    @classmethod
    def default(cls, run, layer=None, **options):
        """The figure that fits the run: the part-1 figure, or the regression figure.

        What ``replay render`` draws. See :func:`replay.render.presets.default`.
        """
        return presets.default(cls, run, layer, **options)

    @classmethod
    def part1(cls, run, layer=None, **options):
        """The five-panel figure of the activation-function experiment.

        See :func:`replay.render.presets.part1` for the options.
        """
        return presets.part1(cls, run, layer, **options)

    @classmethod
    def part2(cls, run, **options):
        """The four-panel violin figure of the weight-initializer experiment.

        See :func:`replay.render.presets.part2` for the options.
        """
        return presets.part2(cls, run, **options)
