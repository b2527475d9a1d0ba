"""Encoding frames to files: MP4 (H.264) and GIF through the ffmpeg of imageio-ffmpeg.

The output kind follows the file extension (:func:`output_kind`): ``.png`` is
one epoch; ``.mp4`` and ``.gif`` are animations, encoded by the ffmpeg that
``imageio-ffmpeg`` ships (no system ffmpeg needed). :class:`VideoEncoder`
streams frames: ffmpeg runs in its own process, fed by a thread through a
short queue, so drawing, piping and encoding overlap and memory does not
grow with the number of epochs.

GIFs are written by :class:`replay.render.gif.GifWriter` (Pillow) by
default; :class:`VideoEncoder` also writes them with ffmpeg's
``paletteuse`` and one palette for the whole animation (the same
:class:`~replay.render.gif.GifPalette`), or, without a palette, one palette
per frame (the old way: large files).
"""

import os
import queue
import subprocess
import sys
import tempfile
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from replay.errors import EncodingError, OptionError
from replay.render.sizes import check_frame_size

#: Extensions of animations, and the ffmpeg settings of each kind.
VIDEO_KINDS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mp4", ".gif": "gif"}
#: Extensions of single images.
IMAGE_KINDS = {".png": "png"}
#: Frames waiting for the encoder; bounds the memory of a render.
QUEUE_FRAMES = 4
#: x264 settings of an MP4 by default: DeepReplay's CRF 23, with the preset
#: ``fast``. On the part-1 animation (151 frames, 1200 x 600), against the
#: drawn frames: ``fast`` 582 KB at an SSIM of 0.99789, DeepReplay's
#: ``medium`` 582 KB at 0.99795 for 18 % more ffmpeg CPU (which shares the
#: 2 cores with the drawing), ``faster`` 578 KB but 0.99732, and CRF 20
#: ``veryfast`` (replay before) bigger at the same quality.
H264_PRESET = "fast"
DEFAULT_CRF = 23
#: One GIF palette per frame, built by ffmpeg (streams; no global pass). Large files:
#: with a new palette every frame, unchanged pixels change index and are re-sent.
GIF_FILTER = ("split[a][b];[a]palettegen=stats_mode=single:reserve_transparent=0[p];"
              "[b][p]paletteuse=new=1:dither=bayer:bayer_scale=3")
#: One palette for the whole GIF (a second input): only changed pixels are re-sent.
GIF_PALETTE_FILTER = "[0:v][1:v]paletteuse=dither=none:diff_mode=rectangle"
#: Lines of ffmpeg's error output quoted in an :class:`EncodingError`.
STDERR_TAIL_LINES = 15
#: Windows: start ffmpeg in its own process group, so Ctrl-C does not reach it.
CREATE_NEW_PROCESS_GROUP = 0x00000200


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


def ffmpeg_command(path, size, *, fps=10, kind="mp4", quality=None, palette_file=None,
                   loop=0, final_delay=None, keyframe_interval=None):
    """Return the ffmpeg command line that encodes raw RGBA frames from stdin into ``path``.

    The arguments are those ``imageio_ffmpeg.write_frames`` builds for the
    same settings (raw RGBA input of ``size`` at ``fps``, no audio, no
    resizing to macro blocks, log level ``error``): H.264 in ``yuv420p`` at
    CRF 23 (:data:`DEFAULT_CRF`), or ``int((1 - quality / 10) * 51)`` for a
    ``quality``, with the ``fast`` preset (:data:`H264_PRESET`) for MP4; for
    GIF, ``paletteuse`` with the palette image ``palette_file``
    (one palette for the whole animation, changed rectangles only), or one
    palette per frame without it.

    Args:
        path: output file.
        size: ``(width, height)`` of the frames.
        fps: frames per second.
        kind: ``"mp4"`` or ``"gif"``.
        quality: MP4 quality from 1 to 10 on imageio-ffmpeg's scale (``None``:
            CRF 23; 6 is CRF 20); ignored for GIF.
        palette_file: GIF: a 16 x 16 palette image (see :func:`write_palette_image`).
        loop: GIF: how many times it plays, 0 = forever.
        final_delay: GIF: delay of the last frame in centiseconds (``None``: as the others).
        keyframe_interval: MP4: at most this many frames from one key frame
            to the next (``None``: x264's default, 250). A short interval
            makes seeking to any frame cheap (the explorer page seeks).

    Returns:
        The command as a list of strings, the executable first.
    """
    import imageio_ffmpeg

    from replay.render.gif import gif_loop_count

    width, height = (int(value) for value in size)
    inputs = []
    if kind == "gif":
        repeats = gif_loop_count(loop)
        encoder = ["-vcodec", "gif", "-pix_fmt", "pal8"]
        if palette_file is not None:
            inputs = ["-i", os.fspath(palette_file)]
            output = ["-filter_complex", GIF_PALETTE_FILTER]
        else:
            output = ["-filter_complex", GIF_FILTER]
        output += ["-loop", str(-1 if repeats is None else repeats)]
        if final_delay is not None:
            output += ["-final_delay", str(int(final_delay))]
    else:
        if quality is None:
            crf = DEFAULT_CRF
        elif isinstance(quality, bool) or not isinstance(quality, (int, float)) \
                or not 1 <= quality <= 10:
            raise OptionError(f"quality must be a number from 1 to 10. Got {quality!r}.")
        else:
            crf = int((1 - quality / 10.0) * 51)  # imageio-ffmpeg's scale: 0 best, 51 worst
        encoder = ["-vcodec", "libx264", "-pix_fmt", "yuv420p", "-crf", str(crf)]
        output = ["-preset", H264_PRESET, "-movflags", "+faststart"]
        if keyframe_interval is not None:
            output += ["-g", str(int(keyframe_interval))]
    rate = str(Fraction(fps).limit_denominator())  # a rational, e.g. 15/2
    return [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-f", "rawvideo", "-vcodec", "rawvideo",
            "-s", f"{width:d}x{height:d}", "-pix_fmt", "rgba", "-r", rate, "-i", "-", *inputs,
            "-an", *encoder, "-v", "error", *output, os.fspath(path)]


def write_palette_image(palette, path):
    """Write a :class:`~replay.render.gif.GifPalette` as the 16 x 16 image ``paletteuse`` reads.

    Its colours come first, then one fully transparent entry (the GIF
    encoder's transparent index for unchanged pixels), then copies of the
    first colour.
    """
    from PIL import Image

    entries = np.zeros((256, 4), dtype=np.uint8)
    entries[:, :3] = palette.colors[0]
    entries[:, 3] = 255
    entries[:len(palette.colors), :3] = palette.colors
    entries[len(palette.colors)] = (0, 0, 0, 0)
    Image.fromarray(entries.reshape(16, 16, 4), "RGBA").save(path)


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
        quality: MP4 quality, 1 to 10 (``None``: CRF 23).
        palette: GIF: a :class:`~replay.render.gif.GifPalette` for the whole
            animation; ``None`` for one palette per frame.
        loop: GIF: how many times it plays, 0 = forever.
        hold_last: seconds the last frame stays on screen beyond its own
            duration (MP4: the last frame is repeated; GIF: its delay is longer).
        keyframe_interval: MP4: frames from one key frame to the next, at
            most (``None``: x264's default).
    """

    def __init__(self, path, size, *, fps=10, kind="mp4", quality=None, palette=None, loop=0,
                 hold_last=0.0, keyframe_interval=None):
        self.path = os.fspath(path)
        self.size = tuple(int(value) for value in size)
        self.kind = kind
        self.hold_frames = int(round(hold_last * fps)) if kind != "gif" else 0
        self._palette_file = None
        final_delay = None
        if kind == "gif" and hold_last:
            final_delay = int(round(100.0 / fps + 100.0 * hold_last))
        if kind == "gif" and palette is not None:
            handle, name = tempfile.mkstemp(suffix=".png", prefix="replay-palette-")
            os.close(handle)
            self._palette_file = name
            write_palette_image(palette, name)
        self.command = ffmpeg_command(self.path, self.size, fps=fps, kind=kind,
                                      quality=quality, palette_file=self._palette_file,
                                      loop=loop, final_delay=final_delay,
                                      keyframe_interval=keyframe_interval)
        # ffmpeg's messages go to a file, read once it has exited: no pipe to drain.
        self._stderr = tempfile.TemporaryFile()
        try:
            self._process = start_ffmpeg(self.command, self._stderr)
        except BaseException:
            self._stderr.close()
            self._remove_palette()
            raise
        self._queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self._error = None
        self._closed = False
        self._last = None
        self._thread = threading.Thread(target=self._feed, name="replay-encoder", daemon=True)
        self._thread.start()

    def _remove_palette(self):
        if self._palette_file is not None:
            try:
                os.remove(self._palette_file)
            except OSError:
                pass
            self._palette_file = None

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
        check_frame_size(frame, self.size, "video")
        self._last = np.ascontiguousarray(frame).tobytes()
        self._queue.put(self._last)

    def close(self):
        """Hold the last frame, finish the queue, let ffmpeg finish the file, report a failure."""
        if self._closed:
            return
        self._closed = True
        if self._error is None and self._last is not None:
            for _ in range(self.hold_frames):  # H.264 codes a repeated frame in a few bytes
                self._queue.put(self._last)
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
            self._remove_palette()
        if self._error is not None:
            raise self._error

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
