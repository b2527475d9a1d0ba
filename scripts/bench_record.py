"""Benchmark: the cost of recording a part-1 training run.

Trains the part-1 sigmoid net (150 epochs, batch 16, JAX) with and without a
default :class:`replay.Recorder`, alternating, and prints the run-file size
per epoch and, as the last line, the median ratio of recorded to plain
training time.

The first recorded run of a session is measured apart ("cold"): it compiles
the recorder's snapshot function and starts its writer process, which later
runs of same-shaped models in the session reuse. The pairs after it are the
steady state of a session that records several runs, and give the last line.

Usage:
    python scripts/bench_record.py [--pairs 7] [--epochs 150]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from part1_activation_functions import train  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=150)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        train(Path(folder) / "warmup.h5", "sigmoid", epochs=2, record=False)  # JAX, XLA
        timings = {}
        for record in (False, True):
            start = time.perf_counter()
            train(Path(folder) / "cold.h5", "sigmoid", epochs=args.epochs, record=record)
            timings[record] = time.perf_counter() - start
        print(f"cold (first recorded run of the session): plain {timings[False]:.2f} s, "
              f"recorded {timings[True]:.2f} s, ratio {timings[True] / timings[False]:.3f}")
        ratios = []
        for pair in range(args.pairs):
            timings = {}
            path = Path(folder) / f"bench_{pair}.h5"  # fresh file: its size is one run
            for record in (pair % 2 == 0, pair % 2 == 1):  # alternate the order
                start = time.perf_counter()
                train(path, "sigmoid", epochs=args.epochs, record=record)
                timings[record] = time.perf_counter() - start
            ratios.append(timings[True] / timings[False])
            print(f"pair {pair + 1}: plain {timings[False]:.2f} s, recorded "
                  f"{timings[True]:.2f} s, ratio {ratios[-1]:.3f}")
        size = path.stat().st_size
        print(f"run file: {size / 1e6:.1f} MB for {args.epochs} epochs, "
              f"{size / 1e3 / (args.epochs + 1):.0f} KB per snapshot")
    print(f"record overhead ratio: {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
