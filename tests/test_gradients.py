"""Recorded gradients: equal to the backend's own autodiff, on JAX and on torch/TF."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from replay import OptionError, Run

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def small_model(seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((2,)),
        keras.layers.Dense(3, activation="tanh", name="hidden"),
        keras.layers.Dense(1, activation="sigmoid", name="output"),
    ])
    model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy")
    return model


def small_data(n=64):
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(n, 2)).astype(np.float32)
    targets = (inputs[:, :1] * inputs[:, 1:] > 0).astype(np.float32)
    return inputs, targets


def direct_gradients(weights, inputs, targets):
    """Gradients of the mean binary cross-entropy, with the backend's own autodiff.

    ``weights`` are numpy ``[kernel1, bias1, kernel2, bias2]``; the forward
    pass is written out with ``keras.ops`` and differentiated with jax.grad,
    torch.autograd or tf.GradientTape, independently of replay's code.
    """
    import keras
    from keras import ops

    def loss(kernel1, bias1, kernel2, bias2):
        hidden = ops.tanh(ops.matmul(inputs, kernel1) + bias1)
        output = ops.sigmoid(ops.matmul(hidden, kernel2) + bias2)
        output = ops.clip(output, 1e-7, 1 - 1e-7)
        return -ops.mean(targets * ops.log(output) + (1 - targets) * ops.log(1 - output))

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        result = jax.grad(loss, argnums=(0, 1, 2, 3))(*weights)
    elif backend == "torch":
        import torch

        tensors = [torch.tensor(w, requires_grad=True) for w in weights]
        inputs, targets = torch.tensor(inputs), torch.tensor(targets)
        result = torch.autograd.grad(loss(*tensors), tensors)
    elif backend == "tensorflow":
        import tensorflow as tf

        tensors = [tf.Variable(w) for w in weights]
        with tf.GradientTape() as tape:
            value = loss(*tensors)
        result = tape.gradient(value, tensors)
    else:
        pytest.skip(f"no direct gradient for backend {backend}")
    return [np.asarray(ops.convert_to_numpy(g)) for g in result]


@pytest.mark.backend
def test_recorded_gradients_equal_backend_gradients(tmp_path):
    from replay import Recorder

    inputs, targets = small_data()
    model = small_model()
    recorder = Recorder(tmp_path / "g.h5", "run", inputs, targets, gradients=True)
    model.fit(inputs, targets, epochs=3, batch_size=16, verbose=0, callbacks=[recorder])

    run = Run(tmp_path / "g.h5", "run")
    assert run.n_snapshots == 4
    for epoch in range(run.n_snapshots):
        hidden, output = run.weights("hidden", epoch), run.weights("output", epoch)
        expected = direct_gradients(
            [hidden["kernel"], hidden["bias"], output["kernel"], output["bias"]],
            inputs, targets)
        recorded = run.gradients("hidden", epoch), run.gradients("output", epoch)
        got = [recorded[0]["kernel"], recorded[0]["bias"],
               recorded[1]["kernel"], recorded[1]["bias"]]
        for value, reference in zip(got, expected):
            assert value.shape == reference.shape
            np.testing.assert_allclose(value, reference, atol=1e-5, rtol=1e-4)
    # The gradients changed as the weights moved.
    assert not np.allclose(run.gradients("hidden", 0)["kernel"],
                           run.gradients("hidden", 3)["kernel"])
    run.close()


def _torch_python():
    """An interpreter with torch: this one, or $REPLAY_TORCH_PYTHON."""
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    return os.environ.get("REPLAY_TORCH_PYTHON")


@pytest.mark.backend
def test_recorded_gradients_on_torch_in_a_subprocess():
    import keras

    if keras.backend.backend() == "torch":
        pytest.skip("already on torch: the in-process test covers it")
    python = _torch_python()
    if not python:
        pytest.skip("torch is not importable (set REPLAY_TORCH_PYTHON to a venv with torch)")
    env = dict(os.environ, KERAS_BACKEND="torch")
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
         "-k", "test_recorded_gradients_equal_backend_gradients"],
        env=env, capture_output=True, text=True, timeout=300,
        cwd=os.path.dirname(os.path.dirname(__file__)))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1 passed" in result.stdout


def test_snapshot_records_initial_gradients(tmp_path):
    from replay import Recorder

    inputs, targets = small_data()
    model = small_model()
    run = Recorder(tmp_path / "g.h5", "init", inputs, targets).snapshot(model)
    gradients = run.gradients("hidden", 0)
    assert set(gradients) == {"kernel", "bias"}
    assert gradients["kernel"].shape == (2, 3)
    assert np.abs(gradients["kernel"]).max() > 0
    run.close()


def test_gradients_false_records_none(tmp_path):
    from replay import LayerNotFoundError, Recorder

    inputs, targets = small_data()
    run = Recorder(tmp_path / "g.h5", "off", inputs, targets,
                   gradients=False).snapshot(small_model())
    assert not any(name.startswith("gradients/") for name in run.arrays())
    with pytest.raises(LayerNotFoundError, match="gradients=True"):
        run.gradients("hidden", 0)
    run.close()


def test_gradients_option_is_checked_and_auto_depends_on_size():
    import keras

    from replay import Recorder
    from replay.record.gradients import AUTO_MAX_PARAMETERS, wants_gradients

    inputs, targets = small_data()
    with pytest.raises(OptionError, match="gradients must be"):
        Recorder("unused.h5", "run", inputs, targets, gradients="yes")
    assert wants_gradients("auto", small_model())
    big = keras.Sequential([keras.Input((400,)), keras.layers.Dense(300)])
    assert big.count_params() > AUTO_MAX_PARAMETERS
    assert not wants_gradients("auto", big)
    assert wants_gradients(True, big)


def test_recording_gradients_does_not_change_training(tmp_path):
    from replay import Recorder

    inputs, targets = small_data()
    finals = []
    for option in (True, False):
        model = small_model(seed=3)
        recorder = Recorder(tmp_path / f"{option}.h5", "run", inputs, targets,
                            gradients=option, every_n_batches=2)
        history = model.fit(inputs, targets, epochs=2, batch_size=16, verbose=0,
                            shuffle=False, callbacks=[recorder])
        finals.append((model.get_weights(), history.history["loss"]))
    for with_gradients, without in zip(finals[0][0], finals[1][0]):
        np.testing.assert_allclose(with_gradients, without, atol=1e-6)
    np.testing.assert_allclose(finals[0][1], finals[1][1], rtol=1e-6)
