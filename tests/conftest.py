"""Shared fixtures: run files built from numpy (``synthetic.py``), and one recorded by training.

The view, render, compare and CLI tests read ``part1_file`` and friends:
runs written through :class:`replay.io.writer.RunWriter` from numpy arrays
in a fraction of a second, self-consistent as a recording is (see
``tests/synthetic.py``). The recorder's own tests train Keras nets
(``record_part1``, ``recorded_part1_file``).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import synthetic  # noqa: E402


def part1_model(activation="sigmoid", seed=0, hidden_units=2):
    """The part-1 network of MISSION.md (2 → Dense(2, activation) 'hidden' → 1)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((2,)),
        keras.layers.Dense(hidden_units, activation=activation, name="hidden",
                           kernel_initializer="glorot_normal"),
        keras.layers.Dense(1, activation="sigmoid", name="output",
                           kernel_initializer="random_normal"),
    ])
    model.compile(keras.optimizers.SGD(0.05), "binary_crossentropy", metrics=["accuracy"])
    return model


def record_part1(path, run="sigmoid", activation="sigmoid", epochs=12, n_points=200, **options):
    """Train a small part-1 net with a Recorder and return ``(model, inputs, targets)``."""
    from replay import Recorder
    from replay.datasets import parabola

    inputs, targets = parabola(n_points)
    model = part1_model(activation)
    options.setdefault("mesh_resolution", 40)
    options.setdefault("grid_points", 100)
    recorder = Recorder(path, run, inputs, targets, **options)
    model.fit(inputs, targets, epochs=epochs, batch_size=16, verbose=0, callbacks=[recorder])
    return model, inputs, targets


@pytest.fixture(scope="session")
def recorded_part1_file(tmp_path_factory):
    """A run file **recorded by training** 12 epochs of the part-1 net: 'sigmoid' and 'relu'.

    For the tests of what the recorder writes; the views read ``part1_file``.
    """
    path = tmp_path_factory.mktemp("recorded") / "part1.h5"
    record_part1(path, "sigmoid", "sigmoid")
    record_part1(path, "relu", "relu")
    return path


@pytest.fixture(scope="session")
def part1_file(tmp_path_factory):
    """A synthetic run file of the part-1 net: 'sigmoid' then 'relu', 12 epochs (13 snapshots).

    400 parabola samples, probe grid 22 × 100 and mesh 40 × 40, gradients and
    a history of loss, accuracy and learning rate; the accuracy climbs from
    0.5 to 1.0 (sigmoid: at epoch 8). See ``synthetic.write_part1``.
    """
    path = tmp_path_factory.mktemp("runs") / "part1.h5"
    synthetic.write_part1(path, "sigmoid", "sigmoid")
    synthetic.write_part1(path, "relu", "relu")
    return path


@pytest.fixture(scope="session")
def part1_run(part1_file):
    from replay import Run

    return Run(part1_file, "sigmoid")


@pytest.fixture(scope="session")
def wide_multiclass_file(tmp_path_factory):
    """A synthetic 3-class softmax net with a 3-unit tanh layer 'wide', 4 epochs, 2-D blobs."""
    return synthetic.write_wide_multiclass(tmp_path_factory.mktemp("wide") / "wide.h5")


@pytest.fixture(scope="module")
def wide_multiclass_run(wide_multiclass_file):
    """The 'softmax' run of :func:`wide_multiclass_file`."""
    from replay import Run

    with Run(wide_multiclass_file, "softmax") as run:
        yield run


@pytest.fixture(scope="session")
def small_softmax_file(tmp_path_factory):
    """A synthetic 2 → 2 (tanh) → 4 (softmax) net, 5 epochs of numpy SGD, no probes."""
    return synthetic.write_small_softmax(tmp_path_factory.mktemp("layers") / "small.h5")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
