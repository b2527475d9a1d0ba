"""Experiment 4: three initializers on two concentric circles.

Data: two noisy concentric circles (``replay.datasets.circles``, noise
0.05), 300 training and 100 test points. Net: 2 inputs → Dense(10, relu)
→ Dense(5, relu) → Dense(1, sigmoid), every kernel from one initializer
(biases start at zero): zeros, random normal × 10 (σ = 10) or He normal.
Plain SGD (no momentum), learning rate 0.05, batch 16, 150 epochs, seed
42. The test points are passed to Keras as validation data, so their
curves are the ``val_*`` keys. Runs are recorded into ``OUT/part4.h5``.

Writes into ``OUT``:

- ``part4_boundaries.png`` (and ``part4_boundaries.mp4``): per initializer, the decision
  boundary in the input space above its loss and accuracy curves;
- ``part4_curves.png``: the cost (loss, log scale) and accuracy of the three runs
  overlaid, test dashed;
- ``part4_results.md`` / ``part4_results.csv``: the results table (printed).

Usage:
    python scripts/part4_circles_initializers.py --out runs/part4
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

#: Run name → initializer factory (keras, seed).
INITIALIZERS = {
    "zeros": lambda keras, seed: keras.initializers.Zeros(),
    "normal-x10": lambda keras, seed: keras.initializers.RandomNormal(stddev=10.0, seed=seed),
    "he": lambda keras, seed: keras.initializers.HeNormal(seed=seed),
}
HIDDEN_UNITS = (10, 5)


def split_data(n_train=300, n_test=100, noise=0.05):
    """Circles, already shuffled: the first ``n_train`` points train, the rest test."""
    from replay.datasets import circles

    inputs, targets = circles(n_train + n_test, noise=noise)
    return (inputs[:n_train], targets[:n_train]), (inputs[n_train:], targets[n_train:])


def build_model(initializer, *, seed=42, learning_rate=0.05):
    """2 → Dense(10, relu) → Dense(5, relu) → Dense(1, sigmoid), one kernel initializer."""
    import keras

    keras.utils.set_random_seed(seed)
    make = INITIALIZERS[initializer]
    layers = [keras.Input((2,))]
    for index, units in enumerate(HIDDEN_UNITS, start=1):
        layers.append(keras.layers.Dense(units, activation="relu", name=f"hidden_{index}",
                                         kernel_initializer=make(keras, seed + index)))
    layers.append(keras.layers.Dense(1, activation="sigmoid", name="output",
                                     kernel_initializer=make(keras, seed)))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model


def train(path, initializer, *, epochs=150, batch_size=16, seed=42, learning_rate=0.05):
    """Train and record one initializer as run ``initializer``; return the History."""
    from replay import Recorder

    (x_train, y_train), (x_test, y_test) = split_data()
    model = build_model(initializer, seed=seed, learning_rate=learning_rate)
    recorder = Recorder(path, initializer, x_train, y_train, validation_data=(x_test, y_test),
                        mesh_resolution=80, grid_points=200, overwrite=True)
    return model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=epochs,
                     batch_size=batch_size, verbose=0, callbacks=[recorder])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/part4", help="output folder")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--no-train", action="store_true",
                        help="reuse the runs already in OUT/part4.h5")
    parser.add_argument("--no-video", action="store_true", help="skip part4_boundaries.mp4")
    args = parser.parse_args(argv)

    from replay.compare import ComparisonScene, open_runs, results_table

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "part4.h5"
    if not args.no_train:
        for initializer in INITIALIZERS:
            start = time.perf_counter()
            history = train(path, initializer, epochs=args.epochs, seed=args.seed,
                            learning_rate=args.learning_rate).history
            print(f"{initializer:>10}: loss {history['loss'][0]:.3g} -> {history['loss'][-1]:.3g}, "
                  f"train accuracy {history['accuracy'][-1]:.3f}, test accuracy "
                  f"{history['val_accuracy'][-1]:.3f} ({time.perf_counter() - start:.1f} s)",
                  flush=True)
    runs = open_runs(list(INITIALIZERS), path=path)
    labels = ["zeros", "random normal \u00d7 10", "He"]

    def boundaries():
        # Losses differ by orders of magnitude between initializers: no shared limits.
        return ComparisonScene.grid(runs, ["decision-boundary", "loss-and-metric"],
                                    labels=labels, share_limits=False,
                                    panel_size=(4.2, 3.6), title_prefix="Circles")

    stats = boundaries().save(out / "part4_boundaries.png", epoch=-1)
    print(f"wrote {stats.path}")
    if not args.no_video:
        stats = boundaries().save(out / "part4_boundaries.mp4", fps=15, progress=False)
        print(f"wrote {stats.path} ({stats.frames} frames, {stats.seconds:.1f} s)")
    stats = ComparisonScene.curves(runs, ["loss", "accuracy"], labels=labels, validation=True,
                                   yscale={"loss": "log"}, title_prefix="Circles").save(
        out / "part4_curves.png")
    print(f"wrote {stats.path}")

    table = results_table(runs, labels=labels)
    (out / "part4_results.md").write_text(table.to_markdown() + "\n")
    table.to_csv(out / "part4_results.csv")
    print()
    print(table.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
