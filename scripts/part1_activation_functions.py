"""Experiment 1 of the articles: activation functions in action.

Trains the part-1 network (2 inputs → Dense(2, activation) "hidden" →
Dense(1, sigmoid)) on two parabolas with sigmoid, tanh and relu, records every
epoch into one run file, and prints for each run the first epoch at which the
training accuracy reaches 100%. With ``--render`` it also renders the
five-panel animation of each run.

Usage:
    python scripts/part1_activation_functions.py --out runs/
    python scripts/part1_activation_functions.py --out runs/ --render sigmoid
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

ACTIVATIONS = ("sigmoid", "tanh", "relu")


def build_model(activation, seed=42):
    """The part-1 net: Glorot-normal hidden layer, random-normal output layer."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((2,)),
        keras.layers.Dense(2, activation=activation, name="hidden",
                           kernel_initializer=keras.initializers.GlorotNormal(seed=seed)),
        keras.layers.Dense(1, activation="sigmoid", name="output",
                           kernel_initializer=keras.initializers.RandomNormal(seed=seed)),
    ])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model


def train(path, activation, *, epochs=150, batch_size=16, seed=42, record=True,
          overwrite=True, verbose=0):
    """Train one part-1 net, recording into ``path`` as run ``activation``.

    Returns:
        The Keras ``History`` of the fit.
    """
    from replay import Recorder
    from replay.datasets import parabola

    inputs, targets = parabola(1000)
    model = build_model(activation, seed=seed)
    callbacks = [Recorder(path, activation, inputs, targets, overwrite=overwrite)] if record else []
    return model.fit(inputs, targets, epochs=epochs, batch_size=batch_size,
                     callbacks=callbacks, verbose=verbose, shuffle=True)


def ensure_runs(path, names=ACTIVATIONS, epochs=150, *, train=train, what="part-1"):
    """Train into ``path`` every part-1 run of ``names`` that is missing or incomplete.

    The one "record unless already there" of the scripts that need part-1 runs
    (benchmarks, image makers, the showdown); ``train(path, name, epochs=)``
    and ``what`` (the words of the progress line) record other experiments' runs.
    """
    from replay import Run
    from replay.errors import ReplayError

    for name in names:
        try:
            with Run(path, name) as run:
                if run.complete and run.n_snapshots == epochs + 1:
                    continue
        except ReplayError:
            pass
        start = time.perf_counter()
        print(f"recording the {epochs}-epoch {what} {name} run into {path} ...", flush=True)
        train(path, name, epochs=epochs)
        print(f"  done in {time.perf_counter() - start:.1f} s", flush=True)


def first_perfect_epoch(accuracy):
    """Return the first 1-based epoch with accuracy 1.0, or None."""
    hits = np.flatnonzero(np.asarray(accuracy) >= 1.0)
    return int(hits[0]) + 1 if len(hits) else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs", help="output folder (default: runs)")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--activations", nargs="+", default=list(ACTIVATIONS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--render", nargs="*", metavar="RUN",
                        help="render the five-panel MP4 of these runs (no name: all)")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "part1.h5"
    print(f"recording into {path}")
    for activation in args.activations:
        start = time.perf_counter()
        history = train(path, activation, epochs=args.epochs, seed=args.seed)
        perfect = first_perfect_epoch(history.history["accuracy"])
        reached = f"epoch {perfect}" if perfect else f"not within {args.epochs} epochs"
        print(f"{activation:>8}: 100% training accuracy at {reached}; final loss "
              f"{history.history['loss'][-1]:.4f} ({time.perf_counter() - start:.1f} s)")

    if args.render is not None:
        from replay import Run
        from replay.scene import Scene

        for name in args.render or args.activations:
            target = out / f"part1_{name}.mp4"
            with Run(path, name) as run:
                Scene.part1(run, layer="hidden", title_prefix=name).save(target, fps=10)
            print(f"rendered {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
