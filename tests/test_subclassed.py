"""Subclassed keras.Model: weights, gradients, outputs, losses and history are recorded,
hidden activations are not (they need a Sequential or functional model), and said so."""

import warnings

import numpy as np
import pytest

from replay import RecordingWarning, Run
from replay.cli import main


def subclassed_net():
    """A 2 -> 4 (tanh) -> 1 (sigmoid) net written as a subclassed keras.Model."""
    import keras

    class TwoLayers(keras.Model):
        def __init__(self):
            super().__init__(name="two_layers")
            self.hidden = keras.layers.Dense(4, activation="tanh", name="hidden")
            self.out = keras.layers.Dense(1, activation="sigmoid", name="output")

        def call(self, inputs):
            return self.out(self.hidden(inputs))

    keras.utils.set_random_seed(1)
    model = TwoLayers()
    model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy", metrics=["accuracy"])
    return model


def record_subclassed(path, epochs=3):
    import keras

    from replay import Recorder
    from replay.datasets import parabola

    inputs, targets = parabola(60)
    targets = targets.reshape(-1)
    model = subclassed_net()
    model(inputs[:1])  # built
    initial = [weight.copy() for weight in model.get_weights()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(inputs, targets, epochs=epochs, batch_size=16, verbose=0,
                  callbacks=[Recorder(path, "net", inputs, targets, gradients=True)])
    told = [warning for warning in caught if issubclass(warning.category, RecordingWarning)]
    return model, inputs, targets, initial, told, keras


@pytest.mark.backend
def test_a_subclassed_model_records_weights_outputs_losses_gradients_and_history(tmp_path):
    path = tmp_path / "run.h5"
    model, inputs, targets, initial, told, keras = record_subclassed(path)
    assert len(told) == 1
    assert "subclassed keras.Model" in str(told[0].message)
    assert "need a Sequential or functional model" in str(told[0].message)
    run = Run(path, "net")
    assert run.subclassed and run.complete and run.n_snapshots == 4
    assert run.hidden_layers == [] and run.layer_names == ["hidden", "output"]
    np.testing.assert_allclose(run.weights("hidden", 0)["kernel"], initial[0])
    final = model.get_weights()
    np.testing.assert_allclose(run.weights("output", -1)["kernel"], final[2], rtol=1e-6)
    outputs = np.asarray(keras.ops.convert_to_numpy(model(inputs)))
    np.testing.assert_allclose(run.outputs(-1), outputs, rtol=1e-5, atol=1e-6)
    expected = -(targets * np.log(outputs[:, 0]) + (1 - targets) * np.log(1 - outputs[:, 0]))
    np.testing.assert_allclose(run.per_sample_loss(-1), expected, rtol=1e-4, atol=1e-5)
    gradients = run.gradients("hidden", -1)
    assert gradients["kernel"].shape == (2, 4) and np.abs(gradients["kernel"]).sum() > 0
    np.testing.assert_allclose(run.history["loss"], model.history.history["loss"], rtol=1e-6)
    with pytest.raises(Exception, match="hidden"):
        run.activations("hidden", -1)


def test_gradients_of_a_subclassed_model_are_those_of_its_mean_loss(tmp_path):
    import jax
    import jax.numpy as jnp

    path = tmp_path / "run.h5"
    model, inputs, targets, _, _, keras = record_subclassed(path, epochs=1)
    run = Run(path, "net")
    weights = [np.asarray(array) for layer in ("hidden", "output")
               for array in run.weights(layer, -1).values()]

    def mean_loss(values):
        hidden = jnp.tanh(inputs @ values[0] + values[1])
        output = jax.nn.sigmoid(hidden @ values[2] + values[3])[:, 0]
        output = jnp.clip(output, 1e-7, 1 - 1e-7)
        return -jnp.mean(targets * jnp.log(output) + (1 - targets) * jnp.log(1 - output))

    expected = jax.grad(mean_loss)(weights)
    np.testing.assert_allclose(run.gradients("hidden", -1)["kernel"], expected[0],
                               rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(run.gradients("output", -1)["bias"], expected[3],
                               rtol=1e-3, atol=1e-6)


def test_info_says_why_there_are_no_activations_and_render_draws_without_feature_space(
        tmp_path, capsys):
    path = tmp_path / "run.h5"
    record_subclassed(path)
    assert main(["info", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "TwoLayers: a subclassed keras.Model, so no hidden activations" in printed
    assert "they need a Sequential or functional model" in printed
    assert "hidden           Dense        4 units tanh         layer" in printed
    picture = tmp_path / "net.png"
    assert main(["render", str(path), "--run", "net", "--out", str(picture)]) == 0
    assert picture.stat().st_size > 10_000
    from replay.render import Scene

    scene = Scene.default(Run(path, "net"))
    assert not any(type(view).__name__ == "FeatureSpace" for view in scene.views)
