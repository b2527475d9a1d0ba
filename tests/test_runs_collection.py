"""replay.Runs: a collection of runs from files, directories and globs, read lazily."""

import json
import math
import warnings

import h5py
import numpy as np
import pytest
from synthetic import write_part1

import replay
from replay import OptionError, Run, RunFileError, RunNotFoundError, Runs, UnreadableRunWarning
from replay.catalog import read_many, read_records
from replay.compare import open_runs, results_table, run_labels

SMALL = {"epochs": 4, "n_points": 40, "mesh_resolution": 8, "grid_points": 10}
#: (folder, activation, learning rate, seed): the trials of the sweep fixture.
TRIALS = [("trial_1", "sigmoid", 0.1, 0), ("trial_2", "relu", 0.1, 1),
          ("trial_10", "relu", 0.01, 2), ("trial_3", "sigmoid", 0.01, 3)]


def write_trial(folder, activation, lr, seed, *, name="run"):
    folder.mkdir(parents=True, exist_ok=True)
    return write_part1(folder / "run.h5", name, activation, seed=seed,
                       attributes={"hparams": {"activation": activation, "lr": lr,
                                               "batch_norm": False},
                                   "trial": {"engine": "test", "id": folder.name}}, **SMALL)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A sweep folder: one run file per trial folder, and a Keras-like checkpoint beside one."""
    root = tmp_path_factory.mktemp("sweep")
    for folder, activation, lr, seed in TRIALS:
        write_trial(root / folder, activation, lr, seed)
    with h5py.File(root / "trial_1" / "checkpoint.weights.h5", "w") as handle:
        handle["layers/dense/vars/0"] = np.zeros((2, 2))
    (root / "trial_1" / "notes.txt").write_text("not a run")
    return root


def histories(runs):
    return {run.trial["id"]: run.history for run in runs}


def test_a_directory_is_searched_recursively_in_natural_order(sweep):
    runs = Runs(sweep)
    assert len(runs) == 4
    assert all(isinstance(run, Run) for run in runs)
    assert [run.trial["id"] for run in runs] == ["trial_1", "trial_2", "trial_3", "trial_10"]
    assert list(runs.skipped) == [str(sweep / "trial_1" / "checkpoint.weights.h5")]
    assert runs.labels() == ["trial_1/run:run", "trial_2/run:run", "trial_3/run:run",
                             "trial_10/run:run"]
    with pytest.raises(OptionError, match="holds no run files.*at its top level"):
        Runs(sweep, recursive=False)


def test_creating_a_collection_opens_no_file(sweep, monkeypatch):
    import replay.collection

    calls = []
    monkeypatch.setattr(replay.collection, "read_many",
                        lambda *args, **kwargs: calls.append(args) or read_many(*args, **kwargs))
    runs = Runs(sweep)
    assert calls == [] and "not read yet" in repr(runs)
    assert len(runs) == 4 and len(calls) == 1
    runs.where(lr=0.1)
    assert len(calls) == 1  # filtering by hyperparameters reads nothing again


def test_globs_files_and_file_run_specs(sweep):
    assert len(Runs(str(sweep / "*" / "run.h5"))) == 4
    assert len(Runs(str(sweep / "**" / "*.h5"))) == 4  # the checkpoint is skipped quietly
    one = Runs(f"{sweep / 'trial_2' / 'run.h5'}:run")
    assert [run.trial["id"] for run in one] == ["trial_2"]
    with pytest.raises(RunNotFoundError, match="No run 'nope'"):
        len(Runs(f"{sweep / 'trial_2' / 'run.h5'}:nope"))


def test_a_run_reached_twice_is_kept_once(sweep):
    run = Run(sweep / "trial_3" / "run.h5")
    runs = Runs(sweep, [sweep / "trial_3" / "run.h5"], run)
    assert len(runs) == 4
    assert Runs(run)[0] is run


def test_where_filters_by_hyperparameters(sweep):
    runs = Runs(sweep)
    assert [run.trial["id"] for run in runs.where(activation="relu")] == ["trial_2", "trial_10"]
    assert len(runs.where(activation="relu", lr=0.01)) == 1
    assert len(runs.where(lr=[0.01, 0.5])) == 2
    assert len(runs.where(lr=lambda lr: lr > 0.05)) == 2
    assert len(runs.where(batch_norm=False)) == 4
    assert len(runs.where(batch_norm=0)) == 0  # False is not 0
    assert len(runs.where(activation="tanh")) == 0
    with pytest.raises(OptionError, match="No run has the hyperparameter 'activaton'.*activation"):
        runs.where(activaton="relu")
    with pytest.raises(OptionError, match=r"write where\(name=value\)"):
        runs.where("relu")


def test_where_filters_by_results_with_a_function_of_the_run(sweep):
    runs = Runs(sweep)
    final = {run.trial["id"]: run.history["accuracy"][-1] for run in runs}
    threshold = float(np.median(list(final.values())))
    kept = runs.where(lambda run: run.history["accuracy"][-1] > threshold)
    assert {run.trial["id"] for run in kept} == {key for key, value in final.items()
                                                 if value > threshold}
    assert len(runs.where(lambda run: run.complete, activation="sigmoid")) == 2


def test_sort_by_and_best_follow_the_metric_direction(sweep):
    runs = Runs(sweep)
    loss = {run.trial["id"]: run.history["loss"][-1] for run in runs}
    by_loss = [run.trial["id"] for run in runs.sort_by("loss")]
    assert by_loss == sorted(loss, key=loss.get)
    assert runs.best("loss").trial["id"] == by_loss[0]
    accuracy_best = {run.trial["id"]: run.history["accuracy"].max() for run in runs}
    winner = runs.best("accuracy", at="best")
    assert accuracy_best[winner.trial["id"]] == max(accuracy_best.values())
    assert [run.hparams["lr"] for run in runs.sort_by("lr")] == [0.01, 0.01, 0.1, 0.1]
    assert [run.hparams["lr"] for run in runs.sort_by("lr", reverse=True)][0] == 0.1
    assert runs.metric("loss") == [loss[run.trial["id"]] for run in runs]
    with pytest.raises(OptionError, match="No run has the metric 'val_loss'. Recorded: "
                                          "accuracy, loss"):
        runs.best("val_loss")
    with pytest.raises(OptionError, match="at must be one of final, best"):
        runs.best("loss", at="last")


def test_a_diverged_run_never_wins(tmp_path, sweep):
    folder = tmp_path / "diverged"
    path = write_trial(folder, "relu", 0.5, 0)
    with h5py.File(path, "a") as handle:
        loss = handle["run/history/loss"]
        loss[-2:] = np.nan
    runs = Runs(sweep, path)
    assert runs.best("loss").trial["id"] != "diverged"
    assert runs.sort_by("loss")[-1].trial["id"] == "diverged"
    assert math.isnan(runs.metric("loss")[-1])


def test_table_has_one_row_per_run_with_hyperparameters_and_metrics(sweep):
    pandas = pytest.importorskip("pandas")
    runs = Runs(sweep).where(activation="relu")
    frame = runs.table()
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns[:6]) == ["run", "file", "activation", "lr", "batch_norm",
                                       "epochs"]
    assert list(frame["lr"]) == [0.1, 0.01]
    expected = [run.history["loss"][-1] for run in runs]
    np.testing.assert_allclose(frame["loss final"], expected)
    text = runs.results_table().to_markdown()
    assert text.splitlines()[0].startswith("| run | activation | lr | batch_norm | epochs |")
    assert "| trial_2/run:run | relu | 0.1 | false | 4 |" in text


def test_a_damaged_file_in_a_directory_is_left_out_with_a_warning(tmp_path):
    for folder, activation, lr, seed in TRIALS[:3]:
        write_trial(tmp_path / folder, activation, lr, seed)
    broken = tmp_path / "trial_2" / "run.h5"
    broken.write_bytes(broken.read_bytes()[:3000])  # a copy that did not finish
    with pytest.warns(UnreadableRunWarning, match=f"Left out '{broken}'.*damaged or truncated"):
        runs = Runs(tmp_path)
        table = runs.results_table()
    assert len(table.rows) == 2 and list(runs.problems) == [str(broken)]
    with pytest.raises(RunFileError, match="damaged or truncated"):
        len(Runs(tmp_path, on_error="raise"))
    with pytest.raises(RunFileError, match="damaged or truncated"):
        len(Runs(broken))  # named explicitly: an error
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(Runs(tmp_path, on_error="ignore")) == 2


def test_a_run_with_damaged_hyperparameters_is_left_out_of_a_directory(tmp_path):
    for folder, activation, lr, seed in TRIALS[:2]:
        write_trial(tmp_path / folder, activation, lr, seed)
    with h5py.File(tmp_path / "trial_1" / "run.h5", "a") as handle:
        handle["run"].attrs["hparams"] = "{lr: 0.1"
    with pytest.warns(UnreadableRunWarning, match="The 'hparams' attribute of run 'run'"):
        assert len(Runs(tmp_path)) == 1


def test_sources_that_match_nothing_say_so(tmp_path):
    with pytest.raises(OptionError, match=r"The pattern '.*\*.h5' matches no run file"):
        Runs(str(tmp_path / "*.h5"))
    with pytest.raises(OptionError, match="holds no run files"):
        Runs(tmp_path)
    with pytest.raises(RunFileError, match="No such run file or directory"):
        Runs(tmp_path / "missing.h5")
    with pytest.raises(OptionError, match="at least one"):
        Runs()
    with pytest.raises(OptionError, match="Got 3"):
        Runs(3)
    with h5py.File(tmp_path / "model.h5", "w") as handle:
        handle["w"] = np.zeros(2)
    with pytest.raises(OptionError, match="1 HDF5 file.*not replay run files"):
        len(Runs(tmp_path))


def test_the_fast_records_agree_with_run(sweep, part1_file):
    for path in [sweep / "trial_2" / "run.h5", part1_file]:
        for record in read_records(path, history=True):
            with Run(path, record.name) as run:
                assert record.hparams == run.hparams and record.trial == run.trial
                assert record.complete == run.complete
                assert record.history.keys() == run.history.keys()
                for key, values in run.history.items():
                    np.testing.assert_array_equal(record.history[key], values)
    paths = sorted(sweep.glob("*/run.h5"))
    alone, _ = read_many(paths, history=True, processes=1)
    pooled, _ = read_many(paths, history=True, processes=2)
    assert [[(record.name, record.attrs) for record in found] for found in alone] == [
        [(record.name, record.attrs) for record in found] for found in pooled]


def test_comparisons_take_directories_globs_and_collections(sweep):
    runs = Runs(sweep).where(activation="sigmoid")
    assert [run.trial["id"] for run in open_runs(runs)] == ["trial_1", "trial_3"]
    assert len(open_runs(str(sweep))) == 4
    assert len(open_runs(str(sweep / "trial_*"))) == 4
    assert len(open_runs(None, path=str(sweep))) == 4
    table = results_table(str(sweep))
    assert table.columns[:4] == ["run", "activation", "lr", "batch_norm"]


def test_run_labels_tell_repeated_names_apart(tmp_path):
    class Named:
        def __init__(self, path, name):
            self.path, self.name = path, name

    runs = [Named("a/x/run.h5", "run"), Named("b/x/run.h5", "run"), Named("c/y.h5", "solo"),
            Named("a/z.h5", "twin"), Named("b/w.h5", "twin")]
    assert run_labels(runs) == ["a/x/run:run", "b/x/run:run", "solo", "z:twin", "w:twin"]


def test_runs_is_exported():
    assert replay.Runs is Runs and "Runs" in replay.__all__
    assert json.loads(json.dumps(replay.__all__))


# -- the command line over directories and globs ------------------------------------------


def test_cli_table_of_a_directory_with_where(sweep, capsys):
    from replay.cli import main

    assert main(["table", str(sweep), "--where", "activation=relu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| run | activation | lr | batch_norm | epochs | loss final")
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| trial_2/run:run",
                                                             "| trial_10/run:run"]
    assert main(["table", str(sweep / "trial_*"), "--where", "lr=0.01", "--format",
                 "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 3 and rows[0].startswith("run,activation,lr,batch_norm,epochs")
    assert main(["table", str(sweep), "--where", "activation=tanh"]) == 2
    assert "selects no run. Values there: activation: relu, sigmoid" in capsys.readouterr().err
    assert main(["table", str(sweep / "nothing_*.h5")]) == 2
    assert "matches no run file" in capsys.readouterr().err


def test_cli_table_says_which_trials_did_not_complete(tmp_path, capsys):
    """Bug: a trial that raised or was interrupted showed in `replay table DIR` as an
    ordinary row (fewer epochs, its last values as "final"); the table now has a
    `complete` column when some run is not, and keeps its columns when all are."""
    from replay.cli import main

    for folder, activation, lr, seed in TRIALS[:2]:
        write_trial(tmp_path / folder, activation, lr, seed)
    assert main(["table", str(tmp_path), "--format", "csv"]) == 0
    assert "complete" not in capsys.readouterr().out
    with h5py.File(tmp_path / "trial_2" / "run.h5", "a") as handle:
        handle["run"].attrs["complete"] = False
    assert main(["table", str(tmp_path), "--format", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("run,activation,lr,batch_norm,epochs,complete,loss final")
    assert [row.split(",")[5] for row in rows[1:]] == ["true", "false"]


def test_cli_table_warns_about_a_damaged_file_and_tables_the_rest(tmp_path, capsys):
    from replay.cli import main

    for folder, activation, lr, seed in TRIALS[:2]:
        write_trial(tmp_path / folder, activation, lr, seed)
    broken = tmp_path / "trial_2" / "run.h5"
    broken.write_bytes(b"not hdf5 at all")
    assert main(["table", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith(f"replay: warning: Left out '{broken}'")
    assert "trial_1/run:run" not in captured.out and "| run |" in captured.out
    assert len(captured.out.splitlines()) == 3


def test_cli_diagnose_of_a_directory_prints_a_summary(sweep, capsys):
    from replay.cli import main

    assert main(["diagnose", str(sweep), "--summary", "--processes", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("summary: 4 runs diagnosed")
    assert main(["diagnose", str(sweep), "--where", "activation=sigmoid", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [run["label"] for run in data["runs"]] == ["trial_1/run:run", "trial_3/run:run"]
    assert all(run["hparams"]["activation"] == "sigmoid" for run in data["runs"])
    assert "summary" in data


def test_cli_info_of_a_directory_describes_every_file(sweep, capsys):
    from replay.cli import main

    assert main(["info", str(sweep)]) == 0
    out = capsys.readouterr().out
    assert out.count("run 'run':") == 4 and "checkpoint" not in out
    assert "  hparams: activation=relu, lr=0.01, batch_norm=false" in out


def test_cli_info_takes_where_like_the_other_verbs(sweep, capsys):
    """Bug: `replay info DIR --where activation=relu` was refused ("unrecognized
    arguments: --where"), although every verb that reads runs takes it."""
    from replay.cli import main

    assert main(["info", str(sweep), "--where", "activation=relu"]) == 0
    out = capsys.readouterr().out
    assert out.count("run 'run':") == 2 and "activation=sigmoid" not in out
    assert "trial_2" in out and "trial_10" in out
    assert main(["info", str(sweep), "--where", "activation=tanh"]) == 2
    assert "selects no run" in capsys.readouterr().err


def test_cli_render_needs_a_selection_of_one_run(sweep, tmp_path, capsys):
    from replay.cli import main

    out = tmp_path / "one.png"
    assert main(["render", str(sweep), "--out", str(out)]) == 2
    assert ("replay render draws one run, but" in capsys.readouterr().err)
    assert main(["render", str(sweep), "--where", "activation=relu", "lr=0.01", "--out",
                 str(out), "--dpi", "30"]) == 0
    assert out.exists() and "wrote" in capsys.readouterr().out


def test_named_slices_and_sorting_by_a_function(sweep):
    runs = Runs(sweep)
    assert len(runs.named(["run"])) == 4
    with pytest.raises(RunNotFoundError, match="No run 'nope' among the 4 runs. Runs: 'run'"):
        runs.named("nope")
    assert isinstance(runs[1:3], Runs) and len(runs[1:3]) == 2
    assert runs[-1].trial["id"] == "trial_10"
    by_seedless_id = runs.sort_by(lambda run: run.trial["id"], reverse=True)
    assert [run.trial["id"] for run in by_seedless_id] == ["trial_3", "trial_2", "trial_10",
                                                          "trial_1"]


def test_the_bench_sweep_varies_hyperparameters_histories_and_findings(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import bench_sweep

    source = tmp_path / "part1.h5"
    for activation in bench_sweep.ACTIVATIONS:
        write_part1(source, activation, activation, epochs=12, n_points=40,
                    mesh_resolution=8, grid_points=10)
    out = bench_sweep.make_sweep(source, tmp_path / "sweep", 24)
    runs = Runs(out)
    assert len(runs) == 24
    values = runs.hparam_values()
    assert values["activation"] == ["relu", "sigmoid", "tanh"]
    assert values["initializer"] == ["glorot", "he", "normal", "zeros"]
    losses = {round(float(loss), 6) for loss in runs.metric("loss")}
    assert len(losses) > 12  # every run its own history
    zeros = runs.where(initializer="zeros")
    for run in zeros:
        kernel = run.weights("hidden", -1)["kernel"]
        np.testing.assert_array_equal(kernel[:, 0], kernel[:, 1])
    summary = {item.kind: item for item in runs.diagnose(processes=1).summary()}
    assert ("initializer", "zeros", len(zeros), len(zeros)) in summary["symmetric-units"].shared
