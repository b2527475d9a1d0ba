"""The explorer's frames: every snapshot of a run drawn by the library, as one short-GOP H.264 video.

Why a video and not still images: on the part-1 sigmoid run (five panels,
1200 x 600 pixels, 151 snapshots) a still costs 46 KB as WebP (quality 80),
68 KB as lossless WebP, 98 KB as JPEG and 140 KB as PNG, so 151 frames take
9 to 27 MB of base64; the H.264 video of the same frames takes under 6 KB
a frame, because consecutive frames share most of their pixels. The page
seeks the video to the middle of frame *k* (``(k + 0.5) / fps`` seconds),
which shows frame *k* exactly; a key frame every :data:`KEYFRAME_INTERVAL`
frames bounds what a seek decodes. ``docs/explorer.md`` has the measurements.

Runs are summarised and rendered in worker processes (:func:`process_runs`):
each reads one run's summary (:mod:`replay.render.explorer.summary`), draws
its frames with a :class:`~replay.render.FrameRenderer` (blitting) and
streams them to a :class:`~replay.render.VideoEncoder`, so a worker holds a
few frames at a time whatever the number of epochs.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

from replay.errors import OptionError
from replay.parallel import available_cores, process_pool
from replay.render.encoders import VideoEncoder
from replay.render.explorer.summary import run_summary
from replay.render.renderer import FrameRenderer

#: Frames per second of the explorer's videos; the page never plays them,
#: it seeks them, so this only fixes the time of each frame.
VIDEO_FPS = 10
#: Frames from one H.264 key frame to the next: a seek decodes at most this
#: many. On the part-1 sigmoid run (151 frames, 1200 x 600) at CRF 26: 1101 KB
#: with 10, 778 KB with 20, 594 KB with 40 (see docs/explorer.md).
KEYFRAME_INTERVAL = 20
#: imageio-ffmpeg's quality scale (CRF ``int((1 - q / 10) * 51)``): 5 is CRF 25.
#: Against the drawn frames the PSNR is ~37 dB whatever the CRF from 23 to 28:
#: what H.264's halved colour resolution loses dominates.
VIDEO_QUALITY = 5
#: The scene presets a page can show (methods of :class:`replay.render.Scene`).
SCENES = ("default", "part1")


@dataclass(frozen=True)
class PictureSpec:
    """Which picture a run's frames show (plain values, so a worker process can rebuild it).

    Attributes:
        scene: a scene preset, ``"default"`` or ``"part1"``.
        view: a registered view name instead of a scene (``None``: the scene).
        dpi: pixels per inch of the frames.
    """

    scene: str = "default"
    view: str = None
    dpi: float = 100.0

    def check(self):
        """Raise :class:`~replay.errors.OptionError` for an unknown scene or view."""
        from replay.views.registry import VIEWS

        if self.view is not None and self.view not in VIEWS:
            raise OptionError(f"No view {self.view!r}. Views: {', '.join(sorted(VIEWS))}.")
        if self.view is None and self.scene not in SCENES:
            raise OptionError(f"scene must be one of {', '.join(SCENES)}. Got {self.scene!r}.")
        return self

    def build(self, run):
        """Return the scene or view that draws ``run``."""
        from replay.render.scene import Scene
        from replay.views.registry import VIEWS

        self.check()
        if self.view is not None:
            return VIEWS[self.view].build(run)
        return getattr(Scene, self.scene)(run)


@dataclass(frozen=True)
class RunJob:
    """One run of the page: where it is, its label, and its picture (``None``: no frames).

    Attributes:
        index: the run's position in the page.
        path, run: the run file and the run's name in it.
        label: the run's name on the page.
        picture: the :class:`PictureSpec` of its frames, or ``None`` for a
            run shown in the table and the curves only.
        out: the video file to write.
        target_accuracy: see :func:`replay.render.explorer.summary.run_summary`.
    """

    index: int
    path: str
    run: str
    label: str
    picture: PictureSpec
    out: str
    target_accuracy: float


@dataclass(frozen=True)
class RunVideo:
    """A rendered run: the video file and what it holds.

    Attributes:
        index: the run's position in the page.
        path: the MP4 file.
        size: ``(width, height)`` of the frames in pixels.
        frames: number of frames: one per snapshot, frame *k* is snapshot *k*.
        fps: the video's frames per second.
        seconds: wall time of the render in its worker.
    """

    index: int
    path: str
    size: tuple
    frames: int
    fps: float
    seconds: float

    @property
    def bytes(self):
        """Size of the video file in bytes."""
        return os.path.getsize(self.path)


def process_run(job):
    """Summarise ``job``'s run and, when it has a picture, render its video.

    Returns:
        ``(index, summary, video)``: the summary dict and a :class:`RunVideo`
        (``None`` without a picture).
    """
    from replay.run import Run

    with Run(job.path, job.run) as run:
        summary = run_summary(run, label=job.label, target_accuracy=job.target_accuracy)
        video = None
        if job.picture is not None and run.n_snapshots:
            video = render_video(run, job.picture, job.out, index=job.index)
    return job.index, summary, video


def render_video(run, picture, out, *, index=0):
    """Draw every snapshot of ``run`` as ``picture`` and encode them into ``out``; return a :class:`RunVideo`."""
    from replay.views.base import close_figure

    start = time.perf_counter()
    source = picture.build(run)
    renderer = FrameRenderer(source, dpi=picture.dpi)
    snapshots = list(range(run.n_snapshots))
    renderer.prepare(snapshots[0])
    # Taken now: once pyplot has closed the figure, its canvas no longer knows the dpi.
    size = renderer.size
    try:
        with VideoEncoder(out, size, fps=VIDEO_FPS, quality=VIDEO_QUALITY,
                          keyframe_interval=KEYFRAME_INTERVAL) as encoder:
            for snapshot in snapshots:
                encoder.write(renderer.render(snapshot))
    finally:
        renderer.finish()
        close_figure(source.figure_)
    return RunVideo(index, out, size, len(snapshots), VIDEO_FPS,
                    time.perf_counter() - start)


def process_runs(jobs, *, processes=None):
    """Run :func:`process_run` over ``jobs``, yielding each result as it is done.

    One job runs in this process; several run in up to ``processes``
    worker processes (default: the cores this process may use), started as
    :func:`replay.parallel.process_pool` starts them: forked (no import
    cost, and a script without a ``__main__`` guard works) unless a
    backend's threads make that unsafe. Results come in the order they
    finish; each worker holds one run's frames at a time, so memory does
    not grow with the runs.
    """
    jobs = list(jobs)
    if not jobs:
        return
    processes = min(len(jobs), processes or available_cores())
    if processes == 1:
        for job in jobs:
            yield process_run(job)
        return
    with process_pool(processes) as pool:
        yield from pool.imap_unordered(process_run, jobs)


def video_path(folder, index):
    """The video file of run ``index`` in a working folder."""
    return str(Path(folder) / f"run-{index:04d}.mp4")
