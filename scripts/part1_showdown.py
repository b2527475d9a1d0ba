"""Experiment 1, compared: the sigmoid, tanh and relu part-1 nets side by side.

Uses the runs of ``scripts/part1_activation_functions.py`` in ``OUT/part1.h5``
(training the missing ones first, about 10 s each here), then writes:

- ``showdown_epoch<N>.png``: per activation, the feature space of the hidden
  layer on top and the decision boundary in the input space below;
- ``showdown.mp4``: the same over training, one epoch clock;
- ``showdown_curves.png``: loss and accuracy of the three runs, overlaid, side by side;
- ``showdown_loss_accuracy.png``: each run's loss and accuracy panel, side by side;
- ``showdown_results.md`` / ``showdown_results.csv``: the results table, also printed.

Usage:
    python scripts/part1_showdown.py --out runs/part1
    python scripts/part1_showdown.py --out runs/part1 --stills 20 60 150 --step 2
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

SCRIPTS = Path(__file__).resolve().parent
ACTIVATIONS = ("sigmoid", "tanh", "relu")


def ensure_runs(path, names, epochs):
    """Train every part-1 run of ``names`` that is missing or incomplete (see part 1's script)."""
    sys.path.insert(0, str(SCRIPTS))
    from part1_activation_functions import ensure_runs as ensure

    ensure(path, names, epochs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/part1", help="output folder")
    parser.add_argument("--epochs", type=int, default=150, help="training epochs per run")
    parser.add_argument("--stills", type=int, nargs="+", default=[20, 150],
                        help="epochs of the still showdown figures (default 20 150)")
    parser.add_argument("--step", type=int, default=1, help="epoch step of the MP4")
    parser.add_argument("--no-video", action="store_true", help="skip the MP4")
    args = parser.parse_args(argv)

    from replay.compare import ComparisonScene, open_runs, results_table

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "part1.h5"
    ensure_runs(path, ACTIVATIONS, args.epochs)
    runs = open_runs(ACTIVATIONS, path=path)

    for epoch in args.stills:
        stats = ComparisonScene.grid(runs, title_prefix="Part 1 showdown").save(
            out / f"showdown_epoch{epoch}.png", epoch=epoch)
        print(f"wrote {stats.path}")
    stats = ComparisonScene.curves(runs, ["loss", "accuracy"],
                                   title_prefix="Part 1").save(out / "showdown_curves.png")
    print(f"wrote {stats.path}")
    stats = ComparisonScene.grid(runs, ["loss-and-metric"], panel_size=(4.2, 3.2),
                                 title_prefix="Part 1").save(out / "showdown_loss_accuracy.png")
    print(f"wrote {stats.path}")
    if not args.no_video:
        stats = ComparisonScene.grid(runs, title_prefix="Part 1 showdown").save(
            out / "showdown.mp4", epochs=f"::{args.step}", fps=10)
        print(f"wrote {stats.path} ({stats.frames} frames, {stats.seconds:.1f} s)")

    table = results_table(runs, metrics=["loss", "accuracy"])
    (out / "showdown_results.md").write_text(table.to_markdown() + "\n")
    table.to_csv(out / "showdown_results.csv")
    print()
    print(table.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
