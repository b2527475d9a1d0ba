"""Benchmark: reading a sweep of 1,000 part-1-sized runs, one file each.

The sweep is made, not trained: each run file is a copy of one real
recorded part-1 run (2 → 2 → 1, 150 epochs, 2,000 samples and the probe
grid and mesh; ``scripts/part1_activation_functions.py``) of its
activation, given hyperparameters (activation × initializer × learning
rate × batch size × seed) and a history and weights that follow them, so
that filtering and the diagnosis find real differences:

- ``initializer=zeros``: the two hidden units get the same incoming weights
  at every snapshot (symmetric units) and the loss stalls near ln 2;
- ``initializer=normal`` (a large sigma): the hidden weights are 8× the
  recorded ones, which saturates sigmoid and tanh units; a relu run gets
  a unit whose bias keeps it at 0 (a dead unit);
- ``learning_rate=0.5`` with relu: the loss and the weights turn NaN from
  a random epoch on (divergence);
- otherwise the recorded loss and accuracy curves, sped up or slowed down
  with the learning rate, plus a little noise.

Then, each printed on its own line (wall-clock and CPU seconds, and the
peak memory -- proportional set size -- of the process tree, in fresh
processes; the load average is printed too, as the wall times count the
share of the cores other processes take):

- ``replay table DIR`` (whole process);
- opening the collection and filtering by a hyperparameter, in Python
  (``len(replay.Runs(DIR).where(activation="relu"))``, whole process and
  in-process time);
- ``replay diagnose DIR`` (whole process, both cores).

The **last line** is ``table: X s``.

Usage:
    python scripts/bench_sweep.py [--runs 1000] [--source part1.h5] [--out DIR] [--keep]

Without ``--source`` it first records the three part-1 runs (a minute or
two) into a temporary folder.
"""

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import h5py
import numpy as np

SCRIPTS = Path(__file__).resolve().parent
ACTIVATIONS = ("sigmoid", "tanh", "relu")
INITIALIZERS = ("zeros", "normal", "glorot", "he")
LEARNING_RATES = (0.01, 0.05, 0.1, 0.5)
BATCH_SIZES = (16, 32)


def record_source(folder):
    """Record the three part-1 runs (150 epochs) into ``folder/part1.h5``; return its path."""
    subprocess.run([sys.executable, str(SCRIPTS / "part1_activation_functions.py"),
                    "--out", str(folder)], check=True, env={**os.environ,
                                                            "KERAS_BACKEND": "jax"})
    return Path(folder) / "part1.h5"


def templates(source, folder):
    """One file per activation holding only that run of ``source``: ``{activation: path}``."""
    found = {}
    with h5py.File(source, "r") as handle:
        for activation in ACTIVATIONS:
            if activation not in handle:
                raise SystemExit(f"{source} has no run {activation!r}: record it with "
                                 "scripts/part1_activation_functions.py")
            path = Path(folder) / f"template_{activation}.h5"
            with h5py.File(path, "w", libver=("v110", "v110")) as target:
                for key, value in handle.attrs.items():
                    target.attrs[key] = value
                handle.copy(handle[activation], target, name="run")
            found[activation] = path
    return found


def sweep_configs(n, seed=0):
    """``n`` hyperparameter sets: the grid (shuffled, so that a few runs already vary every
    hyperparameter), repeated with new seeds, in a shuffled order."""
    rng = np.random.default_rng(seed)
    grid = list(itertools.product(ACTIVATIONS, INITIALIZERS, LEARNING_RATES, BATCH_SIZES))
    grid = [grid[index] for index in rng.permutation(len(grid))]
    configs = [{"activation": activation, "initializer": initializer,
                "learning_rate": learning_rate, "batch_size": batch_size,
                "seed": index // len(grid)}
               for index, (activation, initializer, learning_rate, batch_size)
               in zip(range(n), itertools.cycle(grid))]
    return [configs[index] for index in rng.permutation(n)]


def warped(curve, speed):
    """``curve`` (one value per epoch) run ``speed`` times as fast (the end held)."""
    epochs = np.arange(len(curve), dtype=np.float64)
    return np.interp(np.minimum(epochs * speed, len(curve) - 1), epochs, curve)


def vary_run(group, config, rng):
    """Give a copied run the history and weights its hyperparameters would give."""
    history = group["history"]
    loss = history["loss"][:]
    accuracy = history["accuracy"][:]
    kernel = group["weights/hidden/kernel"][:]
    bias = group["weights/hidden/bias"][:]
    n_epochs = len(loss)
    initializer, learning_rate = config["initializer"], config["learning_rate"]
    speed = (learning_rate / 0.05) ** 0.5 * rng.uniform(0.8, 1.25)
    if initializer == "zeros":
        loss = np.log(2.0) * (1.0 + rng.normal(0.0, 1e-4, n_epochs))
        accuracy = np.full(n_epochs, 0.5) + rng.normal(0.0, 0.005, n_epochs)
        kernel[:, :, 1] = kernel[:, :, 0]
        bias[:, 1] = bias[:, 0]
    else:
        loss = warped(loss, speed) * np.exp(rng.normal(0.0, 0.02, n_epochs))
        accuracy = np.clip(warped(accuracy, speed) + rng.normal(0.0, 0.003, n_epochs), 0, 1)
        if initializer == "normal":
            kernel *= 8.0
            bias *= 8.0
            if config["activation"] == "relu":
                bias[:, 1] = -50.0
    if learning_rate == 0.5 and config["activation"] == "relu":
        start = int(rng.integers(5, n_epochs - 5))
        loss[start:] = np.nan
        kernel[start + 1:] = np.nan
    history["loss"][:] = loss
    history["accuracy"][:] = accuracy
    history["learning_rate"][:] = learning_rate
    group["weights/hidden/kernel"][:] = kernel
    group["weights/hidden/bias"][:] = bias


def make_sweep(source, out, n, seed=0):
    """Write ``n`` run files ``out/trial_NNNN.h5`` from the runs of ``source``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as folder:
        models = templates(source, folder)
        for index, config in enumerate(sweep_configs(n, seed)):
            name = f"trial_{index:04d}"
            path = out / f"{name}.h5"
            shutil.copyfile(models[config["activation"]], path)
            with h5py.File(path, "a") as handle:
                handle.move("run", name)
                group = handle[name]
                group.attrs["hparams"] = json.dumps(config)
                group.attrs["trial"] = json.dumps({"engine": "bench_sweep", "id": f"{index:04d}"})
                vary_run(group, config, rng)
    return out


# -- measuring --------------------------------------------------------------------------


def measure(command, *, env=None):
    """Run ``command``; return (wall seconds, CPU seconds of it and its children, peak MB of
    its process tree, stdout).

    The memory is the sum of the proportional set sizes (PSS) of the process
    and its children, sampled every 20 ms: forked workers share their pages
    with the parent, which a sum of resident sizes would count twice.
    """
    import resource

    import psutil

    def cpu():
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    before = cpu()
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            total = 0
            try:
                for part in [root, *root.children(recursive=True)]:
                    try:
                        total += part.memory_full_info().pss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            peak = max(peak, total)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr}")
    return seconds, cpu() - before, peak / 2**20, stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="run files to make (1000)")
    parser.add_argument("--source", help="a part-1 run file with runs sigmoid, tanh and relu "
                                         "(default: record one first)")
    parser.add_argument("--out", help="folder of the sweep (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the sweep folder")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the sweep already in --out instead of making it")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    out = Path(args.out) if args.out else work / "sweep"
    try:
        if not args.reuse:
            source = Path(args.source) if args.source else record_source(work / "source")
            start = time.perf_counter()
            make_sweep(source, out, args.runs)
            files = sorted(out.glob("*.h5"))
            size = sum(path.stat().st_size for path in files) / len(files) / 1e6
            print(f"made {len(files)} run files in {time.perf_counter() - start:.1f} s "
                  f"({size:.2f} MB a run)", flush=True)
        report(out)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            if args.out and not args.reuse:
                shutil.rmtree(out, ignore_errors=True)


def report(out):
    python = sys.executable
    env = {**os.environ, "MPLBACKEND": "Agg"}
    print(f"load average before measuring: {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores (wall times count the other processes' share)", flush=True)
    filtering = ("import time; start = time.perf_counter(); import replay; "
                 f"runs = replay.Runs({str(out)!r}); relu = runs.where(activation='relu'); "
                 "n = len(relu); print(n, len(runs), time.perf_counter() - start)")
    seconds, cpu, memory, stdout = measure([python, "-c", filtering], env=env)
    selected, total, inside = stdout.split()
    print(f"open + where(activation='relu'): {selected} of {total} runs in {float(inside):.2f} s "
          f"in-process, import included ({seconds:.2f} s whole process, {cpu:.2f} s CPU, "
          f"{memory:.0f} MB)", flush=True)
    seconds, cpu, memory, stdout = measure(
        [python, "-m", "replay.cli", "diagnose", str(out), "--summary"], env=env)
    print(f"replay diagnose DIR --summary: {seconds:.2f} s ({cpu:.2f} s CPU), {memory:.0f} MB",
          flush=True)
    print("\n".join("  " + line for line in stdout.strip().splitlines()[-12:]), flush=True)
    seconds, cpu, memory, stdout = measure([python, "-m", "replay.cli", "table", str(out)],
                                           env=env)
    rows = stdout.count("\n") - 2
    print(f"replay table DIR: {seconds:.2f} s ({cpu:.2f} s CPU), {memory:.0f} MB ({rows} rows)",
          flush=True)
    print(f"load average after measuring: {os.getloadavg()[0]:.1f}")
    print(f"table: {seconds:.2f} s")


if __name__ == "__main__":
    main()
