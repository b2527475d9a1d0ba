"""``replay table``: the final and best value of each metric per run."""

import sys

from replay.cli.common import add_run_selection, selected_runs


def run(args):
    """Print (or write) the results table of runs as Markdown or CSV."""
    runs = selected_runs(args)
    table = runs.results_table(args.metrics)
    text = table.to_markdown() + "\n" if args.format == "markdown" else table.to_csv()
    if args.out:
        with open(args.out, "w", newline="") as handle:
            handle.write(text)
        print(f"wrote {args.out} ({len(table.rows)} runs)")
    else:
        sys.stdout.write(text)
    return 0


def add(subparsers):
    parser = subparsers.add_parser(
        "table", help="final and best value of each metric per run (Markdown or CSV)",
        description="Summarize the recorded histories of runs: their hyperparameters, then "
                    "per metric the final value, the best value and its epoch, and for "
                    "accuracies the first epoch at 100%. FILE may be a directory of run "
                    "files (a sweep) or a glob; unreadable files there are left out with "
                    "a warning.")
    add_run_selection(parser)
    parser.add_argument("--metrics", nargs="+", metavar="KEY",
                        help="history keys to summarize (default: all metrics)")
    parser.add_argument("--format", choices=("markdown", "csv"), default="markdown",
                        help="output format (default markdown)")
    parser.add_argument("--out", help="write to this file instead of printing")
    parser.set_defaults(func=run)
