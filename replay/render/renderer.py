"""Drawing the frames of a scene or a view into pixels, blitting when it can.

How frames are made fast (see :class:`FrameRenderer`): the figure's layout
is computed once and frozen; everything that does not change between epochs
is drawn once and kept as a pixel background; each frame restores that
background and draws only the artists the :class:`replay.views.FrameSource`
returned as changed (blitting).
"""

import numpy as np
from matplotlib.axis import Axis

from replay.errors import OptionError
from replay.views.base import FrameSource


def as_frame_source(source):
    """Return ``source`` if it is a :class:`replay.views.FrameSource` (a scene or a view), or raise."""
    if isinstance(source, FrameSource):
        return source
    raise OptionError(f"Expected a Scene or a View to render. Got {type(source).__name__}.")


class FrameRenderer:
    """Draws the frames of a :class:`replay.views.FrameSource` into RGBA pixels, blitting when it can.

    :meth:`prepare` freezes the layout, draws the first frame's changing
    artists once to learn which they are, marks them *animated* (matplotlib
    then leaves them out of a full draw), draws the rest of the figure once
    and keeps its pixels. Static artists lying *above* a changing one in the
    same axes (spines, legends, threshold lines, points over regions) are
    treated as changing too, so the stacking order stays right.

    Args:
        source: a scene or a view.
        dpi: pixels per inch.
        blit: allow blitting (used only when ``source.blit_safe``).
    """

    def __init__(self, source, *, dpi=100, blit=True):
        self.source = as_frame_source(source)
        self.dpi = dpi
        self.blit = bool(blit) and self.source.blit_safe
        self._background = None
        self._draw_order = []
        self._animated = set()

    @property
    def size(self):
        """``(width, height)`` of the frames in pixels (made even for H.264)."""
        width, height = self.source.figure_.canvas.get_width_height(physical=True)
        return width - width % 2, height - height % 2

    def prepare(self, first_epoch):
        """Lay the figure out and, when blitting, draw and keep the static background."""
        self.source.attach()
        figure = self.source.figure_
        figure.set_dpi(self.dpi)
        self.source.freeze_layout()
        if not self.blit:
            return
        changing = self.source.frame(first_epoch)
        self._draw_order = blit_draw_order(figure, changing)
        self._animated = {id(artist) for artist in changing}
        for artist in self._draw_order:
            artist.set_animated(True)
        figure.canvas.draw()
        self._background = figure.canvas.copy_from_bbox(figure.bbox)

    def render(self, epoch):
        """Draw snapshot ``epoch``; return its pixels ``(height, width, 4)`` (a view).

        The array is the canvas's own buffer: copy it before the next call.
        """
        figure = self.source.figure_
        canvas = figure.canvas
        changing = self.source.frame(epoch)
        if self.blit and any(id(artist) not in self._animated for artist in changing):
            self._stop_blitting()
        if self.blit:
            canvas.restore_region(self._background)
            for artist in self._draw_order:
                figure.draw_artist(artist)
        else:
            canvas.draw()
        width, height = self.size
        return np.asarray(canvas.buffer_rgba())[:height, :width]

    def finish(self):
        """Give the artists back to ordinary drawing (``plot``/``savefig`` draw them again)."""
        for artist in self._draw_order:
            artist.set_animated(False)
        self._background = None

    def _stop_blitting(self):
        # A view returned an artist it did not return before: its contract
        # is broken, so fall back to correct (slower) full redraws.
        self.finish()
        self.blit = False


def blit_draw_order(figure, changing):
    """Return the artists to redraw per frame, in the order matplotlib draws them.

    Args:
        figure: the figure.
        changing: the artists the views change per frame.

    Returns:
        For each axes (in drawing order) its changing artists plus the static
        ones stacked above them, sorted by ``zorder``; then the changing
        figure-level artists (the title).
    """
    changing_ids = {id(artist) for artist in changing}
    order = []
    for ax in sorted(figure.axes, key=lambda ax: ax.get_zorder()):
        children = ax.get_children()
        own = [child for child in children if id(child) in changing_ids]
        if not own:
            continue
        lowest = min(child.get_zorder() for child in own)
        skipped = {id(ax.patch), id(ax.title), id(ax._left_title), id(ax._right_title)}
        above = [child for child in children
                 if id(child) not in changing_ids and id(child) not in skipped
                 and not isinstance(child, Axis) and child.get_visible()
                 and child.get_zorder() >= lowest]
        order.extend(sorted(own + above, key=lambda artist: artist.get_zorder()))
    in_axes = {id(artist) for artist in order}
    order.extend(artist for artist in changing if id(artist) not in in_axes)
    return order
