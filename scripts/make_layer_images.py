"""Make the pictures of docs/inside-layers.md (small PNGs, under 200 KB each).

- ``part2_<pair>.png``: the four violin panels of the part-2 net (five
  hidden Dense(100) layers on 10-D ball data) in its initial state, for
  sigmoid + normal(0.01), tanh + Glorot uniform and relu + He uniform;
- ``updates_<init>.png``: the parameter-update panels of a 2 → 2 → 1 net
  trained with plain gradient descent on the four blobs (experiment 3), sigmoid
  hidden layer, with Glorot and with zero initialisation.

Usage:
    python scripts/make_layer_images.py --out docs/images
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parent))

DPI = 72


def initial_state_figures(out, path):
    from part2_weight_initializers import PAIRS, build_model

    from replay import Recorder
    from replay.datasets import ball
    from replay.scene import Scene

    inputs, targets = ball(1000, n_dims=10, seed=42)
    for name, activation, factory in PAIRS:
        run = Recorder(path, name, inputs, targets, overwrite=True).snapshot(
            build_model(activation, factory))
        with run:
            target = out / f"part2_{name}.png"
            Scene.part2(run, ylim="frame", figsize=(10.0, 6.5)).plot(0).savefig(target, dpi=DPI)
            print(f"wrote {target} ({target.stat().st_size // 1024} KB)")


def update_figures(out, path, epochs=50):
    import keras

    from replay import Recorder, Run
    from replay.datasets import square_blobs_mod2
    from replay.views import ParameterUpdates

    inputs, targets = square_blobs_mod2(1000)
    for name, initializer in (("glorot", "glorot_uniform"), ("zeros", "zeros")):
        keras.utils.set_random_seed(7)
        model = keras.Sequential([
            keras.Input((2,)),
            keras.layers.Dense(2, activation="sigmoid", name="hidden",
                               kernel_initializer=initializer),
            keras.layers.Dense(1, activation="sigmoid", name="output",
                               kernel_initializer=initializer),
        ])
        model.compile(keras.optimizers.SGD(1.0), "binary_crossentropy", metrics=["accuracy"])
        recorder = Recorder(path, f"updates-{name}", inputs, targets, overwrite=True,
                            probes=False)
        model.fit(inputs, targets, epochs=epochs, batch_size=len(inputs), verbose=0,
                  callbacks=[recorder])
        with Run(path, f"updates-{name}") as run:
            target = out / f"updates_{name}.png"
            view = ParameterUpdates(run, ncols=3)
            view.plot(25).savefig(target, dpi=DPI)
            print(f"wrote {target} ({target.stat().st_size // 1024} KB)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "layers.h5"
        initial_state_figures(out, path)
        update_figures(out, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
