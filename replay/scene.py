"""Scenes: several views on one figure, one epoch clock and one title.

A :class:`Scene` lays its views out on a grid of the figure (computed once,
then frozen, so frames never re-run the layout), shows ``"Epoch N"`` as the
figure title and moves every view to the same epoch. :meth:`Scene.part1`
builds the five-panel figure of the articles' activation-function
experiment.
"""

import matplotlib.pyplot as plt
from matplotlib.animation import FuncAnimation
from matplotlib.text import Annotation

from replay.errors import LayerNotFoundError, OptionError
from replay.views.base import resolve_epochs

#: Font size of the scene title.
TITLE_SIZE = "x-large"


class Scene:
    """Several views on one figure, driven by one epoch clock.

    Args:
        nrows, ncols: the layout grid.
        figsize: figure size in inches.
        width_ratios, height_ratios: relative column widths / row heights.
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
        figure = plt.figure(figsize=self.figsize, layout="constrained")
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
        """Return ``epoch`` as a valid snapshot index of every view, or raise."""
        clock = self.clock
        return next(view for view in self.views if view.run is clock).check_epoch(epoch)

    def update(self, epoch):
        """Move every view to snapshot ``epoch``; return the changed artists."""
        artists = []
        for view in self.views:
            view.epoch_ = epoch
            artists.extend(view.update(epoch))
        self.epoch_label_.set_text(f" {self._snapshot_epochs[epoch]:g}")
        artists.append(self.epoch_label_)
        self.epoch_ = epoch
        return artists

    def plot(self, epoch=-1):
        """Draw snapshot ``epoch`` (default: the last) and return the figure."""
        epoch = self.check_epoch(epoch)
        self.attach()
        self.update(epoch)
        return self.figure_

    def epochs(self, epochs=None):
        """Resolve an epoch selection (``None``, range, slice, ``"a:b:c"``) to indices."""
        return resolve_epochs(self.clock, epochs)

    def animate(self, epochs=None, *, interval=100, **kwargs):
        """Return a ``matplotlib.animation.FuncAnimation`` over ``epochs`` (for notebooks)."""
        epochs = self.epochs(epochs)
        self.freeze_layout()
        return FuncAnimation(self.figure_, self.update, frames=epochs,
                             init_func=lambda: [], interval=interval, **kwargs)

    def save(self, path, *, epochs=None, epoch=-1, fps=10, dpi=100, progress=True, **options):
        """Render to ``path``: ``.mp4`` / ``.gif`` (``epochs``) or ``.png`` (``epoch``).

        See :func:`replay.writers.save` for the options.
        """
        from replay.writers import save

        return save(self, path, epochs=epochs, epoch=epoch, fps=fps, dpi=dpi,
                    progress=progress, **options)

    # -- ready-made scenes ---------------------------------------------------

    @classmethod
    def part1(cls, run, layer=None, *, title_prefix="", figsize=(12.0, 6.0), bins=10,
              metric="accuracy", source="train"):
        """The five-panel figure of the activation-function experiment.

        Feature space of ``layer`` (large, left); probability histograms of
        negatives and positives; loss and ``metric`` against epochs; the
        histogram of per-sample losses; title ``"Epoch N"``.

        Args:
            run: the :class:`replay.Run`.
            layer: the hidden layer of the feature space; ``None`` picks the
                run's only 2-unit hidden layer (see :func:`default_layer`).
            title_prefix: text before ``"Epoch N"``, e.g. the run name.
            figsize: figure size in inches.
            bins: bins of the probability histograms.
            metric: the metric of the curves.
            source: ``"train"`` or ``"validation"`` samples.
        """
        from replay.views import FeatureSpace, LossAndMetric, LossHistogram, ProbabilityHistogram

        layer = default_layer(run) if layer is None else layer
        scene = cls(nrows=2, ncols=3, figsize=figsize, width_ratios=(1.9, 1.0, 1.0),
                    title_prefix=title_prefix)
        scene.add(FeatureSpace(run, layer, source=source), (slice(None), 0))
        scene.add(ProbabilityHistogram(run, source=source, bins=bins), (0, 1), (0, 2))
        scene.add(LossAndMetric(run, metric=metric), (1, 1))
        scene.add(LossHistogram(run, source=source), (1, 2))
        return scene

    @classmethod
    def showdown(cls, runs, layer=None, *, figsize=None, title_prefix=""):
        """Several runs side by side: feature space on top, input-space boundary below.

        The "showdown" figure of the activation-function experiment (e.g. the
        sigmoid, tanh and relu runs of one file), one column per run, on one
        epoch clock.

        Args:
            runs: the :class:`replay.Run` objects, one column each.
            layer: the hidden layer of the feature spaces; ``None`` picks each
                run's only 2-unit hidden layer.
            figsize: figure size in inches (default: 4.5 in per run, 8.5 in high).
            title_prefix: text before ``"Epoch N"``.
        """
        from replay.views import DecisionBoundary, FeatureSpace

        runs = list(runs)
        if not runs:
            raise OptionError("Scene.showdown needs at least one run.")
        figsize = (4.5 * len(runs), 8.5) if figsize is None else figsize
        scene = cls(nrows=2, ncols=len(runs), figsize=figsize, title_prefix=title_prefix)
        for column, run in enumerate(runs):
            feature_space = FeatureSpace(run, default_layer(run) if layer is None else layer)
            feature_space.title = f"{run.name}: feature space"
            boundary = DecisionBoundary(run)
            boundary.title = f"{run.name}: input space"
            scene.add(feature_space, (0, column))
            scene.add(boundary, (1, column))
        return scene

    @classmethod
    def part2(cls, run, *, layers=None, include_inputs=False, ylim=None, title_prefix=None,
              figsize=(11.0, 7.5), source="train"):
        """The four-panel figure of the weight-initializer experiment.

        Violins per layer of z-values (top left), weights (top right),
        activations (bottom left) and gradients (bottom right); the title
        names the activation and the kernel initializer, e.g.
        ``"sigmoid + RandomNormal(σ=0.01) — Epoch 0"``.

        Args:
            run: the :class:`replay.Run` (recorded with gradients, the
                default for small models).
            layers: the layers to show; ``None`` for every hidden layer.
            include_inputs: add an ``inputs`` violin to the z-value and
                activation panels.
            ylim: y-limits of every panel (see :class:`LayerViolins`): ``None``
                fixes them over the whole run (bounded activations: their
                range), ``"frame"`` fits each snapshot (best for one picture; bounded
                activations keep their range).
            title_prefix: text before ``"Epoch N"``; ``None`` for
                ``"<activation> + <initializer>"``.
            figsize: figure size in inches.
            source: ``"train"`` or ``"validation"`` samples.
        """
        from replay.views.layer_violins import (
            LayerViolins,
            activation_range,
            describe_initializer,
        )

        if title_prefix is None:
            names = layers or run.hidden_layers or run.layer_names
            activations = sorted({run.layer(name).activation for name in names})
            initializer = describe_initializer(run, names[0] if names else None)
            title_prefix = " / ".join(activations) + (f" + {initializer}" if initializer else "")
        scene = cls(nrows=2, ncols=2, figsize=figsize, title_prefix=title_prefix)
        for quantity, position in (("preactivations", (0, 0)), ("weights", (0, 1)),
                                   ("activations", (1, 0)), ("gradients", (1, 1))):
            inputs = include_inputs and quantity in ("preactivations", "activations")
            # Sigmoid/tanh activations keep their full range even per frame:
            # squeezed activations are what the figure is there to show.
            bounded = activation_range(run, layers or run.hidden_layers) is not None
            limits = None if quantity == "activations" and ylim == "frame" and bounded else ylim
            scene.add(LayerViolins(run, quantity, layers=layers, include_inputs=inputs,
                                   ylim=limits, source=source), position)
        return scene


def freeze_layout(figure):
    """Run the figure's layout engine once (as a draw would), then switch it off."""
    engine = figure.get_layout_engine()
    if engine is not None:
        engine.execute(figure)
    figure.set_layout_engine("none")


def default_layer(run):
    """Return the run's only 2-unit hidden layer, or raise an error listing the candidates."""
    candidates = [layer.name for layer in run.layers if layer.hidden and layer.units == 2]
    if len(candidates) == 1:
        return candidates[0]
    hidden = ", ".join(f"{layer.name} ({layer.units} units)"
                       for layer in run.layers if layer.hidden) or "none"
    reason = "several 2-unit hidden layers" if candidates else "no 2-unit hidden layer"
    raise LayerNotFoundError(
        f"Run {run.name!r} of '{run.path}' has {reason}; choose the layer of the "
        f"feature space (layer=... or --layer). Hidden layers: {hidden}. "
        "Wider layers are shown through a fixed 2-D PCA projection."
    )
