"""``replay diagnose``: the usual ways training goes wrong, found in recorded runs."""

from replay.cli.common import MODEL_FILE_HELP, add_run_selection, counted, selected_runs


def run(args):
    """Print the findings of :func:`replay.diagnose.diagnose` for runs, grouped by file, and
    for several runs a summary: each kind of finding, in how many runs, and the
    hyperparameters those runs share."""
    import json

    from replay.findings import diagnose_runs

    runs = selected_runs(args)
    result = diagnose_runs(runs, checks=args.checks, source=args.source,
                           processes=args.processes, model_file=args.model_file)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    if not args.summary:
        by_file = {}
        for diagnosis in result:
            by_file.setdefault(diagnosis.path, []).append(diagnosis)
        for index, (path, diagnoses) in enumerate(by_file.items()):
            print(("\n" if index else "") + f"{path}: {counted(len(diagnoses), 'run')}")
            for diagnosis in diagnoses:
                print("\n" + diagnosis.format())
        for label, message in result.failed.items():
            print(f"\nrun {label}: not diagnosed: {message}")
    if args.summary or len(result) + len(result.failed) > 1:
        print(("" if args.summary else "\n") + "summary: " + result.format_summary())
    return 0  # findings are not errors


def add(subparsers):
    from replay.diagnose import CHECKS

    parser = subparsers.add_parser(
        "diagnose", help="find dead, saturated or symmetric units, vanishing gradients, "
                         "divergence, a stalled loss",
        description="Check recorded runs for the usual ways training goes wrong and print "
                    "one line per finding (severity, check, layer, epochs, the measured "
                    "number, what usually helps), grouped by run; for several runs, then a "
                    "summary: each kind of finding, in how many runs, and the "
                    "hyperparameters those runs share (e.g. 'symmetric-units in 9 of 27 "
                    "runs: all initializer=zeros'). FILE may be a directory of run files "
                    "(a sweep) or a glob; the runs are diagnosed in parallel processes. "
                    "Thresholds: docs/diagnose.md. Findings are not errors: the exit "
                    "status is 0.")
    add_run_selection(parser, runs_flag="--run")
    parser.add_argument("--checks", nargs="+", choices=CHECKS, metavar="CHECK",
                        help=f"checks to run (default: all): {', '.join(CHECKS)}")
    parser.add_argument("--source", choices=("train", "validation"), default="train",
                        help="recorded samples to look at (default train)")
    parser.add_argument("--model-file", help=MODEL_FILE_HELP)
    parser.add_argument("--summary", action="store_true",
                        help="print only the summary over the runs, not every run's findings")
    parser.add_argument("--processes", type=int,
                        help="worker processes (default: every core, for more than 8 runs)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=run)
