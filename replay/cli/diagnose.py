"""``replay diagnose``: the usual ways training goes wrong, found in recorded runs."""

from replay.cli.common import MODEL_FILE_HELP, check_run_files, counted


def run(args):
    """Print the findings of :func:`replay.diagnose.diagnose` for runs, grouped by run."""
    import json

    from replay.diagnose import diagnose
    from replay.io.runfile import list_runs
    from replay.run import Run

    check_run_files(args.files)
    results = []
    for index, file in enumerate(args.files):
        names = args.run or list_runs(file)
        if not args.json:
            print(("\n" if index else "") + f"{file}: {counted(len(names), 'run')}")
        for name in names:
            with Run(file, name, model_file=args.model_file) as run:
                diagnosis = diagnose(run, checks=args.checks, source=args.source)
            results.append(diagnosis)
            if not args.json:
                print("\n" + diagnosis.format())
    if args.json:
        print(json.dumps({"runs": [diagnosis.to_dict() for diagnosis in results]}, indent=2))
    return 0  # findings are not errors


def add(subparsers):
    from replay.diagnose import CHECKS

    parser = subparsers.add_parser(
        "diagnose", help="find dead, saturated or symmetric units, vanishing gradients, "
                         "divergence, a stalled loss",
        description="Check recorded runs for the usual ways training goes wrong and print "
                    "one line per finding (severity, check, layer, epochs, the measured "
                    "number, what usually helps), grouped by run. Thresholds: "
                    "docs/diagnose.md. Findings are not errors: the exit status is 0.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="run file(s) (.h5)")
    parser.add_argument("--run", nargs="+", metavar="RUN",
                        help="run names (in every FILE; default: all runs)")
    parser.add_argument("--checks", nargs="+", choices=CHECKS, metavar="CHECK",
                        help=f"checks to run (default: all): {', '.join(CHECKS)}")
    parser.add_argument("--source", choices=("train", "validation"), default="train",
                        help="recorded samples to look at (default train)")
    parser.add_argument("--model-file", help=MODEL_FILE_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=run)
