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
import warnings

from replay import __version__
from replay.cli import compact, compare, diagnose, explore, info, render, table, watch
from replay.errors import BudgetWarning, ReplayError, UnreadableRunWarning

#: Registered verbs, in the order ``replay --help`` lists them.
VERBS = [info, render, compare, table, compact, diagnose, watch, explore]


def verb_name(verb):
    """The command-line name of a verb module (``replay.cli.info`` -> ``info``)."""
    return verb.__name__.rpartition(".")[2]


def build_parser(only=None):
    """Return the ``replay`` argument parser with every verb of :data:`VERBS`.

    Args:
        only: the name of the one verb to add (``main`` passes the verb it
            runs): the parsers of the verbs that draw list the registered
            views, which imports matplotlib, and ``replay table`` or
            ``replay diagnose`` of a sweep should not pay for it.
    """
    parser = argparse.ArgumentParser(
        prog="replay", description="Replay a recorded Keras training run as pictures."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        if only is None or verb_name(verb) == only:
            verb.add(subparsers)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Print replay's own warnings (e.g. a run file left out of a sweep) as one line."""
    if issubclass(category, (UnreadableRunWarning, BudgetWarning)):
        print(f"replay: warning: {message}", file=sys.stderr if file is None else file)
    else:
        _default_show_warning(message, category, filename, lineno, file, line)


_default_show_warning = warnings.showwarning


def main(argv=None):
    """Run the ``replay`` command with ``argv`` (default: ``sys.argv[1:]``); return its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    verbs = [verb_name(verb) for verb in VERBS]
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = build_parser(chosen if chosen in verbs else None)
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.func(args)
    except ReplayError as error:
        print(f"replay {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `replay info ... | head` closed the pipe: stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
