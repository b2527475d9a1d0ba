"""The ``replay`` command line.

Each verb is a function ``add_<verb>(subparsers)`` that registers its parser
and sets ``func``; :func:`main` dispatches and turns replay's own errors
into a one-line message and exit status 2.
"""

import argparse
import sys

from replay.errors import OptionError, ReplayError


def _format_bytes(size):
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def run_info(args):
    """Print the runs of a file: snapshots, layers, history keys and array sizes."""
    from replay.run import Run
    from replay.runfile import list_runs

    names = list_runs(args.file) if not args.run else [args.run]
    print(f"{args.file}: {len(names)} run(s)")
    for name in names:
        with Run(args.file, name) as run:
            attrs = run.attrs
            status = "complete" if run.complete else "INCOMPLETE"
            if run.stopped_early:
                status += ", stopped early"
            print(f"\nrun {name!r}: {run.n_snapshots} snapshots "
                  f"(epochs {run.epochs[0]:g}..{run.epochs[-1]:g}), {status}")
            print(f"  keras {attrs.get('keras_version')} on {attrs.get('backend')}, "
                  f"loss {attrs.get('loss')}, batch size {attrs.get('batch_size')}, "
                  f"{attrs.get('n_samples')} samples, created {attrs.get('created')}")
            for layer in run.layers:
                role = "hidden" if layer.hidden else "output"
                print(f"  layer {layer.name:<16} {layer.class_name:<8} {layer.units:>5} units "
                      f"{layer.activation:<12} {role}")
            history = run.history
            if history:
                keys = [key for key in history if key != "epoch"]
                final = ", ".join(f"{key}={history[key][-1]:.4g}" for key in keys)
                print(f"  history ({len(history.get('epoch', []))} epochs): {final}")
            if args.arrays:
                for path, (shape, dtype, size) in sorted(run.arrays().items()):
                    print(f"    {path:<40} {str(shape):<22} {str(dtype):<8} "
                          f"{_format_bytes(size)}")
            total = sum(size for _, _, size in run.arrays().values())
            print(f"  arrays: {len(run.arrays())}, stored size {_format_bytes(total)}")
    return 0


def add_info(subparsers):
    parser = subparsers.add_parser("info", help="describe the runs of a run file")
    parser.add_argument("file", help="run file (.h5)")
    parser.add_argument("--run", help="only this run")
    parser.add_argument("--arrays", action="store_true", help="list every array")
    parser.set_defaults(func=run_info)


def run_render(args):
    """Render a run's five-panel scene (or one epoch of it) to MP4, GIF or PNG."""
    from replay.run import Run
    from replay.scene import Scene
    from replay.writers import output_kind

    kind = output_kind(args.out)
    with Run(args.file, args.run) as run:
        scene = Scene.part1(run, layer=args.layer, figsize=args.figsize,
                            title_prefix=run.name if args.title_prefix is None
                            else args.title_prefix)
        if kind == "png":
            stats = scene.save(args.out, epoch=args.epoch, dpi=args.dpi)
            print(f"wrote {stats.path} (epoch {scene.epoch_}, "
                  f"{stats.size[0]}x{stats.size[1]} pixels)")
        else:
            if args.epoch is not None:
                raise OptionError(
                    f"--epoch picks one epoch for a .png; for a {kind.upper()} use "
                    "--epochs start:stop:step."
                )
            stats = scene.save(args.out, epochs=args.epochs, fps=args.fps, dpi=args.dpi,
                               progress=not args.quiet)
            print(f"wrote {stats.path} ({stats.frames} frames, {stats.size[0]}x"
                  f"{stats.size[1]} pixels, {stats.seconds:.1f} s, {stats.fps:.1f} fps)")
    return 0


def _figure_size(text):
    try:
        width, height = (float(part) for part in text.lower().split("x"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"figure size must look like WIDTHxHEIGHT in inches, e.g. 12x6. Got {text!r}."
        ) from error
    return width, height


def add_render(subparsers):
    parser = subparsers.add_parser(
        "render", help="render the five-panel scene of a run to MP4, GIF or PNG",
        description="Render the five-panel figure (feature space, probability "
                    "histograms, loss and accuracy, per-sample losses) of a run. "
                    "The output kind follows the extension of --out.")
    parser.add_argument("file", help="run file (.h5)")
    parser.add_argument("--run", help="run name (may be omitted when the file holds one)")
    parser.add_argument("--out", required=True, help="output file: .mp4, .gif or .png")
    parser.add_argument("--layer", help="hidden layer of the feature space (default: the "
                                        "run's only 2-unit hidden layer)")
    parser.add_argument("--epochs", help="snapshots of an animation, start:stop:step "
                                         "(default: all)")
    parser.add_argument("--epoch", type=int, help="snapshot of a .png (default: the last)")
    parser.add_argument("--fps", type=float, default=10, help="frames per second (default 10)")
    parser.add_argument("--dpi", type=float, default=100, help="pixels per inch (default 100)")
    parser.add_argument("--figsize", type=_figure_size, default=(12.0, 6.0),
                        help="figure size in inches, WIDTHxHEIGHT (default 12x6)")
    parser.add_argument("--title-prefix", help="text before 'Epoch N' (default: the run name)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_render)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="replay", description="Replay a recorded Keras training run as pictures."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in VERBS:
        add(subparsers)
    return parser


#: Registered verbs, in the order ``replay --help`` lists them.
VERBS = [add_info, add_render]


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ReplayError as error:
        print(f"replay {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
