"""Experiment 2 of the articles: weight initializers, seen inside the layers.

A net of five hidden Dense layers of 100 units (one activation and one
initializer throughout, sigmoid output) on points of a 10-dimensional ball,
for three activation + initializer pairs:

- sigmoid + normal(sigma = 0.01): activations squeeze around 0.5 and the
  gradients shrink layer after layer towards the input (vanishing);
- tanh + Glorot uniform: activations and gradients keep their spread;
- relu + He uniform: the same for relu.

For each pair it records a few epochs of training (snapshot 0 is the state
before any training), prints the standard deviation of the activations and
gradients of every layer at snapshot 0, and writes the four-panel figure
(z-values, weights, activations, gradients) of the initial state as PNG and
the same figure over training as MP4.

Usage:
    python scripts/part2_weight_initializers.py --out runs/
    python scripts/part2_weight_initializers.py --out runs/ --epochs 20 --no-video
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

#: (run name, activation, initializer factory) of the three pairs.
PAIRS = (
    ("sigmoid-normal", "sigmoid", lambda keras, seed: keras.initializers.RandomNormal(
        mean=0.0, stddev=0.01, seed=seed)),
    ("tanh-glorot", "tanh", lambda keras, seed: keras.initializers.GlorotUniform(seed=seed)),
    ("relu-he", "relu", lambda keras, seed: keras.initializers.HeUniform(seed=seed)),
)
N_HIDDEN, UNITS = 5, 100


def build_model(activation, make_initializer, *, seed=42, learning_rate=0.1):
    """Five hidden Dense(100) layers ``hidden_1..5`` and a sigmoid output, one initializer."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((10,))]
    for index in range(1, N_HIDDEN + 1):
        layers.append(keras.layers.Dense(
            UNITS, activation=activation, name=f"hidden_{index}",
            kernel_initializer=make_initializer(keras, seed + index)))
    layers.append(keras.layers.Dense(1, activation="sigmoid", name="output",
                                     kernel_initializer=make_initializer(keras, seed)))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model


def record(path, name, activation, make_initializer, *, epochs, n_points=1000, seed=42,
           batch_size=16, gradients=True):
    """Train one pair for ``epochs`` epochs, recording run ``name`` into ``path``."""
    from replay import Recorder
    from replay.datasets import ball

    inputs, targets = ball(n_points, n_dims=10, seed=seed)
    model = build_model(activation, make_initializer, seed=seed)
    recorder = Recorder(path, name, inputs, targets, overwrite=True, gradients=gradients)
    return model.fit(inputs, targets, epochs=epochs, batch_size=batch_size, verbose=0,
                     callbacks=[recorder])


def std_table(run, epoch=0):
    """Return text lines: std of activations and kernel gradients per hidden layer."""
    from replay.views.layer_violins import LayerViolins

    lines = []
    for quantity in ("activations", "gradients"):
        violins = LayerViolins(run, quantity)
        stds = violins.std_per_layer([epoch])[0]
        cells = "  ".join(f"{label}={std:.2e}" for label, std in zip(violins.labels, stds))
        lines.append(f"  std of {quantity:<11} at snapshot {epoch}: {cells}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs", help="output folder (default: runs)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--pairs", nargs="+", default=[name for name, _, _ in PAIRS],
                        help="runs to make (default: all three)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fps", type=int, default=4)
    parser.add_argument("--no-video", action="store_true", help="write the PNGs only")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from replay import Run
    from replay.scene import Scene

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "part2.h5"
    known = {name: (activation, factory) for name, activation, factory in PAIRS}
    for name in args.pairs:
        if name not in known:
            parser.error(f"unknown pair {name!r}; choose from {', '.join(known)}")
        activation, factory = known[name]
        start = time.perf_counter()
        history = record(path, name, activation, factory, epochs=args.epochs, seed=args.seed)
        accuracy = history.history["accuracy"][-1]
        print(f"{name}: trained {args.epochs} epochs in {time.perf_counter() - start:.1f} s, "
              f"final training accuracy {accuracy:.3f}")
        with Run(path, name) as run:
            for line in std_table(run):
                print(line)
            figure = Scene.part2(run, ylim="frame").plot(0)
            figure.savefig(out / f"part2_{name}_initial.png", dpi=100)
            plt.close(figure)
            print(f"  wrote {out / f'part2_{name}_initial.png'}")
            if not args.no_video:
                target = out / f"part2_{name}.mp4"
                Scene.part2(run).save(target, fps=args.fps, progress=False)
                print(f"  wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
