"""Diagnosing a sweep: findings over many runs and the hyperparameters they share."""

import h5py
import pytest
from synthetic import write_part1

from replay import OptionError, Runs
from replay.diagnose import diagnose
from replay.findings import diagnose_runs

SMALL = {"epochs": 6, "n_points": 40, "mesh_resolution": 8, "grid_points": 10}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Six runs; the two with init=zeros have two hidden units with the same weights."""
    root = tmp_path_factory.mktemp("findings")
    for index, (activation, init) in enumerate([("sigmoid", "zeros"), ("relu", "zeros"),
                                                ("sigmoid", "glorot"), ("relu", "glorot"),
                                                ("sigmoid", "he"), ("relu", "he")]):
        path = root / f"trial_{index}.h5"
        write_part1(path, f"trial_{index}", activation, seed=index, attributes={
            "hparams": {"activation": activation, "init": init, "epochs": 6}}, **SMALL)
        if init == "zeros":
            with h5py.File(path, "a") as handle:
                for name in ("kernel", "bias"):
                    weights = handle[f"trial_{index}/weights/hidden/{name}"]
                    values = weights[:]
                    values[..., 1] = values[..., 0]
                    weights[:] = values
    return root


def test_the_summary_names_the_hyperparameters_the_runs_share(sweep):
    runs = Runs(sweep)
    result = runs.diagnose(processes=1)
    expected = [diagnose(run) for run in runs]
    assert [diagnosis.kinds() for diagnosis in result] == [d.kinds() for d in expected]
    symmetric = {item.kind: item for item in result.summary()}["symmetric-units"]
    assert symmetric.runs == ("trial_0", "trial_1") and symmetric.total == 6
    assert symmetric.shared == (("init", "zeros", 2, 2),)  # epochs=6 is every run's: not named
    line = symmetric.format()
    assert "symmetric-units" in line and "in 2 of 6 runs: all init=zeros (every such run)" in line
    assert "symmetric-units" in result.format_summary()
    assert result.to_dict()["summary"][0]["kind"] in {item.kind for item in result.summary()}


def test_processes_give_the_same_diagnoses(sweep):
    alone = diagnose_runs(Runs(sweep), processes=1)
    pooled = diagnose_runs(Runs(sweep), processes=2)
    assert [d.to_dict() for d in alone] == [d.to_dict() for d in pooled]
    assert alone.labels == pooled.labels


def test_an_unknown_check_is_refused_before_reading(sweep):
    with pytest.raises(OptionError, match="Unknown check 'dead'"):
        diagnose_runs(Runs(sweep), checks=["dead"])
