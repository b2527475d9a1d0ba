"""The loss landscape (replay.landscape) and its views: invariants recomputed with numpy."""

import numpy as np
import pytest
import synthetic

from replay import Run
from replay.errors import OptionError, RunFileError
from replay.io import schema
from replay.io.landscape import write_landscape
from replay.landscape import (
    Landscape,
    NumpyLoss,
    ParameterLayout,
    compute_landscape,
    landscape_arrays,
    landscape_description,
    line_positions,
    numpy_problem,
    pca_directions,
    random_directions,
)
from replay.views import VIEWS, LossLandscape, LossLine


def mean_recorded_loss(run, epoch):
    return float(np.mean(run.per_sample_loss(epoch), dtype=np.float64))


@pytest.fixture(scope="module")
def landscape(part1_run):
    return compute_landscape(part1_run, resolution=12)


def test_the_final_weights_sit_at_the_origin_with_the_recorded_final_loss(part1_run, landscape):
    np.testing.assert_allclose(landscape.paths[0][-1], [0.0, 0.0], atol=1e-9)
    final = landscape.loss_at([[0.0, 0.0]])[0]
    assert final == pytest.approx(mean_recorded_loss(part1_run, -1), abs=1e-5)


def test_the_line_passes_through_the_first_and_the_final_snapshot(part1_run, landscape):
    t = landscape.line_t
    assert t[0] == -0.25 and t[-1] == 1.25
    start, end = np.flatnonzero(t == 0.0)[0], np.flatnonzero(t == 1.0)[0]
    assert landscape.line_loss[0][start] == pytest.approx(mean_recorded_loss(part1_run, 0),
                                                          abs=1e-5)
    assert landscape.line_loss[0][end] == pytest.approx(mean_recorded_loss(part1_run, -1),
                                                        abs=1e-5)
    np.testing.assert_allclose(landscape.path_t[0][[0, -1]], [0.0, 1.0])


def test_the_surface_is_the_loss_at_every_grid_point(part1_run, landscape):
    evaluate = NumpyLoss(part1_run)
    for row, column in [(0, 0), (5, 7), (11, 11)]:
        point = landscape.unproject([[landscape.alpha[column], landscape.beta[row]]])
        assert landscape.surface[row, column] == pytest.approx(evaluate(point)[0], rel=1e-9)


def test_numpy_loss_at_the_recorded_weights_is_the_recorded_loss(part1_run):
    evaluate = NumpyLoss(part1_run)
    trajectory = evaluate.layout.trajectory(part1_run)
    expected = part1_run.series(schema.loss("train")).mean(axis=1)
    np.testing.assert_allclose(evaluate(trajectory), expected, atol=1e-5)


def test_the_grid_covers_every_path_point_with_a_margin(landscape):
    path = landscape.paths[0]
    assert landscape.alpha[0] < path[:, 0].min() and landscape.alpha[-1] > path[:, 0].max()
    assert landscape.beta[0] < path[:, 1].min() and landscape.beta[-1] > path[:, 1].max()
    assert landscape.surface.shape == (12, 12)


def test_pca_directions_are_orthonormal_and_explain_the_variance(part1_run, landscape):
    np.testing.assert_allclose(landscape.directions @ landscape.directions.T, np.eye(2),
                               atol=1e-9)
    offsets = landscape.layout.trajectory(part1_run) - landscape.origin
    centred = offsets - offsets.mean(axis=0)
    variance = np.linalg.svd(centred, compute_uv=False) ** 2
    np.testing.assert_allclose(landscape.explained_variance, variance[:2] / variance.sum())
    assert landscape.paths[0][0, 0] <= 0.0  # the path runs left to right


def test_a_two_parameter_path_mapped_back_from_the_plane_is_the_recorded_weights(tmp_path):
    # 1 input -> Dense(1, sigmoid) with a bias: exactly 2 trainable parameters.
    rng = np.random.default_rng(3)
    inputs = rng.normal(size=(50, 1)).astype(np.float32)
    targets = (inputs[:, :1] > 0.2).astype(np.float32)
    kernel = np.cumsum(rng.normal(0.3, 0.1, (9, 1, 1)), axis=0).astype(np.float32)
    bias = np.cumsum(rng.normal(-0.1, 0.05, (9, 1)), axis=0).astype(np.float32)
    outputs = 1.0 / (1.0 + np.exp(-(inputs[None] @ kernel + bias[:, None, :])))
    run = Run.from_arrays(inputs, targets, outputs=outputs.astype(np.float32),
                          weights={"output": {"kernel": kernel, "bias": bias}},
                          loss="binary_crossentropy", activation_names={"output": "sigmoid"})
    layout = ParameterLayout((("output", "kernel", (1, 1)), ("output", "bias", (1,))))
    trajectory = layout.trajectory(run)

    def evaluate(vectors):
        vectors = np.atleast_2d(vectors)
        z = inputs[None, :, 0] * vectors[:, :1] + vectors[:, 1:]
        p = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-7, 1 - 1e-7)
        return -np.mean(targets[None, :, 0] * np.log(p) + (1 - targets[None, :, 0])
                        * np.log(1 - p), axis=1)

    for directions in ("pca", "random"):
        if directions == "random":  # a bias has no filter: give the model a 2-D weight
            continue
        landscape = compute_landscape(run, directions=directions, resolution=5,
                                      evaluator=evaluate)
        np.testing.assert_allclose(landscape.unproject(landscape.paths[0]), trajectory,
                                   atol=1e-6)
    assert landscape.layout == layout


def test_random_directions_are_filter_normalised(part1_run):
    layout = ParameterLayout.of_run(part1_run)
    origin = layout.trajectory(part1_run)[-1]
    directions = random_directions(layout, origin, seed=4)
    for direction in directions:
        for (layer, name, shape), part in zip(layout.entries, layout.slices().values()):
            if len(shape) < 2:
                assert not np.any(direction[part]), f"{layer}/{name} is a bias: no direction"
                continue
            np.testing.assert_allclose(
                np.linalg.norm(direction[part].reshape(-1, shape[-1]), axis=0),
                np.linalg.norm(origin[part].reshape(-1, shape[-1]), axis=0), rtol=1e-6)
    again = random_directions(layout, origin, seed=4)
    np.testing.assert_array_equal(directions, again)


def test_random_directions_give_a_landscape_around_the_final_weights(part1_run):
    landscape = compute_landscape(part1_run, directions="random", resolution=6)
    assert landscape.directions_kind == "random"
    assert np.all(np.isnan(landscape.explained_variance))
    assert landscape.alpha[0] <= -1.0 and landscape.alpha[-1] >= 1.0
    assert landscape.loss_at([[0.0, 0.0]])[0] == pytest.approx(
        mean_recorded_loss(part1_run, -1), abs=1e-5)


def test_run_landscape_is_cached_per_options(part1_file):
    run = Run(part1_file, "relu")
    first = run.landscape(resolution=8)
    assert run.landscape(resolution=8) is first
    assert run.landscape(resolution=9) is not first


def test_several_runs_of_one_model_share_one_plane(tmp_path):
    path = tmp_path / "seeds.h5"
    for seed in (1, 2):
        synthetic.write_part1(path, f"seed{seed}", "tanh", epochs=4, n_points=40, seed=seed)
    runs = [Run(path, "seed1"), Run(path, "seed2")]
    landscape = compute_landscape(runs, resolution=8)
    assert landscape.runs == ("seed1", "seed2")
    assert len(landscape.paths) == 2 and len(landscape.line_loss) == 2
    np.testing.assert_allclose(landscape.paths[0][-1], [0.0, 0.0], atol=1e-9)
    combined = np.concatenate([ParameterLayout.of_run(run).trajectory(run) for run in runs])
    directions, _ = pca_directions([combined[:5], combined[5:]], landscape.origin)
    np.testing.assert_allclose(np.abs(landscape.directions), np.abs(directions))
    for path_loss, run in zip(landscape.path_loss, runs):
        assert path_loss[-1] == pytest.approx(mean_recorded_loss(run, -1), abs=1e-5)


def test_runs_of_different_models_are_refused(part1_file):
    runs = [Run(part1_file, "sigmoid"), Run(part1_file, "relu")]
    with pytest.raises(OptionError, match="different models.*activation.*one landscape each"):
        compute_landscape(runs)
    with pytest.raises(OptionError, match="one landscape each"):
        LossLandscape(runs)


@pytest.mark.parametrize("options, message", [
    ({"directions": "hessian"}, "directions must be one of pca, random. Got 'hessian'"),
    ({"resolution": 1}, "resolution must be an integer of at least 2. Got 1"),
    ({"margin": -1}, "margin must be a non-negative number"),
    ({"line": (0.5, 1.0)}, "line must include 0 and 1"),
])
def test_bad_options_are_named(part1_run, options, message):
    with pytest.raises(OptionError, match=message):
        compute_landscape(part1_run, **options)


def test_line_positions_hold_zero_and_one_exactly():
    t = line_positions((-0.25, 1.25))
    assert 0.0 in t and 1.0 in t and len(t) == 61


def test_a_run_that_numpy_cannot_evaluate_says_how_to_compute_it(tmp_path):
    run = Run.from_arrays(np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32),
                          outputs=np.full((2, 4, 1), 0.5, np.float32),
                          weights={"conv": {"kernel": np.ones((2, 3, 3, 1, 2), np.float32)}},
                          loss="binary_crossentropy")
    assert "record_landscape(model, path, run)" in numpy_problem(run)
    with pytest.raises(OptionError, match="record_landscape"):
        run.landscape()


def test_a_stored_landscape_is_read_back(tmp_path, part1_file):
    import shutil

    path = tmp_path / "stored.h5"
    shutil.copy(part1_file, path)
    with Run(path, "relu") as run:
        computed = compute_landscape(run, resolution=7)
    write_landscape(path, "relu", landscape_arrays(computed), landscape_description(computed))
    with Run(path, "relu") as run:
        from replay.landscape import read_landscape

        stored = read_landscape(run)
        assert isinstance(stored, Landscape) and stored.evaluator is None
        for name in ("origin", "directions", "alpha", "beta", "surface", "line_t"):
            np.testing.assert_array_equal(getattr(stored, name), getattr(computed, name))
        np.testing.assert_allclose(stored.paths[0], computed.paths[0])
        np.testing.assert_allclose(stored.path_t[0], computed.path_t[0])
        assert run.landscape() is not None  # numpy can: the default options compute it
        assert schema.landscape("surface") in run.arrays()


def test_a_stored_landscape_of_an_unknown_version_is_refused(tmp_path, part1_file):
    import json
    import shutil

    path = tmp_path / "future.h5"
    shutil.copy(part1_file, path)
    with Run(path, "relu") as run:
        computed = compute_landscape(run, resolution=4)
    description = json.loads(landscape_description(computed))
    description["version"] = 99
    write_landscape(path, "relu", landscape_arrays(computed), json.dumps(description))
    with Run(path, "relu") as run:
        from replay.landscape import read_landscape

        with pytest.raises(RunFileError, match="version 99"):
            read_landscape(run)


def test_numpy_crossentropy_of_logits_matches_the_probability_form():
    from replay import forward

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (2, 30, 4))
    labels = rng.integers(0, 4, 30)
    one_hot = np.eye(4)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(
        forward.per_sample_loss("categorical_crossentropy", one_hot, logits, from_logits=True),
        forward.per_sample_loss("categorical_crossentropy", one_hot, probabilities), rtol=1e-5)
    np.testing.assert_allclose(
        forward.per_sample_loss("sparse_categorical_crossentropy", labels, logits,
                                from_logits=True),
        forward.per_sample_loss("sparse_categorical_crossentropy", labels, probabilities),
        rtol=1e-5)
    binary = logits[..., :1]
    targets = (labels[:, None] > 1).astype(np.float64)
    np.testing.assert_allclose(
        forward.per_sample_loss("binary_crossentropy", targets, binary, from_logits=True),
        forward.per_sample_loss("binary_crossentropy", targets, 1 / (1 + np.exp(-binary))),
        rtol=1e-5)
    with pytest.raises(OptionError, match="of logits"):
        forward.per_sample_loss("mse", targets, binary, from_logits=True)


# -- the views ----------------------------------------------------------------------------


def test_the_landscape_view_moves_only_the_path(part1_run):
    view = LossLandscape(part1_run, resolution=10)
    view.plot(4)
    path = view.landscape_.paths[0]
    np.testing.assert_allclose(np.column_stack(view.paths_[0].get_data()), path[:5])
    np.testing.assert_allclose(np.column_stack(view.points_[0].get_data()), path[4:5])
    contours = view.surface_
    changed = view.frame(7)
    assert view.surface_ is contours and contours not in changed
    assert set(changed) >= {view.paths_[0], view.points_[0]}
    assert "% of the path's variance" in view.ax_.get_xlabel()
    assert view.blit_safe


def test_the_landscape_view_log_scales_a_surface_that_spans_decades(part1_run):
    landscape = compute_landscape(part1_run, resolution=6)
    landscape.surface = np.geomspace(1e-3, 10.0, 36).reshape(6, 6)
    view = LossLandscape(part1_run, landscape=landscape)
    view.plot(2)
    assert view.surface_.norm.__class__.__name__ == "LogNorm"


def test_the_line_view_marks_the_current_snapshot_on_the_line(part1_run):
    view = LossLine(part1_run)
    view.plot(3)
    x, y = view.points_[0].get_data()
    landscape = view.landscape_
    assert x[0] == pytest.approx(landscape.path_t[0][3])
    assert y[0] == pytest.approx(mean_recorded_loss(part1_run, 3), abs=1e-5)


def test_the_views_are_registered_for_grids_and_the_command_line(part1_file, tmp_path):
    from replay.cli import main

    assert VIEWS["loss-landscape"].view_class is LossLandscape
    assert VIEWS["loss-line"].view_class is LossLine
    out = tmp_path / "compare.png"
    assert main(["compare", str(part1_file), "--view", "loss-landscape", "loss-line",
                 "--directions", "random", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    out = tmp_path / "render.png"
    assert main(["render", str(part1_file), "--run", "relu", "--view", "loss-landscape",
                 "--out", str(out)]) == 0
    assert out.stat().st_size > 0


def test_several_runs_on_one_landscape_have_a_legend(tmp_path):
    path = tmp_path / "seeds.h5"
    for seed in (1, 2, 3):
        synthetic.write_part1(path, f"seed{seed}", "tanh", epochs=3, n_points=40, seed=seed)
    runs = [Run(path, f"seed{seed}") for seed in (1, 2, 3)]
    view = LossLandscape(runs, labels=["a", "b", "c"], resolution=8)
    view.plot(2)
    assert [text.get_text() for text in view.ax_.get_legend().get_texts()] == ["a", "b", "c"]
    assert len(view.paths_) == 3
    assert len({line.get_color() for line in view.paths_}) == 3


@pytest.mark.parametrize("snapshots, size", [(40, 6), (5, 30)])
def test_pca_directions_are_the_top_right_singular_vectors(snapshots, size):
    rng = np.random.default_rng(snapshots)
    trajectory = np.cumsum(rng.normal(size=(snapshots, size)) * np.linspace(3, 0.1, size), 0)
    directions, variance = pca_directions([trajectory], trajectory[-1])
    centred = trajectory - trajectory.mean(axis=0)
    _, singular, rows = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(np.abs(directions), np.abs(rows[:2]), atol=1e-8)
    np.testing.assert_allclose(variance, singular[:2] ** 2 / np.sum(singular ** 2))
    np.testing.assert_allclose(directions @ directions.T, np.eye(2), atol=1e-9)


def test_a_straight_path_gets_an_orthogonal_second_direction():
    trajectory = np.outer(np.arange(6.0), [1.0, 2.0, 0.0, 0.0, 0.0])
    directions, variance = pca_directions([trajectory], trajectory[-1])
    np.testing.assert_allclose(directions @ directions.T, np.eye(2), atol=1e-9)
    np.testing.assert_allclose(variance, [1.0, 0.0], atol=1e-12)


def test_a_runs_collection_or_a_glob_goes_on_one_landscape(tmp_path):
    from replay import Runs

    for seed in (1, 2):
        synthetic.write_part1(tmp_path / f"seed{seed}.h5", "tanh", "tanh", epochs=3,
                              n_points=40, seed=seed)
    view = LossLandscape(Runs(tmp_path), resolution=6)
    assert len(view.landscape_.paths) == 2
    assert sorted(view.labels) == ["seed1:tanh", "seed2:tanh"]
    view = LossLine(str(tmp_path / "seed*.h5"), resolution=6)
    view.plot()
    assert len(view.points_) == 2


def test_a_diverged_run_has_its_path_up_to_its_last_finite_weights(part1_run):
    weights = {layer.name: {name: part1_run.series(schema.weights(layer.name, name))
                            for name in layer.weights} for layer in part1_run.layers}
    for arrays in weights.values():
        for array in arrays.values():
            array[9:] = np.nan
    outputs = part1_run.series(schema.outputs("train"))
    run = Run.from_arrays(part1_run.inputs(), part1_run.targets(), outputs=outputs,
                          activations={"hidden": part1_run.series(
                              schema.activations("train", "hidden"))},
                          weights=weights, loss="binary_crossentropy",
                          activation_names={"hidden": "sigmoid", "output": "sigmoid"})
    layout = ParameterLayout.of_run(part1_run)

    def evaluate(vectors):
        return NumpyLoss(part1_run)(vectors)

    landscape = compute_landscape(run, resolution=5, evaluator=evaluate)
    assert len(landscape.paths[0]) == len(landscape.path_loss[0]) == 9
    np.testing.assert_allclose(landscape.origin, layout.trajectory(part1_run)[8])
    view = LossLandscape(run, landscape=landscape)
    view.plot(-1)
    assert len(view.paths_[0].get_xdata()) == 9


def test_blitted_landscape_frames_equal_full_redraws(tmp_path):
    from replay.render import FrameRenderer, Scene

    path = tmp_path / "seeds.h5"
    for seed in (1, 2):
        synthetic.write_part1(path, f"seed{seed}", "tanh", epochs=6, n_points=40, seed=seed)
    runs = [Run(path, "seed1"), Run(path, "seed2")]
    frames = {}
    for blit in (True, False):
        scene = Scene(nrows=1, ncols=2, figsize=(6.0, 3.0))
        landscape = scene.add(LossLandscape(runs, resolution=8), (0, 0))
        scene.add(LossLine(runs, landscape=landscape.landscape_), (0, 1))
        renderer = FrameRenderer(scene, dpi=50, blit=blit)
        renderer.prepare(0)
        assert renderer.blit is blit
        frames[blit] = [renderer.render(epoch).copy() for epoch in (0, 3, 6)]
    for blitted, full in zip(frames[True], frames[False]):
        difference = np.abs(blitted.astype(int) - full.astype(int)).max(axis=2)
        assert np.count_nonzero(difference > 2) <= 3, "blitting must draw the same picture"
    assert np.abs(frames[True][0].astype(int) - frames[True][2].astype(int)).max() > 50
