"""``replay explore``: one self-contained HTML page to move through runs epoch by epoch."""

from replay.cli.common import format_bytes


def run(args):
    """Write the explorer page of the runs of FILE|DIR|GLOB... and print one line about it."""
    from replay.render.explorer import explore

    where = None
    if args.frames_where:
        where = dict(parse_assignment(text) for text in args.frames_where)
    page = explore(args.sources, args.out, scene=args.scene, view=args.view, dpi=args.dpi,
                   title=args.title, frames=args.frames, frames_where=where,
                   objective=args.objective, target_accuracy=args.target_accuracy,
                   processes=args.processes)
    framed = "" if page.framed == page.runs else f", frames for {page.framed}"
    print(f"wrote {page.path} ({page.runs} run{'s' if page.runs != 1 else ''}{framed}, "
          f"{page.frames} frames, {format_bytes(page.bytes)}, {page.seconds:.1f} s)")
    return 0


def parse_assignment(text):
    """``"name=value"`` → ``(name, value)``, the value read as JSON when it is JSON (``0.1``, ``true``)."""
    import json

    from replay.errors import OptionError

    name, equals, value = text.partition("=")
    if not equals or not name:
        raise OptionError(f"--frames-where takes NAME=VALUE. Got {text!r}.")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def add(subparsers):
    from replay.render.explorer.explore import FRAMED_RUNS
    from replay.views.registry import view_names

    parser = subparsers.add_parser(
        "explore", help="write one HTML page to scrub runs epoch by epoch (no server needed)",
        description="Write one self-contained HTML page (no server, no network) showing the "
                    "runs of run files, directories or globs: the library's pictures of every "
                    "epoch under a slider, the runs' summaries and diagnosis, a control per "
                    "hyperparameter, runs side by side on one epoch clock, every run's curves "
                    "and a sortable results table. The address keeps the moment shown "
                    "(page.html#run=relu&epoch=37). See docs/explorer.md.")
    parser.add_argument("sources", nargs="+", metavar="FILE|DIR|GLOB",
                        help="run files (every run in them), FILE:RUN, directories of run "
                             "files, or globs (quote them)")
    parser.add_argument("--out", "-o", required=True, help="the HTML file to write")
    picture = parser.add_mutually_exclusive_group()
    picture.add_argument("--scene", choices=("default", "part1"), default="default",
                         help="the scene of the frames (default: the figure that fits the run)")
    picture.add_argument("--view", choices=view_names(), help="one view instead of a scene")
    parser.add_argument("--dpi", type=float, default=100.0,
                        help="pixels per inch of the frames (default 100: 1200 x 600 for the "
                             "five-panel scene)")
    parser.add_argument("--title", help="the page's title")
    parser.add_argument("--frames", type=int, default=FRAMED_RUNS, metavar="N",
                        help=f"runs that get frames, at most (default {FRAMED_RUNS}); the "
                             "others are in the table and the curves")
    parser.add_argument("--frames-where", nargs="+", metavar="NAME=VALUE",
                        help="only runs with these hyperparameter values get frames")
    parser.add_argument("--objective", metavar="KEY",
                        help="history key that ranks the runs (default val_loss when every "
                             "run has it, else loss; lower is better for a loss)")
    parser.add_argument("--target-accuracy", type=float, default=1.0, metavar="A",
                        help="accuracy of the table's 'epoch of accuracy' column (default 1)")
    parser.add_argument("--processes", type=int, metavar="N",
                        help="worker processes drawing the runs (default: one per core)")
    parser.set_defaults(func=run)
