"""Make the README's pictures of models beyond the articles' Dense nets.

Records, into ``RUNS/models.h5``:

- ``regression``: 2-D inputs, target ``sin(2 x1) + x2²`` with noise;
  2 → Dense(16, tanh) → Dense(2, tanh) "hidden" → Dense(1), mean squared
  error, Adam, 80 epochs;
- ``conv_digits``: scikit-learn's 8 × 8 digits; Conv2D(8, 3, relu) "conv" →
  MaxPooling → Flatten → Dense(2, linear) "latent" → Dense(10, softmax),
  sparse categorical cross-entropy, Adam, 40 epochs;

and the two part-6 runs (``scripts/part6_latent_space.py``) into
``RUNS/part6.h5``, then draws into ``docs/images/``: ``regression.png`` (the
regression figure), ``prediction_scatter.png``, ``residual_histogram.png``,
``conv_digits.png`` (the default figure of the conv net, its latent layer)
and ``part6_latent.png``.

Usage:
    python scripts/make_model_images.py [--runs runs] [--out docs/images]
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

SCRIPTS = Path(__file__).resolve().parent


def record_regression(path, epochs=80, seed=3):
    import keras
    import numpy as np

    from replay import Recorder

    rng = np.random.default_rng(seed)
    inputs = rng.uniform(-1.5, 1.5, size=(800, 2)).astype(np.float32)
    targets = (np.sin(2 * inputs[:, 0]) + inputs[:, 1] ** 2
               + rng.normal(0, 0.1, size=800)).astype(np.float32)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((2,)),
        keras.layers.Dense(16, activation="tanh", name="wide"),
        keras.layers.Dense(2, activation="tanh", name="hidden"),
        keras.layers.Dense(1, name="output"),
    ])
    model.compile(keras.optimizers.Adam(0.01), "mse", metrics=["mae"])
    model.fit(inputs, targets, epochs=epochs, batch_size=32, verbose=0,
              callbacks=[Recorder(path, "regression", inputs, targets, overwrite=True)])


def record_conv_digits(path, epochs=40, seed=3):
    import keras
    import numpy as np
    from sklearn.datasets import load_digits

    from replay import Recorder

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(2, name="latent"),
        keras.layers.Dense(10, activation="softmax", name="output"),
    ])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(images, digits.target, epochs=epochs, batch_size=32, verbose=0,
              callbacks=[Recorder(path, "conv_digits", images, digits.target,
                                  overwrite=True)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs", help="folder of the run files")
    parser.add_argument("--out", default="docs/images", help="output folder")
    parser.add_argument("--dpi", type=float, default=80)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(SCRIPTS))
    import part6_latent_space
    from make_readme_images import save_pictures

    from replay import Run
    from replay.render import Scene
    from replay.views import PredictionScatter, ResidualHistogram

    runs, out = Path(args.runs), Path(args.out)
    runs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    models = runs / "models.h5"
    print("recording the regression and conv runs ...", flush=True)
    record_regression(models)
    record_conv_digits(models)
    part6_latent_space.main(["--out", str(runs / "part6"), "--no-video"])

    regression = Run(models, "regression")
    conv = Run(models, "conv_digits")
    part6 = [Run(runs / "part6" / "part6.h5", name) for name in part6_latent_space.DATA_SETS]
    pictures = {
        "regression.png": Scene.default(regression, title_prefix="regression").plot(40),
        "prediction_scatter.png": PredictionScatter(regression).plot(40),
        "residual_histogram.png": ResidualHistogram(regression).plot(40),
        "conv_digits.png": Scene.default(conv, layer="latent",
                                         title_prefix="conv net on digits").plot(20),
        "part6_latent.png": part6_latent_space.latent_figure(part6),
    }
    save_pictures(pictures, out, args.dpi)
    return 0


if __name__ == "__main__":
    sys.exit(main())
