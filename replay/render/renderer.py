"""Drawing the frames of a scene or a view into pixels, blitting when it can.

How frames are made fast (see :class:`FrameRenderer`): the figure's layout
is computed once and frozen; everything that does not change between epochs
is drawn once and kept as a pixel background; each frame restores that
background and draws only the artists the :class:`replay.views.FrameSource`
returned as changed (blitting). Static artists stacked *above* a changing
one (the samples and grid over the decision regions, spines) are drawn once
too, into transparent :class:`Overlay` layers composited over the changed
artists in their stacking order.
"""

import numpy as np
from matplotlib.axis import Axis
from matplotlib.transforms import Bbox

from replay.errors import OptionError

#: The members of the :class:`replay.views.FrameSource` protocol. Checked by
#: name, as ``isinstance`` on the runtime-checkable protocol would: the
#: renderer stays free of ``replay.views``, so a view can render itself
#: (its notebook display) without an import circle.
FRAME_SOURCE_MEMBERS = ("figure_", "blit_safe", "attach", "freeze_layout", "select_epochs",
                        "frame", "plot")


def as_frame_source(source):
    """Return ``source`` if it is a :class:`replay.views.FrameSource` (a scene or a view), or raise."""
    if all(hasattr(source, member) for member in FRAME_SOURCE_MEMBERS):
        return source
    raise OptionError(f"Expected a Scene or a View to render. Got {type(source).__name__}.")


class FrameRenderer:
    """Draws the frames of a :class:`replay.views.FrameSource` into RGBA pixels, blitting when it can.

    :meth:`prepare` freezes the layout, draws the first frame's changing
    artists once to learn which they are, marks them *animated* (matplotlib
    then leaves them out of a full draw), draws the rest of the figure once
    and keeps its pixels. Static artists lying *above* a changing one in the
    same axes (spines, legends, threshold lines, points over regions) must
    stay above it: each run of them between two changing artists is drawn
    once into a transparent :class:`Overlay`, which every frame composites at
    its place in the stacking order instead of drawing those artists again.

    Args:
        source: a scene or a view.
        dpi: pixels per inch.
        blit: allow blitting (used only when ``source.blit_safe``).
        overlays: draw the static artists above changing ones once, as
            overlays (``False`` redraws them every frame, as matplotlib's own
            blitting does; the pictures are the same within a level or two of
            rounding where antialiased edges overlap).
    """

    def __init__(self, source, *, dpi=100, blit=True, overlays=True):
        self.source = as_frame_source(source)
        self.dpi = dpi
        self.blit = bool(blit) and self.source.blit_safe
        self.overlays = bool(overlays)
        self._background = None
        self._draw_order = []
        self._steps = []
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
        self._steps = self._plan_steps(figure) if self.overlays else list(self._draw_order)

    def _plan_steps(self, figure):
        """Group the static artists of the draw order into overlays, drawn once now."""
        steps = []  # changing artists, and lists of consecutive static ones of one axes
        for artist in self._draw_order:
            if id(artist) in self._animated:
                steps.append(artist)
            elif steps and isinstance(steps[-1], list) and steps[-1][-1].axes is artist.axes:
                steps[-1].append(artist)
            else:
                steps.append([artist])
        canvas = figure.canvas
        pixels = np.asarray(canvas.buffer_rgba())
        planned = []
        for step in steps:
            if not isinstance(step, list):
                planned.append(step)
                continue
            rows, columns = pixel_box(figure, step, pixels.shape[:2])
            region = pixels[rows, columns]
            drawn = []
            for backdrop in (0, 255):  # over black, then over white
                region[..., :3] = backdrop
                region[..., 3] = 255
                for artist in step:
                    figure.draw_artist(artist)
                drawn.append(region[..., :3].copy())
            overlay = Overlay(*drawn, origin=(rows.start, columns.start),
                              width=pixels.shape[1])
            if overlay:
                planned.append(overlay)
        canvas.restore_region(self._background)
        return planned

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
            pixels = None
            for step in self._steps:
                if isinstance(step, Overlay):
                    if pixels is None:
                        pixels = np.asarray(canvas.buffer_rgba())
                    step.composite(pixels)
                else:
                    figure.draw_artist(step)
        else:
            canvas.draw()
        width, height = self.size
        return np.asarray(canvas.buffer_rgba())[:height, :width]

    def finish(self):
        """Give the artists back to ordinary drawing (``plot``/``savefig`` draw them again)."""
        for artist in self._draw_order:
            artist.set_animated(False)
        self._background = None
        self._steps = []

    def _stop_blitting(self):
        # A view returned an artist it did not return before: its contract
        # is broken, so fall back to correct (slower) full redraws.
        self.finish()
        self.blit = False


class Overlay:
    """Static artists drawn once, composited onto every frame as Agg would draw them.

    Drawing artists onto opaque pixels maps each colour channel linearly:
    ``out = covered + below * (1 - coverage)``. The artists are drawn once
    over black (giving ``covered``) and once over white (giving the
    coverage), so each frame only blends the pixels they touch, with the
    same antialiasing, transparency and overlaps as a redraw (up to a few
    levels of rounding where many antialiased edges overlap). Pixels they
    cover fully are copied.

    Args:
        over_black: ``(rows, columns, 3)`` the artists drawn over black, in
            a box of the frame.
        over_white: the same over white.
        origin: ``(row, column)`` of the box in the frame.
        width: width of the frame in pixels.
    """

    def __init__(self, over_black, over_white, *, origin=(0, 0), width=None):
        rows, columns = over_black.shape[:2]
        width = columns if width is None else width
        black = over_black.reshape(-1, 3)
        white = over_white.reshape(-1, 3)
        seen = (white - black).astype(np.uint16)  # 255 * (1 - coverage), per channel
        touched = np.flatnonzero(np.any((black != 0) | (white != 255), axis=1))
        # Positions in the whole frame, row-major.
        frame_index = ((origin[0] + touched // columns) * width
                       + origin[1] + touched % columns)
        opaque = np.all(seen[touched] == 0, axis=1)
        # Byte positions (RGB of each pixel) in the flat RGBA frame: 1-D take/put
        # is several times faster than indexing rows of an (n, 4) view.
        channels = np.arange(3)
        self.opaque_index = (frame_index[opaque, None] * 4 + channels).ravel()
        self.opaque_rgb = black[touched[opaque]].ravel()
        partial = touched[~opaque]
        self.partial_index = (frame_index[~opaque, None] * 4 + channels).ravel()
        self.partial_rgb = black[partial].astype(np.uint16).ravel() * 255 + 127
        self.partial_seen = seen[partial].ravel()

    def __len__(self):
        return (len(self.opaque_index) + len(self.partial_index)) // 3

    def composite(self, pixels):
        """Draw the overlay onto ``pixels`` ``(height, width, 4)`` (opaque) in place."""
        flat = pixels.reshape(-1)
        if len(self.partial_index):
            below = flat.take(self.partial_index) * self.partial_seen
            below += self.partial_rgb
            below //= 255
            flat.put(self.partial_index, below)
        if len(self.opaque_index):
            flat.put(self.opaque_index, self.opaque_rgb)


def pixel_box(figure, artists, shape, *, margin=10):
    """Return ``(rows, columns)`` slices of the frame that hold everything ``artists`` draw.

    The union of their window extents (within their clip boxes), widened by
    ``margin`` pixels for line widths; the whole frame when an extent is unknown.
    """
    height, width = shape
    renderer = figure.canvas.get_renderer()
    boxes = []
    for artist in artists:
        try:
            box = artist.get_tightbbox(renderer)  # what it draws, within its clip box
        except Exception:  # an artist without a usable extent: take the whole frame
            return slice(0, height), slice(0, width)
        if box is None:
            continue
        if not np.all(np.isfinite(box.extents)):
            return slice(0, height), slice(0, width)
        boxes.append(box)
    if not boxes:
        return slice(0, 0), slice(0, 0)
    box = Bbox.union(boxes)
    x0 = int(np.clip(np.floor(box.x0) - margin, 0, width))
    x1 = int(np.clip(np.ceil(box.x1) + margin, 0, width))
    # Display y grows upwards, rows downwards.
    row0 = int(np.clip(np.floor(height - box.y1) - margin, 0, height))
    row1 = int(np.clip(np.ceil(height - box.y0) + margin, 0, height))
    return slice(row0, row1), slice(x0, x1)


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
        # The axes' ticks and labels stay in the background: drawing them (twice)
        # into overlays costs a fifth of a second per render for a few pixels
        # where a tick meets a spine (blended in another order than a full draw).
        above = [child for child in children
                 if id(child) not in changing_ids and id(child) not in skipped
                 and not isinstance(child, Axis) and child.get_visible()
                 and child.get_zorder() >= lowest]
        order.extend(sorted(own + above, key=lambda artist: artist.get_zorder()))
    in_axes = {id(artist) for artist in order}
    order.extend(artist for artist in changing if id(artist) not in in_axes)
    return order
