"""The ``replay`` command line.

One module per verb (:mod:`replay.cli.info`, :mod:`replay.cli.render`, ...),
each with ``add(subparsers)``, which registers its parser and sets ``func``,
and ``run(args)``; what the verbs share is in :mod:`replay.cli.common`.
:func:`main` dispatches and turns replay's own errors into a one-line
message and exit status 2.
"""

import argparse
import os
import sys

from replay import __version__
from replay.cli import compact, compare, diagnose, explore, info, render, table, watch
from replay.errors import ReplayError

#: Registered verbs, in the order ``replay --help`` lists them.
VERBS = [info, render, compare, table, compact, diagnose, watch, explore]


def build_parser():
    """Return the ``replay`` argument parser with every verb of :data:`VERBS`."""
    parser = argparse.ArgumentParser(
        prog="replay", description="Replay a recorded Keras training run as pictures."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        verb.add(subparsers)
    return parser


def main(argv=None):
    """Run the ``replay`` command with ``argv`` (default: ``sys.argv[1:]``); return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ReplayError as error:
        print(f"replay {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `replay info ... | head` closed the pipe: stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
