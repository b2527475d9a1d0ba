"""Writing an explorer page of one run or many: :func:`explore` and :class:`ExplorerPage`."""

import html
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from replay.collection import Runs
from replay.errors import OptionError
from replay.render.explorer.frames import PictureSpec, RunJob, process_runs, video_path
from replay.render.explorer.page import write_page
from replay.render.explorer.summary import TARGET_ACCURACY
from replay.results import lower_is_better as lower_is_better_key

#: Runs that get frames unless asked otherwise: 27 part-1 runs make a page of
#: about 20 MB; the other runs of a larger sweep are in the table and the curves.
FRAMED_RUNS = 32
#: Largest page a notebook shows inline; a larger one is linked instead.
NOTEBOOK_LIMIT_BYTES = 40 * 2**20
#: History keys left out of the results table (not results).
NOT_RESULTS = ("epoch", "learning_rate", "lr")


@dataclass
class ExplorerPage:
    """An explorer page that was written: where, what it holds, how long it took.

    In a notebook it displays itself: the page inline in an ``<iframe>``
    (up to :data:`NOTEBOOK_LIMIT_BYTES`), or a link to the file.

    Attributes:
        path: the HTML file.
        runs: number of runs on the page.
        framed: number of runs with frames.
        frames: number of frames on the page (all runs).
        seconds: wall time of the writing.
    """

    path: Path
    runs: int
    framed: int
    frames: int
    seconds: float

    @property
    def bytes(self):
        """Size of the page in bytes."""
        return Path(self.path).stat().st_size

    def _repr_html_(self):
        size = self.bytes
        if size > NOTEBOOK_LIMIT_BYTES:
            link = html.escape(Path(self.path).resolve().as_uri())
            return (f'<p>The explorer page is {size / 2**20:.0f} MB, more than a notebook '
                    f'shows inline: open <a href="{link}" target="_blank">'
                    f"{html.escape(str(self.path))}</a> in a browser.</p>")
        text = Path(self.path).read_text(encoding="utf-8")
        return (f'<iframe srcdoc="{html.escape(text, quote=True)}" '
                'style="width:100%;height:900px;border:1px solid #ccc" '
                'title="replay explorer"></iframe>')


def explore(runs, path=None, *, scene="default", view=None, dpi=100, title=None,
            frames=FRAMED_RUNS, frames_where=None, objective=None,
            target_accuracy=TARGET_ACCURACY, processes=None):
    """Write one self-contained HTML page to move through a run, or many, epoch by epoch.

    Every frame is the library's own picture of that epoch (the scene or
    view chosen), drawn in worker processes and stored as one short-GOP
    H.264 video per run, base64 inside the page: the page needs no server
    and no network. It shows an epoch slider (play, step, arrow keys), the
    run's summary and diagnosis (marks on the slider), one control per
    hyperparameter, runs side by side on one epoch clock, every run's
    curves and a sortable results table. Its address holds the moment
    shown (``page.html#run=relu&epoch=37``).

    Args:
        runs: a :class:`replay.Runs`, or what it takes: a
            :class:`replay.Run`, a run file, ``"FILE:RUN"``, a directory, a
            glob, or a list of these.
        path: the HTML file to write (folders are created); ``None`` writes
            into a new temporary folder (for a notebook).
        scene: the scene of the frames, ``"default"`` (the figure that
            fits each run) or ``"part1"``.
        view: a registered view name (``replay.views.VIEWS``) to show
            instead of a scene.
        dpi: pixels per inch of the frames (the default scene is 12 x 6
            inches: 1200 x 600 pixels at 100).
        title: the page's title (default: from the runs).
        frames: how many runs get frames, at most; the others are in the
            table and the curves only (the page says so).
        frames_where: which runs may get frames: a dict of hyperparameter
            values (``{"activation": "relu"}``) or a function of a run's
            hyperparameter dict returning ``True`` for the runs to keep.
        objective: the history key runs are ranked by to pick those with
            frames and to sort the table: lower is better for a loss,
            higher otherwise (default: ``val_loss`` when every run has it,
            else ``loss``).
        target_accuracy: the accuracy of the table's "epoch of accuracy"
            column.
        processes: worker processes (default: one per core this process may use).

    Returns:
        An :class:`ExplorerPage`.

    Example:
        >>> explore("runs/part1/part1.h5", "part1.html")           # doctest: +SKIP
        >>> explore("runs/sweep/", "sweep.html", frames=8)          # doctest: +SKIP
    """
    start = time.perf_counter()
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 0:
        raise OptionError(f"frames must be a number of runs, 0 or more. Got {frames!r}.")
    if not (isinstance(dpi, (int, float)) and not isinstance(dpi, bool) and 0 < dpi <= 400):
        raise OptionError(f"dpi must be a number from 1 to 400. Got {dpi!r}.")
    collection = runs if isinstance(runs, Runs) else Runs(runs)
    keep = _frames_filter(frames_where, collection)
    records = collection.records
    labels = collection.labels()
    objective_given = objective is not None
    objective = objective or _default_objective(collection)
    lower_is_better = lower_is_better_key(objective)
    try:
        finals = collection.metric(objective)  # NaN where a run lacks it
    except OptionError:
        if objective_given:
            raise  # the key asked for is in no run: say so
        finals = [math.nan] * len(records)  # no run trained an epoch: nothing to rank by
    ranked = sorted(range(len(records)),
                    key=lambda index: _rank_key(finals[index], lower_is_better))
    candidates = [index for index in ranked if keep(records[index])]
    framed = set(candidates[:frames])
    picture = PictureSpec(scene=scene, view=view, dpi=float(dpi)).check()
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="replay-explore-")) / "explorer.html"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="replay-explore-", dir=path.parent) as folder:
        jobs = [RunJob(index, record.path, record.name, labels[index],
                       picture if index in framed else None, video_path(folder, index),
                       float(target_accuracy))
                for index, record in enumerate(records)]
        summaries = [None] * len(jobs)
        videos = {}
        for index, summary, video in process_runs(jobs, processes=processes):
            if video is not None:
                summary["video"] = {"fps": video.fps, "frames": video.frames,
                                    "width": video.size[0], "height": video.size[1]}
                videos[index] = video.path
            else:
                summary["video"] = None
            summaries[index] = summary
        data = page_data(summaries, hparams=collection.hparam_values(),
                         picture=_picture_name(scene, view), objective=objective,
                         lower_is_better=lower_is_better, framed=len(videos),
                         frames_rule=_frames_rule(frames, frames_where, objective,
                                                  lower_is_better, len(candidates)),
                         target_accuracy=target_accuracy, title=title)
        write_page(path, title=data["title"], data=data, videos=videos)
    frame_count = sum(summary["video"]["frames"] for summary in summaries if summary["video"])
    return ExplorerPage(path, len(summaries), len(videos), frame_count,
                        time.perf_counter() - start)


def _default_objective(collection):
    """``val_loss`` when every run has it, else ``loss``."""
    try:
        validation = collection.metric("val_loss")
    except OptionError:  # no run has it
        return "loss"
    return "loss" if any(math.isnan(value) for value in validation) else "val_loss"


def _rank_key(value, lower_is_better):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (1, 0.0)
    return (0, value if lower_is_better else -value)


def _frames_filter(frames_where, collection):
    """A function of a run's record: may the run get frames?

    A dict selects as :meth:`replay.Runs.where` does, with its errors: a
    hyperparameter no run has (a typo) and a selection of no run are refused
    before any drawing, rather than giving a page without pictures.
    """
    if frames_where is None:
        return lambda record: True
    if callable(frames_where):
        return lambda record: frames_where(record.hparams)
    if isinstance(frames_where, dict):
        selected = collection.where(**frames_where)
        if not selected:
            values = collection.hparam_values()
            raise OptionError(
                "No run has " + " ".join(f"{name}={value}" for name, value in frames_where.items())
                + ", so no run would get frames (frames_where, --frames-where). Values "
                "there: " + "; ".join(
                    f"{name}: {', '.join(map(str, values.get(name, [])))}"
                    for name in frames_where) + ".")
        chosen = {(record.path, record.name) for record in selected.records}
        return lambda record: (record.path, record.name) in chosen
    raise OptionError("frames_where must be a dict of hyperparameter values or a function "
                      f"of a run's hyperparameters. Got {frames_where!r}.")


def _frames_rule(frames, frames_where, objective, lower_is_better, candidates):
    better = "lowest" if lower_is_better else "highest"
    where = ""
    if isinstance(frames_where, dict):
        where = " with " + ", ".join(f"{name}={value}" for name, value in frames_where.items())
    elif frames_where is not None:
        where = " passing the filter given"
    if frames >= candidates:
        return f"every run{where}" if where else "every run"
    return f"the best {frames} by final {objective} ({better} first){where}"


def _picture_name(scene, view):
    if view is not None:
        return f"the {view} view"
    return {"default": "the run's scene", "part1": "the five-panel scene"}[scene]


def page_data(summaries, *, hparams, picture, objective, lower_is_better, framed,
              frames_rule, target_accuracy, title=None):
    """The JSON the page's script reads: the runs' summaries and what the page states.

    ``hparams`` is ``{name: [values present]}`` (:meth:`replay.Runs.hparam_values`):
    one control per name.
    """
    keys = []
    for summary in summaries:
        for key in summary["history"]:
            if key not in keys and key != "epoch":
                keys.append(key)
    preferred = ["loss", "val_loss"]
    curve_keys = [key for key in preferred if key in keys] + \
                 [key for key in keys if key not in preferred]
    final_keys = [key for key in curve_keys if key not in NOT_RESULTS]
    total = len(summaries)
    if title is None:
        title = (f"{summaries[0]['label']} — replay explorer" if total == 1
                 else f"{total} runs — replay explorer")
    runs_text = "1 run" if total == 1 else f"{total} runs"
    if framed == total:
        note = f"Frames for {'the run' if total == 1 else f'all {total} runs'}."
    else:
        note = (f"Frames for {framed} of {total} runs: {frames_rule}. The others are in the "
                "table and the curves.")
    return {
        "title": title,
        "subtitle": f"{runs_text}; the pictures are {picture}, one per snapshot. {note}",
        "frames_note": note,
        "picture": picture,
        "objective": objective if objective in final_keys else None,
        "lower_is_better": lower_is_better,
        "curve_keys": curve_keys,
        "final_keys": final_keys,
        "target_label": f"accuracy {target_accuracy:g}",
        "hparams": hparams,
        "runs": summaries,
        "created_by": "replay " + _version(),
    }


def _version():
    from replay import __version__

    return __version__
