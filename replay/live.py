"""Following a run while it is recorded: :func:`follow`, :func:`watch_png`, :func:`show_live`.

A recorder lets other processes read its run file while it writes (HDF5
SWMR mode, see ``docs/run-file-schema.md``). A reader polls: it reopens the
file every ``interval`` seconds (:meth:`replay.Run.refresh`, a few
milliseconds) and sees every snapshot the writer has flushed. Pictures of
a growing run are drawn by building the scene or view afresh from the
refreshed run for each new snapshot, so every limit a view computes over
the run covers the snapshots there are.

Following ends when the run is complete (``run.complete``), when the
recording stopped without completing (no writer holds the file any more:
the trainer or its writer was killed), or on Ctrl-C.
"""

import os
import time

from replay.errors import FileBusyError, OptionError, RunNotFoundError


def wait_for_run(path, run, *, timeout=30.0, interval=0.5):
    """Open ``run`` of ``path``, waiting up to ``timeout`` seconds for it to appear.

    A watcher is often started before the training script has created its
    run (or its file). Errors other than a missing file or run (a damaged
    file, a file that is not a run file) are raised at once.

    Raises:
        RunNotFoundError: the run did not appear in time; the message names
            the runs the file holds.
    """
    from replay.errors import RunFileError
    from replay.run import Run

    deadline = time.monotonic() + timeout
    while True:
        try:
            return Run._following(path, run)
        except RunNotFoundError as error:
            if time.monotonic() >= deadline:
                raise RunNotFoundError(f"{error} Waited {timeout:g} s for it to appear.") \
                    from None
        except RunFileError as error:
            # Not there yet, or held by the recorder while it creates the run.
            if os.path.exists(path) and not isinstance(error, FileBusyError):
                raise
            if time.monotonic() >= deadline:
                raise RunFileError(f"{error} Waited {timeout:g} s for it.") from None
        time.sleep(interval)


def follow(run, *, interval=1.0, start=0):
    """Yield the index of every snapshot of ``run`` from ``start`` on, as it is written.

    The same as :meth:`replay.Run.follow`, which see.
    """
    return run.follow(interval=interval, start=start)


def newest_snapshots(run, *, interval=1.0):
    """Yield the newest snapshot index of ``run`` each time new ones appear, until it ends.

    Snapshots written faster than the caller draws them are skipped: each
    index yielded is the newest there is. Starts with the last snapshot.
    """
    for index in follow(run, interval=interval, start=-1):
        if index == run.n_snapshots - 1:
            yield index


def picture_builder(scene="default", view=None, **options):
    """Return ``build(run)`` making the picture to draw: a scene preset or a registered view.

    Args:
        scene: ``"default"`` or ``"part1"`` (``Scene.default`` / ``Scene.part1``).
        view: a name of :data:`replay.views.VIEWS` (e.g. ``"feature-space"``),
            instead of a scene.
        options: passed to the scene preset or the view.
    """
    if view is not None:
        from replay.views import VIEWS

        if view not in VIEWS:
            raise OptionError(f"No view {view!r}. Views: {', '.join(sorted(VIEWS))}.")
        return lambda run: VIEWS[view].build(run, **options)
    from replay.render import Scene

    presets = {"default": Scene.default, "part1": Scene.part1}
    if scene not in presets:
        raise OptionError(f"scene must be one of {', '.join(presets)}. Got {scene!r}.")
    return lambda run: presets[scene](run, **options)


def save_png(build, run, index, out, **size):
    """Draw snapshot ``index`` of ``run`` to the PNG ``out``, replacing it atomically.

    The picture is written to a temporary file beside ``out`` and moved over
    it (``os.replace``), so a viewer never sees a half-written PNG.
    """
    from replay.views.base import close_figure

    source = build(run)
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(out)}.{os.getpid()}.png")
    try:
        source.save(temporary, epoch=index, progress=False, **size)
        os.replace(temporary, out)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
        # Off pyplot's list where pyplot made it: a long watch keeps no figures.
        close_figure(getattr(source, "figure_", None) or getattr(source, "figure", None))
    return out


def watch_png(run, out, *, build=None, interval=1.0, on_frame=None, **size):
    """Rewrite the PNG ``out`` with the newest snapshot of ``run`` until the run ends.

    Snapshots written faster than they are drawn are skipped (see
    :func:`newest_snapshots`).

    Args:
        run: a :class:`replay.Run`.
        out: the PNG to rewrite.
        build: ``build(run)`` returning the scene or view (default: the
            default scene, see :func:`picture_builder`).
        interval: seconds between polls.
        on_frame: called with the snapshot index after each picture.
        size: ``dpi=``, ``width=`` or ``preset=`` of the PNG.

    Returns:
        The number of pictures written.
    """
    build = build or picture_builder()
    written = 0
    for index in newest_snapshots(run, interval=interval):
        save_png(build, run, index, out, **size)
        written += 1
        if on_frame is not None:
            on_frame(index)
    return written


def show_live(run, *, build=None, interval=1.0, **size):
    """In a notebook: show the newest snapshot of ``run`` as a PNG, updated until the run ends.

    One output cell holds the picture; it is replaced after every new
    snapshot (IPython's ``display(..., display_id=...)``).

    Returns:
        The number of pictures shown.
    """
    import tempfile

    from IPython.display import Image, display

    build = build or picture_builder()
    handle = None
    shown = 0
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "live.png")
        for index in newest_snapshots(run, interval=interval):
            save_png(build, run, index, out, **size)
            with open(out, "rb") as stream:
                image = Image(data=stream.read(), format="png")
            if handle is None:
                handle = display(image, display_id=True)
            else:
                handle.update(image)
            shown += 1
    return shown
