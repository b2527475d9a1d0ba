"""LayerViolins, ParameterUpdates and Scene.part2: the drawn data is the recorded data."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from replay import LayerNotFoundError, OptionError, Run
from replay.model_config import describe_initializer
from replay.scene import Scene
from replay.views.layer_violins import LayerViolins, violin_outline
from replay.views.parameter_updates import ParameterUpdates


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def small_run(small_softmax_file):
    """A 2 → 2 (tanh, 'hidden') → 4 (softmax, 'output') net, 5 epochs, RandomNormal(0.01) kernels."""
    with Run(small_softmax_file, "small") as run:
        yield run


# -- LayerViolins --------------------------------------------------------------


@pytest.mark.parametrize("quantity, path", [
    ("activations", "activations/train/hidden"),
    ("preactivations", "preactivations/train/hidden"),
    ("z", "preactivations/train/hidden"),
    ("weights", "weights/hidden/kernel"),
    ("gradients", "gradients/hidden/kernel"),
])
def test_violin_data_and_std_equal_the_recorded_arrays(part1_run, quantity, path):
    violins = LayerViolins(part1_run, quantity)
    assert violins.labels == ["hidden"]
    recorded = part1_run.series(path)
    for epoch in (0, 5, part1_run.n_snapshots - 1):
        (values,) = violins.values(epoch)
        np.testing.assert_array_equal(values, recorded[epoch].ravel())
    stds = violins.std_per_layer()
    assert stds.shape == (part1_run.n_snapshots, 1)
    expected = recorded.reshape(len(recorded), -1).astype(np.float64).std(axis=1)
    np.testing.assert_allclose(stds[:, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(violins.std_per_layer([0, 3])[:, 0], expected[[0, 3]], rtol=1e-6)


def test_violins_one_per_layer_with_inputs_first(small_run):
    violins = LayerViolins(small_run, "activations", layers=["hidden", "output"],
                           include_inputs=True)
    assert violins.labels == ["inputs", "hidden", "output"]
    values = violins.values(2)
    np.testing.assert_array_equal(values[0], small_run.inputs("train").ravel())
    np.testing.assert_array_equal(values[1], small_run.activations("hidden", 2).ravel())
    np.testing.assert_array_equal(values[2], small_run.outputs(2).ravel())
    stds = violins.std_per_layer()
    assert stds.shape == (small_run.n_snapshots, 3)
    np.testing.assert_allclose(stds[:, 0], small_run.inputs("train").std(), rtol=1e-6)


def test_weight_violins_of_every_layer_and_pooled_weights(small_run):
    violins = LayerViolins(small_run, "weights", layers=["hidden", "output"])
    np.testing.assert_array_equal(violins.values(1)[1],
                                  small_run.weights("output", 1)["kernel"].ravel())
    pooled = LayerViolins(small_run, "gradients", layers=["output"], weight=None)
    gradients = small_run.gradients("output", 3)
    np.testing.assert_array_equal(
        pooled.values(3)[0], np.concatenate([gradients["kernel"].ravel(), gradients["bias"]]))


def test_violins_are_drawn_and_animated_by_moving_vertices(small_run):
    violins = LayerViolins(small_run, "weights", layers=["hidden", "output"])
    violins.plot(0)
    body = violins.bodies_[1]
    first = body.get_xy().copy()
    data = small_run.weights("output", 0)["kernel"].ravel()
    assert first[:, 1].min() == pytest.approx(data.min(), abs=1e-6)
    assert first[:, 1].max() == pytest.approx(data.max(), abs=1e-6)
    assert np.all(np.abs(first[:, 0] - 1) <= 0.4 + 1e-9)  # centred on x = 1, 0.8 wide
    artists = violins.update(small_run.n_snapshots - 1)
    assert body in artists and violins.bodies_[1] is body  # same artist, new vertices
    assert not np.allclose(body.get_xy(), first)
    np.testing.assert_allclose(
        violins.std_,
        [small_run.weights(name, -1)["kernel"].std() for name in ("hidden", "output")],
        rtol=1e-5)
    assert violins.std_texts_[0].get_text().startswith("\u03c3=")


def test_bounded_activations_get_their_range_and_ylim_options(part1_run):
    low, high = LayerViolins(part1_run, "activations").plot(0).axes[0].get_ylim()
    assert -0.1 < low < 0.0 < 1.0 < high < 1.3  # sigmoid: [0, 1], a band for σ
    frame = LayerViolins(part1_run, "weights", ylim="frame")
    assert not frame.blit_safe
    fixed = LayerViolins(part1_run, "weights", ylim=(-3, 3))
    assert fixed.blit_safe and fixed.plot(0).axes[0].get_ylim() == (-3, 3)


def test_violin_outline_of_equal_values_is_a_flat_line():
    outline = violin_outline(np.full(50, 0.5), 2.0)
    assert np.all(outline[:, 1] == 0.5)
    assert outline[:, 0].min() == pytest.approx(1.6) and outline[:, 0].max() == pytest.approx(2.4)


def test_violin_errors_say_what_to_change(part1_run, tmp_path):
    with pytest.raises(OptionError, match="quantity must be"):
        LayerViolins(part1_run, "biases")
    with pytest.raises(OptionError, match="include_inputs"):
        LayerViolins(part1_run, "weights", include_inputs=True)
    with pytest.raises(LayerNotFoundError, match="z-values"):
        LayerViolins(part1_run, "z", layers=["output"])
    with pytest.raises(OptionError, match="weight=None"):
        LayerViolins(part1_run, "weights", weight="gamma")
    with pytest.raises(LayerNotFoundError, match="No layer 'nope'"):
        LayerViolins(part1_run, "weights", layers=["nope"])

    import synthetic

    path = synthetic.write_part1(tmp_path / "off.h5", "off", epochs=0, n_points=20,
                                 gradients=False, probes=False)
    with Run(path, "off") as run, pytest.raises(LayerNotFoundError, match="gradients=True"):
        LayerViolins(run, "gradients")


# -- ParameterUpdates ----------------------------------------------------------


def test_parameter_updates_one_panel_per_parameter_in_order(small_run):
    view = ParameterUpdates(small_run)
    assert len(view.labels) == 18  # 2 x 2 + 2 hidden, 2 x 4 + 4 output
    assert view.labels[:6] == ["hidden w[0,0]", "hidden w[0,1]", "hidden w[1,0]",
                               "hidden w[1,1]", "hidden b[0]", "hidden b[1]"]
    assert view.labels[6:10] == ["output w[0,0]", "output w[0,1]", "output w[0,2]",
                                 "output w[0,3]"]
    assert view.labels[14:] == [f"output b[{unit}]" for unit in range(4)]
    assert view.updates_.shape == (small_run.n_snapshots - 1, 18)


def test_parameter_update_panels_hold_differences_of_recorded_weights(small_run):
    view = ParameterUpdates(small_run)
    view.plot(0)
    hidden = small_run.series("weights/hidden/kernel")
    output_bias = small_run.series("weights/output/bias")
    expected_w01 = np.diff(hidden[:, 0, 1].astype(np.float64))
    expected_b2 = np.diff(output_bias[:, 2].astype(np.float64))
    np.testing.assert_allclose(view.updates_[:, 1], expected_w01)
    np.testing.assert_allclose(view.updates_[:, 16], expected_b2)
    np.testing.assert_allclose(view.lines_[1].get_ydata(), expected_w01)
    np.testing.assert_allclose(view.lines_[1].get_xdata(), small_run.epochs[1:])
    assert len(view.axes_) == 18 and view.axes_[16].get_title() == "output b[2]"


def test_parameter_updates_mark_the_current_epoch(small_run):
    view = ParameterUpdates(small_run)
    view.plot(0)
    assert len(view.markers_[0].get_xdata()) == 0  # no update before training
    artists = view.update(3)
    assert view.markers_[5] in artists
    np.testing.assert_allclose(view.markers_[5].get_xdata(), [small_run.epochs[3]])
    np.testing.assert_allclose(view.markers_[5].get_ydata(), [view.updates_[2, 5]])
    np.testing.assert_allclose(view.cursors_[0].get_xdata(), [small_run.epochs[3]] * 2)


def test_parameter_updates_select_layers_or_cap_panels(small_run, monkeypatch):
    assert len(ParameterUpdates(small_run, layers="output").labels) == 12
    capped = ParameterUpdates(small_run, max_panels=5)
    assert capped.labels == ParameterUpdates(small_run).labels[:5]
    capped.plot(-1)
    assert "first 5 of 18" in capped.figure_._suptitle.get_text()
    import replay.views.parameter_updates as module

    monkeypatch.setattr(module, "DEFAULT_MAX_PANELS", 10)
    with pytest.raises(OptionError, match=r"18 parameters.*layers=\[\.\.\.\].*max_panels=N"):
        ParameterUpdates(small_run)
    with pytest.raises(OptionError, match="max_panels must be"):
        ParameterUpdates(small_run, max_panels=0)


# -- Scene.part2 -----------------------------------------------------------------


def test_part2_scene_has_four_violin_panels_and_names_the_initializer(small_run):
    scene = Scene.part2(small_run)
    quantities = [view.quantity for view in scene.views]
    assert quantities == ["preactivations", "weights", "activations", "gradients"]
    assert scene.title_prefix == "tanh + RandomNormal(\u03c3=0.01)"
    figure = scene.plot(0)
    assert len(figure.axes) == 4
    assert describe_initializer(small_run, "output") == "GlorotUniform"


def _shown_xtick_labels(ax):
    """The x tick labels drawn: visible, with text, at a tick inside the x limits.

    The locator also returns ticks just outside the limits (e.g. 6 on an axis
    0..5); matplotlib does not draw those. Draw the figure first.
    """
    low, high = sorted(ax.get_xlim())
    return [label.get_text() for tick, label in zip(ax.get_xticks(), ax.get_xticklabels())
            if low <= tick <= high and label.get_visible() and label.get_text()]


@pytest.mark.parametrize("max_panels, ncols", [(9, None), (18, 4), (5, 2)])
def test_parameter_updates_last_panel_of_each_column_has_epoch_ticks(small_run, max_panels,
                                                                     ncols):
    # A part-filled grid: panels above an empty spot end their column and must
    # carry the epoch tick labels, not only the "epoch" label.
    view = ParameterUpdates(small_run, max_panels=max_panels, ncols=ncols)
    view.plot(-1).canvas.draw()  # once: a draw of 18 panels takes most of a second
    last_of_column = {column % view.ncols: column for column in range(view.n_axes)}
    for column, ax in enumerate(view.axes_):
        shown = _shown_xtick_labels(ax)
        if column in last_of_column.values():
            assert ax.get_xlabel() == "epoch"
            assert shown, f"panel {view.labels[column]!r} has no x tick labels"
            epochs = [float(text.replace("\u2212", "-")) for text in shown]
            assert 0 <= min(epochs) and max(epochs) <= small_run.epochs[-1]
        else:
            assert not shown and ax.get_xlabel() == ""
