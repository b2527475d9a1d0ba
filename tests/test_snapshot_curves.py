"""Curves that agree with the picture: the loss and accuracy of the snapshot each frame shows.

The runs here have a history that differs from their snapshots, as Keras'
does (an average over each epoch's batches, in training mode): the curves
must come from the snapshots' per-sample losses and outputs, and Keras'
history stay available as its own, labelled line.
"""

import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from replay import OptionError, Run  # noqa: E402
from replay.compare import ComparisonScene  # noqa: E402
from replay.io import schema  # noqa: E402
from replay.render import Scene  # noqa: E402
from replay.views import LossAndMetric, ProbabilityHistogram  # noqa: E402
from replay.views.curves import history_curve  # noqa: E402
from replay.views.snapshot_curves import snapshot_curves  # noqa: E402

DEEPREPLAY = Path("/work/shared/fixtures/deepreplay/hyperparms_in_action.h5")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def keras_like_file(part1_file, tmp_path_factory):
    """The synthetic part-1 runs with a history that is not the snapshots' state.

    Keras logs the mean over an epoch's batches while the weights move: here
    the logged loss is 30 % higher and the logged accuracy lags a snapshot
    behind, as an epoch average does.
    """
    path = tmp_path_factory.mktemp("keras_like") / "part1.h5"
    shutil.copyfile(part1_file, path)
    with h5py.File(path, "a") as handle:
        for name in ("sigmoid", "relu"):
            history = handle[name][schema.HISTORY]
            history["loss"][...] = history["loss"][()] * 1.3
            accuracy = history["accuracy"][()]
            history["accuracy"][...] = np.r_[0.5, accuracy[:-1]]
    return path


@pytest.fixture
def keras_like_run(keras_like_file):
    with Run(keras_like_file, "sigmoid") as run:
        yield run


def misclassified(run, epoch):
    """How many samples the probability histograms of ``epoch`` draw red."""
    view = ProbabilityHistogram(run)
    probabilities = run.probabilities(epoch)
    _, _, wrong = view._classify(probabilities)
    return int(wrong.sum())


def test_the_loss_curve_is_the_mean_of_each_snapshots_per_sample_losses(keras_like_run):
    run = keras_like_run
    view = LossAndMetric(run)
    expected = [np.mean(run.per_sample_loss(epoch), dtype=np.float64)
                for epoch in range(run.n_snapshots)]
    for epoch in (0, 3, run.n_snapshots - 1):
        view.plot(epoch)
        line = view.lines_["loss"]
        np.testing.assert_array_equal(line.get_xdata(), run.epochs[:epoch + 1])
        np.testing.assert_allclose(line.get_ydata(), expected[:epoch + 1], rtol=1e-12)
        np.testing.assert_allclose(view.markers_["loss"].get_ydata(), [expected[epoch]])
    # ... and not the logged history, which is 30 % higher here.
    assert not np.allclose(view.lines_["loss"].get_ydata()[1:], run.history["loss"])
    assert view.curve_values_ == {"loss": "snapshots", "accuracy": "snapshots"}


def test_the_accuracy_curve_counts_what_the_histograms_count(keras_like_run):
    run = keras_like_run
    view = LossAndMetric(run)
    view.plot(-1)
    n = len(run.labels())
    counted = [1.0 - misclassified(run, epoch) / n for epoch in range(run.n_snapshots)]
    np.testing.assert_allclose(view.lines_["accuracy"].get_ydata(), counted, rtol=1e-12)


@pytest.mark.skipif(not DEEPREPLAY.is_file(), reason=f"{DEEPREPLAY} not present")
def test_deepreplay_epoch_20_shows_the_histograms_accuracy():
    # The histograms count 462 of 2,000 misclassified at epoch 20; Keras logged 74.5 %.
    with Run(DEEPREPLAY) as run:
        assert misclassified(run, 20) == 462
        scene = Scene.part1(run)
        scene.plot(20)
        curves = next(view for view in scene.views if isinstance(view, LossAndMetric))
        assert curves.markers_["accuracy"].get_ydata()[0] == pytest.approx(0.769)
        assert curves.markers_["loss"].get_ydata()[0] == pytest.approx(
            np.mean(run.per_sample_loss(20), dtype=np.float64))
        assert run.history["accuracy"][-1] == pytest.approx(0.746, abs=1e-3)
        assert "at each snapshot" in curves.ax_.get_title()


def test_keras_history_stays_available_and_labelled(keras_like_run):
    run = keras_like_run
    logged = LossAndMetric(run, values="history")
    logged.plot(-1)
    for key in ("loss", "accuracy"):
        epochs, values = history_curve(run, key)
        np.testing.assert_allclose(logged.lines_[key].get_ydata(), values)
        np.testing.assert_array_equal(logged.lines_[key].get_xdata(), epochs)
    assert logged.ax_.get_title() == "Loss and accuracy (Keras log)"

    both = LossAndMetric(run, values="both")
    both.plot(4)
    np.testing.assert_allclose(both.history_lines_["loss"].get_ydata(),
                               history_curve(run, "loss")[1])
    np.testing.assert_allclose(both.lines_["loss"].get_ydata(),
                               snapshot_curves(run).loss[:5])
    assert [text.get_text() for text in both.legend_.get_texts()] == [
        "loss", "accuracy", "Keras log"]
    with pytest.raises(OptionError, match="values must be"):
        LossAndMetric(run, values="logged")


def test_a_run_without_losses_or_outputs_falls_back_to_the_history(keras_like_file, tmp_path):
    path = tmp_path / "weights_only.h5"
    shutil.copyfile(keras_like_file, path)
    with h5py.File(path, "a") as handle:
        del handle["sigmoid"][schema.loss("train")]
        del handle["sigmoid"][schema.outputs("train")]
    with Run(path, "sigmoid") as run:
        view = LossAndMetric(run)
        view.plot(-1)
        assert view.curve_values_ == {"loss": "history", "accuracy": "history"}
        np.testing.assert_allclose(view.lines_["loss"].get_ydata(), run.history["loss"])
        assert view.ax_.get_title() == "Loss and accuracy (Keras log)"


def test_a_run_without_losses_labels_its_history_line(keras_like_file, tmp_path):
    path = tmp_path / "no_losses.h5"
    shutil.copyfile(keras_like_file, path)
    with h5py.File(path, "a") as handle:
        del handle["sigmoid"][schema.loss("train")]
    with Run(path, "sigmoid") as run:
        view = LossAndMetric(run)
        view.plot(-1)
        assert view.curve_values_ == {"loss": "history", "accuracy": "snapshots"}
        assert [text.get_text() for text in view.legend_.get_texts()] == [
            "loss (Keras log)", "accuracy"]


def test_regression_errors_come_from_the_outputs():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(30, 2))
    targets = inputs @ [1.0, -2.0]
    outputs = np.stack([targets[:, None] * scale for scale in (0.0, 0.5, 0.9)])
    run = Run.from_arrays(inputs, targets, outputs=outputs, loss="mse",
                          history={"loss": [9.0, 9.0], "mae": [9.0, 9.0]})
    view = LossAndMetric(run, metric="mae")
    view.plot(-1)
    expected = [np.mean(np.abs(output[:, 0] - targets)) for output in outputs]
    np.testing.assert_allclose(view.lines_["mae"].get_ydata(), expected, rtol=1e-6)
    np.testing.assert_allclose(view.lines_["loss"].get_ydata(),
                               [np.mean((output[:, 0] - targets) ** 2) for output in outputs],
                               rtol=1e-5)


def test_the_snapshots_are_read_once_per_run(keras_like_run, monkeypatch):
    calls = []
    series = Run.series

    def counting(self, name, epochs=None):
        calls.append(name)
        return series(self, name, epochs)

    monkeypatch.setattr(Run, "series", counting)
    first = snapshot_curves(keras_like_run)
    reads = len(calls)
    assert 0 < reads <= 4  # a row to check each dataset, then one chunk each (13 snapshots)
    assert snapshot_curves(keras_like_run) is first
    LossAndMetric(keras_like_run).plot(-1)
    assert len(calls) == reads


def test_a_metric_axis_reaching_one_labels_one(part1_run):
    view = LossAndMetric(part1_run)
    view.plot(-1)
    assert view.lines_["accuracy"].get_ydata().max() == 1.0
    ticks = view.metric_ax_.get_yticks()
    low, high = view.metric_ax_.get_ylim()
    shown = ticks[(ticks >= low) & (ticks <= high)]
    assert shown.max() == pytest.approx(1.0)
    labels = [label.get_text() for label in view.metric_ax_.get_yticklabels()]
    assert "1.0" in labels


def test_a_comparison_grid_draws_one_legend(part1_file):
    runs = [Run(part1_file, "sigmoid"), Run(part1_file, "relu")]
    scene = ComparisonScene.grid(runs, ["feature-space", "decision-boundary",
                                        "loss-and-metric"])
    figure = scene.plot(3)
    assert all(ax.get_legend() is None for ax in figure.axes)
    assert len(figure.legends) == 1 and scene.legend_ is figure.legends[0]
    labels = [text.get_text() for text in scene.legend_.get_texts()]
    assert labels == ["class 0", "class 1", "predicted 0", "predicted 1", "boundary p = 0.5",
                      "pale: p near 0.5", "loss", "accuracy"]
    curves = scene.cells[("sigmoid", "loss-and-metric")]
    assert curves.ax_.get_title() == "loss & accuracy at each snapshot"


def test_the_scenes_and_replay_render_take_values(keras_like_file, tmp_path, capsys):
    from replay.cli import main

    with Run(keras_like_file, "sigmoid") as run:
        for values, title in (("snapshots", "Loss and accuracy at each snapshot"),
                              ("history", "Loss and accuracy (Keras log)")):
            scene = Scene.default(run, values=values)
            scene.plot(3)
            curves = next(view for view in scene.views if isinstance(view, LossAndMetric))
            assert curves.ax_.get_title() == title
    out = tmp_path / "history.png"
    assert main(["render", str(keras_like_file), "--run", "sigmoid", "--values", "history",
                 "--epoch", "3", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
