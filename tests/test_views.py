"""Views: after update(k) the artists hold snapshot k's recorded data."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from replay import EpochOutOfRangeError, LayerNotFoundError, OptionError  # noqa: E402
from replay.io import schema  # noqa: E402
from replay.scene import Scene, default_layer  # noqa: E402
from replay.views import (  # noqa: E402
    DecisionBoundary,
    FeatureSpace,
    LossAndMetric,
    LossHistogram,
    ProbabilityHistogram,
)
from replay.views.regions import filled_regions, region_colors  # noqa: E402
from replay.views.style import ERROR_COLOR, class_color, headroom_limits  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")



def line_points(line):
    return np.column_stack([line.get_xdata(), line.get_ydata()])


def crossings_of_one_half(points, values):
    """Where ``values`` (n_y, n_x) cross 0.5 between neighbours of the mesh ``points``.

    Linear interpolation along every row and column edge of the mesh: the
    points a p = 0.5 contour line must pass through.
    """
    points = np.asarray(points, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    found = []
    for start, end in ((np.s_[:, :-1], np.s_[:, 1:]), (np.s_[:-1, :], np.s_[1:, :])):
        low, high = values[start], values[end]
        crossing = (low - 0.5) * (high - 0.5) < 0
        fraction = ((0.5 - low[crossing]) / (high[crossing] - low[crossing]))[:, None]
        found.append(points[start][crossing]
                     + fraction * (points[end][crossing] - points[start][crossing]))
    return np.concatenate(found)


# -- FeatureSpace -------------------------------------------------------------------


def test_feature_space_points_are_the_recorded_activations(part1_run):
    view = FeatureSpace(part1_run, "hidden")
    labels = part1_run.labels()
    for epoch in (0, 5, 12):
        view.plot(epoch)
        activations = part1_run.activations("hidden", epoch)
        for label, line in view.points_.items():
            np.testing.assert_allclose(line_points(line), activations[labels == label],
                                       rtol=1e-6)
        assert view.epoch_ == epoch


def test_feature_space_grid_and_regions_follow_the_probes(part1_run):
    view = FeatureSpace(part1_run, "hidden")
    view.plot(7)
    grid = part1_run.activations("hidden", 7, source="grid")
    segments = view.grid_lines_.get_segments()
    assert len(segments) == len(grid)
    np.testing.assert_allclose(segments[3], grid[3], rtol=1e-6)
    mesh = part1_run.activations("hidden", 7, source="mesh")
    # The regions are the filled contours of the mesh outputs, carried into
    # the hidden space: inside the bent mesh, in the colours of their bands.
    paths, colors = filled_regions(mesh[..., 0], mesh[..., 1],
                                   part1_run.outputs(7, source="mesh"))
    drawn = view.regions_.get_paths()
    assert len(drawn) == len(paths) > 0
    for path, expected in zip(drawn, paths):
        np.testing.assert_allclose(path.vertices, expected.vertices, rtol=1e-6)
        assert np.all(path.vertices >= mesh.reshape(-1, 2).min(axis=0) - 1e-6)
        assert np.all(path.vertices <= mesh.reshape(-1, 2).max(axis=0) + 1e-6)
    np.testing.assert_allclose(view.regions_.get_facecolor(), colors)
    # The boundary (p = 0.5) is the line between the mesh colours. At epoch 12 the
    # mesh holds both classes, so the line is drawn: through every point where
    # the outputs cross 0.5 between neighbouring mesh points (carried into the
    # hidden space), and through no other point.
    outputs = part1_run.outputs(12, source="mesh")[..., 0]
    assert outputs.min() < 0.5 < outputs.max()
    view.plot(12)
    segments = view.boundary_.get_segments()
    assert segments
    drawn = np.concatenate(segments)
    crossings = crossings_of_one_half(part1_run.activations("hidden", 12, source="mesh"),
                                      outputs)
    assert len(crossings) > 10
    distances = np.linalg.norm(drawn[:, None, :] - crossings[None, :, :], axis=-1)
    assert distances.min(axis=1).max() < 1e-6, "a boundary vertex where p is not 0.5"
    assert distances.min(axis=0).max() < 1e-6, "a crossing of p = 0.5 without boundary"


def test_feature_space_limits_are_fixed_over_the_run(part1_run):
    view = FeatureSpace(part1_run, "hidden", limits="fixed")
    view.plot(0)
    limits = view.ax_.get_xlim(), view.ax_.get_ylim()
    view.plot(12)
    assert (view.ax_.get_xlim(), view.ax_.get_ylim()) == limits
    assert view.blit_safe
    every = part1_run.series("activations/train/hidden")
    assert limits[0][0] <= every[..., 0].min() and every[..., 0].max() <= limits[0][1]
    assert limits[1][0] <= every[..., 1].min() and every[..., 1].max() <= limits[1][1]


def test_feature_space_per_epoch_limits(part1_run):
    view = FeatureSpace(part1_run, "hidden", limits="epoch")
    assert not view.blit_safe
    view.plot(0)
    first = view.ax_.get_xlim()
    view.plot(12)
    assert view.ax_.get_xlim() != first
    points = part1_run.activations("hidden", 12)
    low, high = view.ax_.get_xlim()
    assert low <= points[:, 0].min() and points[:, 0].max() <= high


def test_feature_space_of_a_wide_layer_uses_a_fixed_pca(wide_multiclass_run):
    run = wide_multiclass_run
    view = FeatureSpace(run, "wide")
    mean, components = view.projection_
    last = run.activations("wide", -1)
    np.testing.assert_allclose(mean, last.mean(axis=0), rtol=1e-5)
    view.plot(2)
    projected = (run.activations("wide", 2) - mean) @ components.T
    labels = run.labels()
    for label, line in view.points_.items():
        np.testing.assert_allclose(line_points(line), projected[labels == label], rtol=1e-5,
                                   atol=1e-6)
    assert "PCA" in view.ax_.get_title()


def test_feature_space_errors(part1_run):
    with pytest.raises(LayerNotFoundError, match="hiden"):
        FeatureSpace(part1_run, "hiden")
    with pytest.raises(OptionError, match="limits"):
        FeatureSpace(part1_run, "hidden", limits="tight")
    with pytest.raises(EpochOutOfRangeError, match="0..12"):
        FeatureSpace(part1_run, "hidden").plot(13)


# -- DecisionBoundary ---------------------------------------------------------------


def test_decision_boundary_regions_are_the_mesh_outputs(part1_run):
    view = DecisionBoundary(part1_run)
    for epoch in (0, 12):
        view.plot(epoch)
        expected = region_colors(part1_run.outputs(epoch, source="mesh"))
        np.testing.assert_allclose(view.regions_.get_array(), expected)
    mesh = part1_run.inputs("mesh")
    assert view.ax_.get_xlim() == (mesh[0, 0, 0], mesh[0, -1, 0])


# -- ProbabilityHistogram -----------------------------------------------------------


def test_probability_histogram_heights_are_numpy_histograms(part1_run):
    view = ProbabilityHistogram(part1_run)
    labels = part1_run.labels()
    edges = np.linspace(0, 1, 11)
    for epoch in (0, 6, 12):
        view.plot(epoch)
        probabilities = part1_run.outputs(epoch)[:, 0]
        for label, bars in zip((0, 1), view.bars_):
            expected = np.histogram(probabilities[labels == label], bins=edges)[0]
            np.testing.assert_array_equal(view.counts_[label], expected)
            np.testing.assert_array_equal(bars.heights, expected)
            tops = bars.collection.get_paths()
            assert [path.vertices[:, 1].max() for path in tops] == list(expected)


def test_probability_histogram_wrong_side_is_red(part1_run):
    view = ProbabilityHistogram(part1_run)
    view.plot(3)
    red, blue, orange = (to_rgba(color) for color in
                         (ERROR_COLOR, class_color(0), class_color(1)))
    negatives = [tuple(color) for color in view.bars_[0].collection.get_facecolor()]
    positives = [tuple(color) for color in view.bars_[1].collection.get_facecolor()]
    assert negatives == [blue] * 5 + [red] * 5
    assert positives == [red] * 5 + [orange] * 5
    top = max(view.axes_[0].get_ylim()[1], view.axes_[1].get_ylim()[1])
    every = part1_run.series("outputs/train")[..., 0]
    labels = part1_run.labels()
    largest = max(np.histogram(epoch[labels == label], bins=10, range=(0, 1))[0].max()
                  for epoch in every for label in (0, 1))
    assert largest <= top


def test_probability_histogram_multiclass_uses_predicted_class(wide_multiclass_run):
    run = wide_multiclass_run
    view = ProbabilityHistogram(run)
    view.plot(-1)
    outputs = run.outputs(-1)
    correct = outputs.argmax(axis=1) == run.labels()
    expected = np.histogram(outputs.max(axis=1)[correct], bins=np.linspace(0, 1, 11))[0]
    np.testing.assert_array_equal(view.counts_[0], expected)
    assert view.counts_.sum() == len(outputs)
    assert view.axes_[1].get_title() == "Misclassified"


def test_probability_histogram_tells_the_counts(part1_run, wide_multiclass_run):
    view = ProbabilityHistogram(part1_run)
    view.plot(6)
    probabilities, labels = part1_run.outputs(6)[:, 0], part1_run.labels()
    wrong_negatives = np.sum(probabilities[labels == 0] > 0.5)
    wrong_positives = np.sum(probabilities[labels == 1] <= 0.5)
    assert [text.get_text() for text in view.texts_] == [
        f"{wrong_negatives} of {np.sum(labels == 0)} misclassified",
        f"{wrong_positives} of {np.sum(labels == 1)} misclassified"]
    assert wrong_negatives + wrong_positives > 0
    accuracy = part1_run.history["accuracy"][5]  # the history row of epoch 6
    assert (wrong_negatives + wrong_positives) / len(labels) == pytest.approx(1 - accuracy)

    run = wide_multiclass_run
    view = ProbabilityHistogram(run)
    view.plot(-1)
    correct = int(np.sum(run.outputs(-1).argmax(axis=1) == run.labels()))
    total = len(run.labels())
    assert [text.get_text() for text in view.texts_] == [
        f"{correct} of {total} samples", f"{total - correct} of {total} samples"]


def test_probability_histogram_axes_limits(part1_run, wide_multiclass_run):
    # Binary: negatives and positives share one limit, so the classes compare.
    view = ProbabilityHistogram(part1_run)
    view.plot(0)
    assert view.axes_[0].get_ylim() == view.axes_[1].get_ylim()
    # Multiclass: each axes its own, at the largest bar of its group over the run.
    run = wide_multiclass_run
    view = ProbabilityHistogram(run)
    view.plot(0)
    largest = np.max([view.histograms(outputs) for outputs in run.series("outputs/train")],
                     axis=(0, 2))
    for ax, top in zip(view.axes_, largest):
        # The largest bar, and a band above it for the count note.
        assert ax.get_ylim()[1] == pytest.approx(headroom_limits(0, max(top, 1))[1])


# -- LossHistogram ------------------------------------------------------------------


def test_loss_histogram_heights_are_numpy_histograms(part1_run):
    view = LossHistogram(part1_run)
    labels = part1_run.labels()
    view.plot(0)
    edges = view.edges_.copy()
    every = part1_run.series("loss/train")
    assert edges[0] == 0 and edges[-1] >= every.max()
    for epoch in (0, 12):
        view.plot(epoch)
        np.testing.assert_array_equal(view.edges_, edges)
        losses = part1_run.per_sample_loss(epoch)
        for label in (0, 1):
            expected = np.histogram(losses[labels == label], bins=edges)[0]
            np.testing.assert_array_equal(view.counts_[label], expected)
        # Two classes side by side in each bin (not stacked): both from 0.
        np.testing.assert_array_equal(view.bars_[1].bottoms, 0)
        np.testing.assert_array_equal(view.bars_[1].heights, view.counts_[1])
        assert np.all(view.bars_[0].right <= view.bars_[1].left + 1e-12)
    # Two classes share their colours with the other panels: no legend.
    assert view.ax_.get_legend() is None


def test_loss_histogram_names_the_class_colours_of_many_classes(wide_multiclass_run):
    view = LossHistogram(wide_multiclass_run)
    view.plot(-1)
    legend = view.ax_.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == ["class 0", "class 1", "class 2"]
    colors = [tuple(np.atleast_2d(handle.get_facecolor())[0]) for handle in legend.legend_handles]
    assert colors == [to_rgba(class_color(label)) for label in range(3)]


# -- LossAndMetric ------------------------------------------------------------------


def test_curves_hold_the_history_up_to_the_epoch(part1_run):
    # The history as Keras logged it (values="history"; the default is the
    # snapshots' state, tests/test_snapshot_curves.py).
    view = LossAndMetric(part1_run, values="history")
    history = part1_run.history
    # Epoch 0 (before training) comes from snapshot 0: the mean per-sample
    # loss, and the accuracy of the recorded outputs.
    first_loss = part1_run.per_sample_loss(0).mean()
    first_accuracy = np.mean(part1_run.predicted_labels(0) == part1_run.labels())
    for epoch in (0, 1, 7, 12):
        view.plot(epoch)
        loss, accuracy = view.lines_["loss"], view.lines_["accuracy"]
        np.testing.assert_array_equal(loss.get_xdata(), np.arange(0, epoch + 1))
        np.testing.assert_allclose(loss.get_ydata(), [first_loss, *history["loss"][:epoch]],
                                   rtol=1e-6)
        np.testing.assert_allclose(accuracy.get_ydata(),
                                   [first_accuracy, *history["accuracy"][:epoch]])
    # The metric axis fits the values, with a band above them for the legend.
    low, high = view.metric_ax_.get_ylim()
    values = np.r_[first_accuracy, history["accuracy"]]
    assert low <= values.min() and low >= 0.0
    assert values.max() <= low + (high - low) * 0.85
    assert high - low < 1.0 or values.min() == 0
    assert view.ax_.get_xlim() == (0.0, 12.0)


def test_curves_unknown_metric_lists_the_recorded_ones(part1_run):
    with pytest.raises(OptionError, match="no metric 'auc'.*accuracy"):
        LossAndMetric(part1_run, metric="auc")


# -- all views ----------------------------------------------------------------------


def drew_wide_feature_space(view, run, epoch):
    mean, components = view.projection_
    projected = (run.activations("wide", epoch) - mean) @ components.T
    labels = run.labels()
    assert sorted(view.points_) == [0, 1, 2]
    for label, line in view.points_.items():
        np.testing.assert_allclose(line_points(line), projected[labels == label], rtol=1e-5,
                                   atol=1e-6)
    mesh = (run.activations("wide", epoch, source="mesh") - mean) @ components.T
    np.testing.assert_allclose(view.regions_.get_coordinates(), mesh, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        view.regions_.get_facecolor(),
        region_colors(run.outputs(epoch, source="mesh"), cells=True).reshape(-1, 4))
    segments = view.grid_lines_.get_segments()
    grid = (run.activations("wide", epoch, source="grid") - mean) @ components.T
    assert len(segments) == len(grid)
    np.testing.assert_allclose(segments[5], grid[5], rtol=1e-5, atol=1e-6)
    assert view.boundary_.get_segments() == []  # p = 0.5 lines are for binary models


def drew_decision_boundary(view, run, epoch):
    colors = region_colors(run.outputs(epoch, source="mesh"))
    np.testing.assert_allclose(view.regions_.get_array(), colors)
    assert len(np.unique(colors.reshape(-1, 4), axis=0)) == 3  # a region per class
    inputs, labels = run.inputs(), run.labels()
    samples = [line for line in view.ax_.lines if line.get_linestyle() == "None"]
    assert len(samples) == 3
    for label, line in enumerate(samples):
        np.testing.assert_array_equal(line_points(line), inputs[labels == label])
    assert view.boundary_.get_segments() == []


def drew_probability_histogram(view, run, epoch):
    outputs = run.outputs(epoch)
    correct = outputs.argmax(axis=1) == run.labels()
    assert 0 < np.sum(~correct) < len(correct)  # both panels have bars
    for index, group in enumerate((correct, ~correct)):
        expected = np.histogram(outputs.max(axis=1)[group], bins=np.linspace(0, 1, 11))[0]
        np.testing.assert_array_equal(view.counts_[index], expected)
        tops = [path.vertices[:, 1].max() for path in view.bars_[index].collection.get_paths()]
        assert tops == list(expected)


def drew_loss_histogram(view, run, epoch):
    losses, labels = run.per_sample_loss(epoch), run.labels()
    bottoms = np.zeros(len(view.edges_) - 1)
    assert len(view.bars_) == 3
    for label, bars in enumerate(view.bars_):  # stacked in class order
        expected = np.histogram(losses[labels == label], bins=view.edges_)[0]
        np.testing.assert_array_equal(bars.heights, expected)
        np.testing.assert_array_equal(bars.bottoms, bottoms)
        bottoms = bottoms + expected
    assert bottoms.sum() == len(losses)


def drew_loss_and_metric(view, run, epoch):
    for key in ("loss", "accuracy"):
        x, y = view.lines_[key].get_data()
        np.testing.assert_array_equal(x, np.arange(0, epoch + 1))  # epoch 0 from snapshot 0
        np.testing.assert_allclose(y[1:], run.history[key][:epoch])
    assert view.lines_["accuracy"].axes is view.metric_ax_


@pytest.mark.parametrize("make, drew", [
    (lambda run: FeatureSpace(run, "wide"), drew_wide_feature_space),
    (DecisionBoundary, drew_decision_boundary),
    (ProbabilityHistogram, drew_probability_histogram),
    (LossHistogram, drew_loss_histogram),
    (LossAndMetric, drew_loss_and_metric),
], ids=["feature-space", "decision-boundary", "probability-histogram", "loss-histogram",
        "loss-and-metric"])
def test_every_view_draws_a_multiclass_run(wide_multiclass_run, make, drew):
    view = make(wide_multiclass_run)
    figure = view.plot(2)
    figure.canvas.draw()
    assert figure._suptitle.get_text() == "Epoch 2"
    drew(view, wide_multiclass_run, 2)


def test_view_draws_into_a_given_axes(part1_run):
    figure, axes = plt.subplots(1, 3)
    LossAndMetric(part1_run).plot(4, ax=axes[0])
    view = ProbabilityHistogram(part1_run, ax=list(axes[1:]))
    assert view.plot(4) is figure
    assert view.axes_ == list(axes[1:])
    with pytest.raises(OptionError, match="2 axes"):
        ProbabilityHistogram(part1_run).attach(axes[0])


def test_view_animate_returns_a_funcanimation(part1_run):
    animation = LossHistogram(part1_run).animate("0:3")
    assert isinstance(animation, FuncAnimation)
    assert "<script" in animation.to_jshtml()


def test_standalone_view_shows_the_epoch(part1_run):
    figure = DecisionBoundary(part1_run).plot(5)
    assert figure._suptitle.get_text() == "Epoch 5"


def test_default_layer(part1_run, wide_multiclass_run):
    assert default_layer(part1_run) == "hidden"
    with pytest.raises(LayerNotFoundError, match=r"wide \(3 units\)"):
        default_layer(wide_multiclass_run)
    with pytest.raises(LayerNotFoundError, match="layer="):
        Scene.part1(wide_multiclass_run)
    assert len(Scene.part1(wide_multiclass_run, layer="wide").plot(3).axes) == 6


def test_snapshot_reader_reads_ahead_and_follows_the_step(part1_run):
    from replay.views.reader import SnapshotReader

    reader = SnapshotReader(part1_run, chunk_size=4)
    every = part1_run.series("outputs/mesh")
    for epochs in ([0, 1, 2, 3, 4, 5, 12], [0, 3, 6, 9, 12], [12, 5, 0, 7], [-1, -13]):
        for epoch in epochs:
            np.testing.assert_array_equal(reader.read("outputs/mesh", epoch), every[epoch])
    for epoch in (0, 3, 6):  # 0 reads 0..3; 3 is read; 6 reads every third ahead
        reader.read("loss/train", epoch)
    assert sorted(reader._chunks["loss/train"][0]) == [6, 9, 12]
    with pytest.raises(EpochOutOfRangeError):
        reader.read("outputs/mesh", 13)


def test_epoch_selections_say_what_is_wrong_with_what_was_given(part1_run):
    from replay.views import resolve_epochs

    assert resolve_epochs(part1_run, "::5") == [0, 5, 10, 12]  # ends on the final snapshot
    with pytest.raises(OptionError, match=r"epochs '::0': the step cannot be 0"):
        resolve_epochs(part1_run, "::0")
    with pytest.raises(OptionError, match=r"selection slice\(None, None, 0\) has a step of 0"):
        resolve_epochs(part1_run, slice(None, None, 0))
    with pytest.raises(OptionError, match=r"selection '200:300' selects no snapshot of run "
                                          r"'sigmoid': it holds snapshots 0\.\.12"):
        resolve_epochs(part1_run, "200:300")
    with pytest.raises(EpochOutOfRangeError, match=r"Epoch -500 is out of range.*down to -13"):
        LossHistogram(part1_run).plot(-500)


def test_grouped_counts_count_as_numpy_histogram():
    from replay.views.ranges import grouped_counts

    rng = np.random.default_rng(0)
    values = rng.random((5, 300))
    values[0, :3] = [0.0, 1.0, np.nan]  # both ends, NaN
    values[1, :2] = [1.5, -0.1]  # outside
    groups = rng.integers(0, 3, (5, 300))
    groups[2, 0] = -1  # in no group
    edges = np.linspace(0.0, 1.0, 11)
    expected = [[np.histogram(values[row][groups[row] == group], edges)[0]
                 for group in range(3)] for row in range(5)]
    np.testing.assert_array_equal(grouped_counts(values, groups, edges, 3), expected)


def test_histogram_limits_read_in_chunks_equal_snapshot_by_snapshot(part1_run,
                                                                   wide_multiclass_run):
    from replay.views.ranges import max_count

    for run in (part1_run, wide_multiclass_run):
        view = ProbabilityHistogram(run)
        np.testing.assert_array_equal(
            max_count(run, schema.outputs("train"), view.histograms_of_snapshots,
                      per_row=True, batched=True),
            max_count(run, schema.outputs("train"), view.histograms, per_row=True))
        losses = LossHistogram(run)
        assert max_count(run, schema.loss("train"), losses._tallest_of_snapshots,
                         batched=True) == max_count(
            run, schema.loss("train"),
            lambda loss, view=losses: (view.histograms(loss).sum(axis=0) if view.stacked
                                       else view.histograms(loss).max(axis=0)))


def test_probability_histogram_of_logits_draws_each_probability_once(wide_multiclass_file,
                                                                      tmp_path):
    # A run whose loss took logits: its outputs become probabilities once
    # (softmax), for the bars as for the run-wide limits. Before, the bars
    # took softmax of the probabilities again: all of them near 1/3.
    import shutil

    import h5py

    from replay import Run

    path = tmp_path / "logits.h5"
    shutil.copy(wide_multiclass_file, path)
    with h5py.File(path, "a") as handle:
        handle["softmax"].attrs["from_logits"] = True
    with Run(path, "softmax") as run:
        assert run.outputs_are_logits
        view = ProbabilityHistogram(run)
        view.plot(-1)
        probabilities = run.probabilities(-1)
        shown = probabilities.max(axis=1)
        wrong = probabilities.argmax(axis=1) != run.labels()
        expected = [np.histogram(shown[wrong == side], bins=view.edges_)[0] for side in (0, 1)]
        np.testing.assert_array_equal(view.counts_, expected)
        # The bars stay within the run-wide limits.
        from replay.views.ranges import max_count

        tops = max_count(run, schema.outputs("train"), view.histograms, per_row=True)
        assert (view.counts_.max(axis=1) <= tops).all()
