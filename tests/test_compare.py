"""Comparing runs: results table, grids of views, overlaid curves, the CLI verbs, the gallery."""

import csv
import io
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import imageio.v3 as iio  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from replay import OptionError, Run  # noqa: E402
from replay.cli import main  # noqa: E402
from replay.compare import (  # noqa: E402
    ComparisonScene,
    OverlaidCurves,
    open_runs,
    results_table,
    run_labels,
)
from replay.compare.table import metric_keys, summarize  # noqa: E402
from replay.gallery import ACTIVATIONS, activation_gallery  # noqa: E402
from replay.views.curves import history_curve  # noqa: E402
from replay.views.error_scatter import ErrorScatter, sample_errors  # noqa: E402
from replay.views.regions import region_colors  # noqa: E402
from replay.views.style import CLASS_COLORS, RUN_COLORS  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")
NAMES = ("sigmoid", "relu")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def runs(part1_file):
    opened = [Run(part1_file, name) for name in NAMES]
    yield opened
    for run in opened:
        run.close()


# -- the results table ---------------------------------------------------------


def test_table_numbers_equal_recorded_histories(part1_file, runs):
    table = results_table(path=part1_file)
    assert table.column("run") == list(NAMES)
    assert table.columns[:2] == ["run", "epochs"]
    for row, run in zip(table.rows, runs):
        history = run.history
        assert row["epochs"] == len(history["loss"]) == 12
        assert row["loss final"] == pytest.approx(float(history["loss"][-1]), abs=0)
        assert row["loss best"] == pytest.approx(float(history["loss"].min()), abs=0)
        assert row["loss best epoch"] == int(history["epoch"][history["loss"].argmin()])
        accuracy = history["accuracy"]
        assert row["accuracy final"] == float(accuracy[-1])
        assert row["accuracy best"] == float(accuracy.max())
        assert row["accuracy best epoch"] == int(np.argmax(accuracy)) + 1
        perfect = np.flatnonzero(accuracy >= 1.0)
        assert row["accuracy 100% at"] == (int(perfect[0]) + 1 if len(perfect) else None)
    # CSV keeps full precision; Markdown has a header, a rule and one line per run.
    parsed = list(csv.DictReader(io.StringIO(table.to_csv())))
    assert [float(line["loss final"]) for line in parsed] == table.column("loss final")
    lines = table.to_markdown().splitlines()
    assert len(lines) == 2 + len(NAMES) and lines[0].startswith("| run | epochs | loss final")


def test_table_written_to_csv_file_and_selected_metrics(part1_file, tmp_path):
    table = results_table([f"{part1_file}:relu"], metrics="accuracy")
    assert table.columns == ["run", "epochs", "accuracy final", "accuracy best",
                             "accuracy best epoch", "accuracy 100% at"]
    text = table.to_csv(tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == text
    with pytest.raises(OptionError, match="No run has the metric 'val_accuracy'"):
        results_table(path=part1_file, metrics=["val_accuracy"])


def test_summaries_lower_is_better_nan_and_never_perfect():
    epochs = np.arange(1, 6)
    loss = summarize([0.9, 0.5, np.nan, 0.4, 0.6], epochs, lower=True)
    assert (loss.final, loss.best, loss.best_epoch) == (0.6, 0.4, 4)
    accuracy = summarize([0.5, 1.0, 0.9, 1.0, 0.95], epochs, accuracy=True)
    assert (accuracy.best, accuracy.best_epoch, accuracy.perfect_epoch) == (1.0, 2, 2)
    assert summarize([0.5, 0.6], epochs[:2], accuracy=True).perfect_epoch is None
    keys = {"val_loss": 0, "epoch": 0, "accuracy": 0, "learning_rate": 0, "loss": 0,
            "val_accuracy": 0}
    assert metric_keys(keys) == ["loss", "accuracy", "val_loss", "val_accuracy"]


def test_markdown_marks_missing_values():
    from replay.compare import ResultsTable

    table = ResultsTable(["run", "acc 100% at"], [{"run": "a", "acc 100% at": None}])
    assert table.to_markdown().splitlines()[-1] == "| a | \u2014 |"
    assert table.to_csv().splitlines()[-1] == "a,"


# -- naming runs -----------------------------------------------------------------


def test_open_runs_from_names_specs_and_files(part1_file, tmp_path):
    assert [run.name for run in open_runs(path=part1_file)] == list(NAMES)
    assert [run.name for run in open_runs(["relu"], path=part1_file)] == ["relu"]
    assert [run.name for run in open_runs(f"{part1_file}:relu")] == ["relu"]
    assert [run.name for run in open_runs([part1_file])] == list(NAMES)
    with pytest.raises(OptionError, match="'relu' .* given twice; each run may appear once"):
        open_runs([f"{part1_file}:relu", f"{part1_file}:relu"])
    with pytest.raises(OptionError, match="neither an existing file"):
        open_runs(["relu"])
    with pytest.raises(OptionError, match="Nothing to compare"):
        open_runs([])


# -- grids of views ------------------------------------------------------------


def test_grid_panels_hold_each_runs_data(runs):
    scene = ComparisonScene.grid(runs, panel_size=(3, 3))
    figure = scene.plot(5)
    assert [ax.get_title() for ax in figure.axes] == [
        "sigmoid: feature space", "input space", "relu: feature space", "input space"]
    assert scene.title_text == "Epoch 5"
    for run in runs:
        feature_space = scene.cells[(run.name, "feature-space")]
        assert feature_space.run is run
        activations = run.activations("hidden", 5)
        labels = run.labels()
        for label, line in feature_space.points_.items():
            np.testing.assert_allclose(np.column_stack(line.get_data()),
                                       activations[labels == label], rtol=1e-6)
        boundary = scene.cells[(run.name, "decision-boundary")]
        np.testing.assert_allclose(boundary.regions_.get_array(),
                                   region_colors(run.outputs(5, source="mesh")))
    # Columns are runs (left to right), rows are views (top to bottom).
    first, below, second, _ = (ax.get_position() for ax in figure.axes)
    assert first.x1 < second.x0 and first.y0 > below.y1


def test_grid_shares_limits_and_wraps_runs(runs):
    scene = ComparisonScene.grid(runs, ["loss-and-metric", "error-scatter"], ncols=1,
                                 panel_size=(3, 2.5))
    figure = scene.plot(-1)
    curves = [scene.cells[(name, "loss-and-metric")] for name in NAMES]
    assert curves[0].ax_.get_ylim() == curves[1].ax_.get_ylim()
    # With one run per row, the second run's panels sit under the first run's.
    assert curves[1].ax_.get_position().y1 < scene.cells[("sigmoid", "error-scatter")] \
        .ax_.get_position().y0
    assert len(figure.axes) == 6  # + two twin axes of the metric
    scatter = scene.cells[("relu", "error-scatter")]
    errors = sample_errors(runs[1].outputs(-1), runs[1].labels())
    np.testing.assert_allclose(scatter.errors_, errors)
    sizes = scatter.points_.get_sizes()
    assert sizes[errors.argmax()] == sizes.max() and sizes[errors.argmin()] == sizes.min()
    wrong = errors > 0.5
    assert np.all((np.asarray(scatter.points_.get_linewidths()) > 0) == wrong)


def test_grid_with_two_axes_views_and_errors(runs):
    scene = ComparisonScene.grid(runs, ["probability-histogram"], panel_size=(3, 3))
    assert scene.nrows == 2 and len(scene.plot(3).axes) == 4
    with pytest.raises(OptionError, match="Unknown view 'nope'"):
        ComparisonScene.grid(runs, ["nope"])
    with pytest.raises(OptionError, match="Got 1 labels for 2 runs"):
        ComparisonScene.grid(runs, labels=["only one"])


def test_grid_accepts_any_view_factory(runs):
    from replay.views import LossHistogram

    scene = ComparisonScene.grid(runs, [lambda run: LossHistogram(run, bins=5)])
    figure = scene.plot(2)
    assert [ax.get_title() for ax in figure.axes] == ["sigmoid", "relu"]


def test_overlaid_curves_grow_with_the_clock(runs):
    view = OverlaidCurves(runs, ["loss", "accuracy"])
    view.plot(4)
    for run in runs:
        x, y = view.lines_[(run.name, "accuracy")].get_data()
        np.testing.assert_array_equal(x, [0, 1, 2, 3, 4])  # epoch 0 from snapshot 0
        np.testing.assert_array_equal(y[1:], run.history["accuracy"][:4])
        assert y[0] == np.mean(run.predicted_labels(0) == run.labels())
    assert view.lines_[("relu", "accuracy")].get_linestyle() == "--"
    assert view.final_values()[("sigmoid", "loss")] == float(runs[0].history["loss"][-1])
    with pytest.raises(OptionError, match="has no history 'val_loss'"):
        OverlaidCurves(runs, "val_loss")


def test_curves_scene_is_one_panel_per_key(runs, tmp_path):
    scene = ComparisonScene.curves(runs, ["loss", "accuracy"], title_prefix="part 1")
    stats = scene.save(tmp_path / "curves.png", dpi=40)
    assert stats.size[0] > stats.size[1]
    assert [ax.get_title() for ax in scene.figure_.axes] == ["loss", "accuracy"]
    assert scene.figure_.axes[0].get_legend() is None
    assert scene.figure_.axes[1].get_legend() is not None
    # A still picture of the whole history: titled by its prefix, not "Epoch 12".
    assert scene.title_text == "part 1"


def test_grid_animation_renders_every_frame(runs, tmp_path):
    scene = ComparisonScene.grid(runs, ["error-scatter"], panel_size=(2.5, 2.5))
    stats = scene.save(tmp_path / "grid.gif", epochs="0:12:4", dpi=30, progress=False)
    frames = iio.imread(tmp_path / "grid.gif", index=None)
    assert stats.frames == len(frames) == 4  # 0, 4, 8 and the final snapshot 12
    assert not np.array_equal(frames[0], frames[-1])


# -- the CLI ---------------------------------------------------------------------


def test_cli_compare_png_gif_and_curves(part1_file, tmp_path, capsys):
    assert main(["compare", str(part1_file), "--runs", "sigmoid", "relu", "--epoch", "3",
                 "--dpi", "30", "--out", str(tmp_path / "showdown.png")]) == 0
    assert "2 runs, epoch 3" in capsys.readouterr().out
    assert main(["compare", str(part1_file), "--view", "error-scatter", "--epochs", "0:12:6",
                 "--dpi", "25", "--quiet", "--out", str(tmp_path / "errors.gif")]) == 0
    assert len(iio.imread(tmp_path / "errors.gif", index=None)) == 3  # 0, 6, 12
    assert main(["compare", f"{part1_file}:relu", f"{part1_file}:sigmoid", "--curves",
                 "accuracy", "--dpi", "30", "--out", str(tmp_path / "curves.png")]) == 0
    assert iio.imread(tmp_path / "curves.png").shape[1] > 100


def test_cli_table_markdown_and_csv(part1_file, tmp_path, capsys):
    assert main(["table", str(part1_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| run |") and lines[2].startswith("| sigmoid |")
    assert main(["table", str(part1_file), "--runs", "relu", "--format", "csv",
                 "--metrics", "loss", "--out", str(tmp_path / "t.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert [row["run"] for row in rows] == ["relu"]
    assert float(rows[0]["loss final"]) == float(Run(part1_file, "relu").history["loss"][-1])


@pytest.mark.parametrize("arguments, message", [
    (["compare", "--view", "nope", "--out", "x.png"], "Unknown view"),
    (["compare", "--curves", "val_loss", "--out", "x.png"], "no history 'val_loss'"),
    (["compare", "--epoch", "2", "--out", "x.mp4"], "--epochs start:stop:step"),
    (["compare", "--runs", "tanh", "--out", "x.png"], "tanh"),
    (["table", "--metrics", "val_accuracy"], "No run has the metric"),
])
def test_cli_errors_are_one_line_messages(part1_file, tmp_path, capsys, arguments, message):
    verb, *rest = arguments
    rest = [str(tmp_path / arg) if arg.startswith("x.") else arg for arg in rest]
    assert main([verb, str(part1_file), *rest]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


# -- the activation gallery ------------------------------------------------------


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_gallery_twins_match_keras_and_their_derivatives(name):
    import keras

    function, derivative, _ = ACTIVATIONS[name]
    x = np.linspace(-5.0, 5.0, 401)
    expected = keras.ops.convert_to_numpy(getattr(keras.activations, name)(x.astype("float32")))
    np.testing.assert_allclose(function(x), expected, atol=2e-6, rtol=1e-5)
    step = 1e-5
    smooth = np.abs(x) > 1e-3  # relu-like kinks at 0
    numeric = (function(x + step) - function(x - step)) / (2 * step)
    np.testing.assert_allclose(derivative(x)[smooth], numeric[smooth], atol=1e-6)


def test_gallery_figure_has_a_panel_per_activation():
    figure = activation_gallery()
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible][:3] == ["sigmoid", "tanh", "relu"]
    assert len(visible) == len(ACTIVATIONS)
    assert len(activation_gallery(["relu", "elu", "selu"], ncols=2).axes) == 4
    with pytest.raises(OptionError, match="Unknown activation 'softsign'"):
        activation_gallery(["softsign"])


def test_comparing_never_imports_keras():
    code = ("import sys, replay.compare, replay.gallery, replay.cli, replay.views; "
            "sys.exit(1 if any(m.split('.')[0] in ('keras', 'jax', 'tensorflow', 'torch') "
            "for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_error_scatter_needs_2d_inputs(runs, tmp_path):
    import synthetic

    scatter = ErrorScatter(runs[0], regions=False)
    scatter.plot(0)
    assert scatter.regions_ is None and len(scatter.errors_) == len(runs[0].labels())
    with Run(synthetic.write_three_features(tmp_path / "three.h5"), "three") as three:
        assert three.inputs().shape == (60, 3) and "mesh" not in three.sources
        with pytest.raises(OptionError, match=r"2-D inputs; run 'three' has inputs of shape "
                                              r"\(60, 3\)"):
            ErrorScatter(three, regions=False)
    with pytest.raises(OptionError, match="sizes"):
        ErrorScatter(runs[0], sizes=(5, 1))


# -- CLI option mistakes (one line, exit status 2, no output written) -----------


@pytest.mark.parametrize("arguments, message", [
    (["compare", "--epoch", "-500", "--out", "x.png"],
     "--epoch -500 is out of range: each run holds snapshots 0..12 (negative values "
     "count from the end, down to -13)."),
    (["compare", "--epochs", "200:300", "--out", "x.gif"],
     "--epochs 200:300 selects no snapshot: each run holds snapshots 0..12."),
    (["compare", "--epochs", "::0", "--out", "x.gif"], "--epochs '::0': the step cannot be 0"),
    (["compare", "--epochs", "0:5", "--out", "x.png"],
     "--epochs 0:5 selects the frames of an .mp4 or .gif, but the output is a .png "
     "(one epoch): use --epoch N instead."),
    (["compare", "--curves", "loss", "--view", "error-scatter", "--out", "x.png"],
     "--view cannot be combined with --curves: --curves draws overlaid history curves "
     "instead of a grid of views. Drop --view, or drop --curves to draw views."),
    (["compare", "--curves", "loss", "--layer", "hidden", "--out", "x.png"],
     "--layer cannot be combined with --curves"),
    (["compare", "--yscale", "log", "--out", "x.png"],
     "--yscale only applies to --curves KEY...: a grid of views does not use it."),
    (["compare", "--validation", "--out", "x.png"], "--validation only applies to --curves"),
    (["compare", "--curves", "loss", "accuracy", "--validation", "--out", "x.png"],
     "--validation draws each key's val_ curve, but none of the runs has a validation "
     "history (no val_ keys; recorded: accuracy, learning_rate, loss). Record the runs "
     "with validation data, or drop --validation."),
    (["compare", "--curves", "accuracy", "--yscale", "log", "--out", "x.png"],
     "--yscale log puts the loss panels (keys containing 'loss') on a log axis, but "
     "--curves accuracy has none."),
    (["compare", "--curves", "loss", "--yscale", "loss=lg", "--out", "x.png"],
     "--yscale 'loss=lg': give linear or log alone"),
    (["compare", "--curves", "loss", "--yscale", "accuracy=log", "--out", "x.png"],
     "--yscale accuracy=log: 'accuracy' is not a panel of --curves loss."),
])
def test_cli_option_mistakes_are_one_line_errors(part1_file, tmp_path, capsys, arguments,
                                                 message):
    verb, *rest = arguments
    rest = [str(tmp_path / arg) if arg.startswith("x.") else arg for arg in rest]
    assert main([verb, str(part1_file), *rest]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"replay {verb}: error: {message}") and error.count("\n") == 1
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("verb", ["compare", "table"])
@pytest.mark.parametrize("spec, shown", [
    ("nope.h5", "nope.h5"), ("nope.hdf5:relu", "nope.hdf5"), ("nope", "nope")])
def test_cli_missing_run_file_is_named_like_replay_info(tmp_path, capsys, verb, spec, shown):
    missing = str(tmp_path / spec)
    arguments = [verb, missing] + (["--out", str(tmp_path / "x.png")] if verb == "compare"
                                   else [])
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert error == (f"replay {verb}: error: No such run file: '{tmp_path / shown}'. Check the "
                     "path, or record a run into it first with replay.Recorder.\n")
    assert main(["info", str(tmp_path / shown)]) == 2
    assert capsys.readouterr().err.split(": error: ")[1] == error.split(": error: ")[1]


def test_cli_missing_file_of_a_file_run_spec_without_extension(tmp_path, capsys):
    assert main(["table", f"{tmp_path / 'nope'}:relu"]) == 2
    assert f"No such run file: '{tmp_path / 'nope'}' (in '" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:Attempt to set non-positive ylim")
def test_cli_yscale_log_is_for_loss_panels_only(part1_file, tmp_path, monkeypatch):
    built = []
    original = ComparisonScene.curves

    def curves(cls, *args, **kwargs):
        built.append(original(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(ComparisonScene, "curves", classmethod(curves))
    out = str(tmp_path / "c.png")
    assert main(["compare", str(part1_file), "--curves", "loss", "accuracy", "--yscale",
                 "log", "--dpi", "30", "--out", out]) == 0
    loss, accuracy = built[-1].views
    assert (loss.ax_.get_yscale(), accuracy.ax_.get_yscale()) == ("log", "linear")
    # Fitted to the values (not 0 to 1.02): a curve at 1.0 is off the frame.
    low, high = accuracy.ax_.get_ylim()
    values = np.concatenate([history_curve(run, "accuracy")[1] for run in accuracy.runs])
    assert 0.0 <= low < values.min() and 1.0 <= values.max() < high < 1.1
    assert main(["compare", str(part1_file), "--curves", "loss", "accuracy", "--yscale",
                 "accuracy=log", "--dpi", "30", "--out", out]) == 0
    loss, accuracy = built[-1].views
    assert (loss.ax_.get_yscale(), accuracy.ax_.get_yscale()) == ("linear", "log")


def test_cli_yscale_pairs_name_panels_or_their_val_curves():
    from replay.cli.compare import _curve_scales

    keys = ["loss", "accuracy"]
    assert _curve_scales(None, keys) == {"loss": "linear", "accuracy": "linear"}
    assert _curve_scales(["log"], ["loss", "val_loss", "accuracy"]) == {
        "loss": "log", "val_loss": "log", "accuracy": "linear"}
    assert _curve_scales(["loss=log", "val_loss=log"], keys, ("loss",)) == {
        "loss": "log", "accuracy": "linear"}
    with pytest.raises(OptionError, match="'val_loss' is not a panel"):
        _curve_scales(["val_loss=log"], keys)
    with pytest.raises(OptionError, match="conflicts with loss=log"):
        _curve_scales(["loss=log", "val_loss=linear"], keys, ("loss",))
    assert _curve_scales(["accuracy=logit"], keys) == {"loss": "linear", "accuracy": "logit"}
    with pytest.raises(OptionError, match="is not a scale"):
        _curve_scales(["logit"], keys)  # alone: log or linear only (the loss panels)


# -- run colours, log scales and runs given twice -----------------------------------


def _copy_of(part1_file, path, changes=(), added=()):
    """A copy of the part-1 file with history values replaced or history keys added.

    ``changes``: ``[(run, key, index, value)]``; ``added``: ``[(run, key, values)]``.
    """
    import shutil

    import h5py

    shutil.copy(part1_file, path)
    with h5py.File(path, "r+") as handle:
        for run, key, index, value in changes:
            handle[f"{run}/history/{key}"][index] = value
        for run, key, values in added:
            handle[f"{run}/history"].create_dataset(key, data=np.asarray(values, float))
    return path


def test_ten_runs_get_ten_distinct_colours(part1_file, tmp_path):
    files = [part1_file] + [_copy_of(part1_file, tmp_path / f"copy{i}.h5") for i in range(4)]
    runs = [Run(file, name) for file in files for name in NAMES]
    view = ComparisonScene.curves(runs, ["loss"]).views[0]
    view.plot(-1)
    colors = [matplotlib.colors.to_hex(view.lines_[(label, "loss")].get_color())
              for label in view.labels]
    assert colors == [matplotlib.colors.to_hex(color) for color in RUN_COLORS]
    handles = view.ax_.get_legend().legend_handles
    assert len({matplotlib.colors.to_hex(handle.get_color()) for handle in handles}) == 10
    # Runs never wear a class colour (blue and orange are classes 0 and 1).
    assert not {color.lower() for color in colors} & {color.lower() for color in CLASS_COLORS}
    # Each run has its own marker too, drawn at the current epoch.
    assert len({handle.get_marker() for handle in handles}) == 10
    for run in runs:
        run.close()


def test_validation_curve_has_its_runs_colour_dashed(part1_file, tmp_path):
    added = [(name, "val_loss", np.linspace(0.9, 0.5, 12)) for name in NAMES]
    path = _copy_of(part1_file, tmp_path / "val.h5", added=added)
    runs = open_runs(path=path)
    view = ComparisonScene.curves(runs, ["loss"], validation=True).views[0]
    view.plot(-1)
    assert view.keys == ["loss", "val_loss"]
    for label in view.labels:
        train, validation = view.lines_[(label, "loss")], view.lines_[(label, "val_loss")]
        assert train.get_color() == validation.get_color()
        assert train.get_linestyle() == "-" and validation.get_linestyle() == "--"
    assert view.lines_[("sigmoid", "loss")].get_color() != \
        view.lines_[("relu", "loss")].get_color()


def test_log_scale_of_bounded_or_non_positive_values_stays_readable(part1_file, tmp_path):
    import warnings

    path = _copy_of(part1_file, tmp_path / "zeros.h5",
                    changes=[("relu", "accuracy", 0, 0.0), ("sigmoid", "loss", 2, 0.0)])
    zeros = [Run(path, name) for name in NAMES]
    clean = [Run(part1_file, name) for name in NAMES]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. no "non-positive ylim" UserWarning
        scene = ComparisonScene.curves(zeros, ["loss", "accuracy"], yscale="log")
        scene.save(tmp_path / "zeros.png", dpi=40)
        positive = OverlaidCurves(clean, "accuracy", yscale="log")
        positive.plot(-1)
    for view, key in zip(scene.views, ["loss", "accuracy"]):
        # Zeros asked on a log axis: symlog, every point inside the limits, no 1e-300.
        assert view.yscale_ == view.ax_.get_yscale() == "symlog"
        low, high = view.ax_.get_ylim()
        values = np.concatenate([history_curve(run, key)[1] for run in zeros])
        assert low == 0.0 == values.min() and values.max() <= high <= 1.5 * values.max()
    # An accuracy without zeros stays on a log axis, from just below its smallest value.
    low, high = positive.ax_.get_ylim()
    smallest = min(float(history_curve(run, "accuracy")[1].min()) for run in clean)
    assert positive.ax_.get_yscale() == "log"
    assert smallest / 2 < low < smallest and high == pytest.approx(1.02)
    for run in zeros + clean:
        run.close()


def test_same_run_twice_is_an_error_naming_it(part1_file, runs, tmp_path):
    spec = f"{part1_file}:relu"
    for given in ([spec, spec], [spec, part1_file]):  # the file holds relu too
        with pytest.raises(OptionError, match=r"Run 'relu' of '.*part1\.h5' is given twice; "
                                              r"each run may appear once"):
            open_runs(given)
    with pytest.raises(OptionError, match="'sigmoid' .* given twice"):
        ComparisonScene.grid([runs[0], runs[1], Run(part1_file, "sigmoid")], ["error-scatter"])
    with pytest.raises(OptionError, match="'relu' .* given twice"):
        ComparisonScene.curves(["relu", "relu"], path=part1_file)
    # The same name in two files is two runs, told apart by their file.
    other = _copy_of(part1_file, tmp_path / "other.h5")
    both = open_runs([spec, f"{other}:relu"])
    assert run_labels(both) == ["part1:relu", "other:relu"]
    figure = ComparisonScene.grid(both, ["error-scatter"]).plot(-1)
    assert [ax.get_title() for ax in figure.axes] == ["part1:relu", "other:relu"]
    assert all(ax.collections for ax in figure.axes)  # neither panel blank


def test_cli_compare_without_view_fits_runs_without_probes(tmp_path, capsys):
    """Bug: `replay compare` of runs on 3-D inputs (no probe points) failed with
    "DecisionBoundary needs 2-D inputs" and advice the user could not follow; the
    default grid now puts the probability histograms in the boundary's place."""
    from synthetic import write_three_features

    path = write_three_features(tmp_path / "three.h5", "a")
    write_three_features(path, "b")
    out = tmp_path / "three.png"
    assert main(["compare", str(path), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert iio.imread(out).shape[1] > 0


def test_cli_compare_without_view_shows_a_wide_layer_through_pca(tmp_path, capsys):
    """Bug: runs whose hidden layer has 3 units (a conv net's 144) failed the default
    `replay compare` with "has no 2-unit hidden layer"; it now shows that layer, as
    `replay render` does."""
    from synthetic import write_wide_multiclass

    path = write_wide_multiclass(tmp_path / "wide.h5", "a")
    write_wide_multiclass(path, "b")
    out = tmp_path / "wide.png"
    assert main(["compare", str(path), "--out", str(out)]) == 0
    assert "2 runs" in capsys.readouterr().out


def test_default_views_fit_the_runs():
    from types import SimpleNamespace

    from replay.cli.compare import default_views

    def run(task, sources, sizes):
        layers = [SimpleNamespace(name=f"layer{index}", hidden=True, size=size)
                  for index, size in enumerate(sizes)]
        return SimpleNamespace(name="r", path="r.h5", task=task, sources=sources,
                               layers=layers)

    part1 = run("classification", ("train", "grid", "mesh"), [2])
    assert default_views([part1, part1]) == (["feature-space", "decision-boundary"], "layer0")
    regression = run("regression", ("train",), [6])
    assert default_views([regression]) == (["feature-space", "prediction-scatter"], "layer0")
    assert default_views([run("regression", ("train",), [])]) == (["prediction-scatter"], None)
    conv = run("classification", ("train",), [144, 2])
    assert default_views([conv]) == (["feature-space", "probability-histogram"], "layer1")
    # Wide layers of different names: no feature space unless --layer names one.
    other = run("classification", ("train",), [8])
    assert default_views([conv, other]) == (["probability-histogram"], None)
    assert default_views([conv, other], "layer0") == (
        ["feature-space", "probability-histogram"], "layer0")
    assert default_views([regression, conv])[0] == ["loss-and-metric"]


def test_cli_compare_of_a_sweep_wraps_its_rows(tmp_path, capsys):
    """Bug: `replay compare DIR` of a 27-run sweep drew one row 11,340 pixels wide; a grid
    without --ncols now has at most 6 runs a row (--ncols still sets it)."""
    from synthetic import write_part1

    path = tmp_path / "seven.h5"
    for seed in range(7):
        write_part1(path, f"run{seed}", "tanh", epochs=2, n_points=20, mesh_resolution=6,
                    grid_points=6, seed=seed)
    out = tmp_path / "seven.png"
    assert main(["compare", str(path), "--dpi", "20", "--out", str(out)]) == 0
    assert "7 runs" in capsys.readouterr().out
    height, width = iio.imread(out).shape[:2]
    assert width == round(6 * 4.2 * 20) and height == round((2 * 2 * 3.9 + 0.5) * 20)
    assert main(["compare", str(path), "--dpi", "20", "--ncols", "7", "--out", str(out)]) == 0
    assert iio.imread(out).shape[1] == round(7 * 4.2 * 20)
