"""The visual style: colour roles, legends, notes that never cover data, limits, epoch 0."""

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex, to_rgb, to_rgba  # noqa: E402

from replay import OptionError, Run  # noqa: E402
from replay.compare import OverlaidCurves  # noqa: E402
from replay.io import schema  # noqa: E402
from replay.render import Scene  # noqa: E402
from replay.views import (  # noqa: E402
    DecisionBoundary,
    FeatureSpace,
    LayerViolins,
    LossAndMetric,
    LossHistogram,
    ProbabilityHistogram,
)
from replay.views.histograms import SmallBarMarks  # noqa: E402
from replay.views.regions import (  # noqa: E402
    check_region_style,
    filled_regions,
    region_colors,
    region_table,
)
from replay.views.style import (  # noqa: E402
    BOUNDARY_COLOR,
    CLASS_COLORS,
    ERROR_COLOR,
    FONT_FLOOR,
    HEADROOM,
    RUN_COLORS,
    RUN_MARKERS,
    class_color,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")



def display_box(artist):
    figure = artist.figure
    return artist.get_window_extent(figure.canvas.get_renderer())


# -- colour roles ------------------------------------------------------------------

#: Machado, Oliveira & Fernandes (2009) colour-vision-deficiency matrices, severity 1,
#: on linear RGB.
DEFICIENCIES = {
    "normal": np.eye(3),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def seen_as_lab(color, deficiency):
    """CIELAB of ``color`` as seen with ``deficiency`` (sRGB → linear → matrix → XYZ → Lab)."""
    rgb = np.asarray(to_rgb(color))
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    linear = np.clip(DEFICIENCIES[deficiency] @ linear, 0.0, 1.0)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def distance(first, second, deficiency):
    return float(np.linalg.norm(seen_as_lab(first, deficiency) - seen_as_lab(second, deficiency)))


def test_run_colours_are_not_class_colours_and_stay_apart_for_colour_blind_eyes():
    runs = {color.lower() for color in RUN_COLORS}
    assert len(runs) == len(RUN_COLORS) == len(RUN_MARKERS) == len(set(RUN_MARKERS))
    assert not runs & {color.lower() for color in CLASS_COLORS}
    assert not runs & {ERROR_COLOR.lower(), BOUNDARY_COLOR.lower()}
    for deficiency in DEFICIENCIES:
        # Far from the two classes every binary view shows...
        for run, label in itertools.product(RUN_COLORS, (0, 1)):
            assert distance(run, class_color(label), deficiency) > 13, (run, deficiency)
        # ... and from each other.
        for first, second in itertools.combinations(RUN_COLORS, 2):
            assert distance(first, second, deficiency) > 11, (first, second, deficiency)
    # The classes themselves: blue and orange apart for everyone.
    for deficiency in DEFICIENCIES:
        assert distance(class_color(0), class_color(1), deficiency) > 30


def test_overlaid_curves_wear_run_colours_and_markers(part1_file):
    runs = [Run(part1_file, "sigmoid"), Run(part1_file, "relu")]
    view = OverlaidCurves(runs, "loss")
    view.plot(5)
    for index, run in enumerate(runs):
        line = view.lines_[(run.name, "loss")]
        assert to_hex(line.get_color()) == RUN_COLORS[index].lower()
        assert line.get_marker() == RUN_MARKERS[index]
        assert line.get_markevery() == [-1]  # the marker sits at the current epoch


# -- regions and boundaries ----------------------------------------------------------


def test_regions_stay_visible_at_one_half_and_the_hard_cut_has_two_colours():
    outputs = np.array([0.0, 0.499, 0.501, 1.0])[None, :, None]
    soft = region_colors(outputs)[0]
    white = np.ones(4)
    # Both sides of p = 0.5 are tinted (not white), the unsure side lighter.
    assert np.all(np.abs(soft[1] - white).max() > 0.05)
    assert np.all(np.abs(soft[2] - white).max() > 0.05)
    assert soft[1][2] > soft[1][0]  # blue-ish: class 0
    assert soft[2][0] > soft[2][2]  # orange-ish: class 1
    hard = region_colors(outputs, style="hard")[0]
    np.testing.assert_allclose(hard[0], hard[1])
    np.testing.assert_allclose(hard[2], hard[3])
    assert not np.allclose(hard[1], hard[2])
    assert len(np.unique(region_table(0.35, "hard")[:-1], axis=0)) == 2
    with pytest.raises(OptionError, match="regions must be"):
        check_region_style("soft")


def test_boundary_is_smooth_not_on_the_mesh_cell_grid(part1_run):
    view = DecisionBoundary(part1_run)
    view.plot(12)
    mesh = part1_run.inputs("mesh")
    xs, ys = mesh[0, :, 0], mesh[:, 0, 1]
    vertices = np.concatenate(view.boundary_.get_segments())
    assert len(vertices) > 10
    # Interpolated within the cells: most vertices lie between mesh lines,
    # on neither a mesh column nor a mesh row (a staircase would lie on both).
    on_column = np.isclose(vertices[:, 0][:, None], xs[None, :], atol=1e-9).any(axis=1)
    on_row = np.isclose(vertices[:, 1][:, None], ys[None, :], atol=1e-9).any(axis=1)
    assert not np.any(on_column & on_row)
    steps = np.diff(vertices, axis=0)
    # Not axis-aligned steps only: the line has slanted pieces.
    assert np.mean((np.abs(steps) > 1e-9).all(axis=1)) > 0.5


def test_feature_space_regions_are_filled_contours_with_a_hard_option(part1_run):
    soft = FeatureSpace(part1_run, "hidden")
    soft.plot(12)
    hard = FeatureSpace(part1_run, "hidden", regions="hard")
    hard.plot(12)
    # The hard cut: two flat colours; the soft one: bands of sureness.
    assert len(np.unique(hard.regions_.get_facecolor(), axis=0)) == 2
    assert len(np.unique(soft.regions_.get_facecolor(), axis=0)) > 2
    mesh = part1_run.activations("hidden", 12, source="mesh")
    paths, _ = filled_regions(mesh[..., 0], mesh[..., 1], part1_run.outputs(12, source="mesh"),
                              style="hard")
    assert len(hard.regions_.get_paths()) == len(paths)
    with pytest.raises(OptionError, match="regions must be"):
        FeatureSpace(part1_run, "hidden", regions="soft")


# -- legends -----------------------------------------------------------------------------


def test_feature_space_legend_names_classes_boundary_and_shading(part1_run):
    view = FeatureSpace(part1_run, "hidden")
    view.plot(6)
    legend = view.legend_
    texts = [text.get_text() for text in legend.get_texts()]
    # Two columns: class 0, predicted 0, boundary | class 1, predicted 1, pale.
    assert texts == ["class 0", "predicted 0", "boundary p = 0.5",
                     "class 1", "predicted 1", "pale: p near 0.5"]
    handles = dict(zip(texts, legend.legend_handles))
    assert to_hex(handles["class 0"].get_color()) == class_color(0).lower()
    assert to_hex(handles["class 1"].get_color()) == class_color(1).lower()
    assert to_hex(handles["boundary p = 0.5"].get_color()) == BOUNDARY_COLOR.lower()
    # The region patches wear the regions' colours: strongest, and at p = 0.5.
    table = region_table(0.35, "probability")
    np.testing.assert_allclose(handles["predicted 0"].get_facecolor(), table[0])
    np.testing.assert_allclose(handles["predicted 1"].get_facecolor(), table[-2])
    # Below the axes: it covers no data.
    figure = view.figure_
    figure.canvas.draw()
    assert display_box(legend).y1 <= display_box(view.ax_).y0


def test_decision_boundary_legend(part1_run):
    view = DecisionBoundary(part1_run, regions="hard")
    view.plot(6)
    texts = [text.get_text() for text in view.legend_.get_texts()]
    assert texts == ["class 0", "predicted 0", "boundary p = 0.5", "class 1", "predicted 1", " "]


def test_loss_and_metric_legend_is_above_the_curves(part1_run):
    view = LossAndMetric(part1_run)
    figure = view.plot(12)
    assert [text.get_text() for text in view.legend_.get_texts()] == ["loss", "accuracy"]
    figure.canvas.draw()
    legend = display_box(view.legend_)
    for key in ("loss", "accuracy"):
        line = view.lines_[key]
        points = line.get_transform().transform(np.column_stack(line.get_data()))
        assert np.all(points[:, 1] < legend.y0), key


# -- notes never cover data -------------------------------------------------------------


def test_count_note_and_threshold_line_stay_clear_of_the_bars(part1_run):
    view = ProbabilityHistogram(part1_run)
    # Epoch 0: one class is all in one bin, the tallest bar of the run.
    figure = view.plot(0)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    for ax, bars, text in zip(view.axes_, view.bars_, view.texts_):
        note = text.get_window_extent(renderer)
        for path in bars.collection.get_paths():
            box = path.transformed(ax.transData).get_extents()
            if box.height > 0:
                assert not note.overlaps(box), text.get_text()
        (threshold,) = [line for line in ax.lines if line.get_linestyle() == "--"]
        top = ax.transAxes.transform((0, threshold.get_ydata()[1]))[1]
        assert top <= note.y0 + 0.5
        assert threshold.get_ydata()[1] == pytest.approx(1 - HEADROOM)


def test_small_bars_get_a_mark():
    figure, ax = plt.subplots()
    ax.set_ylim(0, 1200)
    marks = SmallBarMarks(ax, np.array([0.05, 0.15, 0.25, 0.35]))
    line = marks.update([0, 2, 900, 20])
    np.testing.assert_allclose(line.get_xdata(), [0.15, 0.35])
    assert np.all(line.get_ydata() > [2, 20])


def test_misclassified_handful_is_marked(wide_multiclass_run):
    view = ProbabilityHistogram(wide_multiclass_run)
    view.plot(-1)
    counts = view.counts_[1]
    low, high = view.axes_[1].get_ylim()
    small = (counts > 0) & (counts < 0.025 * (high - low))
    assert len(view.marks_[1].line.get_xdata()) == np.count_nonzero(small)


# -- limits --------------------------------------------------------------------------------


def test_loss_histogram_axis_fits_the_larger_class_not_the_sum(part1_run):
    view = LossHistogram(part1_run)
    view.plot(0)
    per_class = max(view.histograms(losses).max()
                    for losses in part1_run.series(schema.loss("train")))
    top = view.ax_.get_ylim()[1]
    assert per_class <= top * (1 - HEADROOM) + 1e-9
    assert top <= 1.3 * per_class
    assert top < len(part1_run.labels())  # not the 2 × 1,000 of a stacked pair


def test_feature_space_keeps_the_whole_bent_grid_in_view(part1_run):
    view = FeatureSpace(part1_run, "hidden", limits="fixed")
    view.plot(0)
    (x0, x1), (y0, y1) = view.ax_.get_xlim(), view.ax_.get_ylim()
    grid = part1_run.series(schema.activations("grid", "hidden")).reshape(-1, 2)
    samples = part1_run.series(schema.activations("train", "hidden")).reshape(-1, 2)
    both = np.concatenate([grid, samples])
    assert x0 < both[:, 0].min() and both[:, 0].max() < x1
    assert y0 < both[:, 1].min() and both[:, 1].max() < y1
    # ... without wasting the panel: 5 % of the span on each side.
    span = both[:, 0].max() - both[:, 0].min()
    assert (x1 - x0) == pytest.approx(1.1 * span)


def test_metric_axis_fits_its_values_or_spans_zero_to_one(part1_run):
    fit = LossAndMetric(part1_run)
    fit.plot(12)
    unit = LossAndMetric(part1_run, y_range="unit")
    unit.plot(12)
    values = fit.curves_["accuracy"][1]
    low, high = fit.metric_ax_.get_ylim()
    assert 0 <= low <= values.min() and values.max() < low + (high - low) * (1 - HEADROOM) + 1e-9
    low, high = unit.metric_ax_.get_ylim()
    assert low == 0.0 and high > 1.0  # 1.0 below the band: off the frame
    assert max(unit.metric_ax_.get_yticks()) <= 1.0 + 1e-9  # no ticks in the band
    with pytest.raises(OptionError, match="y_range"):
        LossAndMetric(part1_run, y_range="tight")


def test_logit_axis_spreads_accuracies_near_one(part1_file):
    runs = [Run(part1_file, "sigmoid"), Run(part1_file, "relu")]
    view = OverlaidCurves(runs, "accuracy", yscale="logit")
    view.plot(-1)
    # The part-1 accuracies reach 1.0: no logit for them, a linear axis.
    assert view.yscale_ == "linear"


# -- loss and metric from epoch 0 ----------------------------------------------------------


def test_loss_and_metric_start_at_epoch_zero_with_a_marker(part1_run):
    view = LossAndMetric(part1_run)
    view.plot(5)
    x, y = view.lines_["loss"].get_data()
    assert x[0] == 0
    assert y[0] == pytest.approx(float(np.mean(part1_run.per_sample_loss(0))))
    x, y = view.lines_["accuracy"].get_data()
    assert y[0] == pytest.approx(np.mean(part1_run.predicted_labels(0) == part1_run.labels()))
    for key in ("loss", "accuracy"):
        mx, my = view.markers_[key].get_data()
        assert list(mx) == [5.0]
        assert my[0] == view.lines_[key].get_ydata()[-1]


# -- legibility ----------------------------------------------------------------------------


def test_every_text_of_the_part1_figure_is_at_least_the_font_floor(part1_run):
    figure = Scene.part1(part1_run).plot(6)
    sizes = [text.get_fontsize() for text in figure.findobj(matplotlib.text.Text)
             if text.get_text().strip() and text.get_visible()]
    assert sizes and min(sizes) >= FONT_FLOOR


def test_loss_label_is_not_clipped_and_names_the_loss_readably(part1_run):
    figure = Scene.part1(part1_run).plot(6)
    figure.canvas.draw()
    label = [ax.xaxis.label for ax in figure.axes if "crossentropy" in ax.get_xlabel()]
    assert label and "_" not in label[0].get_text()
    assert display_box(label[0]).x1 <= figure.bbox.x1


def test_violins_explain_their_marks(part1_run):
    view = LayerViolins(part1_run, "activations")
    view.plot(0)
    assert view.ax_.get_ylabel() == "activation"
    assert "white dot: mean" in view.ax_.get_xlabel()
    assert view.std_texts_[0].get_fontsize() >= FONT_FLOOR
    from replay.views.layer_violins import std_label
    assert [std_label(value) for value in (0.0312, 1.6e-11, 2.0, 0.0)] == [
        "\u03c3=0.031", "\u03c3=2e-11", "\u03c3=2", "\u03c3=0"]


def test_a_still_picture_of_a_whole_history_chart_has_no_epoch_title(part1_run):
    view = LossAndMetric(part1_run)
    figure = view.plot(-1)
    assert figure._suptitle.get_text() == ""
    view = LossAndMetric(part1_run)
    figure = view.plot(5)  # the curves stop at 5: the epoch says something
    assert figure._suptitle.get_text() == "Epoch 5"
    animated = LossAndMetric(part1_run)
    animated.attach()
    animated.frame(part1_run.n_snapshots - 1)  # a frame of an animation keeps it
    assert animated.figure_._suptitle.get_text() == "Epoch 12"
    # Views of one epoch keep "Epoch N".
    assert ProbabilityHistogram(part1_run).plot(-1)._suptitle.get_text() == "Epoch 12"


def test_legend_colours_are_class_colours(wide_multiclass_run):
    view = LossHistogram(wide_multiclass_run)
    view.plot(-1)
    legend = view.ax_.get_legend()
    colors = [tuple(np.atleast_2d(handle.get_facecolor())[0]) for handle in legend.legend_handles]
    assert colors == [to_rgba(class_color(label)) for label in range(3)]
    figure = view.figure_
    figure.canvas.draw()
    # Right of the axes, not over the bars.
    assert display_box(legend).x0 >= display_box(view.ax_).x1


def test_a_still_curves_scene_of_the_last_epoch_has_no_epoch_title(part1_file):
    from replay.compare import ComparisonScene

    scene = ComparisonScene.curves([Run(part1_file, "sigmoid"), Run(part1_file, "relu")],
                                   ["loss"], title_prefix="Part 1")
    scene.plot(-1)
    assert scene.title_text == "Part 1"
    scene.frame(5)  # an animation's frame
    assert scene.title_text == "Part 1 \u2014 Epoch 5"


def test_grow_limits_fill_the_panel_early_and_only_widen(part1_file):
    run = Run(part1_file, "relu")
    view = FeatureSpace(run, "hidden", limits="grow")
    assert not view.blit_safe
    view.plot(0)
    low, high = view.snapshot_boxes()
    previous = None
    for epoch in (0, 3, 12):
        view.plot(epoch)
        (x0, x1), (y0, y1) = view.ax_.get_xlim(), view.ax_.get_ylim()
        # Everything of snapshots 0 .. epoch is in view, with a 5 % margin.
        assert x0 < low[: epoch + 1, 0].min() and high[: epoch + 1, 0].max() < x1
        assert y0 < low[: epoch + 1, 1].min() and high[: epoch + 1, 1].max() < y1
        span = high[: epoch + 1, 0].max() - low[: epoch + 1, 0].min()
        assert x1 - x0 == pytest.approx(1.1 * span)
        if previous is not None:
            assert x0 <= previous[0] and x1 >= previous[1]
        previous = (x0, x1)
    with pytest.raises(OptionError, match="'auto', 'fixed', 'grow' or 'epoch'"):
        FeatureSpace(run, "hidden", limits="tight")


def test_auto_limits_grow_only_for_a_run_that_starts_in_a_corner(tmp_path):
    from replay.views.feature_space import AUTO_GROW_FRACTION

    def run_whose_activations_scale(name, scales):
        # The hidden activations of snapshot k are those of snapshot 0 times scales[k].
        base = np.random.default_rng(0).uniform(0.0, 1.0, (50, 2)).astype(np.float32)
        targets = (base[:, 0] > 0.5).astype(np.float32)[:, None]
        activations = np.stack([base * scale for scale in scales])
        return Run.from_arrays(inputs=base, targets=targets, name=name,
                               activations={"hidden": activations},
                               outputs=np.full((len(scales), 50, 1), 0.5, np.float32))

    relu_like = FeatureSpace(run_whose_activations_scale("relu", [0.1, 0.5, 1.0]), "hidden",
                             grid=False, regions=False, limits="auto")
    assert relu_like.resolved_limits == "grow" and not relu_like.blit_safe
    steady = FeatureSpace(run_whose_activations_scale("steady", [0.9, 1.0, 1.0]), "hidden",
                          grid=False, regions=False, limits="auto")
    assert steady.resolved_limits == "fixed" and steady.blit_safe
    assert AUTO_GROW_FRACTION == pytest.approx(1 / 3)
    default = FeatureSpace(run_whose_activations_scale("relu", [0.1, 0.5, 1.0]), "hidden",
                           grid=False, regions=False)
    assert default.resolved_limits == "fixed"  # the default: the fastest to render
