"""``replay render``: the figure of one run as MP4, GIF or PNG."""

from replay.cli.common import (
    MODEL_FILE_HELP,
    add_frame_arguments,
    check_epoch,
    check_output_options,
    check_run_files,
    figure_size,
    save_and_report,
    select_epochs,
    where_argument,
)
from replay.errors import OptionError
from replay.views.registry import LIMITS, VALUES, view_names, view_options

#: The figure size of the five-panel scene, and of each panel of --view.
SCENE_SIZE = (12.0, 6.0)
VIEW_SIZE = (5.5, 4.8)


def run(args):
    """Render a run's five-panel scene (or one epoch of it) to MP4, GIF or PNG."""
    from replay.render import Scene, output_kind
    from replay.run import Run

    kind = output_kind(args.out)
    check_output_options(args, kind)
    path, name = _one_run(args)
    with Run(path, name, model_file=args.model_file) as run:
        owner = f"run {run.name!r}"
        epoch = check_epoch(args.epoch, run, owner) if kind == "png" else None
        epochs = select_epochs(args.epochs, run, owner) if kind != "png" else None
        title_prefix = run.name if args.title_prefix is None else args.title_prefix
        if args.view:
            scene = views_scene(run, args, title_prefix)
        else:
            scene = Scene.default(run, layer=args.layer, figsize=args.figsize or SCENE_SIZE,
                                  metric=args.metric, values=args.values or "snapshots",
                                  limits=args.limits, title_prefix=title_prefix)
        save_and_report(scene, args, kind, epoch, epochs)
    return 0


def _one_run(args):
    """The file and run name that FILE (a file, FILE:RUN, a directory or a glob), --run and
    --where name.

    A directory or a glob must narrow down to exactly one run.
    """
    import glob
    from pathlib import Path

    from replay.collection import Runs

    file, colon, _ = args.file.rpartition(":")
    run_spec = bool(colon and file) and not Path(args.file).exists() and Path(file).is_file()
    many = run_spec or Path(args.file).is_dir() or (not Path(args.file).exists()
                                                    and glob.has_magic(args.file))
    if not many and not args.where:
        return args.file, args.run  # Run checks the name (and takes the only run)
    check_run_files([args.file])
    runs = Runs(args.file)
    if args.run:
        runs = runs.named([args.run])
    if args.where:
        runs = runs.where(**dict(args.where))
    if len(runs) != 1:
        shown = ", ".join(runs.labels()[:5]) + (", ..." if len(runs) > 5 else "")
        raise OptionError(
            f"replay render draws one run, but '{args.file}'"
            + (f" with {' '.join(f'{k}={v}' for k, v in args.where)}" if args.where else "")
            + f" selects {len(runs)}" + (f": {shown}" if len(runs) else "")
            + ". Narrow it down with --run NAME, --where NAME=VALUE or a narrower glob.")
    (record,) = runs.records
    return record.path, record.name


def views_scene(run, args, title_prefix):
    """A scene of the registered views ``--view`` side by side, with the options given."""
    from replay.render import Scene
    from replay.views import VIEWS

    options = {option.name: getattr(args, option.name, None) for option in view_options()}
    views = [VIEWS[name].build(run, **options) for name in args.view]
    columns = sum(view.n_axes for view in views)
    scene = Scene(nrows=1, ncols=columns, title_prefix=title_prefix,
                  figsize=args.figsize or (VIEW_SIZE[0] * columns, VIEW_SIZE[1]))
    column = 0
    for view in views:
        scene.add(view, *[(0, column + axis) for axis in range(view.n_axes)])
        column += view.n_axes
    return scene


def add(subparsers):
    parser = subparsers.add_parser(
        "render", help="render the five-panel scene of a run to MP4, GIF or PNG",
        description="Render the figure of a run: for classification the five-panel "
                    "figure (feature space, probability histograms, loss and accuracy, "
                    "per-sample losses); for regression predictions against targets, "
                    "residuals, loss and per-sample losses beside the feature space "
                    "coloured by target. The output kind follows the extension of --out.")
    parser.add_argument("file", help="run file (.h5), FILE:RUN, or a directory or glob of run files "
                                     "that --run / --where narrow down to one run")
    parser.add_argument("--run", help="run name (may be omitted when the file holds one)")
    parser.add_argument("--where", nargs="+", metavar="NAME=VALUE", type=where_argument,
                        help="the run with these hyperparameters, e.g. activation=relu lr=0.1")
    parser.add_argument("--model-file", help=MODEL_FILE_HELP)
    parser.add_argument("--out", required=True, help="output file: .mp4, .gif or .png")
    parser.add_argument("--layer", help="hidden layer of the feature space (default: the "
                                        "run's only 2-unit hidden layer, else its last "
                                        "hidden layer, through PCA)")

    parser.add_argument("--limits", choices=LIMITS.choices, default="fixed", help=LIMITS.help)
    parser.add_argument("--view", nargs="+", metavar="VIEW", choices=view_names(),
                        help="registered views side by side instead of the scene: "
                             f"{', '.join(view_names())}")
    for option in view_options():  # the views' own options not offered above
        if option.name not in ("layer", "limits", "metric", "values"):
            parser.add_argument(f"--{option.name}", choices=option.choices, type=option.type,
                                help=f"with --view: {option.help}")
    add_frame_arguments(parser)
    parser.add_argument("--figsize", type=figure_size,
                        help="figure size in inches, WIDTHxHEIGHT (default 12x6; with --view "
                             "5.5x4.8 per panel)")
    parser.add_argument("--metric", help="metric of the loss panel (default: accuracy, or the "
                                         "first recorded metric)")
    parser.add_argument("--values", choices=VALUES.choices, help=VALUES.help)
    parser.add_argument("--title-prefix", help="text before 'Epoch N' (default: the run name)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
