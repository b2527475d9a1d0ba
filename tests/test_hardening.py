"""Trying to break it: interrupts, odd files, bad arguments, divergence, two writers.

Each test names a defect that was measured before it was fixed (see the
hardening issue): it fails when the defect comes back.
"""

import os
import subprocess
import sys
import textwrap
import time
import warnings

import h5py
import numpy as np
import pytest

from replay import OptionError, RecordingError, Run, RunFileError
from replay.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")


def _points(n=64, seed=0):
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(n, 2)).astype("float32")
    return inputs, (inputs[:, 0] > 0).astype("float32")


def _model(keras, activation="tanh", output=("sigmoid", "binary_crossentropy"), lr=0.05):
    model = keras.Sequential([keras.Input((2,)),
                              keras.layers.Dense(2, activation=activation, name="hidden"),
                              keras.layers.Dense(1, activation=output[0], name="output")])
    model.compile(keras.optimizers.SGD(lr), output[1], metrics=["accuracy"] if output[0]
                  else ["mae"])
    return model


INTERRUPTED = textwrap.dedent("""
    import sys
    import keras, numpy as np
    from replay import Recorder
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 2)).astype("float32"); y = (X[:, 0] > 0).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="tanh"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy")
    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                raise {error}
    model.fit(X, y, epochs=3, verbose=0,
              callbacks=[Recorder(sys.argv[1], "run", X, y), Interrupt()])
""")


@pytest.mark.parametrize("error", ["KeyboardInterrupt", "RuntimeError('boom')"])
def test_an_interrupt_in_the_first_epoch_lets_the_process_exit_and_keeps_snapshot_0(
        tmp_path, error):
    # Before: the writer thread waited forever for the end of epoch 1 and the
    # interpreter never exited (3 of 3 trials); snapshot 0 was never written.
    path = tmp_path / "interrupted.h5"
    result = subprocess.run([sys.executable, "-c", INTERRUPTED.format(error=error), str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and error.split("(")[0] in result.stderr
    with Run(path) as run:
        assert run.n_snapshots >= 1 and not run.complete
        assert run.epochs[0] == 0.0
        assert np.isfinite(run.outputs(0)).all()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "f.h5"
    os.mkfifo(fifo)
    # Before: blocked forever in open(); a subprocess with a timeout fails instead.
    result = subprocess.run([sys.executable, "-m", "replay.cli", "info", str(fifo)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not a regular file" in result.stderr
    with pytest.raises(RunFileError, match="not a regular file"):
        Run(fifo)


def test_replay_info_on_a_run_without_snapshots(tmp_path, capsys):
    from replay.io.runfile import open_file
    from replay.io.writer import RunWriter

    path = tmp_path / "empty.h5"
    with open_file(path, "a") as handle:
        RunWriter.create(handle, "started", {"layers": [], "loss": "mse"})
    assert main(["info", str(path)]) == 0  # before: IndexError
    assert "0 snapshots (nothing recorded yet)" in capsys.readouterr().out


def test_replay_info_into_a_closed_pipe_ends_quietly(tmp_path):
    from replay.io.runfile import open_file
    from replay.io.writer import RunWriter

    path = tmp_path / "many.h5"
    with open_file(path, "a") as handle:
        for index in range(300):
            RunWriter.create(handle, f"run{index}", {"layers": [], "loss": "mse",
                                                     "created": f"{index:04d}"})
    result = subprocess.run(f"'{sys.executable}' -m replay.cli info '{path}' | head -n 2",
                            shell=True, capture_output=True, text=True, timeout=120)
    assert result.stdout.count("\n") == 2
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


@pytest.mark.parametrize("options, message", [
    ({"run": "."}, "other than '.' and '..'"),
    ({"run": "a\nb"}, "printable"),
    ({"every_n_batches": True}, "every_n_batches must be a positive integer"),
    ({"every_n_batches": 0}, "every_n_batches must be a positive integer"),
    ({"padding": float("nan")}, "padding must be a finite number"),
    ({"padding": -1}, "padding must be a finite number of at least 0"),
    ({"compression": "bogus"}, "compression must be None, 'gzip', 'lzf'"),
    ({"inputs": np.zeros((0, 2))}, "hold no samples"),
    ({"inputs": np.array([[0.0, 1.0], [np.nan, 2.0]] * 32)}, "NaN or infinite values in 32 "
                                                             "sample"),
    ({"targets": np.array(["yes", "no"] * 32)}, "targets must be numbers"),
    ({"validation_data": (np.zeros((4, 3)), np.zeros(4))}, "validation inputs have shape "
                                                           r"\(3,\)"),
])
def test_recorder_arguments_are_checked_when_it_is_made(tmp_path, options, message):
    from replay import Recorder

    inputs, targets = _points()
    arguments = {"run": "run", "inputs": inputs, "targets": targets, **options}
    if "inputs" in options and "targets" not in options:
        arguments["targets"] = np.zeros(len(arguments["inputs"]))
    with pytest.raises(OptionError, match=message):
        Recorder(tmp_path / "x.h5", **arguments)
    assert not (tmp_path / "x.h5").exists()


def test_numpy_integers_are_integers(tmp_path):
    import keras

    from replay import Recorder

    inputs, targets = _points()
    recorder = Recorder(tmp_path / "n.h5", "run", inputs, targets,
                        every_n_batches=np.int64(2), mesh_resolution=10, grid_points=10)
    _model(keras).fit(inputs, targets, epochs=1, batch_size=16, verbose=0,
                      callbacks=[recorder])
    with Run(tmp_path / "n.h5") as run:
        np.testing.assert_allclose(run.epochs, [0.0, 0.5, 1.0])


def test_a_missing_folder_is_named_when_the_recorder_is_made(tmp_path):
    from replay import Recorder

    inputs, targets = _points()
    with pytest.raises(RunFileError, match="the folder .* does not exist"):
        Recorder(tmp_path / "nowhere" / "x.h5", "run", inputs, targets)


def test_a_diverged_run_is_warned_about_marked_in_every_view_and_in_info(tmp_path, capsys):
    import keras

    from replay import Recorder
    from replay.render import Scene

    inputs, targets = _points()
    keras.utils.set_random_seed(0)
    model = _model(keras, activation=None, output=(None, "mse"), lr=50.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(inputs, 3 * inputs[:, 0], epochs=4, verbose=0,
                  callbacks=[Recorder(tmp_path / "d.h5", "wild", inputs, 3 * inputs[:, 0],
                                      mesh_resolution=10, grid_points=10)])
    messages = [str(warning.message) for warning in caught if "diverged" in str(warning.message)]
    assert len(messages) == 1 and "run 'wild' diverged at epoch" in messages[0]
    with Run(tmp_path / "d.h5") as run:
        diverged = run.diverged_epoch
        assert diverged is not None
        scene = Scene.default(run)
        scene.plot(0)
        assert not any(view.divergence_note_.get_visible() for view in scene.views)
        scene.plot(-1)
        notes = [view.divergence_note_ for view in scene.views]
        assert all(note.get_visible() for note in notes)
        assert notes[0].get_text().startswith(f"diverged at epoch {diverged:g}")
    assert main(["info", str(tmp_path / "d.h5")]) == 0
    assert f"DIVERGED at epoch {diverged:g}" in capsys.readouterr().out


HOLDER = textwrap.dedent("""
    import sys, time
    import keras, numpy as np
    from replay import Recorder
    X = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    y = (X[:, 0] > 0).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy")
    class Slow(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print("epoch", epoch, flush=True)
            time.sleep(0.5)
    model.fit(X, y, epochs=int(sys.argv[2]), verbose=0,
              callbacks=[Recorder(sys.argv[1], "first", X, y), Slow()])
""")


def test_a_second_recorder_on_a_file_being_recorded_fails_before_training(tmp_path):
    # Before: both started; one died 3 epochs in.
    import keras

    from replay import Recorder

    path = tmp_path / "shared.h5"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), "40"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().startswith("epoch")  # it is recording
        inputs, targets = _points()
        model = _model(keras)
        history = keras.callbacks.History()
        with pytest.raises((RecordingError, RunFileError), match="another process"):
            model.fit(inputs, targets, epochs=3, verbose=0,
                      callbacks=[Recorder(path, "second", inputs, targets), history])
        assert not history.history  # no epoch was trained
    finally:
        holder.kill()
        holder.wait()


def test_overwriting_the_only_run_does_not_grow_the_file(tmp_path):
    import keras

    from replay import Recorder

    inputs, targets = _points()
    path = tmp_path / "again.h5"
    sizes = []
    for _ in range(3):
        _model(keras).fit(inputs, targets, epochs=2, verbose=0, callbacks=[
            Recorder(path, "run", inputs, targets, overwrite=True)])
        sizes.append(path.stat().st_size)
    assert max(sizes) - min(sizes) < 0.05 * sizes[0]  # before: +0.6 MB each time


def test_compact_gives_back_the_space_of_overwritten_runs(tmp_path, capsys):
    import keras

    from replay import Recorder

    inputs, targets = _points()
    path = tmp_path / "two.h5"
    # Runs that store their activations uncompressed, so that the space of
    # an overwritten run is most of the file.
    stored = {"recompute": False, "compression": None}
    _model(keras).fit(inputs, targets, epochs=2, verbose=0,
                      callbacks=[Recorder(path, "keep", inputs, targets, **stored)])
    for _ in range(3):
        _model(keras).fit(inputs, targets, epochs=2, verbose=0,
                          callbacks=[Recorder(path, "redo", inputs, targets, overwrite=True,
                                              **stored)])
    grown = path.stat().st_size
    before = Run(path, "keep").outputs(2)
    assert main(["compact", str(path)]) == 0
    assert path.stat().st_size < 0.8 * grown  # three dead copies of 'redo' are gone
    with Run(path, "keep") as run:
        np.testing.assert_array_equal(run.outputs(2), before)
    with Run(path, "redo") as run:
        assert run.n_snapshots == 3
    assert "compacted" in capsys.readouterr().out


def test_deleting_the_file_while_recording_is_noticed(tmp_path):
    import keras

    from replay import Recorder

    inputs, targets = _points()
    path = tmp_path / "gone.h5"

    class Delete(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                os.remove(path)

    with pytest.raises(RecordingError, match="was deleted or replaced while it was being "
                                             "recorded"):
        _model(keras).fit(inputs, targets, epochs=6, verbose=0,
                          callbacks=[Delete(), Recorder(path, "run", inputs, targets)])


def test_a_failed_create_leaves_no_empty_file(tmp_path, monkeypatch):
    from replay.io import runfile

    def no_space(*args, **kwargs):
        open(args[0], "wb").close()  # what a full disk leaves: a 0-byte file
        raise OSError("No space left on device")

    monkeypatch.setattr(runfile.h5py, "File", no_space)
    with pytest.raises(RunFileError, match="No space left"):
        runfile.open_file(tmp_path / "full.h5", "a")
    assert not (tmp_path / "full.h5").exists()


def test_an_hdf5_lock_error_says_another_process_has_it(tmp_path):
    path = tmp_path / "busy.h5"
    from replay.io.runfile import open_file

    open_file(path, "a").close()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import h5py, sys, time; f = h5py.File(sys.argv[1], 'a'); print('open', flush=True); "
        "time.sleep(30)"), str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().startswith("open")
        with pytest.raises(RunFileError, match="another process has it open") as caught:
            open_file(path, "a")
        assert "damaged" not in str(caught.value)
    finally:
        holder.kill()
        holder.wait()
    # The killed holder left the file marked open; replay's open clears the mark.
    open_file(path).close()
    with h5py.File(path, "r"):
        pass


def test_a_writer_waits_out_a_reader_that_has_the_file_open_for_a_moment(tmp_path):
    # A reader polling a file being recorded can open it between the trainer
    # closing it and the writer process opening it: the writer waits.
    path = tmp_path / "polled.h5"
    from replay.io.runfile import open_file

    open_file(path, "a").close()
    reader = subprocess.Popen([sys.executable, "-c", (
        "import h5py, sys, time; f = h5py.File(sys.argv[1], 'r'); print('open', flush=True); "
        "time.sleep(0.5); f.close(); time.sleep(30)"), str(path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().startswith("open")
        started = time.monotonic()
        with open_file(path, "a") as handle:
            handle.attrs["written"] = 1
        assert time.monotonic() - started < 10
    finally:
        reader.kill()
        reader.wait()
    with h5py.File(path, "r") as handle:
        assert handle.attrs["written"] == 1
