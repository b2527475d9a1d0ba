"""GIFs small enough to travel: one palette for the whole animation, only changed pixels per frame.

A GIF frame is at most 256 colours and is compressed row by row with LZW,
which does well on long runs of one value. So :class:`GifWriter`:

- uses **one palette for the whole animation** (:func:`palette_from_frames`),
  built from a sample of frames before the stream starts (a few frames, so
  memory stays bounded): a median cut refined by weighted k-means, with the
  colours covering large areas (the white background, black text) kept
  exact. With one palette a pixel that did not change keeps its index;
- maps every frame to that palette **exactly** (nearest colour, a 24-bit
  lookup table filled as colours appear), without dithering: dithering
  patterns cost bytes and make still pixels flicker between indices;
- writes only the **rectangle that changed** since the previous frame, with
  the unchanged pixels in it **transparent** (the previous frame shows
  through); short gaps between changed pixels of a row are written as they
  are, which LZW codes more cheaply than switching to transparency and back;
- streams: frames are quantized and encoded in a thread while the next ones
  are drawn, and written as they come (Pillow's GIF LZW encoder, through
  ``GifImagePlugin.getheader``/``getdata``); the last frame can be held
  (``hold_last``) and the animation loop forever, N times or play once.
"""

import os
import queue
import threading

import numpy as np
from PIL import GifImagePlugin, Image

from replay.errors import EncodingError, OptionError

#: Frames sampled to build the palette of an animation.
PALETTE_SAMPLES = 16
#: Colours covering at least this share of the sampled pixels are kept exact.
EXACT_SHARE = 0.002
#: Gaps of at most this many unchanged pixels between changed ones are written as they are.
GAP_FILL = 12
#: Largest colour difference (levels) a run of changed pixels may keep showing.
TOLERANCE = 8
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

    def indices(self, frame):
        """Return the palette indices ``(height, width)`` uint8 of an RGB(A) frame."""
        return self.table[self.cells(frame)]


def hold_small_changes(indices, shown, frame, colors, tolerance):
    """Keep on screen the runs of changed pixels that are already close enough to the frame.

    A run is a stretch of changed pixels in one row. When every pixel of it
    shows a colour within ``tolerance`` levels (largest channel difference)
    of the frame's own colour, the whole run keeps its shown index; runs are
    kept or redrawn whole, so no speckle of transparency is left inside a
    changed stretch (which LZW would pay for). Drift in shaded regions from
    one epoch to the next is then not re-sent frame after frame.

    Args:
        indices: the frame mapped to the palette ``(height, width)``.
        shown: the indices on screen.
        frame: the frame's pixels ``(height, width, 3 or 4)``.
        colors: the palette ``(n, 3)``.
        tolerance: largest colour difference a kept run may show, in levels.

    Returns:
        The indices to show (``indices`` itself, changed in place).
    """
    changed = indices != shown
    rows = np.flatnonzero(changed.any(axis=1))
    if not len(rows):
        return indices
    top, bottom = rows[0], rows[-1] + 1
    width = changed.shape[1]
    where = np.flatnonzero(changed[top:bottom])
    pixels = np.asarray(frame)[top:bottom].reshape(-1, frame.shape[-1])[where, :3]
    old = shown[top:bottom].reshape(-1)[where]
    error = np.abs(colors[old].astype(np.int16) - pixels).max(axis=1)
    breaks = np.flatnonzero((np.diff(where) != 1) | (np.diff(where // width) != 0)) + 1
    starts = np.concatenate([[0], breaks])
    kept_runs = np.maximum.reduceat(error, starts) <= tolerance
    kept = np.repeat(kept_runs, np.diff(np.concatenate([starts, [len(where)]])))
    indices[top:bottom].reshape(-1)[where[kept]] = old[kept]
    return indices


def changed_block(indices, shown, transparent, *, gap=GAP_FILL):
    """Return ``(block, (x, y))``: the changed rectangle of a frame, unchanged pixels transparent.

    Args:
        indices: the new frame's palette indices ``(height, width)``.
        shown: the indices on screen (the previous frame), same shape.
        transparent: the transparent index.
        gap: unchanged gaps of at most this many pixels between changed pixels
            of a row are written as they are (cheaper for LZW than transparency).

    Returns:
        ``None`` when nothing changed.
    """
    changed = indices != shown
    rows = np.flatnonzero(changed.any(axis=1))
    if not len(rows):
        return None
    columns = np.flatnonzero(changed[rows[0]:rows[-1] + 1].any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    changed = changed[top:bottom, left:right]
    new = indices[top:bottom, left:right]
    block = np.where(changed, new, transparent).astype(np.uint8)
    if gap:
        positions = np.arange(changed.shape[1])
        before = np.maximum.accumulate(np.where(changed, positions, -gap - 2), axis=1)
        after = np.minimum.accumulate(
            np.where(changed, positions, changed.shape[1] + gap + 2)[:, ::-1], axis=1)[:, ::-1]
        fill = ~changed & (after - before <= gap + 1)
        block[fill] = new[fill]
    return block, (int(left), int(top))


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
        indices = self.palette.indices(frame)
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
            if self.tolerance and not last:
                indices = hold_small_changes(indices, self._shown, frame, self.palette.colors,
                                             self.tolerance)
            changed = changed_block(indices, self._shown, self.palette.transparent,
                                    gap=self.gap)
            block, offset = changed if changed is not None else (
                np.full((1, 1), self.palette.transparent, dtype=np.uint8), (0, 0))
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
        height, width = frame.shape[:2]
        if (width, height) != self.size:
            raise OptionError(f"Frame of {width}x{height} pixels; the GIF is "
                              f"{self.size[0]}x{self.size[1]}.")
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
