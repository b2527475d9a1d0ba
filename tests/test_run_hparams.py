"""A run's hyperparameters and trial (run attributes ``hparams`` and ``trial``): reading,
``replay info`` and the notebook table; damaged attributes give errors naming what to fix."""

import json

import h5py
import pytest
from synthetic import write_part1

from replay import Run, RunFileError
from replay.cli import main as cli_main
from replay.run import format_hparams

#: A small part-1 run: enough for metadata, quick to write.
SMALL = {"epochs": 3, "n_points": 40, "mesh_resolution": 8, "grid_points": 10}
HPARAMS = {"activation": "relu", "learning_rate": 0.05, "units": 2, "batch_norm": False,
           "schedule": None}
TRIAL = {"engine": "keras_tuner", "id": "03", "continues": "01"}


@pytest.fixture
def sweep_file(tmp_path):
    path = tmp_path / "sweep.h5"
    write_part1(path, "trial_03", "relu",
                attributes={"hparams": HPARAMS, "trial": TRIAL}, **SMALL)
    write_part1(path, "plain", "sigmoid", **SMALL)
    return path


def set_attribute(path, run, name, value):
    with h5py.File(path, "a") as handle:
        handle[run].attrs[name] = value


def test_hparams_and_trial_read_back_as_written(sweep_file):
    with Run(sweep_file, "trial_03") as run:
        assert run.hparams == HPARAMS
        assert run.trial == TRIAL
        assert isinstance(run.hparams["units"], int)
        run.hparams["units"] = 99  # a new dict each time: the run is unchanged
        assert run.hparams["units"] == 2


def test_a_run_without_them_has_empty_dicts(sweep_file):
    with Run(sweep_file, "plain") as run:
        assert run.hparams == {} and run.trial == {}


@pytest.mark.parametrize("attribute, value, why", [
    ("hparams", "{activation: relu", "is not JSON text"),
    ("hparams", "[1, 2]", "not JSON text of an object"),
    ("hparams", 3, "not JSON text of an object"),
    ("hparams", json.dumps({"layers": [2, 2]}), "the value of 'layers' is [2, 2]"),
    ("trial", "{'id': 3}", "is not JSON text"),
])
def test_a_damaged_attribute_names_file_run_and_attribute(sweep_file, attribute, value, why):
    set_attribute(sweep_file, "trial_03", attribute, value)
    with Run(sweep_file, "trial_03") as run:
        with pytest.raises(RunFileError) as error:
            getattr(run, attribute)
    message = str(error.value)
    for text in (f"The {attribute!r} attribute", "'trial_03'", str(sweep_file), why,
                 "rewrite it"):
        assert text in message


def test_a_trial_may_hold_nested_values(sweep_file):
    set_attribute(sweep_file, "trial_03", "trial",
                  json.dumps({"engine": "optuna", "id": 4, "params": {"lr": 0.1}}))
    with Run(sweep_file, "trial_03") as run:
        assert run.trial["params"] == {"lr": 0.1}


def test_replay_info_shows_them(sweep_file, capsys):
    assert cli_main(["info", str(sweep_file), "--run", "trial_03"]) == 0
    out = capsys.readouterr().out
    assert ("  hparams: activation=relu, learning_rate=0.05, units=2, batch_norm=false, "
            "schedule=null") in out
    assert "  trial: engine=keras_tuner, id=03, continues=01" in out
    assert cli_main(["info", str(sweep_file), "--run", "plain"]) == 0
    out = capsys.readouterr().out
    assert "hparams:" not in out and "trial:" not in out


def test_replay_info_reports_a_damaged_attribute(sweep_file, capsys):
    set_attribute(sweep_file, "trial_03", "hparams", "{oops")
    assert cli_main(["info", str(sweep_file), "--run", "trial_03"]) == 2
    assert "The 'hparams' attribute of run 'trial_03'" in capsys.readouterr().err


def test_the_notebook_table_shows_them(sweep_file):
    with Run(sweep_file, "trial_03") as run:
        html = run._repr_html_()
    assert "<th style='text-align:left'>hyperparameters</th>" in html
    assert "activation=relu, learning_rate=0.05" in html
    assert "engine=keras_tuner, id=03, continues=01" in html
    with Run(sweep_file, "plain") as run:
        assert "hyperparameters" not in run._repr_html_()


def test_format_hparams_prints_values_as_json_words():
    assert format_hparams({"a": 0.001, "b": True, "c": None, "d": "he_normal", "e": 3}) == (
        "a=0.001, b=true, c=null, d=he_normal, e=3")
