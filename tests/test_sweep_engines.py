"""Every trial of a KerasTuner search in this process recorded, with its hyperparameters.

Marked ``sweep``; skipped when KerasTuner is not installed. Searches whose
trials run in other processes (KerasTuner workers, Optuna, Ray Tune) are
``test_sweep_processes.py``.
"""

import numpy as np
import pytest
from conftest import part1_model

import replay
from replay import Run

pytestmark = pytest.mark.sweep


@pytest.fixture(scope="module")
def data():
    from replay.datasets import parabola

    return parabola(20)


def build(hp):
    import keras

    model = part1_model(hp.Choice("activation", ["tanh", "relu", "sigmoid"]))
    model.compile(keras.optimizers.SGD(hp.Choice("lr", [0.05, 0.1])), "binary_crossentropy",
                  metrics=["accuracy"])
    return model


def runs_of(paths):
    """``{run name: Run}`` of every run in ``paths``."""
    return {name: Run(path, name) for path in paths for name in replay.list_runs(path)}


def test_a_random_search_with_the_recorder_in_callbacks_records_every_trial(tmp_path, data):
    """The issue's search: without the adapter 1 of 3 trials was recorded."""
    keras_tuner = pytest.importorskip("keras_tuner")
    from replay import Recorder

    tuner = keras_tuner.RandomSearch(build, objective="accuracy", max_trials=3, seed=1,
                                     directory=tmp_path, project_name="random")
    path = tmp_path / "sweep.h5"
    tuner.search(*data, epochs=2, batch_size=8, verbose=0,
                 callbacks=[Recorder(path, run="trial", inputs=data[0], targets=data[1])])
    assert len(tuner.oracle.trials) == 3
    assert all(trial.status == "COMPLETED" for trial in tuner.oracle.trials.values())
    runs = runs_of([path])
    assert sorted(runs) == ["trial", "trial-1", "trial-2"]
    assert all(run.complete and run.n_snapshots == 3 for run in runs.values())


@pytest.mark.parametrize("kind", ["RandomSearch", "BayesianOptimization"])
def test_record_trials_names_runs_after_trials_with_their_hparams(tmp_path, data, kind):
    keras_tuner = pytest.importorskip("keras_tuner")
    from replay import Recorder
    from replay.record.sweeps.keras_tuner import record_trials

    tuner = record_trials(getattr(keras_tuner, kind)(
        build, objective="accuracy", max_trials=3, seed=1, directory=tmp_path,
        project_name="search"))
    path = tmp_path / "sweep.h5"
    tuner.search(*data, epochs=2, batch_size=8, verbose=0,
                 callbacks=[Recorder(path, "trial", *data, hparams={"batch_size": 8})])
    runs = runs_of([path])
    trials = tuner.oracle.trials
    assert sorted(runs) == sorted(f"trial_{trial_id}" for trial_id in trials)
    for trial_id, trial in trials.items():
        run = runs[f"trial_{trial_id}"]
        assert run.hparams == {"batch_size": 8, **trial.hyperparameters.values}
        assert run.trial == {"engine": "keras_tuner", "id": trial_id}
        assert run.complete


def test_a_trial_that_raises_leaves_its_run_incomplete_and_released(tmp_path, data):
    """KerasTuner logs a failed trial and goes on; its run stays readable, marked
    incomplete, its file let go; the other trials' runs are whole."""
    import keras

    keras_tuner = pytest.importorskip("keras_tuner")
    from replay import Recorder
    from replay.io import runfile
    from replay.record.sweeps.keras_tuner import record_trials

    class FailTheSecondTrial(keras.callbacks.Callback):
        trainings = []  # shared by the deep copies

        def on_train_begin(self, logs=None):
            self.trainings.append(1)

        def on_epoch_end(self, epoch, logs=None):
            if len(self.trainings) == 2 and epoch == 0:
                raise RuntimeError("trial failed on purpose")

    tuner = record_trials(keras_tuner.RandomSearch(
        build, objective="loss", max_trials=3, seed=1, directory=tmp_path,
        project_name="failing"))
    directory = tmp_path / "runs"
    tuner.search(*data, epochs=2, batch_size=8, verbose=0,
                 callbacks=[Recorder(str(directory) + "/", "trial", *data),
                            FailTheSecondTrial()])
    statuses = {trial_id: trial.status for trial_id, trial in tuner.oracle.trials.items()}
    assert sorted(statuses.values()) == ["COMPLETED", "COMPLETED", "FAILED"]
    for trial_id, status in statuses.items():
        path = directory / f"trial_{trial_id}.h5"
        assert not runfile.writer_alive(path)
        with Run(path, f"trial_{trial_id}") as run:
            if status == "FAILED":
                assert not run.complete and run.n_snapshots == 2
            else:
                assert run.complete and run.n_snapshots == 3


def test_a_grid_search_records_every_point_of_the_grid(tmp_path, data):
    keras_tuner = pytest.importorskip("keras_tuner")
    from replay import Recorder
    from replay.record.sweeps.keras_tuner import record_trials

    tuner = record_trials(keras_tuner.GridSearch(
        build, objective="loss", directory=tmp_path, project_name="grid"))
    directory = tmp_path / "runs"
    tuner.search(*data, epochs=1, batch_size=8, verbose=0,
                 callbacks=[Recorder(str(directory) + "/", "trial", *data)])
    runs = runs_of(sorted(directory.glob("*.h5")))
    assert len(runs) == 6 == len(tuner.oracle.trials)  # 3 activations x 2 rates
    assert {(run.hparams["activation"], run.hparams["lr"]) for run in runs.values()} == {
        (activation, lr) for activation in ("tanh", "relu", "sigmoid") for lr in (0.05, 0.1)}


def test_hyperband_records_a_resumed_trial_as_the_continuation_it_is(tmp_path, data):
    keras_tuner = pytest.importorskip("keras_tuner")
    from replay import Recorder
    from replay.record.sweeps.keras_tuner import record_trials

    tuner = record_trials(keras_tuner.Hyperband(
        build, objective="loss", max_epochs=2, factor=2, hyperband_iterations=1, seed=0,
        directory=tmp_path, project_name="hyperband"))
    path = tmp_path / "sweep.h5"
    tuner.search(*data, batch_size=8, verbose=0, callbacks=[Recorder(path, "trial", *data)])
    runs = runs_of([path])
    assert len(runs) == len(tuner.oracle.trials)
    resumed = [run for run in runs.values() if "continues" in run.trial]
    assert resumed, "Hyperband with max_epochs=2, factor=2 resumes a trial"
    for run in resumed:
        earlier = runs[f"trial_{run.trial['continues']}"]
        assert run.hparams == earlier.hparams
        assert run.trial["initial_epoch"] == run.attrs["initial_epoch"] == 1
        # One epoch trained past the resumed state, the run complete (not stopped early).
        assert run.n_snapshots == 2 and run.complete and not run.stopped_early
        # Snapshot 0 is the state it resumed from: the earlier trial's best epoch.
        start = run.weights("hidden", 0)["kernel"]
        assert any(np.allclose(start, earlier.weights("hidden", index)["kernel"])
                   for index in range(1, earlier.n_snapshots))
