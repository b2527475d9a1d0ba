"""Saving a scene or a view to PNG, MP4 or GIF: :func:`save`.

The extension picks the kind (:func:`replay.render.encoders.output_kind`). A
PNG is one ``savefig``; an animation is drawn frame by frame by a
:class:`replay.render.renderer.FrameRenderer` (blitting) and streamed to a
:class:`replay.render.encoders.VideoEncoder` (MP4) or a
:class:`replay.render.gif.GifWriter` (GIF, one palette built from a sample
of the frames first), with a progress bar.
"""

import math
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl

from replay.errors import OptionError
from replay.render import gif as gifs
from replay.render.encoders import VideoEncoder, output_kind
from replay.render.progress import ProgressBar, wants_progress
from replay.render.renderer import FrameRenderer, as_frame_source
from replay.render.sizes import PRESETS, apply_size

#: Palette size of a GIF unless asked otherwise: with the cells and the
#: tolerance of :mod:`replay.render.gif`, the part-1 animation fits in 4 MB
#: at 1200 x 600 pixels without visible banding (``scripts/bench_media.py``).
GIF_COLORS = 96
#: The GIF encoders: Pillow (default; streamed by replay) or ffmpeg's paletteuse.
GIF_ENCODERS = ("pillow", "ffmpeg")


@dataclass
class RenderStats:
    """What a render produced.

    Attributes:
        path: the file written.
        frames: number of frames (1 for a PNG; without the repeats of ``hold_last``).
        size: ``(width, height)`` in pixels.
        seconds: wall time of the render.
        video_fps: the frame rate the animation plays at (frames per second
            of video; after ``max_fps`` merged frames), ``None`` for a PNG.
            Not to be confused with :attr:`render_rate`.
    """

    path: Path
    frames: int
    size: tuple
    seconds: float
    video_fps: float = None

    @property
    def render_rate(self):
        """Frames **rendered** per second of wall time (how fast the render ran)."""
        return self.frames / self.seconds if self.seconds > 0 else float("inf")

    @property
    def fps(self):
        """The same as :attr:`render_rate` (an older name; the video's rate is :attr:`video_fps`)."""
        return self.render_rate

    @property
    def bytes(self):
        """Size of the file written, in bytes."""
        return Path(self.path).stat().st_size


def _check_seconds(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not \
            0 <= value <= 3600 or math.isnan(value):
        raise OptionError(f"{name} must be a number of seconds from 0 to 3600. Got {value!r}.")
    return float(value)


def _check_media_options(kind, *, hold_last, loop, colors, tolerance, gif_encoder, max_fps):
    """Refuse options that do not apply to ``kind``; return the GIF settings."""
    hold_last = _check_seconds(hold_last, "hold_last")
    if kind == "png":
        if hold_last:
            raise OptionError("hold_last applies to animations (.mp4, .gif), not to a .png.")
    gif_only = {"loop": loop, "colors": colors, "tolerance": tolerance}
    if kind != "gif":
        given = [name for name, value in gif_only.items() if value is not None]
        if given:
            raise OptionError(f"{' and '.join(given)} only applies to a .gif; the output is "
                              f"a .{kind}.")
    if gif_encoder not in GIF_ENCODERS:
        raise OptionError(f"gif_encoder must be one of {', '.join(GIF_ENCODERS)}. "
                          f"Got {gif_encoder!r}.")
    if max_fps is not None and not (isinstance(max_fps, (int, float))
                                    and not isinstance(max_fps, bool) and max_fps > 0):
        raise OptionError(f"max_fps must be a positive number. Got {max_fps!r}.")
    tolerance = gifs.TOLERANCE if tolerance is None else tolerance
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or not 0 <= tolerance <= 64:
        raise OptionError(f"tolerance must be an integer from 0 to 64 (colour levels). "
                          f"Got {tolerance!r}.")
    return {"hold_last": hold_last, "loop": 0 if loop is None else loop,
            "colors": gifs.check_colors(GIF_COLORS if colors is None else colors),
            "tolerance": tolerance}


def limit_frame_rate(epochs, fps, max_fps):
    """Keep every k-th snapshot so that ``fps / k <= max_fps``; return ``(epochs, fps)``.

    The animation lasts as long; the last snapshot is always kept.
    """
    if max_fps is None or fps <= max_fps:
        return list(epochs), fps
    step = math.ceil(fps / max_fps)
    kept = list(epochs)[::step]
    if kept[-1] != epochs[-1]:
        kept.append(epochs[-1])
    return kept, fps / step


def save_png(figure, path, dpi):
    """Save ``figure`` as a PNG at ``dpi``, running its layout engine once.

    ``savefig`` on a figure with a layout engine draws it twice: a dry run
    to lay it out, then the picture. Laying it out here and switching the
    engine off for the save draws it once: a tenth of a first PNG's time.
    The engine is back on afterwards.
    """
    engine = figure.get_layout_engine()
    if engine is None:
        figure.savefig(path, dpi=dpi)
        return
    own_dpi = figure.dpi
    try:
        # Laid out at the dpi it is saved at, as savefig would.
        figure.set_dpi(dpi)
        engine.execute(figure)
    finally:
        figure.set_dpi(own_dpi)
    # No engine at all: savefig does its dry run for any engine, even "none".
    with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        figure.set_layout_engine(None)
    try:
        figure.savefig(path, dpi=dpi)
    finally:
        figure.set_layout_engine(engine)


def save(source, path, *, epochs=None, epoch=-1, fps=10, dpi=None, progress=None,
         quality=None, blit=True, width=None, preset=None, hold_last=0.0, loop=None,
         colors=None, tolerance=None, gif_encoder="pillow", max_fps=None):
    """Render a scene or a view to ``path``; the extension picks PNG, MP4 or GIF.

    Args:
        source: a :class:`replay.render.Scene` or a :class:`replay.views.View`
            (any :class:`replay.views.FrameSource`).
        path: the output file (``.png``, ``.mp4``, ``.gif``); folders are created.
        epochs: for animations, the snapshots to show: ``None`` (all), a
            range, a slice or ``"start:stop:step"``.
        epoch: for a PNG, the snapshot to draw (default: the last).
        fps: frames per second of an animation.
        dpi: pixels per inch of the figure (default 100).
        progress: a ``tqdm`` progress bar for renders longer than a second:
            ``None`` (default) on a terminal or in a notebook only, ``True``
            always (on stderr), ``False`` never.
        quality: MP4 quality from 1 to 10 (imageio-ffmpeg's scale; 6 is
            H.264 CRF 20); default ``None``: CRF 23, preset ``fast``
            (DeepReplay's size and quality).
        blit: redraw only the changing artists per frame when every view
            allows it (``False`` forces full redraws, e.g. to compare).
        width: width of the output in pixels; picks the dpi (not with
            ``dpi`` or ``preset``).
        preset: a destination's size, see :data:`replay.render.sizes.PRESETS`
            (``"readme"``, ``"article"``, ``"slide"``, ``"phone"``): the figure
            width in inches and the dpi. A figure already drawn keeps its inches.
        hold_last: seconds the last frame stays on screen after its own
            duration (MP4: the frame is repeated; GIF: its delay is longer).
        loop: GIF: how many times it plays; 0 (default) = forever, 1 = once.
        colors: GIF: palette size, 2 to 256 (default 96; 255 are usable).
        tolerance: GIF: a run of changed pixels whose shown colours are within
            this many levels of the new frame stays as shown (default 8; 0
            re-sends every change). The last frame is always exact.
        gif_encoder: ``"pillow"`` (default) or ``"ffmpeg"`` (ffmpeg's
            ``paletteuse`` with the same palette; no tolerance).
        max_fps: keep every k-th snapshot so that the animation plays at most
            this many frames per second, lasting as long (GIF: at most 50,
            the fastest browsers play).

    Returns:
        A :class:`RenderStats`.

    Example:
        >>> save(Scene.part1(run), "part1.gif", epochs="0:150:2", preset="readme",
        ...      hold_last=2)  # doctest: +SKIP
    """
    kind = output_kind(path)
    if not (isinstance(fps, (int, float)) and fps > 0):
        raise OptionError(f"fps must be a positive number. Got {fps!r}.")
    if dpi is not None and not (isinstance(dpi, (int, float)) and dpi > 0):
        raise OptionError(f"dpi must be a positive number. Got {dpi!r}.")
    media = _check_media_options(kind, hold_last=hold_last, loop=loop, colors=colors,
                                 tolerance=tolerance, gif_encoder=gif_encoder,
                                 max_fps=max_fps)
    source = as_frame_source(source)
    dpi = apply_size(source, dpi=dpi, width=width, preset_name=preset)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if kind == "png":
        figure = source.plot(epoch)
        save_png(figure, path, dpi)
        width, height = figure.canvas.get_width_height()
        return RenderStats(path, 1, (int(width * dpi / figure.dpi),
                                     int(height * dpi / figure.dpi)),
                           time.perf_counter() - start)
    epochs = source.select_epochs(epochs)
    if kind == "gif":
        max_fps = gifs.MAX_GIF_FPS if max_fps is None else min(max_fps, gifs.MAX_GIF_FPS)
    epochs, fps = limit_frame_rate(epochs, fps, max_fps)
    renderer = FrameRenderer(source, dpi=dpi, blit=blit)
    renderer.prepare(epochs[0])
    size = renderer.size
    bar = ProgressBar(len(epochs), label=path.name) if wants_progress(progress) else None
    try:
        if kind == "gif":
            palette = gif_palette(renderer, epochs, media["colors"])
            if gif_encoder == "pillow":
                encoder = gifs.GifWriter(path, size, palette, fps=fps, loop=media["loop"],
                                         hold_last=media["hold_last"],
                                         tolerance=media["tolerance"])
            else:
                encoder = VideoEncoder(path, size, fps=fps, kind="gif", palette=palette,
                                       loop=media["loop"], hold_last=media["hold_last"])
        else:
            encoder = VideoEncoder(path, size, fps=fps, kind=kind, quality=quality,
                                   hold_last=media["hold_last"])
        with encoder:
            for done, snapshot in enumerate(epochs, start=1):
                encoder.write(renderer.render(snapshot))
                if bar is not None:
                    bar.update(done)
    finally:
        renderer.finish()
        if bar is not None:
            bar.close()
    return RenderStats(path, len(epochs), size, time.perf_counter() - start, video_fps=fps)


def gif_palette(renderer, epochs, colors):
    """Build the palette of a GIF from a sample of its frames (drawn now, then dropped).

    Up to :data:`replay.render.gif.PALETTE_SAMPLES` evenly spaced frames,
    the first and the last included: enough to see every colour the
    animation uses, without holding the animation in memory.
    """
    samples = [renderer.render(epochs[index]).copy()
               for index in gifs.sample_indices(len(epochs))]
    return gifs.palette_from_frames(samples, colors)


#: The command-line flags of the size and media options of :func:`save`, as
#: ``(flag, argparse keywords)``; ``replay render`` and ``replay compare`` add them all.
MEDIA_ARGUMENTS = (
    ("--width", {"type": int, "metavar": "PIXELS",
                 "help": "width of the output in pixels; picks the dpi (not with --dpi "
                         "or --preset)"}),
    ("--preset", {"choices": tuple(PRESETS),
                  "help": "size for a destination: readme (880 px wide), article (1400), "
                          "slide (1920), phone (1080); sets the figure width and the dpi"}),
    ("--hold-last", {"type": float, "default": 0.0, "metavar": "SECONDS",
                     "help": "keep the last frame of an .mp4/.gif on screen this many "
                             "seconds longer (default 0)"}),
    ("--loop", {"type": int, "metavar": "N",
                "help": "how many times a .gif plays: 0 = forever (default), 1 = once"}),
    ("--colors", {"type": int, "metavar": "N",
                  "help": f"palette size of a .gif, 2 to 256 (default {GIF_COLORS}); "
                          "more is smoother and larger"}),
)
