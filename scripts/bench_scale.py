"""Benchmark: what recording costs at four scales, with the default Recorder.

The runs (JAX, ``Recorder(path, run, inputs, targets)`` and nothing else):

- ``part1``: the part-1 sigmoid net (2 → 2 → 1), 2,000 parabola samples and the
  probe grid and mesh, 150 epochs of batch 16;
- ``part5``: the 8 × 8 digits nets of experiment 5 (64 → 64 → 64 → 10), 1,437
  training and 360 validation images, 30 epochs; the size is the whole
  file of its six activations, the times are those of the relu run;
- ``mlp``: 784 → 512 → 512 → 10 (relu, softmax) on 10,000 synthetic
  784-feature images (scikit-learn's 8 × 8 digits upsampled to 28 × 28,
  shifted by up to two pixels, plus noise: no download), 5 epochs of batch 32;
- ``cnn``: Conv2D(8, 3, relu) → max pooling → Dense(2) → Dense(10, softmax) on
  the 1,797 digits, 20 epochs of batch 32;
- ``cnn32``: a 65k-parameter CNN, Conv2D 32 → 64 → 64 (3 × 3, relu) → global
  average pooling → Dense(128, relu) → Dense(4, softmax), on 5,000 synthetic
  32 × 32 × 3 images of four classes (digits 0-3 upsampled, coloured,
  shifted, noisy: no download), 3 epochs of batch 32: a heavy model, whose
  snapshot costs what the budget's time rule allows. Its fits take about a
  minute each, so it is not in the default ``--only``; run it with
  ``--only cnn32 --first-runs 1``.

For each: the bytes per snapshot (run file size / snapshots); the fit-time
ratio recorded / plain, in alternating pairs after a warm-up (the median,
and the range over the pairs); the ratio of the **first** recorded run of
a fresh Python process (which compiles the snapshot function and starts
the writer process) to the plain fits around it, in ``--first-runs``
fresh processes (one sample each: the median, and the range); and the
peak resident memory of the trainer plus the writer child, against a
plain fit, each in a fresh process. Every scale runs in its own Python
processes. 2 cores shared with others make the times noisy: read the
ranges.

The **last line** is a one-line summary.

Usage:
    python scripts/bench_scale.py [--pairs 3] [--first-runs 3] [--only part1 mlp]
    python scripts/bench_scale.py --only cnn32 --pairs 4 --first-runs 1
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
SCRIPTS = Path(__file__).resolve().parent
SCALES = ("part1", "part5", "mlp", "cnn", "cnn32")
#: What runs without ``--only``: the scales whose fits take seconds.
DEFAULT_SCALES = ("part1", "part5", "mlp", "cnn")


# -- the four trainings ---------------------------------------------------------------------


def digits_images():
    """The 1,797 digits as ``(N, 8, 8, 1)`` images in [0, 1] and their labels."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32)[..., None], digits.target


def upsampled(small, size):
    """8 × 8 images ``(n, 8, 8)`` upsampled bilinearly to ``(n, size, size)``."""
    import numpy as np

    grid = np.linspace(0, 7, size)
    low = np.floor(grid).astype(int).clip(0, 6)
    weight = grid - low
    rows = small[:, low, :] * (1 - weight)[None, :, None] + small[:, low + 1, :] * weight[
        None, :, None]
    return rows[:, :, low] * (1 - weight)[None, None, :] + rows[:, :, low + 1] * weight[
        None, None, :]


def synthetic_mnist(n=10_000, seed=0):
    """``n`` 784-feature images: digits upsampled (bilinear) to 28 × 28, shifted, noisy."""
    import numpy as np

    images, labels = digits_images()
    rng = np.random.default_rng(seed)
    chosen = rng.integers(0, len(images), n)
    up = upsampled(images[chosen, ..., 0], 24)
    canvas = np.zeros((n, 28, 28), np.float32)
    shifts = rng.integers(0, 5, (n, 2))
    for index, (dy, dx) in enumerate(shifts):
        canvas[index, dy:dy + 24, dx:dx + 24] = up[index]
    canvas = np.clip(canvas + rng.normal(0.0, 0.05, canvas.shape), 0.0, 1.0)
    return canvas.reshape(n, 784).astype(np.float32), np.eye(10, dtype=np.float32)[
        labels[chosen]]


def synthetic_colour_images(n=5_000, seed=0, classes=4):
    """``n`` 32 × 32 × 3 images of ``classes`` classes and their labels.

    Digits ``0 .. classes - 1`` upsampled (bilinear) to 28 × 28, placed at a
    random offset, drawn in a random colour on a random dark background,
    plus noise: a task a small CNN learns over a few epochs.
    """
    import numpy as np

    images, labels = digits_images()
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(labels < classes)
    chosen = rng.choice(pool, n)
    up = upsampled(images[chosen, ..., 0], 28)
    background = rng.uniform(0.0, 0.4, (n, 1, 1, 3))
    ink = rng.uniform(0.5, 1.0, (n, 1, 1, 3))
    canvas = np.repeat(background, 32, axis=1).repeat(32, axis=2)
    shifts = rng.integers(0, 5, (n, 2))
    for index, (dy, dx) in enumerate(shifts):
        glyph = up[index][..., None]
        patch = canvas[index, dy:dy + 28, dx:dx + 28]
        canvas[index, dy:dy + 28, dx:dx + 28] = patch * (1 - glyph) + ink[index] * glyph
    canvas = np.clip(canvas + rng.normal(0.0, 0.05, canvas.shape), 0.0, 1.0)
    return canvas.astype(np.float32), labels[chosen]


class Scale:
    """One of the four runs: its data, its model and how it trains."""

    def __init__(self, name):
        import keras

        self.name = name
        self.keras = keras
        self.validation = None
        if name == "part1":
            from replay.datasets import parabola

            self.inputs, self.targets = parabola(1000)
            self.epochs, self.batch_size = 150, 16
        elif name == "part5":
            sys.path.insert(0, str(SCRIPTS))
            from part5_digits_activations import split_data

            (self.inputs, self.targets), self.validation = split_data(42)
            self.epochs, self.batch_size = 30, 32
        elif name == "mlp":
            self.inputs, self.targets = synthetic_mnist()
            self.epochs, self.batch_size = 5, 32
        elif name == "cnn":
            self.inputs, self.targets = digits_images()
            self.epochs, self.batch_size = 20, 32
        elif name == "cnn32":
            self.inputs, self.targets = synthetic_colour_images()
            self.epochs, self.batch_size = 3, 32
        else:
            raise SystemExit(f"unknown scale {name!r}; choose from {', '.join(SCALES)}")

    def model(self, activation=None):
        keras = self.keras
        if self.name == "part1":
            sys.path.insert(0, str(SCRIPTS))
            from part1_activation_functions import build_model

            return build_model(activation or "sigmoid")
        if self.name == "part5":
            from part5_digits_activations import build_model

            return build_model(activation or "relu")
        keras.utils.set_random_seed(3)
        if self.name == "mlp":
            model = keras.Sequential([
                keras.Input((784,)), keras.layers.Dense(512, activation="relu", name="hidden_1"),
                keras.layers.Dense(512, activation="relu", name="hidden_2"),
                keras.layers.Dense(10, activation="softmax", name="output")])
            model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy",
                          metrics=["accuracy"])
            return model
        if self.name == "cnn32":
            model = keras.Sequential([
                keras.Input((32, 32, 3)),
                keras.layers.Conv2D(32, 3, activation="relu", name="conv_1"),
                keras.layers.Conv2D(64, 3, activation="relu", name="conv_2"),
                keras.layers.Conv2D(64, 3, activation="relu", name="conv_3"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(128, activation="relu", name="dense"),
                keras.layers.Dense(4, activation="softmax", name="output")])
            model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                          metrics=["accuracy"])
            return model
        model = keras.Sequential([
            keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
            keras.layers.MaxPooling2D(), keras.layers.Flatten(),
            keras.layers.Dense(2, name="latent"),
            keras.layers.Dense(10, activation="softmax", name="output")])
        model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    def fit(self, path=None, *, run=None, activation=None, epochs=None):
        """Train once, recording into ``path`` (``None``: plain); return the seconds."""
        from replay import Recorder

        model = self.model(activation)
        callbacks = []
        if path is not None:
            callbacks = [Recorder(path, run or activation or self.name, self.inputs,
                                  self.targets, validation_data=self.validation,
                                  overwrite=True)]
        start = time.perf_counter()
        model.fit(self.inputs, self.targets, validation_data=self.validation,
                  epochs=epochs or self.epochs, batch_size=self.batch_size, verbose=0,
                  shuffle=True, callbacks=callbacks)
        return time.perf_counter() - start


# -- measuring one scale (in its own process) -------------------------------------------------


def first_recorded_ratio(scale, path):
    """Warm up, then time the process's first recorded fit (into ``path``) over the plain ones
    just before and after it."""
    scale.fit(epochs=2)  # JAX and XLA warm, the training step compiled once
    before = scale.fit()
    first = scale.fit(path)
    after = scale.fit()
    return 2 * first / (before + after)


def measure_first(name, folder):
    """The first recorded run of this process over the plain runs around it; a dict."""
    return {"name": name,
            "first_ratio": first_recorded_ratio(Scale(name), Path(folder) / f"{name}.h5")}


def measure_times(name, pairs, folder):
    """Size, first-run ratio and alternating pairs of one scale; a dict."""
    from replay import Run

    scale = Scale(name)
    cold_path = Path(folder) / f"{name}_cold.h5"
    cold_ratio = first_recorded_ratio(scale, cold_path)
    ratios, timings = [], []
    for pair in range(pairs):
        path = Path(folder) / f"{name}_{pair}.h5"
        times = {}
        for record in ((False, True) if pair % 2 == 0 else (True, False)):
            times[record] = scale.fit(path if record else None)
        ratios.append(times[True] / times[False])
        timings.append(times)
    with Run(cold_path) as run:
        snapshots = run.n_snapshots
    result = {"name": name, "cold_ratio": cold_ratio, "ratios": ratios,
              "plain_seconds": statistics.median(times[False] for times in timings),
              "snapshots": snapshots, "run_bytes": cold_path.stat().st_size}
    result["bytes_per_snapshot"] = result["run_bytes"] / snapshots
    if name == "part5":  # the experiment's file: six activations
        sys.path.insert(0, str(SCRIPTS))
        from part5_digits_activations import ACTIVATIONS

        path = Path(folder) / "part5_all.h5"
        for activation in ACTIVATIONS:
            scale.fit(path, activation=activation)
        result["file_bytes"] = path.stat().st_size
    if name == "part1":
        path = Path(folder) / "part1_all.h5"
        for activation in ("sigmoid", "tanh", "relu"):
            scale.fit(path, activation=activation)
        result["file_bytes"] = path.stat().st_size
    return result


def measure_memory(name, record, folder):
    """Peak resident MB of this process (and of the writer child) after one fit."""
    from replay.io import writer_process

    scale = Scale(name)
    scale.fit(Path(folder) / "memory.h5" if record else None)
    writer = 0.0
    for _, process in writer_process._IDLE:  # the writer child, idle after the run
        writer = max(writer, _peak_mb(process.pid))
    return {"trainer": _peak_mb("self"), "writer": writer}


def _peak_mb(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def child(arguments):
    """Run one measurement in this (fresh) process and print it as JSON."""
    warnings.simplefilter("ignore")
    kind, name = arguments[0], arguments[1]
    with tempfile.TemporaryDirectory() as folder:
        if kind == "times":
            result = measure_times(name, int(arguments[2]), folder)
        elif kind == "first":
            result = measure_first(name, folder)
        else:
            result = measure_memory(name, arguments[2] == "1", folder)
    print("RESULT " + json.dumps(result))


def in_process(*arguments):
    completed = subprocess.run([sys.executable, __file__, "--child", *map(str, arguments)],
                               capture_output=True, text=True)
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{' '.join(map(str, arguments))} failed:\n{completed.stderr[-3000:]}")


def _bytes(size):
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1000
    return f"{size:.2f} GB"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="alternating pairs per scale")
    parser.add_argument("--first-runs", type=int, default=3,
                        help="fresh processes measuring the first recorded run, per scale")
    parser.add_argument("--only", nargs="+", choices=SCALES, default=list(DEFAULT_SCALES),
                        help=f"the scales to measure (default: {' '.join(DEFAULT_SCALES)})")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    summary = []
    for name in args.only:
        times = in_process("times", name, args.pairs)
        firsts = [times["cold_ratio"]] + [in_process("first", name)["first_ratio"]
                                          for _ in range(args.first_runs - 1)]
        first = statistics.median(firsts)
        plain = in_process("memory", name, 0)
        recorded = in_process("memory", name, 1)
        ratios = times["ratios"]
        ram = (recorded["trainer"] + recorded["writer"]) / plain["trainer"]
        whole = (f", whole file {_bytes(times['file_bytes'])}" if "file_bytes" in times
                 else "")
        print(f"{name}: {_bytes(times['bytes_per_snapshot'])} per snapshot "
              f"({times['snapshots']} snapshots, run {_bytes(times['run_bytes'])}{whole}); "
              f"fit time recorded / plain {statistics.median(ratios):.2f} "
              f"(pairs {min(ratios):.2f}-{max(ratios):.2f}, plain "
              f"{times['plain_seconds']:.1f} s), first recorded run of a process "
              f"{first:.2f} ({len(firsts)} processes {min(firsts):.2f}-{max(firsts):.2f}); peak RAM trainer {recorded['trainer']:.0f} MB + "
              f"writer {recorded['writer']:.0f} MB vs plain {plain['trainer']:.0f} MB "
              f"(x{ram:.2f})", flush=True)
        summary.append(f"{name} {_bytes(times.get('file_bytes', times['run_bytes']))} "
                       f"x{statistics.median(ratios):.2f} (first x{first:.2f}) "
                       f"RAM x{ram:.2f}")
    print("scale summary: " + "; ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
