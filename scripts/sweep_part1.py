"""The part-1 question as a sweep: activation x initializer x learning rate, every trial recorded.

KerasTuner's ``GridSearch`` trains the part-1 network (2 inputs ->
Dense(2, activation) "hidden" -> Dense(1, sigmoid)) on the two parabolas
for every combination of

- activation: sigmoid, tanh, relu;
- initializer of the hidden layer: normal (sigma = 0.01), Glorot (normal), He (normal);
- learning rate of plain SGD: 0.01, 0.05, 0.2 (``--lrs``),

27 trials, batch 16. A :class:`replay.Recorder` in ``search(callbacks=...)``
records each trial (``record_trials`` names the run after the trial and
stores its hyperparameters) into ``OUT/sweep_runs/``, one file per trial.
Then the script opens the folder as one :class:`replay.Runs`, prints its
table and the diagnosis summary, and draws the final feature space of every
run in one picture, a row per learning rate and initializer, labelled by
its hyperparameters (``OUT/sweep_feature_spaces.png``).

Usage:
    python scripts/sweep_part1.py --out runs/                 # 150 epochs a trial
    python scripts/sweep_part1.py --out /tmp/sweep --epochs 20
    python scripts/sweep_part1.py --out runs/ --picture docs/images/sweep_part1.png

Last line: ``sweep: N runs, M reached 100% accuracy``.
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

ACTIVATIONS = ("sigmoid", "tanh", "relu")
#: Initializer names (the ``initializer`` hyperparameter) and how Keras builds them.
INITIALIZERS = ("normal", "glorot", "he")
LEARNING_RATES = (0.01, 0.05, 0.2)
SEED = 42


def initializer(name, seed=SEED):
    import keras

    return {"normal": lambda: keras.initializers.RandomNormal(stddev=0.01, seed=seed),
            "glorot": lambda: keras.initializers.GlorotNormal(seed=seed),
            "he": lambda: keras.initializers.HeNormal(seed=seed)}[name]()


def make_builder(learning_rates):
    def build(hp):
        """The part-1 net for one point of the grid."""
        import keras

        activation = hp.Choice("activation", list(ACTIVATIONS))
        init = hp.Choice("initializer", list(INITIALIZERS))
        learning_rate = hp.Choice("lr", list(learning_rates))
        keras.utils.set_random_seed(SEED)
        model = keras.Sequential([
            keras.Input((2,)),
            keras.layers.Dense(2, activation=activation, name="hidden",
                               kernel_initializer=initializer(init)),
            keras.layers.Dense(1, activation="sigmoid", name="output",
                               kernel_initializer=keras.initializers.RandomNormal(seed=SEED)),
        ])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
                      loss="binary_crossentropy", metrics=["accuracy"])
        return model

    return build


def search(out, epochs, learning_rates):
    """Run the grid search, recording every trial into ``out / "sweep_runs"``."""
    import keras_tuner

    from replay import Recorder
    from replay.datasets import parabola
    from replay.record.sweeps.keras_tuner import record_trials

    inputs, targets = parabola(1000)
    tuner = record_trials(keras_tuner.GridSearch(
        make_builder(learning_rates), objective="accuracy", directory=out / "sweep_tuner",
        project_name="part1", overwrite=True))
    recorder = Recorder(str(out / "sweep_runs") + "/", "trial", inputs, targets)
    tuner.search(inputs, targets, epochs=epochs, batch_size=16, verbose=0, shuffle=True,
                 callbacks=[recorder])
    return tuner


def feature_space_grid(runs, path):
    """One picture: the final feature space of every run, labelled by its hyperparameters."""
    import matplotlib.pyplot as plt

    from replay.compare import ComparisonScene
    from replay.render.save import save_png
    from replay.views import FeatureSpace

    ordered = sorted(runs, key=lambda run: (
        run.hparams["lr"], INITIALIZERS.index(run.hparams["initializer"]),
        ACTIVATIONS.index(run.hparams["activation"])))
    labels = [f"{run.hparams['activation']}, {run.hparams['initializer']}, "
              f"lr {run.hparams['lr']:g}" for run in ordered]
    def feature_space(run):
        # One legend for 27 panels: the first run's (the colours are the same in all).
        return FeatureSpace(run, "hidden", legend=run is ordered[0])

    scene = ComparisonScene.grid(ordered, [feature_space], labels=labels, ncols=9,
                                 panel_size=(2.4, 2.3),
                                 title_prefix="Part 1 sweep, the hidden layer's feature space")
    figure = scene.plot(-1)
    save_png(figure, path, 60)
    plt.close(figure)
    return path.stat().st_size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs", help="output folder (default: runs)")
    parser.add_argument("--epochs", type=int, default=150, help="epochs a trial (default 150)")
    parser.add_argument("--lrs", type=float, nargs=3, default=list(LEARNING_RATES),
                        help="the 3 learning rates (default: 0.01 0.05 0.2)")
    parser.add_argument("--picture", type=Path,
                        help="where to write the picture (default: "
                             "OUT/sweep_feature_spaces.png; docs/images/sweep_part1.png is "
                             "the 150-epoch one)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    print(f"searching 27 trials of {args.epochs} epochs, recording into "
          f"{out / 'sweep_runs'} ...", flush=True)
    search(out, args.epochs, args.lrs)
    print(f"search done in {time.perf_counter() - start:.0f} s")

    return report(out, args.picture)


def report(out, picture=None):
    """Print the table and the diagnosis summary of the sweep; draw its picture."""
    from replay import Runs

    runs = Runs(out / "sweep_runs")
    table = runs.results_table(["accuracy", "loss"])
    print(table.to_markdown())
    print(runs.diagnose().format_summary())
    picture = picture or out / "sweep_feature_spaces.png"
    size = feature_space_grid(list(runs), picture)
    print(f"wrote {picture} ({size / 1024:.0f} KB)")
    perfect = [row for row in table.rows if row.get("accuracy 100% at") not in (None, "")]
    print(f"sweep: {len(runs)} runs, {len(perfect)} reached 100% accuracy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
