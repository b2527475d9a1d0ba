"""Experiment 3: every activation × every initializer on blobs mod 2.

Data: the articles' blobs, 1,000 2-D points of scikit-learn's
``make_blobs(n_samples=1000, centers=4, n_features=2, random_state=0)``,
label = blob index mod 2 (``replay.datasets.blobs_mod2``), split 90/10 into
training and validation. Net: 2 inputs → Dense(2, activation) "hidden" →
Dense(1, sigmoid) "output", both layers with the same initializer (biases
start at zero). Plain gradient descent: full-batch SGD (one step per epoch
on all 900 training points, no momentum), learning rate 0.5, 50 epochs,
seed 42 for every run. Initializers: zeros, random normal (σ = 1), Glorot
(Xavier) normal, He normal; activations: sigmoid, tanh, relu, leaky relu
(slope 0.1). Each run is recorded into ``OUT/part3.h5`` as
``<initializer>-<activation>``. One more run tests the articles' "random
init with a big learning rate oscillates": random normal + sigmoid at ten
times the learning rate (``normal-sigmoid-big_lr``, not in the 4 × 4 table).

Writes into ``OUT``:

- ``part3_accuracy.md``: the 4 × 4 table of final training / validation accuracy,
  and ``part3_results.md`` / ``part3_results.csv``: the full results table (both printed);
- ``part3_errors.png`` (and ``part3_errors.mp4``): per run, the training points sized by
  their error (big, red-ringed dots are misclassified) over the decision
  regions, one panel per pair;
- ``part3_updates_<run>.png``: the parameter-update plot (one panel per weight and
  bias: w(t+1) − w(t) against epochs) for a few runs and the big learning
  rate run; ``part3_big_lr.png``: its loss and accuracy against the same pair at
  the normal learning rate.

Usage:
    python scripts/part3_activation_initializer_grid.py --out runs/part3
    python scripts/part3_activation_initializer_grid.py --out runs/part3 --no-video
    python scripts/part3_activation_initializer_grid.py --batch-size 32 --learning-rate 0.1
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

#: Initializer names and factories (keras, seed) → initializer.
INITIALIZERS = {
    "zeros": lambda keras, seed: keras.initializers.Zeros(),
    "normal": lambda keras, seed: keras.initializers.RandomNormal(stddev=1.0, seed=seed),
    "glorot": lambda keras, seed: keras.initializers.GlorotNormal(seed=seed),
    "he": lambda keras, seed: keras.initializers.HeNormal(seed=seed),
}
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
#: Slope of the leaky relu for x < 0.
LEAKY_SLOPE = 0.1
#: Runs whose parameter updates are drawn.
UPDATE_RUNS = ("zeros-tanh", "normal-sigmoid", "glorot-tanh", "he-leaky_relu",
               "normal-sigmoid-big_lr")
#: The "big learning rate" run: this pair at this multiple of --learning-rate.
BIG_LR_PAIR, BIG_LR_FACTOR = ("normal", "sigmoid"), 10.0
BIG_LR_RUN = "normal-sigmoid-big_lr"
ERRORS_TITLE = "Training points sized by error (ringed red: misclassified)"


def split_data(n_points=1000, validation_fraction=0.1):
    """The articles' blobs mod 2, already shuffled: the first 90% train, the rest validate."""
    from replay.datasets import blobs_mod2

    inputs, targets = blobs_mod2(n_points)
    cut = int(round(len(inputs) * (1.0 - validation_fraction)))
    return (inputs[:cut], targets[:cut]), (inputs[cut:], targets[cut:])


#: Learning rate of the full-batch gradient descent.
LEARNING_RATE = 0.5


def build_model(activation, initializer, *, seed=42, learning_rate=LEARNING_RATE):
    """2 → Dense(2, activation) "hidden" → Dense(1, sigmoid) "output", one initializer."""
    import keras

    keras.utils.set_random_seed(seed)
    make = INITIALIZERS[initializer]
    layers = [keras.Input((2,))]
    if activation == "leaky_relu":
        # A LeakyReLU layer right after a linear Dense counts as its activation.
        layers += [keras.layers.Dense(2, name="hidden", kernel_initializer=make(keras, seed)),
                   keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name="leaky")]
    else:
        layers.append(keras.layers.Dense(2, activation=activation, name="hidden",
                                         kernel_initializer=make(keras, seed)))
    layers.append(keras.layers.Dense(1, activation="sigmoid", name="output",
                                     kernel_initializer=make(keras, seed + 1)))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model


def train(path, initializer, activation, *, epochs=50, batch_size=None, seed=42,
          learning_rate=LEARNING_RATE, name=None):
    """Train and record one pair as run ``name`` (``<initializer>-<activation>``).

    ``batch_size=None`` is the whole training set: one gradient step per epoch.

    Returns:
        The Keras ``History`` of the fit.
    """
    from replay import Recorder

    (x_train, y_train), (x_val, y_val) = split_data()
    batch_size = len(x_train) if batch_size is None else batch_size
    model = build_model(activation, initializer, seed=seed, learning_rate=learning_rate)
    recorder = Recorder(path, name or f"{initializer}-{activation}", x_train, y_train,
                        validation_data=(x_val, y_val), mesh_resolution=60,
                        grid_points=200, overwrite=True)
    return model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs,
                     batch_size=batch_size, verbose=0, callbacks=[recorder])


def accuracy_grid(table):
    """The 4 × 4 Markdown table "train / validation" accuracy, initializers × activations."""
    final = dict(zip(table.column("run"), zip(table.column("accuracy final"),
                                             table.column("val_accuracy final"))))
    lines = ["| initializer | " + " | ".join(ACTIVATIONS) + " |",
             "| --- |" + " ---: |" * len(ACTIVATIONS)]
    for initializer in INITIALIZERS:
        cells = []
        for activation in ACTIVATIONS:
            train_accuracy, val_accuracy = final[f"{initializer}-{activation}"]
            cells.append(f"{100 * train_accuracy:.1f} / {100 * val_accuracy:.1f}")
        lines.append(f"| {initializer} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/part3", help="output folder")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default: the whole training set (full-batch gradient descent)")
    parser.add_argument("--no-train", action="store_true",
                        help="reuse the runs already in OUT/part3.h5")
    parser.add_argument("--no-video", action="store_true", help="skip part3_errors.mp4")
    args = parser.parse_args(argv)

    import matplotlib.pyplot as plt

    from replay.compare import ComparisonScene, open_runs, results_table
    from replay.views import ParameterUpdates

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "part3.h5"
    names = [f"{initializer}-{activation}" for initializer in INITIALIZERS
             for activation in ACTIVATIONS]
    if not args.no_train:
        start = time.perf_counter()
        for initializer in INITIALIZERS:
            for activation in ACTIVATIONS:
                history = train(path, initializer, activation, epochs=args.epochs,
                                seed=args.seed, learning_rate=args.learning_rate,
                                batch_size=args.batch_size)
                print(f"{initializer}-{activation:<10} train {history.history['accuracy'][-1]:.3f}"
                      f"  validation {history.history['val_accuracy'][-1]:.3f}", flush=True)
        big_lr = args.learning_rate * BIG_LR_FACTOR
        history = train(path, *BIG_LR_PAIR, epochs=args.epochs, seed=args.seed,
                        learning_rate=big_lr, name=BIG_LR_RUN, batch_size=args.batch_size)
        print(f"{BIG_LR_RUN} (learning rate {big_lr:g}) train "
              f"{history.history['accuracy'][-1]:.3f}  validation "
              f"{history.history['val_accuracy'][-1]:.3f}")
        print(f"trained {len(names) + 1} runs in {time.perf_counter() - start:.0f} s")
    runs = open_runs(names, path=path)

    table = results_table(runs, metrics=["loss", "accuracy", "val_loss", "val_accuracy"])
    grid = accuracy_grid(table)
    (out / "part3_accuracy.md").write_text(
        "Final accuracy in %, training / validation\n\n" + grid + "\n")
    (out / "part3_results.md").write_text(table.to_markdown() + "\n")
    table.to_csv(out / "part3_results.csv")

    labels = [name.replace("-", " + ").replace("leaky_relu", "leaky relu") for name in names]
    errors = ComparisonScene.grid(runs, ["error-scatter"], labels=labels, ncols=len(ACTIVATIONS),
                                  panel_size=(3.2, 3.0), title_prefix=ERRORS_TITLE)
    stats = errors.save(out / "part3_errors.png", epoch=-1, dpi=80)
    print(f"wrote {stats.path}")
    if not args.no_video:
        errors = ComparisonScene.grid(runs, ["error-scatter"], labels=labels,
                                      ncols=len(ACTIVATIONS), panel_size=(3.2, 3.0),
                                      title_prefix=ERRORS_TITLE)
        stats = errors.save(out / "part3_errors.mp4", fps=5, dpi=80, progress=False)
        print(f"wrote {stats.path} ({stats.frames} frames, {stats.seconds:.1f} s)")
    all_runs = dict(zip(names, runs))
    all_runs[BIG_LR_RUN] = open_runs([BIG_LR_RUN], path=path)[0]
    for name in UPDATE_RUNS:
        run = all_runs[name]
        figure = ParameterUpdates(run).plot(-1)
        figure.suptitle(f"{name}: parameter updates w(t+1) \u2212 w(t)")
        figure.savefig(out / f"part3_updates_{name}.png", dpi=90)
        plt.close(figure)
        print(f"wrote {out / f'part3_updates_{name}.png'}")
    pair = "-".join(BIG_LR_PAIR)
    curves = ComparisonScene.curves([all_runs[pair], all_runs[BIG_LR_RUN]], ["loss", "accuracy"],
                                    labels=[f"{pair}, learning rate {args.learning_rate:g}",
                                            f"{pair}, learning rate "
                                            f"{args.learning_rate * BIG_LR_FACTOR:g}"],
                                    title_prefix="Random normal + sigmoid at two learning rates")
    print(f"wrote {curves.save(out / 'part3_big_lr.png', dpi=90).path}")
    big_table = results_table([all_runs[pair], all_runs[BIG_LR_RUN]],
                              metrics=["loss", "accuracy", "val_accuracy"])
    print("\nRandom normal + sigmoid at two learning rates\n")
    print(big_table.to_markdown())

    print("\nFinal accuracy in %, training / validation\n")
    print(grid)
    print()
    print(table.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
