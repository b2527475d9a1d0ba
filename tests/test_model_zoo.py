"""A zoo of ordinary Keras models: each is recorded for 2 epochs and rendered.

Every model a user might bring (conv, recurrent, 1-D targets, logits,
regression, no hidden layer, normalisation, custom layers, per-batch
snapshots, ...) must record without errors, store values that agree with
Keras' own loss on the recorded outputs, give probabilities for
classification, and render with ``replay render``. The models marked
``backend`` also run on PyTorch and TensorFlow in CI.
"""

import h5py
import numpy as np
import pytest

import replay
from replay import OptionError, RecordingError, Run

N = 64
EPOCHS = 2


def _data(seed=0):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(N, 2)).astype("float32")
    binary = (points[:, 0] * points[:, 1] > 0).astype("float32")
    classes = (np.digitize(points[:, 0], [-0.4, 0.4])).astype("int64")
    images = rng.random((N, 8, 8, 1)).astype("float32")
    image_labels = (images.mean(axis=(1, 2, 3)) > 0.5).astype("float32")
    series = rng.normal(size=(N, 6, 3)).astype("float32")
    series_labels = (series[:, :, 0].sum(axis=1) > 0).astype("float32")
    return points, binary, classes, images, image_labels, series, series_labels


def _custom_layer(keras):
    class Scaled(keras.layers.Layer):
        """A custom layer with weights of its own: a learned per-unit scale and shift."""

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                         name="scale")
            self.shift = self.add_weight(shape=(input_shape[-1],), initializer="zeros",
                                         name="shift")

        def call(self, inputs):
            return keras.ops.tanh(inputs * self.scale + self.shift)

    return Scaled


def zoo():
    """``{name: (build(keras) -> (model, inputs, targets, loss, metrics, recorder options))}``."""
    points, binary, classes, images, image_labels, series, series_labels = _data()
    one_hot = np.eye(3, dtype="float32")[classes]
    target = (points[:, 0] - 2 * points[:, 1]).astype("float32")

    def dense(keras, hidden, output, activation="tanh"):
        layers = [keras.Input((2,))]
        if hidden:
            layers.append(keras.layers.Dense(hidden, activation=activation, name="hidden"))
        layers.append(keras.layers.Dense(output[0], activation=output[1], name="output"))
        return keras.Sequential(layers)

    return {
        "part1 (N, 1) targets": lambda k: (
            dense(k, 2, (1, "sigmoid"), "sigmoid"), points, binary[:, None],
            "binary_crossentropy", ["accuracy"], {}),
        "1-D binary targets": lambda k: (
            dense(k, 2, (1, "sigmoid")), points, binary, "binary_crossentropy",
            ["accuracy"], {}),
        "sparse multiclass": lambda k: (
            dense(k, 3, (3, "softmax")), points, classes, "sparse_categorical_crossentropy",
            ["accuracy"], {}),
        "one-hot multiclass": lambda k: (
            dense(k, 3, (3, "softmax")), points, one_hot, "categorical_crossentropy",
            ["accuracy"], {}),
        "binary logits": lambda k: (
            dense(k, 2, (1, None)), points, binary,
            k.losses.BinaryCrossentropy(from_logits=True), ["accuracy"], {}),
        "multiclass logits": lambda k: (
            dense(k, 4, (3, None)), points, classes,
            k.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"], {}),
        "regression mse": lambda k: (
            dense(k, 4, (1, None), "relu"), points, target, "mse", ["mae"], {}),
        "regression huber": lambda k: (
            dense(k, 2, (1, None)), points, target[:, None], k.losses.Huber(), ["mae"], {}),
        "no hidden layer": lambda k: (
            dense(k, 0, (1, "sigmoid")), points, binary, "binary_crossentropy",
            ["accuracy"], {}),
        "conv2d relu": lambda k: (
            k.Sequential([k.Input((8, 8, 1)), k.layers.Conv2D(4, 3, activation="relu",
                                                              name="conv"),
                          k.layers.Flatten(), k.layers.Dense(1, activation="sigmoid")]),
            images, image_labels, "binary_crossentropy", ["accuracy"], {}),
        "conv1d": lambda k: (
            k.Sequential([k.Input((6, 3)), k.layers.Conv1D(4, 2, activation="tanh",
                                                           name="conv"),
                          k.layers.GlobalAveragePooling1D(),
                          k.layers.Dense(1, activation="sigmoid")]),
            series, series_labels, "binary_crossentropy", ["accuracy"], {}),
        "simple rnn": lambda k: (
            k.Sequential([k.Input((6, 3)), k.layers.SimpleRNN(4, name="rnn"),
                          k.layers.Dense(1, activation="sigmoid")]),
            series, series_labels, "binary_crossentropy", ["accuracy"], {}),
        "lstm": lambda k: (
            k.Sequential([k.Input((6, 3)), k.layers.LSTM(4, name="lstm"),
                          k.layers.Dense(1, activation="sigmoid")]),
            series, series_labels, "binary_crossentropy", ["accuracy"], {}),
        "gru sequences": lambda k: (
            k.Sequential([k.Input((6, 3)), k.layers.GRU(3, return_sequences=True, name="gru"),
                          k.layers.Flatten(), k.layers.Dense(1, activation="sigmoid")]),
            series, series_labels, "binary_crossentropy", ["accuracy"], {}),
        "dense + relu layer": lambda k: (
            k.Sequential([k.Input((2,)), k.layers.Dense(2, name="hidden"), k.layers.ReLU(),
                          k.layers.Dense(1, activation="sigmoid")]),
            points, binary, "binary_crossentropy", ["accuracy"], {}),
        "dense + leaky relu layer": lambda k: (
            k.Sequential([k.Input((2,)), k.layers.Dense(3, name="hidden"),
                          k.layers.LeakyReLU(negative_slope=0.1),
                          k.layers.Dense(1, activation="sigmoid")]),
            points, binary, "binary_crossentropy", ["accuracy"], {}),
        "batchnorm + dropout": lambda k: (
            k.Sequential([k.Input((2,)), k.layers.Dense(4, activation="relu", name="hidden"),
                          k.layers.BatchNormalization(name="bn"), k.layers.Dropout(0.3),
                          k.layers.Dense(1, activation="sigmoid")]),
            points, binary, "binary_crossentropy", ["accuracy"], {}),
        "custom layer": lambda k: (
            k.Sequential([k.Input((2,)), k.layers.Dense(3, name="hidden"),
                          _custom_layer(k)(name="scaled"),
                          k.layers.Dense(1, activation="sigmoid")]),
            points, binary, "binary_crossentropy", ["accuracy"], {}),
        "functional residual": lambda k: _functional(k, points, binary),
        "dense on sequences": lambda k: (
            k.Sequential([k.Input((6, 3)), k.layers.Dense(2, activation="tanh", name="step"),
                          k.layers.Flatten(), k.layers.Dense(1, activation="sigmoid")]),
            series, series_labels, "binary_crossentropy", ["accuracy"], {}),
        "per-batch snapshots": lambda k: (
            dense(k, 2, (1, "sigmoid")), points, binary, "binary_crossentropy",
            ["accuracy"], {"every_n_batches": 3}),
    }


def _functional(keras, points, binary):
    inputs = keras.Input((2,))
    hidden = keras.layers.Dense(2, activation="tanh", name="hidden")(inputs)
    mixed = keras.layers.Add()([inputs, hidden])
    outputs = keras.layers.Dense(1, activation="sigmoid", name="output")(mixed)
    return (keras.Model(inputs, outputs), points, binary, "binary_crossentropy",
            ["accuracy"], {})


#: The models CI also records on PyTorch and TensorFlow.
PORTABLE = ("1-D binary targets", "multiclass logits", "regression mse", "conv2d relu",
            "lstm", "batchnorm + dropout", "per-batch snapshots", "no hidden layer")
MODELS = [pytest.param(name, marks=[pytest.mark.backend] if name in PORTABLE else [])
          for name in zoo()]


def reference_loss(keras, loss):
    """Keras' own unreduced loss for the zoo's loss specifications."""
    if isinstance(loss, str):
        classes = {"binary_crossentropy": keras.losses.BinaryCrossentropy,
                   "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
                   "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
                   "mse": keras.losses.MeanSquaredError}
        return classes[loss](reduction=None)
    config = loss.get_config()
    config["reduction"] = None
    return type(loss).from_config(config)


@pytest.fixture(scope="module")
def zoo_file(tmp_path_factory):
    import keras

    from replay import Recorder

    path = tmp_path_factory.mktemp("zoo") / "zoo.h5"
    recorded = {}
    for name, build in zoo().items():
        keras.utils.set_random_seed(1)
        model, inputs, targets, loss, metrics, options = build(keras)
        model.compile(keras.optimizers.Adam(0.01), loss, metrics=metrics)
        recorder = Recorder(path, name, inputs, targets, mesh_resolution=20, grid_points=50,
                            **options)
        model.fit(inputs, targets, epochs=EPOCHS, batch_size=16, verbose=0,
                  callbacks=[recorder])
        recorded[name] = (model, inputs, targets, loss)
    return path, recorded


@pytest.mark.parametrize("name", MODELS)
def test_zoo_model_records_true_values(zoo_file, name):
    import keras

    path, recorded = zoo_file
    model, inputs, targets, loss = recorded[name]
    with Run(path, name) as run:
        assert run.complete
        last = run.n_snapshots - 1
        assert run.epochs[-1] == EPOCHS  # per-batch runs end with the final state too
        outputs = run.outputs(last)
        # The last snapshot is the trained model: its outputs are the model's.
        np.testing.assert_allclose(outputs, keras.ops.convert_to_numpy(model(inputs)),
                                   rtol=1e-4, atol=1e-5)
        expected = keras.ops.convert_to_numpy(reference_loss(keras, loss)(targets, outputs))
        np.testing.assert_allclose(run.per_sample_loss(last), expected, rtol=1e-5, atol=1e-5)
        for info in run.layers:
            if info.hidden:
                activations = run.activations(info.name, last)
                assert activations.shape == (len(inputs), *info.shape)
                if info.preactivations:
                    assert run.preactivations(info.name, last).shape == activations.shape
        if run.task == "classification":
            probabilities = run.probabilities(last)
            assert probabilities.min() >= 0 and probabilities.max() <= 1
            if probabilities.shape[-1] > 1:
                np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)
        else:
            with pytest.raises(OptionError, match="regression"):
                run.probabilities(last)


@pytest.mark.parametrize("name", MODELS)
def test_zoo_model_renders(zoo_file, name, tmp_path, capsys):
    import imageio.v3 as iio

    from replay.cli import main

    path, _ = zoo_file
    out = tmp_path / "zoo.png"
    assert main(["render", str(path), "--run", name, "--dpi", "30", "--out", str(out)]) == 0
    picture = iio.imread(out)
    assert picture.shape[:2] == (180, 360)
    assert picture[..., :3].std() > 10  # something was drawn, not a blank figure


def test_zoo_kinds_are_told_apart(zoo_file):
    path, _ = zoo_file
    runs = {name: Run(path, name) for name in ("binary logits", "regression huber",
                                                "conv2d relu", "lstm", "batchnorm + dropout",
                                                "dense + relu layer")}
    assert runs["binary logits"].outputs_are_logits
    assert runs["regression huber"].task == "regression"
    conv = runs["conv2d relu"].layer("conv")
    assert conv.shape == [6, 6, 4] and conv.preactivations
    # relu(z) is the activation: the pre-activation is the convolution before relu.
    z = runs["conv2d relu"].preactivations("conv", 2)
    np.testing.assert_allclose(np.maximum(z, 0), runs["conv2d relu"].activations("conv", 2),
                               atol=1e-6)
    assert not runs["lstm"].layer("lstm").preactivations
    assert runs["lstm"].layer("lstm").activation == "tanh"
    bn = runs["batchnorm + dropout"]
    assert set(bn.weights("bn", 2)) == {"gamma", "beta", "moving_mean", "moving_variance"}
    assert set(bn.gradients("bn", 2)) == {"gamma", "beta"}  # statistics have no gradient
    pair = runs["dense + relu layer"]
    assert pair.layer("hidden").activation == "relu"
    np.testing.assert_allclose(np.maximum(pair.preactivations("hidden", 1), 0),
                               pair.activations("hidden", 1), atol=1e-6)
    for run in runs.values():
        run.close()


def test_targets_that_do_not_fit_the_loss_fail_before_training(tmp_path):
    import keras

    from replay import Recorder

    points, binary, *_ = _data()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    path = tmp_path / "bad.h5"
    recorder = Recorder(path, "bad", points, binary[:, None].repeat(2, axis=1))
    with pytest.raises(RecordingError, match="do not work with the model's loss"):
        model.fit(points, np.eye(3)[binary.astype(int)], epochs=1, verbose=0,
                  callbacks=[recorder])
    if path.exists():  # the failed recording left no half-made run behind
        with h5py.File(path, "r") as handle:
            assert "bad" not in handle


def test_batch_size_and_training_set_come_from_fit(tmp_path):
    import keras

    from replay import Recorder

    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(400, 2)).astype("float32")
    targets = (inputs[:, 0] > 0).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy")
    recorder = Recorder(tmp_path / "b.h5", "subset", inputs[:50], targets[:50])
    model.fit(inputs, targets, epochs=1, verbose=0, callbacks=[recorder])  # Keras' batch: 32
    with Run(tmp_path / "b.h5", "subset") as run:
        assert run.attrs["batch_size"] == 32
        assert run.attrs["n_train_samples"] == 400 and run.attrs["n_samples"] == 50


def test_a_recorder_starts_a_new_run_for_another_model(tmp_path):
    import keras

    from replay import Recorder

    points, binary, *_ = _data()
    recorder = Recorder(tmp_path / "r.h5", "run", points, binary)
    for attempt in range(2):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile("sgd", "binary_crossentropy")
        model.fit(points, binary, epochs=1 + attempt, verbose=0, callbacks=[recorder])
    assert replay.list_runs(tmp_path / "r.h5") == ["run", "run-1"]
    assert [Run(tmp_path / "r.h5", name).n_snapshots for name in ("run", "run-1")] == [2, 3]


def test_a_snapshot_only_run_renders(tmp_path, capsys):
    import keras

    from replay import Recorder
    from replay.cli import main

    points, binary, *_ = _data()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="tanh"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    run = Recorder(tmp_path / "s.h5", "initial", points, binary).snapshot(model)
    assert run.n_snapshots == 1 and run.history == {}
    out = tmp_path / "s.png"
    assert main(["render", str(tmp_path / "s.h5"), "--out", str(out), "--dpi", "30"]) == 0
    assert out.stat().st_size > 0


def test_per_batch_snapshots_are_picked_by_index_or_epoch_value(zoo_file, tmp_path, capsys):
    from replay import EpochOutOfRangeError
    from replay.cli import main

    path, _ = zoo_file
    with Run(path, "per-batch snapshots") as run:
        # 64 samples in batches of 16: 4 steps an epoch, a snapshot every 3, and the end.
        np.testing.assert_allclose(run.epochs, [0.0, 0.75, 1.5, 2.0])
        assert run.snapshot_index(1.5) == 2 and run.snapshot_index(2) == 2
        assert run.snapshot_index(2.0) == 3
        with pytest.raises(EpochOutOfRangeError, match=r"0\.75 \(snapshot 1\) or 1\.5 "
                                                       r"\(snapshot 2\)"):
            run.snapshot_index(1.0)
    out = tmp_path / "half.png"
    assert main(["render", str(path), "--run", "per-batch snapshots", "--epoch", "1.5",
                 "--dpi", "30", "--out", str(out)]) == 0
    assert "epoch 2," in capsys.readouterr().out
    assert main(["render", str(path), "--run", "per-batch snapshots", "--epoch", "1.0",
                 "--out", str(out)]) == 2
    assert "--epoch 1.0: No snapshot" in capsys.readouterr().err


def test_only_the_first_process_of_a_multi_process_run_writes(tmp_path, monkeypatch):
    import keras

    import replay.record.callback as callback
    from replay import Recorder

    points, binary, *_ = _data()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy")
    monkeypatch.setattr(callback, "process_index", lambda: 1)
    model.fit(points, binary, epochs=2, verbose=0,
              callbacks=[Recorder(tmp_path / "worker.h5", "run", points, binary)])
    assert not (tmp_path / "worker.h5").exists()
    monkeypatch.setattr(callback, "process_index", lambda: 0)
    model.fit(points, binary, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "chief.h5", "run", points, binary)])
    with Run(tmp_path / "chief.h5") as run:
        assert run.n_snapshots == 2


DATA_PARALLEL = """
import os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import keras, numpy as np
from replay import Recorder, Run
rng = np.random.default_rng(0)
X = rng.normal(size=(128, 2)).astype("float32"); y = (X[:, 0] * X[:, 1] > 0).astype("float32")
def train(path, parallel):
    if parallel:
        devices = keras.distribution.list_devices()
        assert len(devices) == 2, devices
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)),
                              keras.layers.Dense(2, activation="tanh", name="hidden"),
                              keras.layers.Dense(1, activation="sigmoid", name="output")])
    model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy")
    model.fit(X, y, epochs=2, batch_size=32, verbose=0, shuffle=False,
              callbacks=[Recorder(path, "run", X, y, mesh_resolution=10, grid_points=20)])
    keras.distribution.set_distribution(None)
train(sys.argv[1] + "/one.h5", False)
train(sys.argv[1] + "/two.h5", True)
one, two = Run(sys.argv[1] + "/one.h5"), Run(sys.argv[1] + "/two.h5")
for name in one.arrays():
    if name.startswith(("outputs", "activations", "preactivations", "loss", "weights")):
        np.testing.assert_allclose(one.series(name), two.series(name), atol=1e-5, err_msg=name)
print("same values")
"""


def test_data_parallel_over_two_devices_records_the_same_values(tmp_path):
    import os
    import subprocess
    import sys

    if os.environ.get("KERAS_BACKEND", "jax") != "jax":
        pytest.skip("the two host devices are a JAX (XLA) setting")
    result = subprocess.run([sys.executable, "-c", DATA_PARALLEL, str(tmp_path)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "KERAS_BACKEND": "jax"})
    assert "same values" in result.stdout, result.stderr[-2000:]


def test_models_with_several_inputs_or_outputs_are_refused_before_training(tmp_path):
    import keras

    from replay import Recorder

    points, binary, *_ = _data()
    with pytest.raises(OptionError, match="list of 2 arrays: replay records models with one "
                                          "input"):
        Recorder(tmp_path / "m.h5", "two", [points, points], binary)
    first, second = keras.Input((2,)), keras.Input((2,))
    merged = keras.layers.Concatenate()([first, second])
    model = keras.Model([first, second], keras.layers.Dense(1, activation="sigmoid")(merged))
    model.compile("sgd", "binary_crossentropy")
    recorder = Recorder(tmp_path / "m.h5", "two", points, binary)
    with pytest.raises(RecordingError, match="one input and one output. This model has 2 "
                                             "inputs and 1 outputs"):
        model.fit([points, points], binary, epochs=1, verbose=0, callbacks=[recorder])
    assert not (tmp_path / "m.h5").exists()
