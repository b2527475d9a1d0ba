"""Searches whose trials run in processes of their own: KerasTuner's distributed mode,
Optuna processes sharing a study, concurrent Ray Tune trials; one file per trial.

Marked ``sweep``; each test is skipped when its engine is not installed. The
trial processes are ``tests/sweep_workers.py``. (Apart from
``test_sweep_engines.py`` so that pytest-xdist runs the two files side by side.)
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import replay
from replay import Run

pytestmark = pytest.mark.sweep
WORKERS = Path(__file__).with_name("sweep_workers.py")


def runs_of(paths):
    """``{run name: Run}`` of every run in ``paths``."""
    return {name: Run(path, name) for path in paths for name in replay.list_runs(path)}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker(*arguments, env=None):
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]), **(env or {})}
    return subprocess.Popen([sys.executable, str(WORKERS), *map(str, arguments)],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(processes, timeout=600):
    for process in processes:
        output, _ = process.communicate(timeout=timeout)
        assert process.returncode == 0, output[-3000:]


def test_keras_tuner_distributed_a_chief_and_two_workers_write_a_file_per_trial(tmp_path):
    pytest.importorskip("keras_tuner")
    pytest.importorskip("grpc")
    directory, project = tmp_path / "runs", tmp_path / "project"
    oracle = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(free_port())}
    chief = worker("keras_tuner", directory, project,
                   env={**oracle, "KERASTUNER_TUNER_ID": "chief"})
    workers = [worker("keras_tuner", directory, project,
                      env={**oracle, "KERASTUNER_TUNER_ID": f"tuner{index}"})
               for index in range(2)]
    finish([*workers, chief])
    files = sorted(directory.glob("*.h5"))
    runs = runs_of(files)
    assert len(files) == len(runs) == 4  # max_trials
    assert all(run.complete and run.n_snapshots == 3 for run in runs.values())
    assert {run.trial["tuner"] for run in runs.values()} <= {"tuner0", "tuner1"}
    assert len({tuple(sorted(run.hparams.items())) for run in runs.values()}) == 4


def test_optuna_two_processes_on_one_storage_and_a_failed_trial(tmp_path):
    pytest.importorskip("optuna")
    directory, journal = tmp_path / "runs", tmp_path / "journal.log"
    finish([worker("optuna", directory, journal, 2) for _ in range(2)])
    files = sorted(directory.glob("*.h5"))
    assert [file.name for file in files] == [f"trial_{number:04d}.h5" for number in range(4)]
    runs = runs_of(files)
    for number in range(4):
        run = runs[f"trial_{number:04d}"]
        assert run.trial == {"engine": "optuna", "id": number, "study": "sweep"}
        assert set(run.hparams) == {"activation", "lr"}
        if number == 1:  # raised in its second epoch: readable, incomplete
            assert not run.complete and run.n_snapshots == 2
        else:
            assert run.complete and run.n_snapshots == 3


def test_ray_tune_two_concurrent_trials_each_write_their_own_file(tmp_path):
    pytest.importorskip("ray.tune")
    storage, directory = tmp_path / "storage", tmp_path / "runs"
    finish([worker("ray", storage, directory)])
    in_trial_dir = sorted(storage.glob("sweep/*/replay.h5"))
    in_directory = sorted(directory.glob("*.h5"))
    assert len(in_trial_dir) == len(in_directory) == 1
    runs = runs_of(in_trial_dir + in_directory)
    assert sorted(run.hparams["lr"] for run in runs.values()) == [0.05, 0.1]
    for name, run in runs.items():
        assert run.complete and run.n_snapshots == 3
        assert run.trial["engine"] == "ray_tune" and name == f"trial_{run.trial['id']}"
        assert run.trial["experiment"] == "sweep"
