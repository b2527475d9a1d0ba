"""The Keras side of the loss landscape: record_landscape evaluates the loss with the model.

The tests marked ``backend`` run on PyTorch and TensorFlow in CI too (the
point-by-point evaluation; JAX compiles blocks of points).
"""

import numpy as np
import pytest
from conftest import part1_model, record_part1

from replay import Run
from replay.errors import OptionError, RecordingError
from replay.io import schema
from replay.landscape import compute_landscape


def mean_recorded_loss(run, epoch):
    return float(np.mean(run.per_sample_loss(epoch), dtype=np.float64))


@pytest.mark.backend
def test_the_model_computes_the_numpy_landscape_of_a_dense_net(tmp_path):
    from replay.record.landscape import record_landscape

    path = tmp_path / "part1.h5"
    model, _, _ = record_part1(path, "tanh", "tanh", epochs=4, n_points=100)
    stored = record_landscape(model, path, "tanh", resolution=6)
    with Run(path, "tanh") as run:
        computed = compute_landscape(run, resolution=6)
        np.testing.assert_allclose(stored.surface, computed.surface, rtol=1e-5)
        np.testing.assert_allclose(stored.line_loss[0], computed.line_loss[0], rtol=1e-5)
        assert schema.landscape("surface") in run.arrays()


def small_cnn(keras):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.MaxPooling2D(), keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax", name="output")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    return model


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    import keras
    from sklearn.datasets import load_digits

    from replay import Recorder
    from replay.record.landscape import record_landscape

    digits = load_digits()
    images = (digits.images[:120] / 16.0).astype(np.float32)[..., None]
    labels = digits.target[:120]
    path = tmp_path_factory.mktemp("cnn") / "cnn.h5"
    model = small_cnn(keras)
    model.fit(images, labels, epochs=3, batch_size=32, verbose=0,
              callbacks=[Recorder(path, "cnn", images, labels)])
    landscape = record_landscape(model, path, "cnn", resolution=5)
    return path, landscape, model


@pytest.mark.backend
def test_a_cnn_landscape_holds_the_recorded_losses(cnn_run):
    path, landscape, _ = cnn_run
    with Run(path, "cnn") as run:
        assert landscape.loss_at([[0.0, 0.0]])[0] == pytest.approx(
            mean_recorded_loss(run, -1), abs=1e-5)
        t = landscape.line_t
        assert landscape.line_loss[0][t == 0.0][0] == pytest.approx(
            mean_recorded_loss(run, 0), abs=1e-5)
        assert landscape.line_loss[0][t == 1.0][0] == pytest.approx(
            mean_recorded_loss(run, -1), abs=1e-5)


def test_a_cnn_landscape_is_read_back_and_drawn_without_the_model(cnn_run, tmp_path):
    from replay.views import LossLandscape, LossLine

    path, landscape, _ = cnn_run
    with Run(path, "cnn") as run:
        stored = run.landscape()
        np.testing.assert_array_equal(stored.surface, landscape.surface)
        np.testing.assert_allclose(stored.paths[0], landscape.paths[0])
        assert stored.evaluator is None
        with pytest.raises(OptionError, match="record_landscape"):
            run.landscape(resolution=9)  # numpy cannot compute another one
        view = LossLandscape(run)
        view.plot(2).savefig(tmp_path / "cnn.png", dpi=40)
        LossLine(run).plot(1)
        assert view.landscape_ is stored


def test_a_model_whose_weights_were_not_all_recorded_is_refused(cnn_run):
    import keras

    from replay.landscape import ParameterLayout
    from replay.record.landscape import KerasLoss

    path, _, model = cnn_run
    with Run(path, "cnn") as run:
        layout = ParameterLayout(tuple(entry for entry in ParameterLayout.of_run(run).entries
                                       if entry[0] != "output"))
        with pytest.raises(RecordingError, match="not among the run's recorded weights"):
            KerasLoss(model, layout, run.inputs(), run.targets())
    other = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax", name="output")])
    other.compile("adam", "sparse_categorical_crossentropy")
    with Run(path, "cnn") as run, pytest.raises(RecordingError, match="recorded"):
        KerasLoss(other, ParameterLayout.of_run(run), run.inputs(), run.targets())


def test_the_recorder_stores_the_landscape_at_the_end_of_fit(tmp_path):
    path = tmp_path / "run.h5"
    record_part1(path, "relu", "relu", epochs=3, n_points=60, landscape={"resolution": 4})
    with Run(path, "relu") as run:
        from replay.landscape import read_landscape

        stored = read_landscape(run)
        assert stored.surface.shape == (4, 4)
        np.testing.assert_allclose(stored.surface, compute_landscape(run, resolution=4).surface,
                                   rtol=1e-5)


@pytest.mark.parametrize("value, message", [
    ({"grid": 3}, "takes directions, resolution, margin, line, seed. Got 'grid'"),
    ("yes", "must be True, False, None or a dict"),
])
def test_a_bad_recorder_landscape_option_is_named(tmp_path, value, message):
    from replay import Recorder

    with pytest.raises(RecordingError, match=message):
        Recorder(tmp_path / "run.h5", "run", np.zeros((4, 2)), np.zeros((4, 1)),
                 landscape=value)


def test_a_frozen_layer_stays_at_its_weights_on_the_landscape(tmp_path):
    import keras

    from replay import Recorder
    from replay.datasets import parabola
    from replay.landscape import ParameterLayout

    inputs, targets = parabola(40)
    model = part1_model("tanh")
    model.get_layer("hidden").trainable = False
    model.compile(keras.optimizers.SGD(0.05), "binary_crossentropy")
    path = tmp_path / "frozen.h5"
    model.fit(inputs, targets, epochs=3, batch_size=16, verbose=0,
              callbacks=[Recorder(path, "frozen", inputs, targets)])
    with Run(path, "frozen") as run:
        assert [entry[0] for entry in ParameterLayout.of_run(run).entries] == ["output"] * 2
        landscape = compute_landscape(run, resolution=4)
        assert landscape.loss_at([[0.0, 0.0]])[0] == pytest.approx(
            mean_recorded_loss(run, -1), abs=1e-5)
        assert landscape.line_loss[0][landscape.line_t == 0.0][0] == pytest.approx(
            mean_recorded_loss(run, 0), abs=1e-5)
