"""``replay render``: the figure of one run as MP4, GIF or PNG."""

from replay.cli.common import (
    MODEL_FILE_HELP,
    check_epoch,
    check_output_options,
    epoch_argument,
    figure_size,
    save_and_report,
    select_epochs,
)
from replay.views.registry import LIMITS


def run(args):
    """Render a run's five-panel scene (or one epoch of it) to MP4, GIF or PNG."""
    from replay.render import Scene, output_kind
    from replay.run import Run

    kind = output_kind(args.out)
    check_output_options(args, kind)
    with Run(args.file, args.run, model_file=args.model_file) as run:
        owner = f"run {run.name!r}"
        epoch = check_epoch(args.epoch, run, owner) if kind == "png" else None
        epochs = select_epochs(args.epochs, run, owner) if kind != "png" else None
        scene = Scene.default(run, layer=args.layer, figsize=args.figsize, metric=args.metric,
                              limits=args.limits,
                              title_prefix=run.name if args.title_prefix is None
                              else args.title_prefix)
        save_and_report(scene, args, kind, epoch, epochs)
    return 0


def add(subparsers):
    from replay.render.save import MEDIA_ARGUMENTS

    parser = subparsers.add_parser(
        "render", help="render the five-panel scene of a run to MP4, GIF or PNG",
        description="Render the figure of a run: for classification the five-panel "
                    "figure (feature space, probability histograms, loss and accuracy, "
                    "per-sample losses); for regression predictions against targets, "
                    "residuals, loss and per-sample losses beside the feature space "
                    "coloured by target. The output kind follows the extension of --out.")
    parser.add_argument("file", help="run file (.h5)")
    parser.add_argument("--run", help="run name (may be omitted when the file holds one)")
    parser.add_argument("--model-file", help=MODEL_FILE_HELP)
    parser.add_argument("--out", required=True, help="output file: .mp4, .gif or .png")
    parser.add_argument("--layer", help="hidden layer of the feature space (default: the "
                                        "run's only 2-unit hidden layer, else its last "
                                        "hidden layer, through PCA)")
    parser.add_argument("--limits", choices=LIMITS.choices, default="fixed", help=LIMITS.help)
    parser.add_argument("--epochs", help="snapshots of an .mp4/.gif, start:stop:step "
                                         "(default: all; write --epochs=-50: for a "
                                         "negative start)")
    parser.add_argument("--epoch", type=epoch_argument,
                        help="snapshot of a .png: an index (default: the last; -1 is the last) "
                             "or an epoch value with a point, e.g. 2.5 on a per-batch run")
    parser.add_argument("--fps", type=float, default=10, help="frames per second (default 10)")
    parser.add_argument("--dpi", type=float, help="pixels per inch (default 100)")
    for flag, options in MEDIA_ARGUMENTS:  # --width, --preset, --hold-last, --loop, --colors
        parser.add_argument(flag, **options)
    parser.add_argument("--figsize", type=figure_size, default=(12.0, 6.0),
                        help="figure size in inches, WIDTHxHEIGHT (default 12x6)")
    parser.add_argument("--metric", help="metric of the loss panel (default: accuracy, or the "
                                         "first recorded metric)")
    parser.add_argument("--title-prefix", help="text before 'Epoch N' (default: the run name)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
