"""Reading run files: laziness, bad input, crashes, and no Keras on the reading side."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest

from replay import (
    EpochOutOfRangeError,
    LayerNotFoundError,
    ReplayError,
    Run,
    RunFileError,
    RunNotFoundError,
    SchemaVersionError,
    list_runs,
)
from replay.cli import main as cli_main
from replay.io import runfile, schema

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_import_replay_does_not_import_keras():
    code = ("import sys, replay, replay.run, replay.io.runfile, replay.cli, replay.datasets; "
            "bad = [m for m in ('keras', 'jax', 'tensorflow', 'torch') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_reading_a_run_does_not_import_keras(part1_file):
    code = textwrap.dedent(f"""
        import sys
        from replay import Run
        run = Run({str(part1_file)!r}, "sigmoid")
        run.activations("hidden", 3); run.history["loss"]; run.outputs(2, source="mesh")
        sys.exit(1 if "keras" in sys.modules else 0)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_missing_file(tmp_path):
    with pytest.raises(RunFileError, match="No such run file.*nothing.h5"):
        Run(tmp_path / "nothing.h5", "x")


def test_not_hdf5(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("not an hdf5 file")
    with pytest.raises(RunFileError, match="not an HDF5 file"):
        Run(path, "x")


def test_hdf5_of_another_kind(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle["data"] = np.arange(3)
    with pytest.raises(RunFileError, match="not a replay run file"):
        Run(path, "x")
    from replay.io.runfile import open_file

    with pytest.raises(RunFileError, match="refusing"):
        open_file(path, "a")


def test_missing_run_lists_runs(part1_file):
    with pytest.raises(RunNotFoundError, match=r"No run 'tanh'.*'sigmoid', 'relu'"):
        Run(part1_file, "tanh")
    with pytest.raises(RunNotFoundError, match="holds 2 runs"):
        Run(part1_file)
    assert isinstance(RunNotFoundError("x"), KeyError)


def test_unknown_schema_version(tmp_path, part1_file):
    path = tmp_path / "future.h5"
    with h5py.File(part1_file) as source, h5py.File(path, "w") as target:
        for key, value in source.attrs.items():
            target.attrs[key] = value
        source.copy("sigmoid", target)
        target["sigmoid"].attrs["schema_version"] = 99
    with pytest.raises(SchemaVersionError, match="schema version 99.*Upgrade"):
        Run(path, "sigmoid")


def test_missing_layer_lists_layers(part1_run):
    with pytest.raises(LayerNotFoundError, match="No layer 'hiden'.*hidden, output"):
        part1_run.activations("hiden", 1)
    with pytest.raises(LayerNotFoundError, match="no recorded activations"):
        part1_run.activations("output", 1)


def test_epoch_out_of_range(part1_run):
    with pytest.raises(EpochOutOfRangeError, match=r"Epoch 13 is out of range.*0\.\.12"):
        part1_run.outputs(13)
    with pytest.raises(EpochOutOfRangeError):
        part1_run.outputs(1.5)
    assert part1_run.outputs(-1).shape == part1_run.outputs(12).shape


def test_a_run_stopped_before_snapshot_0_says_so(tmp_path, capsys):
    """A trainer killed during the first batch leaves a run with metadata and no snapshot."""
    from conftest import part1_model

    from replay import Recorder
    from replay.datasets import parabola

    path = tmp_path / "run.h5"
    inputs, targets = parabola(50)
    model = part1_model("tanh")
    recorder = Recorder(path, "stopped", inputs, targets)
    recorder.set_model(model)
    initial = model.get_weights()
    # What on_train_begin writes before snapshot 0.
    recorder._recording_for(model, in_process=True).open(in_process=True)
    recorder.close()
    run = Run(path, "stopped")
    assert run.n_snapshots == 0 and not run.complete
    assert schema.activations("train", "hidden") not in run.arrays()  # nothing to compute from
    # The weights before training are there: written before the first batch.
    assert run.has_initial_weights
    np.testing.assert_array_equal(run.initial_weights("hidden")["kernel"], initial[0])
    np.testing.assert_array_equal(run.initial_weights("output")["bias"], initial[3])
    with pytest.raises(EpochOutOfRangeError, match="holds no snapshots.*before snapshot 0.*"
                       r"Only the weights before training are kept: Run.initial_weights"):
        run.outputs(0)
    assert cli_main(["info", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "'stopped': 0 snapshots (no complete snapshot yet; the weights before training " \
           "are kept" in printed
    assert cli_main(["render", str(path), "--out", str(tmp_path / "x.png")]) == 2
    error = capsys.readouterr().err
    assert "holds no snapshots" in error and "Only the weights before training" in error


def test_initial_weights_of_a_complete_run_are_snapshot_0s(part1_run):
    for layer in part1_run.layer_names:
        for name, value in part1_run.initial_weights(layer).items():
            np.testing.assert_array_equal(value, part1_run.weights(layer, 0)[name])


def test_a_trainer_killed_at_its_first_batch_leaves_the_weights_before_training(tmp_path):
    """SIGKILL as the first batch begins: snapshot 0 waits for Keras' first training step,
    the weights before training are on disk already."""
    path = tmp_path / "killed.h5"
    script = textwrap.dedent(f"""
        import os, sys
        os.environ["KERAS_BACKEND"] = "jax"
        sys.path.insert(0, {os.path.join(ROOT, "tests")!r})
        import keras, numpy as np
        from conftest import part1_model
        from replay import Recorder
        from replay.datasets import parabola

        class Stop(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                print("first batch", flush=True)
                sys.stdin.readline()  # killed here

        inputs, targets = parabola(100)
        model = part1_model()
        np.save({str(tmp_path / "initial.npy")!r}, model.get_weights()[0])
        model.fit(inputs, targets, epochs=5, batch_size=16, verbose=0,
                  callbacks=[Recorder({str(path)!r}, "killed", inputs, targets), Stop()])
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("first batch")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert runfile.wait_for_writers(path, 30), "the writer child did not close the file"
    run = Run(path, "killed")
    assert run.n_snapshots == 0 and not run.complete
    np.testing.assert_array_equal(run.initial_weights("hidden")["kernel"],
                                  np.load(tmp_path / "initial.npy"))


def test_missing_source(part1_run):
    with pytest.raises(LayerNotFoundError, match="no 'validation' data"):
        part1_run.outputs(1, source="validation")
    with pytest.raises(ReplayError, match="source must be one of"):
        part1_run.outputs(1, source="test")


def test_run_is_lazy_and_reopens(part1_file):
    run = Run(part1_file, "relu")
    assert run.n_snapshots == 13
    run.close()
    assert run.weights("hidden", 4)["kernel"].shape == (2, 2)
    import pickle

    clone = pickle.loads(pickle.dumps(run))
    np.testing.assert_array_equal(clone.outputs(4), run.outputs(4))
    assert list_runs(part1_file) == ["sigmoid", "relu"]


def test_cli_info(part1_file, capsys):
    assert cli_main(["info", str(part1_file), "--arrays"]) == 0
    out = capsys.readouterr().out
    assert "run 'sigmoid': 13 snapshots" in out and "run 'relu'" in out
    assert "activations/mesh/hidden" in out and "(13, 40, 40, 2)" in out
    assert cli_main(["info", str(part1_file), "--run", "nope"]) == 2
    assert "No run 'nope'" in capsys.readouterr().err


def test_killed_training_leaves_every_completed_snapshot(tmp_path):
    path = tmp_path / "killed.h5"
    script = textwrap.dedent(f"""
        import os, sys
        os.environ["KERAS_BACKEND"] = "jax"
        sys.path.insert(0, {os.path.join(ROOT, "tests")!r})
        import keras
        from conftest import part1_model
        from replay import Recorder
        from replay.datasets import parabola

        class Announce(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                print(epoch + 1, flush=True)

        inputs, targets = parabola(500)
        model = part1_model()
        model.fit(inputs, targets, epochs=100000, batch_size=16, verbose=0,
                  callbacks=[Recorder({str(path)!r}, "killed", inputs, targets), Announce()])
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        epochs_seen = 0
        deadline = time.time() + 180
        while epochs_seen < 5 and time.time() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            epochs_seen = int(line)
        assert epochs_seen >= 5, "training subprocess did not get going"
        time.sleep(0.05)  # land the kill somewhere in the middle of the next epoch
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    # The writer child writes what it was handed, then closes the file
    # (later under load: it runs at a lower priority). Opened before (in
    # SWMR mode), the file shows only the snapshots written so far.
    assert runfile.wait_for_writers(path, 30), "the writer child did not close the file"
    run = Run(path, "killed")
    assert not run.complete
    # The writer process writes every snapshot it was handed; at the kill,
    # at most the few still queued in the training process may be missing.
    assert run.n_snapshots >= max(2, epochs_seen + 1 - 4)
    last = run.n_snapshots - 1
    np.testing.assert_array_equal(run.epochs, np.arange(run.n_snapshots))
    assert run.activations("hidden", last).shape == (1000, 2)
    assert np.isfinite(run.outputs(last)).all()
    assert len(run.history["loss"]) >= last


def test_recording_into_a_file_open_for_reading_says_what_to_do(tmp_path):
    from conftest import record_part1

    path = tmp_path / "shared.h5"
    record_part1(path, "first", epochs=1, n_points=20)
    run = Run(path, "first")
    run.outputs(0)  # keeps the file open for reading
    with pytest.raises(RunFileError, match=r"already open in this process.*run.close\(\)"):
        record_part1(path, "second", epochs=1, n_points=20)
    run.close()
    record_part1(path, "second", epochs=1, n_points=20)
    assert list_runs(path) == ["first", "second"]


# -- epoch selections end on the final state ------------------------------------------


@pytest.mark.parametrize("text, n, expected", [
    ("0:150:2", 151, list(range(0, 149, 2)) + [150]),   # the example: ..., 148, 150
    ("0:150:50", 151, [0, 50, 100, 150]),
    ("::2", 150, list(range(0, 149, 2)) + [149]),        # stop omitted: to the end
    ("0:150", 151, list(range(151))),                    # stop names the final snapshot
    ("0:500:200", 151, [0, 150]),                        # stop beyond the run
    ("0:100:3", 151, list(range(0, 100, 3))),            # stops before the end: Python's
    (":-1:4", 13, [0, 4, 8]),                            # a negative stop: Python's
    ("::-5", 13, [12, 7, 2]),                            # a negative step: Python's
    ("::4", 13, [0, 4, 8, 12]),                          # already ends on it: no repeat
    ("12:", 13, [12]),
])
def test_selection_strings_end_on_the_final_snapshot(text, n, expected):
    from replay.run import parse_epoch_selection, selection_with_final

    assert selection_with_final(parse_epoch_selection(text), n) == expected


def test_run_select_adds_the_final_snapshot_to_strings_not_to_slices(part1_run):
    assert part1_run.n_snapshots == 13
    assert part1_run.select("0:12:5") == [0, 5, 10, 12]
    assert part1_run.select(slice(0, 12, 5)) == [0, 5, 10]   # readers keep Python's slices
    assert part1_run.select(range(0, 13, 5)) == [0, 5, 10]
    assert part1_run.select("0:10:5") == [0, 5]
