"""The contract every view follows, and the frame contract renderers rely on.

A view is built from a :class:`replay.Run`, draws into one matplotlib axes
(or a few, for views such as the probability histograms), creates its
artists **once** in :meth:`View.draw_static`, and on every frame only
mutates them in :meth:`View.update`. That is what makes rendering fast:
no ``ax.clear()``, no new ``scatter``/``contourf`` per frame.

:class:`FrameSource` is the public contract between what is drawn (a view,
a :class:`replay.render.Scene`) and what draws frames of it
(:class:`replay.render.FrameRenderer`, ``FuncAnimation``): ``frame(epoch)``
moves the figure to one snapshot and returns the artists it changed.
"""

import sys
from typing import Protocol, runtime_checkable

import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.layout_engine import ConstrainedLayoutEngine

from replay.errors import OptionError
from replay.views.style import ERROR_COLOR


@runtime_checkable
class FrameSource(Protocol):
    """What renderers need of a figure that moves through a run's snapshots.

    Implemented by :class:`View` (a view with its own figure) and by
    :class:`replay.render.Scene`.

    Attributes:
        figure_: the figure, once :meth:`attach` has made it.
        blit_safe: True when :meth:`frame` changes nothing but the artists
            it returns (no axis limits, ticks or layout), so a renderer may
            draw the rest once and redraw only those.
    """

    figure_: object
    blit_safe: bool

    def attach(self):
        """Create the figure and draw its static part, once; return ``self``."""

    def freeze_layout(self):
        """Compute the figure's layout once and keep it for every frame."""

    def select_epochs(self, epochs=None):
        """Return the snapshot indices of a selection (see :meth:`replay.Run.select`)."""

    def frame(self, epoch):
        """Show snapshot ``epoch`` (an index); return the artists that changed."""

    def plot(self, epoch=-1):
        """Draw snapshot ``epoch`` (negative counts from the end); return the figure."""


class View:
    """Base class of the views.

    Subclasses implement :meth:`draw_static` (create axes content and the
    artists, once) and :meth:`update` (set one epoch's data into the
    artists and return them). A view is a :class:`FrameSource`: alone, it
    renders, animates and saves like a scene.

    Args:
        run: the :class:`replay.Run` to show.
        ax: the matplotlib axes to draw into; ``None`` makes a new figure.

    Attributes:
        run: the run.
        ax_: the axes drawn into (after the first :meth:`plot` / :meth:`attach`).
        figure_: its figure.
        epoch_: the epoch shown last.
    """

    #: Default figure size (inches) when the view makes its own figure.
    figsize = (5.0, 5.0)
    #: Title shown above the axes.
    title = ""
    #: How many axes the view draws into (e.g. 2 for negatives / positives).
    n_axes = 1
    #: True when :meth:`update` changes nothing but the artists it returns
    #: (no axis limits, ticks or layout), so writers may blit: draw the rest
    #: of the figure once and redraw only those artists per frame. Views
    #: that rescale their axes per epoch leave it False (full redraws).
    blit_safe = False
    #: True for charts of the whole history (curves against epochs): a still
    #: picture of the last snapshot (:meth:`plot`) is then not titled
    #: "Epoch N", which would only repeat the x-axis' end.
    shows_history = False

    def __init__(self, run, *, ax=None):
        self.run = run
        self.ax_ = None
        self.figure_ = None
        self.epoch_ = None
        self.axes_ = []
        self._requested_ax = ax
        self._epoch_text = None
        self._still = False
        self.divergence_note_ = None

    # -- setting up ----------------------------------------------------------

    def attach(self, ax=None):
        """Bind the view to ``ax`` (or a new figure) and draw its static part once.

        ``ax`` is one axes, or a sequence of :attr:`n_axes` axes for views that
        draw into several. When the view makes its own figure, the figure
        also shows the epoch ("Epoch N") as its title.
        """
        if self.ax_ is not None:
            return self
        if ax is None:
            ax = self._requested_ax
        if ax is None:
            self.figure_ = new_figure(self.figsize)
            ax = self.figure_.subplots(1, self.n_axes, squeeze=False)
            ax = list(ax.ravel())
            self._epoch_text = self.figure_.suptitle(" ")
        axes = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        if len(axes) != self.n_axes:
            raise OptionError(
                f"{type(self).__name__} draws into {self.n_axes} axes. Got {len(axes)}."
            )
        self.axes_ = axes
        self.ax_ = axes[0]
        self.figure_ = self.ax_.figure
        self.draw_static()
        self._add_divergence_note()
        return self

    def _add_divergence_note(self):
        """A note over the panel, shown from the epoch the run's loss became NaN or infinite."""
        self._diverged, self.divergence_note_ = None, None
        diverged = getattr(self.run, "diverged_epoch", None)
        if diverged is None:
            return
        loss = self.run.history["loss"][np.asarray(self.run.history["epoch"]) == diverged]
        self._diverged = diverged
        self.divergence_note_ = self.ax_.text(
            0.5, 0.5, f"diverged at epoch {diverged:g}:\nloss is {float(loss[0])}",
            transform=self.ax_.transAxes, ha="center", va="center", color=ERROR_COLOR,
            fontsize="medium", zorder=10, visible=False,
            bbox={"facecolor": "white", "edgecolor": ERROR_COLOR, "alpha": 0.9})

    def draw_static(self):
        """Create the axes content and artists; called once. Subclasses override."""
        raise NotImplementedError

    def update(self, epoch):
        """Put snapshot ``epoch``'s data into the artists; return the changed artists."""
        raise NotImplementedError

    # -- public API ----------------------------------------------------------

    def check_epoch(self, epoch):
        """Return ``epoch`` as a valid snapshot index (see :meth:`replay.Run.snapshot_index`)."""
        return self.run.snapshot_index(epoch)

    def select_epochs(self, epochs=None):
        """Return the snapshot indices of ``epochs`` (see :meth:`replay.Run.select`)."""
        return self.run.select(epochs)

    def plot(self, epoch=-1, *, ax=None):
        """Draw snapshot ``epoch`` (default: the last) and return the figure."""
        epoch = self.check_epoch(epoch)
        self.attach(ax)
        self._still = True
        try:
            self.frame(epoch)
        finally:
            self._still = False
        return self.figure_

    def animate(self, epochs=None, *, interval=100, blit=False, **kwargs):
        """Return a ``matplotlib.animation.FuncAnimation`` over ``epochs``.

        Args:
            epochs: snapshot indices (default: all).
            interval: milliseconds between frames.
            blit: passed to ``FuncAnimation``.
            **kwargs: passed to ``FuncAnimation``.
        """
        epochs = self.select_epochs(epochs)
        self.attach()
        use_bundled_ffmpeg()
        return FuncAnimation(self.figure_, self.frame, frames=epochs,
                             init_func=lambda: [], interval=interval, blit=blit, **kwargs)

    def _repr_html_(self):
        """A notebook shows the view as a video of every snapshot (see :mod:`replay.render.notebook`)."""
        from replay.render.notebook import to_html

        return to_html(self)

    def freeze_layout(self):
        """Compute the layout of the view's figure once and keep it (see :func:`freeze_layout`)."""
        self.attach()
        freeze_layout(self.figure_)

    def show(self, epoch):
        """Move the view to snapshot ``epoch``: :meth:`update`, and its divergence note.

        What a scene calls for each of its views. Returns the changed artists.
        """
        self.epoch_ = epoch
        artists = list(self.update(epoch))
        if self.divergence_note_ is not None:
            self.divergence_note_.set_visible(float(self.run.epochs[epoch]) >= self._diverged)
            artists.append(self.divergence_note_)
        return artists

    def frame(self, epoch):
        """Show snapshot ``epoch``: :meth:`show`, plus the figure title of a standalone view.

        Returns:
            The artists that changed (the :class:`FrameSource` contract).
        """
        artists = self.show(epoch)
        if self._epoch_text is not None:
            self._epoch_text.set_text(self.figure_title(epoch))
            artists.append(self._epoch_text)
        return artists

    def figure_title(self, epoch):
        """The title of the view's own figure at snapshot ``epoch`` (``"Epoch N"``).

        Empty for a still picture (:meth:`plot`) of the last snapshot of a
        view that :attr:`shows_history`: the whole run is on the x-axis.
        """
        if self._still and self.shows_history and \
                self.run.snapshot_index(epoch) == self.run.n_snapshots - 1:
            return ""
        return epoch_title(self.run, epoch)


def new_figure(figsize, *, layout="constrained"):
    """Return a new figure: pyplot's where pyplot is in use, else a plain Agg figure.

    Where the user works with pyplot (imported, or any IPython session:
    notebooks show pyplot's figures inline), the figure is pyplot's, so
    ``plt.show()`` and the inline backend see it. Elsewhere (``replay
    render``, scripts that only save) it is a ``matplotlib.figure.Figure``
    on an Agg canvas: importing pyplot and its backend machinery is most of
    the start-up of a first PNG.
    """
    if layout == "constrained":
        layout = SinglePassConstrainedLayoutEngine()
    if "matplotlib.pyplot" in sys.modules or "IPython" in sys.modules:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize, layout=layout)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(figure)
    return figure


class SinglePassConstrainedLayoutEngine(ConstrainedLayoutEngine):
    """A constrained layout engine that measures the figure once where once is enough.

    Matplotlib's constrained layout measures every axes' decorations (ticks,
    labels, titles, legends), places the axes, then measures and places them
    all again, in case the decorations changed with the new sizes. Replay's
    views mostly fix their limits, so the ticks stay and the second pass
    moves nothing: it was a third of a first PNG's drawing time. This engine
    runs the second pass only where it can matter: when the first pass
    changed a tick label the margins depend on (see :func:`_tick_label_signature`),
    or the figure has a colorbar, a figure legend or an axes of fixed aspect.
    Where matplotlib's private layout steps are not as expected, it is
    matplotlib's own engine.
    """

    def execute(self, figure):
        try:
            from matplotlib import _constrained_layout as steps

            return _single_pass_layout(steps, figure, self)
        except (ImportError, AttributeError, TypeError, KeyError):
            return self.execute_both_passes(figure)

    def execute_both_passes(self, figure):
        """Matplotlib's own constrained layout, both passes."""
        return super().execute(figure)


def _single_pass_layout(steps, figure, engine):
    """``matplotlib._constrained_layout.do_constrained_layout``, its second pass only if needed."""
    if figure.legends or any(ax.get_aspect() != "auto"
                             or getattr(ax, "_colorbar", None) is not None
                             or getattr(ax, "_colorbar_info", None) for ax in figure.axes):
        return engine.execute_both_passes(figure)
    params = engine.get()
    width, height = figure.get_size_inches()
    w_pad, h_pad = params["w_pad"] / width, params["h_pad"] / height
    spaces = {"hspace": params["hspace"], "wspace": params["wspace"]}
    renderer = figure._get_renderer()
    grids = steps.make_layoutgrids(figure, None, rect=params["rect"])
    if not grids["hasgrids"]:
        return None
    labels = _tick_label_signature(figure)
    steps.make_layout_margins(grids, figure, renderer, h_pad=h_pad, w_pad=w_pad, **spaces)
    steps.make_margin_suptitles(grids, figure, renderer, h_pad=h_pad, w_pad=w_pad)
    steps.match_submerged_margins(grids, figure)
    grids[figure].update_variables()
    if steps.check_no_collapsed_axes(grids, figure):
        steps.reposition_axes(grids, figure, renderer, h_pad=h_pad, w_pad=w_pad, **spaces)
    steps.reset_margins(grids, figure)
    if _tick_label_signature(figure) != labels:
        return engine.execute_both_passes(figure)
    return grids


def _tick_label_signature(figure):
    """What the margins of ``figure``'s axes take from their tick labels.

    For each axis: its first and last label (the overhang at the ends) and
    the length of its longest (the width of a y axis; the digits of
    DejaVu Sans, matplotlib's font, are all equally wide). More or fewer
    ticks in between change nothing the layout measures.
    """
    signature = []
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            slack = 1e-9 * max(abs(low), abs(high), 1.0)
            locations = [location for location in axis.get_majorticklocs()
                         if low - slack <= location <= high + slack]
            labels = axis.get_major_formatter().format_ticks(locations)
            signature.append((tuple(labels[:1]), tuple(labels[-1:]),
                              max(map(len, labels), default=0)))
    return signature


def close_figure(figure):
    """Take ``figure`` off pyplot's list of open figures (if pyplot made it); it stays usable."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and figure is not None:
        pyplot.close(figure)


def use_bundled_ffmpeg():
    """Point matplotlib's animation writers at imageio-ffmpeg's ffmpeg, and let
    ``to_jshtml()`` embed long animations.

    ``FuncAnimation.to_html5_video()`` looks for ``ffmpeg`` on the PATH, where
    there usually is none; replay depends on imageio-ffmpeg, which ships one.
    ``to_jshtml()`` drops frames past ``animation.embed_limit`` (20 MB by
    default, about 60 five-panel frames): raised to 200 MB.
    """
    import shutil

    import matplotlib as mpl

    configured = mpl.rcParams["animation.ffmpeg_path"]
    if not shutil.which(configured):
        import imageio_ffmpeg

        mpl.rcParams["animation.ffmpeg_path"] = imageio_ffmpeg.get_ffmpeg_exe()
    mpl.rcParams["animation.embed_limit"] = max(mpl.rcParams["animation.embed_limit"], 200)


def epoch_title(run, epoch, prefix=""):
    """Return the title of snapshot ``epoch``: ``"Epoch N"``, after an optional prefix.

    Per-batch snapshots have fractional epochs, shown as e.g. ``"Epoch 2.5"``.
    """
    value = float(run.epochs[epoch])
    text = f"Epoch {value:g}"
    return f"{prefix} \u2014 {text}" if prefix else text


def freeze_layout(figure):
    """Run the figure's layout engine once (as a draw would), then switch it off.

    Later draws then skip the layout engine: frames never move the axes.
    """
    engine = figure.get_layout_engine()
    if engine is not None:
        engine.execute(figure)
    figure.set_layout_engine("none")


def resolve_epochs(run, epochs):
    """Turn ``None``, a ``range``, a ``slice`` or ``"start:stop:step"`` into indices.

    The same as ``run.select(epochs)`` (:meth:`replay.Run.select`).
    """
    return run.select(epochs)
