"""Saving a scene or a view to PNG, MP4 or GIF: :func:`save`.

The extension picks the kind (:func:`replay.render.encoders.output_kind`). A
PNG is one ``savefig``; an animation is drawn frame by frame by a
:class:`replay.render.renderer.FrameRenderer` (blitting) and streamed to a
:class:`replay.render.encoders.VideoEncoder`, with a progress bar.
"""

import time
from dataclasses import dataclass
from pathlib import Path

from replay.errors import OptionError
from replay.render.encoders import VideoEncoder, output_kind
from replay.render.progress import ProgressBar
from replay.render.renderer import FrameRenderer, as_frame_source


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


def save(source, path, *, epochs=None, epoch=-1, fps=10, dpi=100, progress=True,
         quality=6, blit=True):
    """Render a scene or a view to ``path``; the extension picks PNG, MP4 or GIF.

    Args:
        source: a :class:`replay.render.Scene` or a :class:`replay.views.View`
            (any :class:`replay.views.FrameSource`).
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
    epochs = source.select_epochs(epochs)
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
