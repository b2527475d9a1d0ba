"""The contract every view follows.

A view is built from a :class:`replay.Run`, draws into one matplotlib axes
(or a few, for views such as the probability histograms), creates its
artists **once** in :meth:`View.draw_static`, and on every frame only
mutates them in :meth:`View.update`. That is what makes rendering fast:
no ``ax.clear()``, no new ``scatter``/``contourf`` per frame.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from replay.errors import EpochOutOfRangeError, OptionError


class View:
    """Base class of the views.

    Subclasses implement :meth:`draw_static` (create axes content and the
    artists, once) and :meth:`update` (set one epoch's data into the
    artists and return them).

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

    def __init__(self, run, *, ax=None):
        self.run = run
        self.ax_ = None
        self.figure_ = None
        self.epoch_ = None
        self.axes_ = []
        self._requested_ax = ax
        self._epoch_text = None

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
            self.figure_, ax = plt.subplots(1, self.n_axes, figsize=self.figsize,
                                            layout="constrained", squeeze=False)
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
        return self

    def draw_static(self):
        """Create the axes content and artists; called once. Subclasses override."""
        raise NotImplementedError

    def update(self, epoch):
        """Put snapshot ``epoch``'s data into the artists; return the changed artists."""
        raise NotImplementedError

    # -- public API ----------------------------------------------------------

    def check_epoch(self, epoch):
        """Return ``epoch`` as a valid snapshot index, or raise a clear error."""
        n = self.run.n_snapshots
        if isinstance(epoch, bool) or not hasattr(epoch, "__index__"):
            raise EpochOutOfRangeError(f"epoch must be an integer. Got {epoch!r}.")
        epoch = int(epoch)
        if not -n <= epoch < n:
            raise EpochOutOfRangeError(
                f"Epoch {epoch} is out of range for run {self.run.name!r}: it holds "
                f"snapshots 0..{n - 1} (0 is the state before training; negative values "
                f"count from the end, down to -{n})."
            )
        return epoch % n

    def plot(self, epoch=-1, *, ax=None):
        """Draw snapshot ``epoch`` (default: the last) and return the figure."""
        epoch = self.check_epoch(epoch)
        self.attach(ax)
        self._frame(epoch)
        return self.figure_

    def animate(self, epochs=None, *, interval=100, blit=False, **kwargs):
        """Return a ``matplotlib.animation.FuncAnimation`` over ``epochs``.

        Args:
            epochs: snapshot indices (default: all).
            interval: milliseconds between frames.
            blit: passed to ``FuncAnimation``.
            **kwargs: passed to ``FuncAnimation``.
        """
        epochs = resolve_epochs(self.run, epochs)
        self.attach()
        return FuncAnimation(self.figure_, self._frame, frames=epochs,
                             init_func=lambda: [], interval=interval, blit=blit, **kwargs)

    def _frame(self, epoch):
        self.epoch_ = epoch
        artists = list(self.update(epoch))
        if self._epoch_text is not None:
            self._epoch_text.set_text(epoch_title(self.run, epoch))
            artists.append(self._epoch_text)
        return artists


def epoch_title(run, epoch, prefix=""):
    """Return the title of snapshot ``epoch``: ``"Epoch N"``, after an optional prefix.

    Per-batch snapshots have fractional epochs, shown as e.g. ``"Epoch 2.5"``.
    """
    value = float(run.epochs[epoch])
    text = f"Epoch {value:g}"
    return f"{prefix} \u2014 {text}" if prefix else text


def parse_epoch_selection(text, *, name="epochs"):
    """Turn ``"start:stop:step"`` (parts optional, e.g. ``"::2"``) into a ``slice``.

    Args:
        text: the selection.
        name: what to call it in messages, e.g. ``"--epochs"``.

    Raises:
        OptionError: the text is not of that form, or its step is 0.
    """
    parts = text.split(":")
    try:
        if len(parts) > 3:
            raise ValueError(text)
        numbers = [int(part) if part.strip() else None for part in parts]
    except ValueError:
        raise OptionError(
            f"{name} {text!r} must look like start:stop:step with integers, "
            "e.g. 0:150:2 or ::5."
        ) from None
    if len(numbers) == 3 and numbers[2] == 0:
        raise OptionError(
            f"{name} {text!r}: the step cannot be 0. Use a positive step, e.g. ::2 "
            "for every second snapshot."
        )
    return slice(*numbers)


def resolve_epochs(run, epochs):
    """Turn ``None``, a ``range``, a ``slice`` or ``"start:stop:step"`` into indices."""
    n = run.n_snapshots
    if epochs is None:
        return list(range(n))
    given = epochs
    if isinstance(epochs, str):
        epochs = parse_epoch_selection(epochs)
    if isinstance(epochs, slice):
        if epochs.step == 0:
            raise OptionError(f"The epoch selection {given!r} has a step of 0; use 1 or more.")
        epochs = range(*epochs.indices(n))
    result = [int(epoch) for epoch in epochs]
    bad = [epoch for epoch in result if not -n <= epoch < n]
    if bad:
        raise EpochOutOfRangeError(
            f"Epochs {bad[:5]} are out of range for run {run.name!r}: it holds "
            f"snapshots 0..{n - 1}."
        )
    result = [epoch % n for epoch in result]
    if not result:
        raise OptionError(
            f"The epoch selection {given!r} selects no snapshot of run {run.name!r}: it "
            f"holds snapshots 0..{n - 1}."
        )
    return result
