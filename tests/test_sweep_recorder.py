"""The recorder in a sweep: deep copies, a new run per model, hparams and trial, one file per run."""

import copy
import json

import numpy as np
import pytest
from conftest import part1_model

import replay
from replay import OptionError, RecordingError, Run
from replay.cli import main as cli_main


@pytest.fixture(scope="module")
def data():
    from replay.datasets import parabola

    return parabola(40)


def train(recorder, inputs, targets, epochs=2, activation="tanh", seed=0, **fit):
    model = part1_model(activation, seed=seed)
    model.fit(inputs, targets, epochs=epochs, batch_size=16, verbose=0, callbacks=[recorder],
              **fit)
    return model


def test_deep_copies_record_every_trial_as_its_own_run(tmp_path, data):
    """What KerasTuner does: a deep copy of the same recorder per trial, one model each."""
    from replay import Recorder

    path = tmp_path / "sweep.h5"
    original = Recorder(path, "trial", *data, hparams={"batch_size": 16})
    for seed in range(3):
        train(copy.deepcopy(original), *data, seed=seed)
    assert replay.list_runs(path) == ["trial", "trial-1", "trial-2"]
    for name in ("trial", "trial-1", "trial-2"):
        run = Run(path, name)
        assert run.complete and run.n_snapshots == 3
        assert run.hparams == {"batch_size": 16}
    # Three trainings, three different runs (not one continued).
    finals = [Run(path, name).outputs(-1) for name in ("trial", "trial-1", "trial-2")]
    assert not np.allclose(finals[0], finals[1])


def test_a_copy_of_a_recorder_in_use_shares_no_file_or_model(tmp_path, data):
    from replay import Recorder

    recorder = Recorder(tmp_path / "r.h5", "run", *data, every_n_batches=2)
    train(recorder, *data)
    twin = copy.deepcopy(recorder)
    assert twin.recording is None and twin.model is None and twin.options is recorder.options
    # The per-batch hook is the copy's own.
    assert twin.on_train_batch_end.__self__ is twin
    train(twin, *data, seed=1)
    assert replay.list_runs(tmp_path / "r.h5") == ["run", "run-1"]


def test_a_second_fit_of_the_same_model_continues_and_a_new_model_starts_a_run(tmp_path, data):
    from replay import Recorder

    path = tmp_path / "r.h5"
    recorder = Recorder(path, "run", *data)
    model = train(recorder, *data, epochs=1)
    model.fit(*data, epochs=2, verbose=0, callbacks=[recorder])
    train(recorder, *data, epochs=1, seed=3)
    assert replay.list_runs(path) == ["run", "run-1"]
    assert Run(path, "run").n_snapshots == 4 and Run(path, "run-1").n_snapshots == 2


def test_the_first_run_of_a_recorder_keeps_its_name_strictly(tmp_path, data):
    """A plain recorder whose run exists fails before training, as before sweeps."""
    from replay import Recorder

    path = tmp_path / "r.h5"
    train(Recorder(path, "run", *data), *data, epochs=1)
    with pytest.raises(RecordingError, match="already exists.*overwrite=True"):
        train(Recorder(path, "run", *data), *data, epochs=1)


def test_overwrite_replaces_an_old_run_but_never_a_sibling_trial(tmp_path, data):
    from replay import Recorder

    path = tmp_path / "r.h5"
    train(Recorder(path, "trial", *data), *data, epochs=1)  # from an earlier search
    original = Recorder(path, "trial", *data, overwrite=True)
    for seed in range(2):
        train(copy.deepcopy(original), *data, epochs=2, seed=seed)
    # The old run was replaced by the first trial; the second took a new name.
    assert replay.list_runs(path) == ["trial", "trial-1"]
    assert Run(path, "trial").n_snapshots == 3 and Run(path, "trial-1").n_snapshots == 3


def test_hparams_and_trial_are_stored_and_shown_by_info(tmp_path, data, capsys):
    from replay import Recorder

    path = tmp_path / "r.h5"
    recorder = Recorder(path, "relu", *data, hparams={"activation": "relu", "lr": np.float32(0.5),
                                                       "units": np.int64(2), "bn": False},
                        trial={"engine": "loop", "id": 4})
    train(recorder, *data, epochs=1)
    run = Run(path, "relu")
    assert run.hparams == {"activation": "relu", "lr": 0.5, "units": 2, "bn": False}
    assert run.trial == {"engine": "loop", "id": 4}
    assert json.loads(open_attribute(path, "relu", "hparams"))["units"] == 2
    assert cli_main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "hparams: activation=relu, lr=0.5, units=2, bn=false" in out
    assert "trial: engine=loop, id=4" in out


def open_attribute(path, run, name):
    import h5py

    with h5py.File(path, "r") as handle:
        value = handle[run].attrs[name]
    return value.decode() if isinstance(value, bytes) else value


def test_runs_without_hparams_say_so_with_empty_dicts(part1_run):
    assert part1_run.hparams == {} and part1_run.trial == {}


@pytest.mark.parametrize("hparams, message", [
    (["lr", 0.1], r"hparams must be a dict \{name: value\}. Got list"),
    ({"lr": [0.1, 0.2]}, r"hparams\['lr'\] must be a number, a string, a bool or None"),
    ({1: 0.1}, "hparams keys must be strings. Got 1"),
    ({"lr": float("nan")}, r"hparams\['lr'\] must be finite"),
])
def test_bad_hparams_are_refused_by_name(tmp_path, data, hparams, message):
    from replay import Recorder

    with pytest.raises(OptionError, match=message):
        Recorder(tmp_path / "r.h5", "run", *data, hparams=hparams)


def test_a_directory_holds_one_file_per_run_and_never_overwrites_one(tmp_path, data):
    from replay import Recorder

    directory = tmp_path / "sweep"
    original = Recorder(str(directory) + "/", "trial", *data)
    for seed in range(2):
        train(copy.deepcopy(original), *data, epochs=1, seed=seed)
    assert sorted(path.name for path in directory.iterdir()) == ["trial-1.h5", "trial.h5"]
    assert replay.list_runs(directory / "trial-1.h5") == ["trial-1"]
    # A named trial whose file exists (an earlier search) gets a new file.
    named = copy.deepcopy(original)
    named.name_trial("trial", hparams={"lr": 0.1}, trial={"engine": "loop", "id": 9})
    train(named, *data, epochs=1)
    assert Run(directory / "trial-2.h5", "trial-2").hparams == {"lr": 0.1}
    assert Run(directory / "trial.h5", "trial").hparams == {}


def test_name_trial_names_the_runs_of_later_copies(tmp_path, data):
    from replay import Recorder

    path = tmp_path / "r.h5"
    recorder = Recorder(path, "trial", *data, hparams={"batch": 16})
    for trial_id in ("00", "01"):
        recorder.name_trial(f"trial_{trial_id}", hparams={"units": 2},
                            trial={"engine": "test", "id": trial_id})
        train(copy.deepcopy(recorder), *data, epochs=1)
    assert replay.list_runs(path) == ["trial_00", "trial_01"]
    run = Run(path, "trial_01")
    assert run.hparams == {"batch": 16, "units": 2}
    assert run.trial == {"engine": "test", "id": "01"}


def test_a_fit_from_an_initial_epoch_counts_its_own_epochs(tmp_path, data):
    """Hyperband resumes a trial with initial_epoch > 0: the run is complete, not early."""
    from replay import Recorder

    path = tmp_path / "r.h5"
    train(Recorder(path, "resumed", *data), *data, epochs=5, initial_epoch=3)
    run = Run(path, "resumed")
    assert run.n_snapshots == 3 and run.complete and not run.stopped_early
    assert run.attrs["epochs_planned"] == 2 and run.attrs["initial_epoch"] == 3


def test_importing_replay_or_its_recorder_imports_no_engine():
    """The engines are optional extras: only their adapter modules import them."""
    import subprocess
    import sys

    code = ("import sys, replay, replay.record.callback, replay.record.sweeps; "
            "bad = [m for m in ('keras_tuner', 'optuna', 'ray') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
