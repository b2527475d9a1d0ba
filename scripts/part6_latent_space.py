"""Experiment 6: the latent space of a net on high-dimensional inputs.

When the inputs have more than two features, add a 2-unit linear layer and
watch *its* feature space. Two tabular data sets that scikit-learn ships:

- breast cancer: 569 tumours, 30 features, benign or malignant;
  30 → Dense(16, relu) → Dense(2, linear) "latent" → Dense(1, sigmoid);
- wine: 178 wines, 13 features, 3 cultivars;
  13 → Dense(16, relu) → Dense(2, linear) "latent" → Dense(3, softmax).

Features are standardised; Adam (learning rate 0.01), batch 32, 60 epochs,
seed 7. Both runs are recorded into ``OUT/part6.h5`` (no probe points: the
inputs are not 2-D, so the feature spaces show the samples only).

Writes into ``OUT``:

- ``part6_latent.png``: the latent space of both runs at the first, a middle and
  the last epoch, one row per data set;
- ``part6_breast_cancer.mp4``, ``part6_wine.mp4``: the default figure of each run.

Usage:
    python scripts/part6_latent_space.py --out runs/part6
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

#: Run name → (scikit-learn loader, number of classes).
DATA_SETS = {"breast_cancer": ("load_breast_cancer", 2), "wine": ("load_wine", 3)}
#: The epochs of ``latent.png``, as fractions of the run.
SHOWN = (0.0, 0.15, 1.0)


def load(name):
    """Standardised features and integer labels of a scikit-learn data set."""
    import numpy as np
    import sklearn.datasets

    data = getattr(sklearn.datasets, DATA_SETS[name][0])()
    features = data.data.astype(np.float64)
    features = (features - features.mean(axis=0)) / features.std(axis=0)
    return features.astype(np.float32), data.target.astype(np.int64)


def build_model(n_features, n_classes, *, seed=7):
    """n → Dense(16, relu) → Dense(2) "latent" → the output layer of the task."""
    import keras

    keras.utils.set_random_seed(seed)
    binary = n_classes == 2
    model = keras.Sequential([
        keras.Input((n_features,)),
        keras.layers.Dense(16, activation="relu", name="hidden"),
        keras.layers.Dense(2, name="latent"),
        keras.layers.Dense(1 if binary else n_classes,
                           activation="sigmoid" if binary else "softmax", name="output"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train(path, name, *, epochs=60, seed=7):
    """Train and record one data set as run ``name``; return the History."""
    from replay import Recorder

    inputs, labels = load(name)
    model = build_model(inputs.shape[1], DATA_SETS[name][1], seed=seed)
    recorder = Recorder(path, name, inputs, labels, overwrite=True)
    return model.fit(inputs, labels, epochs=epochs, batch_size=32, verbose=0,
                     callbacks=[recorder])


def latent_figure(runs, shown=SHOWN):
    """The latent feature space of each run (rows) at a few epochs (columns)."""
    import matplotlib.pyplot as plt

    from replay.views import FeatureSpace

    figure, axes = plt.subplots(len(runs), len(shown), figsize=(4.0 * len(shown),
                                                                3.8 * len(runs)),
                                layout="constrained", squeeze=False)
    for row, run in zip(axes, runs):
        for ax, fraction in zip(row, shown):
            epoch = round(fraction * (run.n_snapshots - 1))
            view = FeatureSpace(run, "latent")
            view.plot(epoch, ax=ax)
            ax.set_title(f"{run.name.replace('_', ' ')}: epoch {run.epochs[epoch]:g}")
            ax.legend(loc="upper right", fontsize="x-small", markerscale=2.0)
    figure.suptitle("The 2-unit latent layer: classes separating as the net learns")
    return figure


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/part6", help="output folder")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-train", action="store_true",
                        help="reuse the runs already in OUT/part6.h5")
    parser.add_argument("--no-video", action="store_true", help="skip the MP4s")
    args = parser.parse_args(argv)

    import matplotlib.pyplot as plt

    from replay import Run
    from replay.render import Scene

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "part6.h5"
    if not args.no_train:
        for name in DATA_SETS:
            start = time.perf_counter()
            history = train(path, name, epochs=args.epochs, seed=args.seed).history
            print(f"{name:>13}: accuracy {history['accuracy'][0]:.3f} after epoch 1, "
                  f"{history['accuracy'][-1]:.3f} after epoch {args.epochs} "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
    runs = [Run(path, name) for name in DATA_SETS]
    figure = latent_figure(runs)
    figure.savefig(out / "part6_latent.png", dpi=90)
    plt.close(figure)
    print(f"wrote {out / 'part6_latent.png'}")
    if not args.no_video:
        for run in runs:
            stats = Scene.default(run, layer="latent", title_prefix=run.name).save(
                out / f"part6_{run.name}.mp4", fps=10, progress=False)
            print(f"wrote {stats.path} ({stats.frames} frames at {stats.video_fps:g} fps; "
                  f"rendered at {stats.render_rate:.1f} frames/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
