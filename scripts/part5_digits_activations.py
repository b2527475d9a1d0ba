"""Experiment 5: six activations on real images, scikit-learn's 8 × 8 digits.

Data: ``sklearn.datasets.load_digits`` (1,797 images of 8 × 8 pixels, 10
classes), pixels scaled to [0, 1], a stratified 80/20 split (seed 42) into
1,437 training and 360 validation images. Net: 64 inputs → Dense(64) →
Dense(64) → Dense(10, softmax), both hidden layers with the activation under
test: sigmoid, relu, elu, leaky relu (α = 0.2), selu (with LeCun normal
initialization; the others use Keras' default Glorot uniform) and gelu.
Adam (learning rate 0.001), batch 32, 30 epochs, seed 42 for every run.
Runs are recorded into ``OUT/part5.h5``.

Writes into ``OUT``:

- ``part5_curves.png``: validation accuracy and validation loss of all six
  activations overlaid;
- ``part5_violins.png``: the activations of both hidden layers per run, at the
  last epoch;
- ``part5_gallery.png``: each activation function and its derivative;
- ``part5_results.md`` / ``part5_results.csv``: the results table (printed).

Usage:
    python scripts/part5_digits_activations.py --out runs/part5
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

#: Run name → (Keras activation, kernel initializer).
ACTIVATIONS = {
    "sigmoid": ("sigmoid", "glorot_uniform"),
    "relu": ("relu", "glorot_uniform"),
    "elu": ("elu", "glorot_uniform"),
    "leaky_relu": ("leaky_relu", "glorot_uniform"),  # Keras' default slope: 0.2
    "selu": ("selu", "lecun_normal"),
    "gelu": ("gelu", "glorot_uniform"),
}
#: The runs' names in figures and tables, in ACTIVATIONS' order.
LABELS = ("sigmoid", "relu", "elu", "leaky relu (0.2)", "selu (LeCun normal)", "gelu")
HIDDEN_UNITS = (64, 64)


def split_data(seed=42):
    """The digits, pixels in [0, 1], stratified 80/20; labels one-hot."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    inputs = (digits.data / 16.0).astype(np.float32)
    targets = np.eye(10, dtype=np.float32)[digits.target]
    x_train, x_val, y_train, y_val = train_test_split(
        inputs, targets, test_size=0.2, random_state=seed, stratify=digits.target)
    return (x_train, y_train), (x_val, y_val)


def build_model(name, *, seed=42, learning_rate=1e-3):
    """64 → Dense(64) → Dense(64) → Dense(10, softmax), the hidden layers with one activation."""
    import keras

    keras.utils.set_random_seed(seed)
    activation, initializer = ACTIVATIONS[name]
    layers = [keras.Input((64,))]
    for index, units in enumerate(HIDDEN_UNITS, start=1):
        layers.append(keras.layers.Dense(units, activation=activation, name=f"hidden_{index}",
                                         kernel_initializer=initializer))
    layers.append(keras.layers.Dense(10, activation="softmax", name="output"))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def train(path, name, *, epochs=30, batch_size=32, seed=42):
    """Train and record one activation as run ``name``; return the History."""
    from replay import Recorder

    (x_train, y_train), (x_val, y_val) = split_data(seed)
    model = build_model(name, seed=seed)
    recorder = Recorder(path, name, x_train, y_train, validation_data=(x_val, y_val),
                        overwrite=True)
    return model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs,
                     batch_size=batch_size, verbose=0, callbacks=[recorder])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/part5", help="output folder")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-train", action="store_true",
                        help="reuse the runs already in OUT/part5.h5")
    args = parser.parse_args(argv)

    import matplotlib.pyplot as plt

    from replay.compare import ComparisonScene, open_runs, results_table
    from replay.gallery import activation_gallery

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "part5.h5"
    if not args.no_train:
        for name in ACTIVATIONS:
            start = time.perf_counter()
            history = train(path, name, epochs=args.epochs, seed=args.seed).history
            print(f"{name:>10}: validation accuracy {history['val_accuracy'][-1]:.3f}, "
                  f"validation loss {history['val_loss'][-1]:.3f} "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
    runs = open_runs(list(ACTIVATIONS), path=path)
    labels = list(LABELS)

    stats = ComparisonScene.curves(runs, ["val_accuracy", "val_loss"], labels=labels,
                                   yscale={"val_accuracy": "logit"},  # 0.95 vs 0.98 apart
                                   title_prefix="Digits 8\u00d78").save(out / "part5_curves.png")
    print(f"wrote {stats.path}")
    stats = ComparisonScene.grid(runs, ["layer-violins"], labels=labels, ncols=3,
                                 panel_size=(3.6, 3.0),
                                 title_prefix="Hidden activations").save(
        out / "part5_violins.png", epoch=-1)
    print(f"wrote {stats.path}")
    figure = activation_gallery()
    figure.savefig(out / "part5_gallery.png", dpi=100)
    plt.close(figure)
    print(f"wrote {out / 'part5_gallery.png'}")

    table = results_table(runs, labels=labels, metrics=["loss", "accuracy", "val_loss",
                                                        "val_accuracy"])
    (out / "part5_results.md").write_text(table.to_markdown() + "\n")
    table.to_csv(out / "part5_results.csv")
    print()
    print(table.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
