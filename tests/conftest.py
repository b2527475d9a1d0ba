"""Shared fixtures: small recorded runs, trained once per test session."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


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
def part1_file(tmp_path_factory):
    """A run file with a 12-epoch 'sigmoid' run and a 'relu' run of the part-1 net."""
    path = tmp_path_factory.mktemp("runs") / "part1.h5"
    record_part1(path, "sigmoid", "sigmoid")
    record_part1(path, "relu", "relu")
    return path


@pytest.fixture(scope="session")
def part1_run(part1_file):
    from replay import Run

    return Run(part1_file, "sigmoid")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
