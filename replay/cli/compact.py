"""``replay compact``: give back the space of overwritten runs."""

from replay.cli.common import format_bytes


def run(args):
    """Rewrite a run file without the space of deleted (overwritten) runs."""
    from replay.io.runfile import compact

    before, after = compact(args.file)
    print(f"compacted {args.file}: {format_bytes(before)} -> {format_bytes(after)}")
    return 0


def add(subparsers):
    parser = subparsers.add_parser(
        "compact", help="give back the space of overwritten runs",
        description="HDF5 keeps the space of a deleted group: a file whose runs were "
                    "replaced with Recorder(..., overwrite=True) grows. This rewrites the "
                    "file with its runs only. Nobody may be writing the file meanwhile.")
    parser.add_argument("file", help="run file (.h5)")
    parser.set_defaults(func=run)
