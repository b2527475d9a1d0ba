"""GIFs small enough to travel: one palette for the whole animation, only changed pixels per frame.

A GIF frame is at most 256 colours and is compressed row by row with LZW,
which does well on long runs of one value and pays for every switch. So
:class:`GifWriter`:

- uses **one palette for the whole animation** (:func:`palette_from_frames`),
  built from a sample of frames before the stream starts (16 frames, so
  memory stays bounded): a median cut refined by weighted k-means, so that
  large shaded areas get many close colours, with the colours covering
  large areas (the white background, black text) kept exact. With one
  palette a pixel that did not change keeps its index;
- maps each frame to it **without dithering**, through colour cells of
  :data:`CELL_BITS` bits per channel (:class:`GifPalette`): a colour that
  drifts by a level or two from one epoch to the next keeps its index;
  dithering patterns cost bytes and make still pixels flicker;
- writes only the **rectangle that changed** since the previous frame, with
  the unchanged pixels in it **transparent** (the previous frame shows
  through); short gaps between changed pixels of a row are written as they
  are, which LZW codes more cheaply than switching to transparency and back;
  short runs of changed pixels already within ``tolerance`` levels of the
  new colours stay as shown (:func:`changed_block`); the last frame is exact;
- streams: frames are quantized and encoded in a thread while the next ones
  are drawn, and written as they come (Pillow's GIF LZW encoder, through
  ``GifImagePlugin.getheader``/``getdata``); the last frame can be held
  (``hold_last``) and the animation loop forever, N times or play once.

Measured on the 151-frame five-panel part-1 animation at 1200 x 600
(``scripts/bench_media.py``): 3.9 MB with the defaults (96 colours,
tolerance 8), 4.6 MB with 256 colours and every change re-sent, 5.1 MB with
ffmpeg's ``paletteuse`` on the same palette, 18.1 MB with a palette per
frame. Ordered or error-diffusion dithering adds 10-40 %.
"""

import os
import queue
import threading

import numpy as np
from PIL import GifImagePlugin, Image

from replay.errors import EncodingError, OptionError
from replay.render.sizes import check_frame_size

#: Frames sampled to build the palette of an animation.
PALETTE_SAMPLES = 16
#: Colours covering at least this share of the sampled pixels are kept exact.
EXACT_SHARE = 0.002
#: Gaps of at most this many unchanged pixels between changed ones are written as they are.
GAP_FILL = 12
#: Largest colour difference (levels) a run of changed pixels may keep showing.
TOLERANCE = 8
#: Longest run (pixels) that may keep showing: longer ones would leave streaks in smooth areas.
HOLD_RUN = 8
#: Rounds of weighted k-means refining the median-cut palette.
KMEANS_ROUNDS = 8
#: Browsers show GIF delays below 2 centiseconds as 10: the highest frame rate that plays right.
MAX_GIF_FPS = 50
#: Bits per channel of the colour cells that map to one palette entry.
CELL_BITS = 5
#: Frames waiting for the writer thread.
QUEUE_FRAMES = 4


def check_colors(colors):
    """Return the number of palette colours of ``colors`` (2 to 256; 255 are usable)."""
    if isinstance(colors, bool) or not isinstance(colors, (int, np.integer)) \
            or not 2 <= colors <= 256:
        raise OptionError(f"colors must be an integer from 2 to 256. Got {colors!r}.")
    return min(int(colors), 255)  # one index is the transparent colour


def sample_indices(n_frames, samples=PALETTE_SAMPLES):
    """Return up to ``samples`` evenly spaced indices of ``range(n_frames)``, ends included."""
    if n_frames <= samples:
        return list(range(n_frames))
    return sorted(set(np.linspace(0, n_frames - 1, samples).round().astype(int).tolist()))


def palette_from_frames(frames, colors=256, *, exact_share=EXACT_SHARE,
                        rounds=KMEANS_ROUNDS, bits=None):
    """Return one :class:`GifPalette` for all ``frames`` (a sample of an animation).

    A median cut of the sampled pixels (Pillow), refined by ``rounds`` of
    k-means weighted by pixel counts, so that large smooth areas get many
    close colours; then every colour covering at least ``exact_share`` of
    the pixels replaces its nearest palette entry, so backgrounds and text
    keep their exact colours.

    Args:
        frames: RGB or RGBA frames ``(height, width, 3 or 4)`` uint8.
        colors: palette size, 2 to 255.
        exact_share: share of pixels above which a colour is kept exact.
        rounds: k-means rounds.
        bits: bits per channel of the colour cells (see :class:`GifPalette`).

    Returns:
        A :class:`GifPalette` of at most ``colors`` entries.
    """
    colors = check_colors(colors)
    keys, mosaic = [], []
    for index, frame in enumerate(frames):
        rgb = np.ascontiguousarray(np.asarray(frame)[..., :3])
        # Every other pixel each way, shifted per frame, counts the colours of
        # large areas well at a quarter of the work.
        offset = index % 2
        mosaic.append(rgb[offset::2, offset::2])
        keys.append(pack_rgb(mosaic[-1]).ravel())
    if not keys:
        raise OptionError("A GIF palette needs at least one frame.")
    values, counts = np.unique(np.concatenate(keys), return_counts=True)
    distinct = unpack_rgb(values).astype(np.float32)
    options = {} if bits is None else {"bits": bits}
    if len(values) <= colors:
        return GifPalette(unpack_rgb(values), sample=(values, counts), **options)
    tall = np.concatenate(mosaic, axis=0)
    start = Image.fromarray(tall).quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    palette = np.asarray(start.getpalette()[:3 * colors], dtype=np.float32).reshape(-1, 3)
    weights = counts.astype(np.float64)
    for _ in range(rounds):
        nearest = nearest_colors(distinct, palette)
        totals = np.bincount(nearest, weights=weights, minlength=len(palette))
        used = totals > 0
        for channel in range(3):
            sums = np.bincount(nearest, weights=weights * distinct[:, channel],
                               minlength=len(palette))
            palette[used, channel] = sums[used] / totals[used]
    palette = np.clip(np.rint(palette), 0, 255).astype(np.uint8)
    frequent = np.flatnonzero(counts >= exact_share * counts.sum())
    claimed = set()
    for index in frequent[np.argsort(-counts[frequent])]:
        colour = unpack_rgb(values[index:index + 1])[0]
        distance = np.abs(palette.astype(np.int16) - colour).sum(axis=1)
        distance[list(claimed)] = np.iinfo(np.int16).max
        entry = int(distance.argmin())
        palette[entry] = colour
        claimed.add(entry)
    return GifPalette(palette, sample=(values, counts), **options)


def pack_rgb(pixels):
    """24-bit keys ``r | g << 8 | b << 16`` of RGB(A) pixels ``(..., 3 or 4)`` uint8."""
    pixels = np.asarray(pixels)
    return (pixels[..., 0].astype(np.uint32) | pixels[..., 1].astype(np.uint32) << 8
            | pixels[..., 2].astype(np.uint32) << 16)


def unpack_rgb(keys):
    """The RGB colours ``(n, 3)`` uint8 of 24-bit keys (see :func:`pack_rgb`)."""
    keys = np.asarray(keys, dtype=np.uint32)
    return np.stack([keys & 0xFF, keys >> 8 & 0xFF, keys >> 16 & 0xFF], axis=-1).astype(np.uint8)


def nearest_colors(colours, palette, *, chunk=16384):
    """Index of the nearest palette entry (Euclidean RGB) of each colour ``(n, 3)``."""
    colours = np.asarray(colours, dtype=np.float32)
    palette = np.asarray(palette, dtype=np.float32)
    squared = (palette ** 2).sum(axis=1)
    nearest = np.empty(len(colours), dtype=np.intp)
    for start in range(0, len(colours), chunk):
        block = colours[start:start + chunk]
        nearest[start:start + chunk] = (squared - 2.0 * block @ palette.T).argmin(axis=1)
    return nearest


class GifPalette:
    """One palette for a whole GIF, and the map from colours to its entries.

    Each channel is reduced to ``bits`` bits, and every cell of that colour
    cube maps to one palette entry: the one nearest the colours sampled in
    the cell (their mean, weighted by pixel counts), or the cell's centre
    when none was sampled. Colours that drift by a level or two from frame
    to frame (shaded regions recoloured every epoch) then keep their index,
    which is what lets a GIF skip them; the background and text, sampled
    exactly, keep their exact colours. 5 bits adds at most 4 levels per
    channel to the palette's own error in shaded areas.

    Args:
        colors: ``(n, 3)`` uint8, ``n`` at most 255 (index ``n`` is left
            for transparency).
        sample: ``(keys, counts)`` of sampled colours (see :func:`pack_rgb`),
            or ``None``.
        bits: bits per channel of the cells, 4 to 7.

    Attributes:
        colors: the palette.
        transparent: the index left free (``len(colors)``).
    """

    def __init__(self, colors, *, sample=None, bits=CELL_BITS):
        self.colors = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
        if not 1 <= len(self.colors) <= 255:
            raise OptionError(f"A GIF palette holds 1 to 255 colours. Got {len(self.colors)}.")
        self.bits = int(bits)
        if not 4 <= self.bits <= 7:
            raise OptionError(f"bits must be from 4 to 7. Got {bits!r}.")
        self.transparent = len(self.colors)
        shift = 8 - self.bits
        levels = (np.arange(1 << self.bits) << shift) + ((1 << shift) - 1) / 2.0
        blue, green, red = np.meshgrid(levels, levels, levels, indexing="ij")
        targets = np.stack([red, green, blue], axis=-1).reshape(-1, 3)
        if sample is not None:
            keys, counts = sample
            colours = unpack_rgb(keys).astype(np.float64)
            cells = self.cells(colours.astype(np.uint8))
            weights = np.asarray(counts, dtype=np.float64)
            totals = np.bincount(cells, weights=weights, minlength=len(targets))
            seen = totals > 0
            for channel in range(3):
                sums = np.bincount(cells, weights=weights * colours[:, channel],
                                   minlength=len(targets))
                targets[seen, channel] = sums[seen] / totals[seen]
        self.table = nearest_colors(targets, self.colors).astype(np.uint8)

    def cells(self, pixels):
        """The colour cell of each pixel ``(..., 3 or 4)`` uint8."""
        shift = 8 - self.bits
        pixels = np.asarray(pixels)
        return ((pixels[..., 2] >> shift).astype(np.intp) << (2 * self.bits)
                | (pixels[..., 1] >> shift).astype(np.intp) << self.bits
                | (pixels[..., 0] >> shift))

    def packed_cells(self, packed):
        """The colour cell of each packed pixel ``r | g << 8 | b << 16`` (uint32)."""
        shift, mask = 8 - self.bits, np.uint32((1 << self.bits) - 1)
        cells = (packed >> np.uint32(shift)) & mask
        cells |= ((packed >> np.uint32(8 + shift)) & mask) << np.uint32(self.bits)
        cells |= ((packed >> np.uint32(16 + shift)) & mask) << np.uint32(2 * self.bits)
        return cells

    def indices(self, frame):
        """Return the palette indices ``(height, width)`` uint8 of an RGB(A) frame."""
        return self.table[self.cells(frame)]


def packed_pixels(frame):
    """The pixels of an RGBA frame as uint32 ``r | g << 8 | b << 16 | a << 24`` (a view if it can)."""
    frame = np.asarray(frame)
    if frame.shape[-1] == 4 and frame.dtype == np.uint8 and frame.flags.c_contiguous \
            and np.little_endian:
        return frame.view(np.uint32)[..., 0]
    return pack_rgb(frame)


def changed_block(indices, shown, transparent, *, gap=GAP_FILL, packed=None, colors=None,
                  tolerance=0):
    """Return ``(block, (x, y), shown)``: the rectangle of a frame to write, and what is then on screen.

    Pixels whose index did not change are transparent in the block (the
    previous frame shows through), except in gaps of at most ``gap`` pixels
    between changed pixels of a row, written as they are: LZW codes them
    more cheaply than switching to transparency and back.

    With a ``tolerance``, runs of changed pixels (stretches in one row) of
    at most :data:`HOLD_RUN` pixels whose shown colours are all within
    ``tolerance`` levels (largest channel difference) of the frame's own
    colours stay as shown. Runs are kept or redrawn whole, so no speckle of
    transparency is left inside a changed stretch, and only short ones, so
    smooth gradients do not streak; the slow drift of shaded regions from
    one epoch to the next is then not re-sent frame after frame.

    Args:
        indices: the new frame's palette indices ``(height, width)``.
        shown: the indices on screen (the previous frame), same shape.
        transparent: the transparent index.
        gap: see above.
        packed: with a tolerance, the frame's pixels from :func:`packed_pixels`.
        colors: with a tolerance, the palette ``(n, 3)``.
        tolerance: see above; 0 writes every change.

    Returns:
        ``None`` when nothing changed; the new ``shown`` is ``indices`` with
        the kept runs put back.
    """
    height, width = indices.shape
    flat_new, flat_shown = indices.reshape(-1), shown.reshape(-1)
    where = np.flatnonzero(flat_new != flat_shown)
    if tolerance and len(where):
        pixels = packed.reshape(-1)[where]
        old = flat_shown[where]
        error = np.zeros(len(where), dtype=np.int16)
        for channel in range(3):
            wanted = ((pixels >> np.uint32(8 * channel)) & np.uint32(255)).astype(np.int16)
            np.maximum(error, np.abs(colors[old, channel].astype(np.int16) - wanted), out=error)
        starts = np.concatenate([[0], np.flatnonzero(
            (np.diff(where) != 1) | (np.diff(where // width) != 0)) + 1])
        lengths = np.diff(np.concatenate([starts, [len(where)]]))
        kept_runs = (np.maximum.reduceat(error, starts) <= tolerance) & (lengths <= HOLD_RUN)
        kept = np.repeat(kept_runs, lengths)
        if kept.any():
            indices = indices.copy()
            indices.reshape(-1)[where[kept]] = old[kept]
            where = where[~kept]
    if not len(where):
        return None
    if gap and len(where) > 1:
        # Mark the short same-row gaps on the span of changed pixels, then merge.
        first = where[0]
        local = where - first
        step = np.diff(local)
        same_row = (where[1:] // width) == (where[:-1] // width)
        fillable = same_row & (step > 1) & (step <= gap + 1)
        if fillable.any():
            marks = np.zeros(local[-1] + 2, dtype=np.int32)
            np.add.at(marks, local[:-1][fillable] + 1, 1)
            np.add.at(marks, local[1:][fillable], -1)
            written = np.cumsum(marks[:-1], dtype=np.int32) > 0
            written[local] = True
            where = np.flatnonzero(written) + first
    rows, columns = np.divmod(where, width)
    top, left = int(rows[0]), int(columns.min())
    block = np.full((int(rows[-1]) + 1 - top, int(columns.max()) + 1 - left), transparent,
                    dtype=np.uint8)
    block[rows - top, columns - left] = indices.reshape(-1)[where]
    return block, (left, top), indices


def gif_loop_count(loop):
    """Turn ``loop`` (how many times the GIF plays; 0 = forever) into the NETSCAPE loop count.

    Returns:
        ``None`` for "play once" (no loop extension), else the count a
        viewer repeats after the first play (0 = forever).
    """
    if isinstance(loop, bool) or not isinstance(loop, (int, np.integer)) or not \
            0 <= loop <= 65536:
        raise OptionError(f"loop must be how many times the GIF plays: 0 (forever) or 1 to "
                          f"65536. Got {loop!r}.")
    if loop == 0:
        return 0
    return None if loop == 1 else int(loop) - 1


def frame_delay(index, fps):
    """Delay of frame ``index`` in centiseconds: whole steps of the running clock (no drift)."""
    start = int(round(index * 100.0 / fps))
    return max(int(round((index + 1) * 100.0 / fps)) - start, 2)


class GifWriter:
    """Streams RGBA frames into a GIF with one palette, writing only what changed.

    Use as a context manager, like :class:`replay.render.VideoEncoder`:
    :meth:`write` queues a copy of the frame; a thread maps it to the
    palette, holds runs of pixels already close enough (``tolerance``),
    finds the changed rectangle and encodes it while the next frames are
    drawn. Every frame becomes one GIF frame (one that changes nothing is a
    single transparent pixel). The last frame is written at :meth:`close`,
    exactly (no tolerance: the final state is shown as drawn), with its
    delay lengthened by ``hold_last``.

    Args:
        path: output file.
        size: ``(width, height)`` of every frame.
        palette: a :class:`GifPalette` (see :func:`palette_from_frames`).
        fps: frames per second (at most :data:`MAX_GIF_FPS`).
        loop: how many times the GIF plays; 0 = forever.
        hold_last: seconds the last frame stays on screen, beyond its own delay.
        tolerance: see :func:`hold_small_changes`; 0 redraws every change.
        gap: see :func:`changed_block`.

    Attributes:
        delays: the delay of each frame written, in centiseconds.
    """

    def __init__(self, path, size, palette, *, fps=10, loop=0, hold_last=0.0,
                 tolerance=TOLERANCE, gap=GAP_FILL):
        if not 0 < fps <= MAX_GIF_FPS:
            raise OptionError(f"A GIF plays at most {MAX_GIF_FPS} frames per second (browsers "
                              f"show shorter delays as 0.1 s). Got fps={fps!r}.")
        self.path = os.fspath(path)
        self.size = tuple(int(value) for value in size)
        self.fps = float(fps)
        self.loop = gif_loop_count(loop)
        self.hold_last = float(hold_last)
        self.tolerance = int(tolerance)
        self.gap = int(gap)
        self.palette = palette
        entries = np.zeros((256, 3), dtype=np.uint8)
        entries[:len(palette.colors)] = palette.colors
        self._palette_bytes = entries.ravel().tolist()
        self.delays = []
        self._shown = None
        self._pending = None
        self._file = open(self.path, "wb")
        self._queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self._error = None
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="replay-gif", daemon=True)
        self._thread.start()

    @property
    def frames(self):
        """Frames written so far."""
        return len(self.delays)

    # -- the writer thread ------------------------------------------------------

    def _work(self):
        while True:
            frame = self._queue.get()
            if frame is None:
                return
            if self._error is None:
                try:
                    # A frame waits for the next one: only the last is written exactly.
                    if self._pending is not None:
                        self._encode(self._pending, last=False)
                    self._pending = frame
                except Exception as error:  # reported in the drawing thread
                    self._error = EncodingError(f"Writing '{self.path}' failed: {error}")

    def _image(self, indices):
        image = Image.fromarray(np.ascontiguousarray(indices), "P")
        image.putpalette(self._palette_bytes)
        return image

    def _encode(self, frame, *, last):
        packed = packed_pixels(frame)
        indices = self.palette.table[self.palette.packed_cells(packed)]
        delay = frame_delay(self.frames, self.fps)
        params = {"disposal": 1}
        if self._shown is None:
            block, offset = indices, (0, 0)
            info = {"background": 0}
            if self.loop is not None:
                info["loop"] = self.loop
            header, _ = GifImagePlugin.getheader(self._image(indices), self._palette_bytes,
                                                 info)
            self._file.write(b"".join(header))
        else:
            changed = changed_block(indices, self._shown, self.palette.transparent,
                                    gap=self.gap, packed=packed, colors=self.palette.colors,
                                    tolerance=0 if last else self.tolerance)
            if changed is None:  # nothing to draw: one transparent pixel
                block, offset = np.full((1, 1), self.palette.transparent, np.uint8), (0, 0)
                indices = self._shown
            else:
                block, offset, indices = changed
            params["transparency"] = self.palette.transparent
        if last:
            delay += int(round(self.hold_last * 100))
        params["duration"] = delay * 10
        self._file.write(b"".join(GifImagePlugin.getdata(self._image(block), offset, **params)))
        self.delays.append(delay)
        self._shown = indices

    # -- the drawing thread -------------------------------------------------------

    def write(self, frame):
        """Queue one RGBA frame ``(height, width, 4)`` uint8 (copied)."""
        if self._error is not None:
            raise self._error
        check_frame_size(frame, self.size, "GIF")
        self._queue.put(np.array(frame, copy=True, order="C"))

    def close(self):
        """Write the last frame (held ``hold_last`` seconds), end the file, report a failure."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        try:
            if self._error is None:
                if self._pending is not None:
                    self._encode(self._pending, last=True)
                    self._pending = None
                self._file.write(b";")
        except Exception as error:
            self._error = EncodingError(f"Writing '{self.path}' failed: {error}")
        finally:
            self._file.close()
        if self._error is not None:
            raise self._error

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
