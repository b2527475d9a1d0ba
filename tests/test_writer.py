"""Where snapshots are written: the writer process, the writer thread, history rows."""

import os
import signal

import h5py
import numpy as np
import pytest
from conftest import part1_model

from replay import RecordingError, Run
from replay.io import runfile, writer_process
from replay.io.writer import RunWriter


def record(path, run, *, epochs=3, seed=0, callbacks=(), **options):
    from replay import Recorder
    from replay.datasets import parabola

    inputs, targets = parabola(60)
    model = part1_model(seed=seed)
    options.setdefault("mesh_resolution", 20)
    options.setdefault("grid_points", 50)
    recorder = Recorder(path, run, inputs, targets, **options)
    model.fit(inputs, targets, epochs=epochs, batch_size=16, verbose=0, shuffle=False,
              callbacks=[recorder, *callbacks])
    return model, recorder


def stored_arrays(path, run):
    """Every dataset of a run, by path, as numpy arrays."""
    arrays = {}
    with h5py.File(path, "r") as handle:
        handle[run].visititems(lambda name, item: arrays.__setitem__(name, item[()])
                               if isinstance(item, h5py.Dataset) else None)
    return arrays


@pytest.mark.backend
def test_process_and_thread_writers_write_the_same_run(tmp_path):
    record(tmp_path / "p.h5", "run", writer="process")
    record(tmp_path / "t.h5", "run", writer="thread")
    by_process = stored_arrays(tmp_path / "p.h5", "run")
    by_thread = stored_arrays(tmp_path / "t.h5", "run")
    assert sorted(by_process) == sorted(by_thread)
    assert {"weights/hidden/kernel", "gradients/hidden/kernel", "loss/train",
            "history/loss", "snapshots/epoch"} <= set(by_process)
    for name, values in by_process.items():
        np.testing.assert_allclose(values, by_thread[name], rtol=1e-6, atol=1e-7,
                                   err_msg=name)
    run = Run(tmp_path / "p.h5", "run")
    assert run.complete and run.n_snapshots == 4


def test_writer_processes_are_reused_and_release_the_file(tmp_path):
    path = tmp_path / "reuse.h5"
    record(path, "first", epochs=1)
    idle_after_first = {process.pid for _, process in writer_process._IDLE}
    assert idle_after_first, "a finished writer process waits for the next run"
    record(path, "second", epochs=1)
    assert {process.pid for _, process in writer_process._IDLE} == idle_after_first
    # The idle child closed the file: this process can write to it again.
    with h5py.File(path, "a") as handle:
        assert set(handle) == {"first", "second"}


def test_a_writer_process_that_dies_fails_the_fit_clearly(tmp_path):
    import keras

    path = tmp_path / "dead.h5"

    class KillWriter(keras.callbacks.Callback):
        def __init__(self, recorder):
            super().__init__()
            self.recorder = recorder

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.recorder.recording.queue.wait()  # snapshots 0-2 are in the pipe
                os.kill(self.recorder.recording.sink._process.pid, signal.SIGKILL)

    from replay import Recorder
    from replay.datasets import parabola

    inputs, targets = parabola(60)
    model = part1_model()
    recorder = Recorder(path, "dead", inputs, targets, mesh_resolution=20, grid_points=50)
    with pytest.raises(RecordingError, match=r"writer process of run 'dead' of .*dead\.h5.* "
                                             r"ended unexpectedly.*writer='thread'"):
        model.fit(inputs, targets, epochs=50, batch_size=16, verbose=0,
                  callbacks=[recorder, KillWriter(recorder)])
    recorder.close()  # the error was reported once, by fit
    run = Run(path, "dead")
    assert not run.complete
    # What the child wrote before it died (it may still have been starting);
    # what was still in the pipe is lost.
    assert run.n_snapshots <= 3
    if run.n_snapshots:
        assert run.outputs(run.n_snapshots - 1).shape == (120, 1)


def test_an_error_in_the_writer_process_names_the_run(tmp_path):
    path = tmp_path / "w.h5"
    with runfile.open_file(path, "a") as handle:
        RunWriter.create(handle, "run", {})
    writer = writer_process.WriterProcess(path, "run")
    writer.append_snapshot(0.0, 0, {"weights/a/kernel": np.zeros((2, 2))})
    writer.append_snapshot(1.0, 1, {"weights/a/kernel": np.zeros((3, 3))})  # shape change
    with pytest.raises(RecordingError, match=r"Writing run 'run' of .*w\.h5.* failed: "
                                             r"ValueError: .*changed shape"):
        writer.close()
    assert Run(path, "run").n_snapshots == 1


def test_same_shaped_models_share_one_compiled_capture(tmp_path):
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("the fused, cached capture is JAX's")
    path = tmp_path / "sweep.h5"
    first, first_recorder = record(path, "seed0", epochs=2, seed=0)
    second, second_recorder = record(path, "seed1", epochs=2, seed=1)
    assert second_recorder.recording.capture.compiled is first_recorder.recording.capture.compiled
    for model, name in ((first, "seed0"), (second, "seed1")):
        run = Run(path, name)
        np.testing.assert_allclose(run.outputs(-1), model.predict(run.inputs(), verbose=0),
                                   atol=1e-6)
        np.testing.assert_allclose(run.weights("hidden", -1)["kernel"], model.get_weights()[0])
    assert not np.allclose(Run(path, "seed0").outputs(-1), Run(path, "seed1").outputs(-1))


def test_history_rows_fill_missing_keys_and_end_at_the_epoch_index(tmp_path):
    path = tmp_path / "h.h5"
    with runfile.open_file(path, "a") as handle:
        writer = RunWriter.create(handle, "run", {})
        writer.append_history(1, {"loss": 1.0})
        writer.append_history(2, {"loss": 2.0, "val_loss": 3.0})  # a key that starts late
        writer.append_history(3, {"val_loss": 4.0})  # a key missing this epoch
        # A process killed while writing epoch 4: "loss" written, the index not.
        handle["run/history/loss"].resize((4,))
        handle["run/history/loss"][3] = 5.0
    history = Run(path, "run").history
    np.testing.assert_array_equal(history["epoch"], [1, 2, 3])
    np.testing.assert_array_equal(history["loss"], [1.0, 2.0, np.nan])
    np.testing.assert_array_equal(history["val_loss"], [np.nan, 3.0, 4.0])


def test_a_file_deleted_during_a_write_is_reported_as_deleted(tmp_path, monkeypatch):
    """The writer child names the deletion, not the disk, when the file vanishes mid-write
    (e.g. as SWMR mode starts, which opens the file's lock by name)."""
    import io
    import pickle
    import sys
    import types

    path = tmp_path / "gone.h5"
    with runfile.open_file(path, "a") as handle:
        RunWriter.create(handle, "run", {})

    def deleted_while_writing(self, *args):
        os.remove(path)
        raise FileNotFoundError(2, "No such file or directory", str(path))

    monkeypatch.setattr(RunWriter, "append_snapshot", deleted_while_writing)
    messages = io.BytesIO()
    pipe = types.SimpleNamespace(stdin=messages)
    writer_process._write(pipe, ("open", str(path), "run", None, False))
    writer_process._write(pipe, ("snapshot", 0.0, 0, {"weights/a/kernel": np.zeros(2)}, None))
    messages.seek(0)
    replies = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=messages))
    monkeypatch.setattr(sys, "stdout", types.SimpleNamespace(buffer=replies))
    monkeypatch.setattr(writer_process.signal, "signal", lambda *args: None)
    assert writer_process.main() == 1
    kind, text = pickle.loads(replies.getvalue())
    assert kind == "error" and "was deleted or replaced while it was being recorded" in text
