"""Writing scenes and views to PNG, MP4 and GIF, fast and in constant memory.

The output kind follows the file extension: ``.png`` is one epoch; ``.mp4``
(H.264) and ``.gif`` are animations, encoded by the ffmpeg that
``imageio-ffmpeg`` ships (no system ffmpeg needed).

How frames are made fast (see :class:`FrameRenderer`): the figure's layout
is computed once and frozen; everything that does not change between epochs
is drawn once and kept as a pixel background; each frame restores that
background and draws only the artists the views changed (blitting), then
hands the pixels to the encoder. Frames are streamed: the encoder runs in its
own process, fed by a thread through a short queue, so drawing, piping and
encoding overlap and memory does not grow with the number of epochs.
"""

import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from matplotlib.axis import Axis

from replay.errors import EncodingError, OptionError

#: Extensions of animations, and the ffmpeg settings of each kind.
VIDEO_KINDS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mp4", ".gif": "gif"}
#: Extensions of single images.
IMAGE_KINDS = {".png": "png"}
#: Frames waiting for the encoder; bounds the memory of a render.
QUEUE_FRAMES = 4
#: x264 speed preset: plots compress well, so a fast preset costs little size.
H264_PRESET = "veryfast"
#: One GIF palette per frame, built by ffmpeg (streams; no global pass).
GIF_FILTER = ("split[a][b];[a]palettegen=stats_mode=single:reserve_transparent=0[p];"
              "[b][p]paletteuse=new=1:dither=bayer:bayer_scale=3")
#: Lines of ffmpeg's error output quoted in an :class:`EncodingError`.
STDERR_TAIL_LINES = 15
#: Windows: start ffmpeg in its own process group, so Ctrl-C does not reach it.
CREATE_NEW_PROCESS_GROUP = 0x00000200


@dataclass
class RenderStats:
    """What a render produced.

    Attributes:
        path: the file written.
        frames: number of frames (1 for a PNG).
        size: ``(width, height)`` in pixels.
        seconds: wall time of the render.
    """

    path: Path
    frames: int
    size: tuple
    seconds: float

    @property
    def fps(self):
        """Frames rendered per second of wall time."""
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def output_kind(path):
    """Return ``"png"``, ``"mp4"`` or ``"gif"`` from the extension of ``path``."""
    suffix = Path(path).suffix.lower()
    kind = VIDEO_KINDS.get(suffix) or IMAGE_KINDS.get(suffix)
    if kind is None:
        raise OptionError(
            f"Cannot tell the output kind of '{path}': use one of the extensions "
            f"{', '.join([*VIDEO_KINDS, *IMAGE_KINDS])}."
        )
    return kind


def save(source, path, *, epochs=None, epoch=-1, fps=10, dpi=100, progress=True,
         quality=6, blit=True):
    """Render a scene or a view to ``path``; the extension picks PNG, MP4 or GIF.

    Args:
        source: a :class:`replay.scene.Scene` or a :class:`replay.views.View`.
        path: the output file (``.png``, ``.mp4``, ``.gif``); folders are created.
        epochs: for animations, the snapshots to show: ``None`` (all), a
            range, a slice or ``"start:stop:step"``.
        epoch: for a PNG, the snapshot to draw (default: the last).
        fps: frames per second of an animation.
        dpi: pixels per inch of the figure.
        progress: show a progress bar on stderr for renders longer than a second.
        quality: MP4 quality from 1 to 10 (imageio-ffmpeg's scale; 6 is
            H.264 CRF 20).
        blit: redraw only the changing artists per frame when every view
            allows it (``False`` forces full redraws, e.g. to compare).

    Returns:
        A :class:`RenderStats`.

    Example:
        >>> save(Scene.part1(run), "part1.mp4", epochs="0:150:2", fps=10)  # doctest: +SKIP
    """
    kind = output_kind(path)
    if not (isinstance(fps, (int, float)) and fps > 0):
        raise OptionError(f"fps must be a positive number. Got {fps!r}.")
    if not (isinstance(dpi, (int, float)) and dpi > 0):
        raise OptionError(f"dpi must be a positive number. Got {dpi!r}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    source = as_frame_source(source)
    start = time.perf_counter()
    if kind == "png":
        figure = source.plot(epoch)
        figure.savefig(path, dpi=dpi)
        width, height = figure.canvas.get_width_height()
        return RenderStats(path, 1, (int(width * dpi / figure.dpi),
                                     int(height * dpi / figure.dpi)),
                           time.perf_counter() - start)
    epochs = source.epochs(epochs)
    renderer = FrameRenderer(source, dpi=dpi, blit=blit)
    renderer.prepare(epochs[0])
    size = renderer.size
    bar = ProgressBar(len(epochs), label=path.name) if progress else None
    try:
        with VideoEncoder(path, size, fps=fps, kind=kind, quality=quality) as encoder:
            for done, snapshot in enumerate(epochs, start=1):
                encoder.write(renderer.render(snapshot))
                if bar is not None:
                    bar.update(done)
    finally:
        renderer.finish()
        if bar is not None:
            bar.close()
    return RenderStats(path, len(epochs), size, time.perf_counter() - start)


# -- frame sources ---------------------------------------------------------------


class _SingleView:
    """Adapts one view (with its own figure) to the scene interface the renderer uses."""

    def __init__(self, view):
        self.view = view

    @property
    def figure_(self):
        return self.view.figure_

    @property
    def blit_safe(self):
        return self.view.blit_safe

    def epochs(self, epochs=None):
        from replay.views.base import resolve_epochs

        return resolve_epochs(self.view.run, epochs)

    def plot(self, epoch=-1):
        return self.view.plot(epoch)

    def attach(self):
        self.view.attach()

    def freeze_layout(self):
        from replay.scene import freeze_layout

        self.view.attach()
        freeze_layout(self.view.figure_)

    def update(self, epoch):
        return self.view._frame(epoch)


def as_frame_source(source):
    """Return ``source`` (a Scene) or a view wrapped to behave like a one-view scene."""
    from replay.views.base import View

    if isinstance(source, View):
        return _SingleView(source)
    if hasattr(source, "update") and hasattr(source, "freeze_layout"):
        return source
    raise OptionError(f"Expected a Scene or a View to render. Got {type(source).__name__}.")


# -- drawing frames ----------------------------------------------------------------


class FrameRenderer:
    """Draws the frames of a scene into RGBA pixel arrays, blitting when it can.

    :meth:`prepare` freezes the layout, draws the first frame's changing
    artists once to learn which they are, marks them *animated* (matplotlib
    then leaves them out of a full draw), draws the rest of the figure once
    and keeps its pixels. Static artists lying *above* a changing one in the
    same axes (spines, legends, threshold lines, points over regions) are
    treated as changing too, so the stacking order stays right.

    Args:
        source: a scene (or :func:`as_frame_source` of a view).
        dpi: pixels per inch.
        blit: allow blitting (used only when ``source.blit_safe``).
    """

    def __init__(self, source, *, dpi=100, blit=True):
        self.source = source
        self.dpi = dpi
        self.blit = bool(blit) and source.blit_safe
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
        changing = self.source.update(first_epoch)
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
        changing = self.source.update(epoch)
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


# -- encoding ----------------------------------------------------------------------


def ffmpeg_command(path, size, *, fps=10, kind="mp4", quality=6):
    """Return the ffmpeg command line that encodes raw RGBA frames from stdin into ``path``.

    The arguments are those ``imageio_ffmpeg.write_frames`` builds for the
    same settings (raw RGBA input of ``size`` at ``fps``, no audio, no
    resizing to macro blocks, log level ``error``): H.264 in ``yuv420p`` at
    CRF ``int((1 - quality / 10) * 51)`` with the ``veryfast`` preset for
    MP4, and GIF with one palette per frame, looping, for GIF.

    Args:
        path: output file.
        size: ``(width, height)`` of the frames.
        fps: frames per second.
        kind: ``"mp4"`` or ``"gif"``.
        quality: MP4 quality from 1 to 10 (ignored for GIF).

    Returns:
        The command as a list of strings, the executable first.
    """
    import imageio_ffmpeg

    width, height = (int(value) for value in size)
    if kind == "gif":
        encoder = ["-vcodec", "gif", "-pix_fmt", "pal8"]
        output = ["-filter_complex", GIF_FILTER, "-loop", "0"]
    else:
        if isinstance(quality, bool) or not isinstance(quality, (int, float)) \
                or not 1 <= quality <= 10:
            raise OptionError(f"quality must be a number from 1 to 10. Got {quality!r}.")
        crf = int((1 - quality / 10.0) * 51)  # imageio-ffmpeg's scale: 0 best, 51 worst
        encoder = ["-vcodec", "libx264", "-pix_fmt", "yuv420p", "-crf", str(crf)]
        output = ["-preset", H264_PRESET, "-movflags", "+faststart"]
    rate = str(Fraction(fps).limit_denominator())  # a rational, e.g. 15/2
    return [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-f", "rawvideo", "-vcodec", "rawvideo",
            "-s", f"{width:d}x{height:d}", "-pix_fmt", "rgba", "-r", rate, "-i", "-", "-an",
            *encoder, "-v", "error", *output, os.fspath(path)]


def start_ffmpeg(command, stderr):
    """Start ffmpeg reading frames from a pipe, out of reach of the terminal's Ctrl-C.

    On POSIX ffmpeg runs in a new session (``setsid`` done by the C code
    between fork and exec: no Python runs in the child, so this is safe in a
    process with threads, e.g. with JAX loaded, and triggers no ``os.fork()``
    warning); on Windows in a new process group, without a console window.
    Either way Ctrl-C stops Python, and the file is still finished cleanly.
    """
    options = {}
    if sys.platform.startswith("win"):
        startupinfo = subprocess.STARTUPINFO()
        startupinfo.dwFlags |= subprocess.STARTF_USESHOWWINDOW
        options.update(startupinfo=startupinfo, creationflags=CREATE_NEW_PROCESS_GROUP)
    else:
        options.update(start_new_session=True)
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=stderr, **options)


class VideoEncoder:
    """Streams RGBA frames to the ffmpeg of imageio-ffmpeg (H.264 MP4 or GIF) from a thread.

    Use as a context manager; :meth:`write` copies the frame and queues it,
    blocking only when ``QUEUE_FRAMES`` frames are already waiting. A thread
    writes the frames into ffmpeg's stdin, so drawing and encoding overlap.
    When ffmpeg fails, :meth:`write` or :meth:`close` raises
    :class:`EncodingError` with the end of ffmpeg's error output.

    Args:
        path: output file.
        size: ``(width, height)`` of every frame.
        fps: frames per second.
        kind: ``"mp4"`` or ``"gif"``.
        quality: MP4 quality, 1 to 10.
    """

    def __init__(self, path, size, *, fps=10, kind="mp4", quality=6):
        self.path = os.fspath(path)
        self.size = tuple(int(value) for value in size)
        self.command = ffmpeg_command(self.path, self.size, fps=fps, kind=kind,
                                      quality=quality)
        # ffmpeg's messages go to a file, read once it has exited: no pipe to drain.
        self._stderr = tempfile.TemporaryFile()
        try:
            self._process = start_ffmpeg(self.command, self._stderr)
        except BaseException:
            self._stderr.close()
            raise
        self._queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self._error = None
        self._closed = False
        self._thread = threading.Thread(target=self._feed, name="replay-encoder", daemon=True)
        self._thread.start()

    def _feed(self):
        stdin = self._process.stdin
        while True:
            frame = self._queue.get()
            if frame is None:
                return
            if self._error is None:
                try:
                    stdin.write(frame)
                except OSError:  # ffmpeg has quit (broken pipe); reported in the drawing thread
                    self._error = self._failure("stopped reading frames")

    def _failure(self, what):
        """Wait for ffmpeg to exit and return an :class:`EncodingError` with its message."""
        try:
            self._process.stdin.close()
        except OSError:
            pass
        status = self._process.wait()
        tail = self._stderr_tail()
        return EncodingError(
            f"ffmpeg {what} while writing '{self.path}' (exit status {status})"
            + (f":\n{tail}" if tail else ".")
        )

    def _stderr_tail(self, lines=STDERR_TAIL_LINES):
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", errors="replace").strip()
        return "\n".join(text.splitlines()[-lines:])

    def write(self, frame):
        """Queue one frame ``(height, width, 4)`` uint8 (copied)."""
        if self._error is not None:
            raise self._error
        height, width = frame.shape[:2]
        if (width, height) != self.size:
            raise OptionError(f"Frame of {width}x{height} pixels; the video is "
                              f"{self.size[0]}x{self.size[1]}.")
        self._queue.put(np.ascontiguousarray(frame).tobytes())

    def close(self):
        """Finish the queue, let ffmpeg finish the file, and report a failure."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        try:
            if self._error is None:
                try:
                    self._process.stdin.close()
                except OSError:  # ffmpeg quit after the last frame was written
                    pass
                if self._process.wait() != 0:
                    self._error = self._failure("failed")
                else:
                    # Messages of a successful run (rare at log level error) stay visible.
                    tail = self._stderr_tail()
                    if tail:
                        print(tail, file=sys.stderr)
        finally:
            if self._process.poll() is None:  # interrupted while waiting
                self._process.kill()
                self._process.wait()
            self._stderr.close()
        if self._error is not None:
            raise self._error

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


# -- progress ----------------------------------------------------------------------


class ProgressBar:
    """A plain-text progress bar on stderr, shown once a render takes over ``delay`` s.

    On a terminal the bar redraws in place; otherwise (logs, CI) it prints a
    line at every tenth of the work.

    Args:
        total: number of steps.
        label: text before the bar.
        stream: where to write (default ``sys.stderr``).
        delay: seconds before the bar first appears.
    """

    def __init__(self, total, *, label="", stream=None, delay=1.0, width=30):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.width = width
        self.start = time.perf_counter()
        self.shown = False
        self._last_draw = 0.0
        self._last_tenth = -1
        self._done = 0
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty())

    def update(self, done):
        """Record that ``done`` steps are finished, and redraw when it is time."""
        self._done = done
        now = time.perf_counter()
        elapsed = now - self.start
        if elapsed < self.delay:
            return
        if self.interactive:
            if now - self._last_draw < 0.1 and done < self.total:
                return
            self._last_draw = now
            self.stream.write("\r" + self.text(done, elapsed))
        else:
            tenth = 10 * done // self.total
            if tenth == self._last_tenth:
                return
            self._last_tenth = tenth
            self.stream.write(self.text(done, elapsed) + "\n")
        self.stream.flush()
        self.shown = True

    def text(self, done, elapsed):
        """Return the bar as one line of text."""
        filled = self.width * done // self.total
        rate = done / elapsed if elapsed > 0 else 0.0
        remaining = (self.total - done) / rate if rate > 0 else 0.0
        return (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{done}/{self.total} frames, {rate:.1f} fps, {remaining:.0f} s left")

    def close(self):
        """End the bar's line (if it was shown)."""
        if self.shown and self.interactive:
            self.stream.write("\n")
            self.stream.flush()
