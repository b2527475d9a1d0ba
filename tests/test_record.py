"""The recorder: what it captures equals what the model computes."""

import numpy as np
import pytest
from conftest import part1_model, record_part1

import replay
from replay import RecordingError, Run


def forward(inputs, weights_hidden, weights_output, activation):
    """A numpy forward pass of the part-1 net."""
    functions = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "relu": lambda z: np.maximum(z, 0),
                 "tanh": np.tanh}
    z = inputs @ weights_hidden["kernel"] + weights_hidden["bias"]
    hidden = functions[activation](z)
    output = functions["sigmoid"](hidden @ weights_output["kernel"] + weights_output["bias"])
    return z, hidden, output


def tanh_part1():
    """The part-1 tanh net on 200 parabola points: ``(model, inputs, targets, initial weights)``."""
    from replay.datasets import parabola

    inputs, targets = parabola(100)
    model = part1_model("tanh")
    return model, inputs, targets, [w.copy() for w in model.get_weights()]


@pytest.mark.backend
def test_snapshot_count_and_initial_state(tmp_path):
    import keras

    from replay import Recorder

    path = tmp_path / "run.h5"
    model, inputs, targets, initial = tanh_part1()
    model.fit(inputs, targets, epochs=4, batch_size=16, verbose=0,
              callbacks=[Recorder(path, "tanh", inputs, targets)])
    run = Run(path, "tanh")
    assert run.n_snapshots == 5
    np.testing.assert_array_equal(run.epochs, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(run.steps, [0, 13, 26, 39, 52])  # 200 samples, batch 16
    np.testing.assert_allclose(run.weights("hidden", 0)["kernel"], initial[0])
    np.testing.assert_allclose(run.weights("output", 0)["bias"], initial[3])
    final = model.get_weights()
    np.testing.assert_allclose(run.weights("hidden", 4)["kernel"], final[0])
    assert run.complete and not run.stopped_early
    assert len(run.history["loss"]) == 4
    np.testing.assert_allclose(run.history["loss"], model.history.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(run.history["learning_rate"], 0.05, rtol=1e-6)
    assert run.attrs["batch_size"] == 16
    assert run.attrs["backend"] == keras.backend.backend()
    assert run.hidden_layers == ["hidden"]


@pytest.mark.backend
@pytest.mark.parametrize("writer", ["process", "thread"])
def test_snapshot_0_waits_for_keras_first_step_and_is_on_disk_when_the_first_epoch_ends(
        tmp_path, writer, monkeypatch):
    """Snapshot 0 holds the weights before the first batch; it is computed once Keras'
    first training step is done (not beside its compilation) and on disk when the first
    epoch ends."""
    import keras

    from replay import Recorder
    from replay.record import callback
    from replay.record.recording import Recording

    path = tmp_path / "run.h5"
    model, inputs, targets, initial = tanh_part1()
    seen, events = {}, []

    class Watched(Recording):
        def _store_snapshot(self, epoch, step, pending, history, after=None):
            if after is not None:
                after.wait(self.first_step_timeout)
            events.append(f"snapshot {epoch:g} computed")
            super()._store_snapshot(epoch, step, pending, history)

    monkeypatch.setattr(callback, "Recording", Watched)

    class Read(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0 and not events:
                events.append("first batch trained")

        def on_epoch_end(self, epoch, logs=None):
            # Another reader, while the child records (HDF5 does not let this
            # process read a file its writer thread holds in SWMR mode).
            if epoch == 0 and writer == "process":
                with Run(path, "tanh") as run:
                    seen["snapshots"] = run.n_snapshots
                    seen["kernel"] = run.weights("hidden", 0)["kernel"]
                    seen["outputs"] = run.outputs(0)

    recorder = Recorder(path, "tanh", inputs, targets, writer=writer)
    recorder.first_step_timeout = 60.0  # held back until the second batch, however slow
    model.fit(inputs, targets, epochs=2, batch_size=16, verbose=0,
              callbacks=[recorder, Read()])
    assert events[:2] == ["first batch trained", "snapshot 0 computed"]
    if writer == "thread":
        with Run(path, "tanh") as run:
            seen.update(snapshots=run.n_snapshots, kernel=run.weights("hidden", 0)["kernel"],
                        outputs=run.outputs(0))
    assert seen["snapshots"] >= 1
    # The weights before the first batch, not after it.
    np.testing.assert_array_equal(seen["kernel"], initial[0])
    assert not np.array_equal(seen["kernel"], model.get_weights()[0])
    assert seen["outputs"].shape == (200, 1) and np.isfinite(seen["outputs"]).all()
    assert recorder._batches_before_wait is None and recorder.recording._snapshot_0 is None


def test_snapshot_0_is_let_go_only_by_a_wait_that_would_block(tmp_path):
    """A finished job collected on submission does not let snapshot 0 go; waiting on
    a job that is not done does (it could be queued behind snapshot 0)."""
    import threading

    from replay.record.write_queue import WriteQueue

    queue = WriteQueue()
    first_step = queue.hold_snapshot_0()
    try:
        queue.submit(lambda: None).result()
        queue.submit(lambda: None)  # collects the finished job first
        assert not first_step.is_set()
        slow = threading.Event()
        queue.submit(slow.wait, 0.2)
        queue.wait()
        assert first_step.is_set()
    finally:
        queue.shutdown()


@pytest.mark.backend
def test_snapshot_0_is_kept_when_fit_stops_during_the_first_batch(tmp_path):
    """Ctrl-C on the first batch: close() computes and writes the held-back snapshot 0."""
    import keras

    from replay import Recorder

    path = tmp_path / "run.h5"
    model, inputs, targets, initial = tanh_part1()

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    recorder = Recorder(path, "tanh", inputs, targets)
    recorder.first_step_timeout = 60.0
    with pytest.raises(KeyboardInterrupt):
        model.fit(inputs, targets, epochs=2, batch_size=16, verbose=0,
                  callbacks=[recorder, Interrupt()])
    recorder.close()
    with Run(path, "tanh") as run:
        assert run.n_snapshots == 1 and not run.complete
        np.testing.assert_array_equal(run.weights("hidden", 0)["kernel"], initial[0])


@pytest.mark.backend
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_recorded_arrays_equal_forward_pass(recorded_part1_file, activation):
    run = Run(recorded_part1_file, activation)
    inputs = run.inputs()
    for epoch in (0, 5, run.n_snapshots - 1):
        z, hidden, output = forward(inputs, run.weights("hidden", epoch),
                                    run.weights("output", epoch), activation)
        np.testing.assert_allclose(run.preactivations("hidden", epoch), z, atol=1e-5)
        np.testing.assert_allclose(run.activations("hidden", epoch), hidden, atol=1e-5)
        np.testing.assert_allclose(run.outputs(epoch), output, atol=1e-5)
        targets = run.targets()
        clipped = np.clip(output, 1e-7, 1 - 1e-7)
        bce = -(targets * np.log(clipped) + (1 - targets) * np.log(1 - clipped)).ravel()
        np.testing.assert_allclose(run.per_sample_loss(epoch), bce, atol=1e-4)


def test_probe_points_follow_the_model(recorded_part1_file):
    run = Run(recorded_part1_file, "sigmoid")
    grid = run.inputs("grid")
    mesh = run.inputs("mesh")
    assert grid.shape == (22, 100, 2)
    assert mesh.shape == (40, 40, 2)
    limits = np.asarray(run.attrs["probe_limits"])
    assert limits[0, 0] < run.inputs()[:, 0].min() and limits[1, 1] > run.inputs()[:, 1].max()
    epoch = run.n_snapshots - 1
    _, hidden, output = forward(mesh.reshape(-1, 2), run.weights("hidden", epoch),
                                run.weights("output", epoch), "sigmoid")
    np.testing.assert_allclose(run.activations("hidden", epoch, source="mesh"),
                               hidden.reshape(40, 40, 2), atol=1e-5)
    np.testing.assert_allclose(run.outputs(epoch, source="mesh"), output.reshape(40, 40, 1),
                               atol=1e-5)
    _, hidden, _ = forward(grid.reshape(-1, 2), run.weights("hidden", 3),
                           run.weights("output", 3), "sigmoid")
    np.testing.assert_allclose(run.activations("hidden", 3, source="grid"),
                               hidden.reshape(22, 100, 2), atol=1e-5)


def test_per_sample_loss_mean_matches_keras_evaluate(tmp_path):
    model, inputs, targets = record_part1(tmp_path / "r.h5", epochs=2, n_points=100)
    run = Run(tmp_path / "r.h5")
    evaluated = model.evaluate(inputs, targets, batch_size=len(inputs), verbose=0)[0]
    assert run.per_sample_loss(-1).mean() == pytest.approx(evaluated, rel=1e-4)


@pytest.mark.backend
def test_validation_data_and_any_loss(tmp_path):
    import keras

    from replay import Recorder

    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(120, 3)).astype("float32")
    labels = (inputs[:, 0] > 0).astype(int) + (inputs[:, 1] > 0).astype(int)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((3,)),
        keras.layers.Dense(5, name="wide"),
        keras.layers.Activation("tanh"),
        keras.layers.Dropout(0.1),
        keras.layers.Dense(4, activation="relu", name="narrow"),
        keras.layers.Dense(3, activation="softmax", name="out"),
    ])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    path = tmp_path / "multi.h5"
    recorder = Recorder(path, "multi", inputs[:100], labels[:100],
                        validation_data=(inputs[100:], labels[100:]))
    model.fit(inputs[:100], labels[:100], validation_data=(inputs[100:], labels[100:]),
              epochs=3, verbose=0, callbacks=[recorder])
    run = Run(path)
    assert run.sources == ["train", "validation"]  # 3-D inputs: no probes
    assert run.hidden_layers == ["wide", "narrow"]
    assert run.layer("wide").activation == "tanh"
    assert "val_loss" in run.history and "val_accuracy" in run.history
    assert run.outputs(2, source="validation").shape == (20, 3)
    z = run.preactivations("wide", 2, source="validation")
    weights = run.weights("wide", 2)
    np.testing.assert_allclose(z, inputs[100:] @ weights["kernel"] + weights["bias"], atol=1e-5)
    np.testing.assert_allclose(run.activations("wide", 2, source="validation"), np.tanh(z),
                               atol=1e-5)
    probabilities = run.outputs(3)
    expected = -np.log(probabilities[np.arange(100), labels[:100]])
    np.testing.assert_allclose(run.per_sample_loss(3), expected, atol=1e-4)
    np.testing.assert_array_equal(run.labels(), labels[:100])


@pytest.mark.backend
def test_functional_model_and_mse(tmp_path):
    import keras

    from replay import Recorder

    inputs_layer = keras.Input((2,))
    hidden = keras.layers.Dense(3, activation="relu", name="h")(inputs_layer)
    output = keras.layers.Dense(1, name="y")(hidden)
    model = keras.Model(inputs_layer, output)
    model.compile("sgd", "mse")
    data = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    target = data.sum(axis=1, keepdims=True)
    model.fit(data, target, epochs=2, verbose=0,
              callbacks=[Recorder(tmp_path / "f.h5", "f", data, target, mesh_resolution=10)])
    run = Run(tmp_path / "f.h5", "f")
    np.testing.assert_allclose(run.per_sample_loss(2),
                               ((run.outputs(2) - target) ** 2).ravel(), rtol=1e-4, atol=1e-6)
    assert run.outputs(1, source="mesh").shape == (10, 10, 1)


@pytest.mark.backend
def test_early_stopping_run_is_complete_and_readable(tmp_path):
    import keras

    path = tmp_path / "early.h5"
    stop = keras.callbacks.EarlyStopping(monitor="loss", min_delta=10.0, patience=1)
    from replay import Recorder
    from replay.datasets import parabola

    inputs, targets = parabola(50)
    model = part1_model()
    model.fit(inputs, targets, epochs=50, batch_size=16, verbose=0,
              callbacks=[Recorder(path, "early", inputs, targets), stop])
    run = Run(path, "early")
    assert run.n_snapshots == 3  # initial state + 2 epochs
    assert run.complete and run.stopped_early
    assert len(run.history["loss"]) == 2
    assert run.activations("hidden", 2).shape == (100, 2)


def test_interrupted_run_keeps_completed_snapshots(tmp_path):
    import keras

    from replay import Recorder
    from replay.datasets import parabola

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    inputs, targets = parabola(50)
    model = part1_model()
    path = tmp_path / "interrupted.h5"
    recorder = Recorder(path, "cut", inputs, targets)
    with pytest.raises(KeyboardInterrupt):
        model.fit(inputs, targets, epochs=10, verbose=0, callbacks=[recorder, Interrupt()])
    recorder.close()  # finish the write in flight and release the file
    run = Run(path, "cut")
    assert not run.complete
    assert run.n_snapshots == 4
    assert run.outputs(3).shape == (100, 1)


@pytest.mark.backend
def test_second_fit_continues_the_run(tmp_path):
    from replay import Recorder
    from replay.datasets import parabola

    inputs, targets = parabola(50)
    model = part1_model()
    recorder = Recorder(tmp_path / "c.h5", "c", inputs, targets)
    model.fit(inputs, targets, epochs=2, verbose=0, callbacks=[recorder])
    model.fit(inputs, targets, epochs=3, verbose=0, callbacks=[recorder])
    run = Run(tmp_path / "c.h5", "c")
    assert run.n_snapshots == 6
    np.testing.assert_array_equal(run.epochs, [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(run.history["epoch"], [1, 2, 3, 4, 5])
    np.testing.assert_allclose(run.weights("hidden", 5)["kernel"], model.get_weights()[0])


def test_existing_run_needs_overwrite(tmp_path):
    path = tmp_path / "dup.h5"
    record_part1(path, "a", epochs=1, n_points=20)
    with pytest.raises(RecordingError, match="already exists.*overwrite=True"):
        record_part1(path, "a", epochs=1, n_points=20)
    record_part1(path, "a", epochs=2, n_points=20, overwrite=True)
    assert Run(path, "a").n_snapshots == 3
    record_part1(path, "b", epochs=1, n_points=20)
    assert replay.list_runs(path) == ["a", "b"]


@pytest.mark.backend
def test_every_n_batches(tmp_path):
    model, inputs, targets = record_part1(tmp_path / "b.h5", epochs=2, n_points=40,
                                          every_n_batches=2)
    run = Run(tmp_path / "b.h5")
    # 80 samples / batch 16 = 5 steps per epoch; snapshots at steps 2, 4, 6, 8, 10
    np.testing.assert_array_equal(run.steps, [0, 2, 4, 6, 8, 10])
    np.testing.assert_allclose(run.epochs, [0, 0.4, 0.8, 1.2, 1.6, 2.0])
    np.testing.assert_allclose(run.weights("hidden", -1)["kernel"], model.get_weights()[0])
    assert run.attrs["snapshot_unit"] == "batch"


@pytest.mark.backend
def test_snapshot_without_training(tmp_path):
    import keras

    from replay import Recorder
    from replay.datasets import ball

    inputs, targets = ball(200)
    model = keras.Sequential([keras.Input((10,))]
                             + [keras.layers.Dense(20, activation="tanh", name=f"h{i}")
                                for i in range(3)]
                             + [keras.layers.Dense(1, activation="sigmoid", name="out")])
    model.compile("sgd", "binary_crossentropy")
    run = Recorder(tmp_path / "init.h5", "tanh", inputs, targets).snapshot(model)
    assert run.n_snapshots == 1 and run.complete
    assert run.hidden_layers == ["h0", "h1", "h2"]
    np.testing.assert_allclose(run.weights("h1", 0)["kernel"], model.get_weights()[2])
    assert run.activations("h2", 0).shape == (200, 20)
    assert "history" not in run.arrays() and run.history == {}


def test_bad_recorder_options(tmp_path):
    from replay import OptionError, Recorder

    inputs = np.zeros((10, 2), "float32")
    with pytest.raises(OptionError, match="inputs= and targets="):
        Recorder(tmp_path / "x.h5", "x")
    with pytest.raises(OptionError, match="same number of samples"):
        Recorder(tmp_path / "x.h5", "x", inputs, np.zeros(3))
    with pytest.raises(OptionError, match="every_n_batches"):
        Recorder(tmp_path / "x.h5", "x", inputs, np.zeros(10), every_n_batches=0)
    with pytest.raises(OptionError, match="without '/'"):
        Recorder(tmp_path / "x.h5", "a/b", inputs, np.zeros(10))
    with pytest.raises(OptionError, match="writer must be 'process' or 'thread'"):
        Recorder(tmp_path / "x.h5", "x", inputs, np.zeros(10), writer="fork")
    with pytest.raises(OptionError, match="2-D inputs"):
        Recorder(tmp_path / "x.h5", "x", np.zeros((10, 3)), np.zeros(10), probes=True)
    import keras

    uncompiled = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(RecordingError, match=r"no loss: compile it"):
        Recorder(tmp_path / "x.h5", "x", inputs, np.zeros(10)).snapshot(uncompiled)
    model = part1_model()
    with pytest.raises(RecordingError, match="model expects"):
        model.fit(np.zeros((10, 2)), np.zeros(10), verbose=0,
                  callbacks=[Recorder(tmp_path / "x.h5", "x", np.zeros((10, 3)), np.zeros(10))])
