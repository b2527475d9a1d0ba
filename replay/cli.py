"""The ``replay`` command line.

Each verb is a function ``add_<verb>(subparsers)`` that registers its parser
and sets ``func``; :func:`main` dispatches and turns replay's own errors
into a one-line message and exit status 2.
"""

import argparse
import sys

from replay.errors import ReplayError


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


def build_parser():
    parser = argparse.ArgumentParser(
        prog="replay", description="Replay a recorded Keras training run as pictures."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in VERBS:
        add(subparsers)
    return parser


#: Registered verbs, in the order ``replay --help`` lists them.
VERBS = [add_info]


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
