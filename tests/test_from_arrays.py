"""Runs built in memory from arrays (``Run.from_arrays``): every view reads them like a file.

The arrays come from a small tanh net trained here with numpy, so the test
knows every value; expected losses and accuracies are computed in the test.
"""

import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from replay import EpochOutOfRangeError, OptionError, Run, probe_points
from replay.datasets import parabola
from replay.io import schema

ROOT = Path(__file__).resolve().parents[1]


def train_numpy_net(n_points=100, n_snapshots=11, seed=0):
    """A 2 → tanh(2) → sigmoid(1) net trained by full-batch gradient descent, every array kept."""
    inputs, targets = parabola(n_points)
    sources = {"train": inputs, **probe_points(inputs, grid_points=50, mesh_resolution=20)}
    rng = np.random.default_rng(seed)
    kernel1, bias1 = rng.normal(0, 1, (2, 2)), np.zeros(2)
    kernel2, bias2 = rng.normal(0, 1, (2, 1)), np.zeros(1)
    kept = {"z": [], "weights": {"hidden": {"kernel": [], "bias": []},
                                 "output": {"kernel": [], "bias": []}},
            "hidden": {source: [] for source in sources},
            "outputs": {source: [] for source in sources}}
    for _ in range(n_snapshots):
        for name, array in (("kernel", kernel1), ("bias", bias1)):
            kept["weights"]["hidden"][name].append(array.copy())
        for name, array in (("kernel", kernel2), ("bias", bias2)):
            kept["weights"]["output"][name].append(array.copy())
        for source, points in sources.items():
            z = points @ kernel1 + bias1
            hidden = np.tanh(z)
            kept["hidden"][source].append(hidden)
            kept["outputs"][source].append(1 / (1 + np.exp(-(hidden @ kernel2 + bias2))))
            if source == "train":
                kept["z"].append(z)
        hidden, outputs = kept["hidden"]["train"][-1], kept["outputs"]["train"][-1]
        d_out = (outputs - targets) / len(inputs)
        d_hidden = d_out @ kernel2.T * (1 - hidden ** 2)
        kernel2 = kernel2 - 2.0 * hidden.T @ d_out
        bias2 = bias2 - 2.0 * d_out.sum(axis=0)
        kernel1 = kernel1 - 2.0 * inputs.T @ d_hidden
        bias1 = bias1 - 2.0 * d_hidden.sum(axis=0)
    arrays = {
        "inputs": sources, "targets": targets,
        "activations": {source: {"hidden": np.stack(values)}
                        for source, values in kept["hidden"].items()},
        "preactivations": {"hidden": np.stack(kept["z"])},
        "outputs": {source: np.stack(values) for source, values in kept["outputs"].items()},
        "weights": {layer: {name: np.stack(values) for name, values in weights.items()}
                    for layer, weights in kept["weights"].items()},
    }
    return arrays


def bce(targets, outputs):
    p = np.clip(outputs, 1e-7, 1 - 1e-7)
    return -(targets * np.log(p) + (1 - targets) * np.log(1 - p)).mean(axis=-1)


@pytest.fixture(scope="module")
def arrays():
    return train_numpy_net()


@pytest.fixture(scope="module")
def run(arrays):
    return Run.from_arrays(**arrays, activation_names={"hidden": "tanh", "output": "sigmoid"},
                           name="numpy")


def test_the_run_holds_the_arrays_given(run, arrays):
    assert run.name == "numpy" and run.path == "<in memory>"
    assert run.n_snapshots == 11 and run.complete
    np.testing.assert_array_equal(run.epochs, np.arange(11))
    assert run.sources == ["train", "grid", "mesh"]
    assert [(layer.name, layer.units, layer.activation, layer.hidden) for layer in run.layers] \
        == [("hidden", 2, "tanh", True), ("output", 1, "sigmoid", False)]
    assert run.layer("output").weights == ["kernel", "bias"]
    np.testing.assert_array_equal(run.inputs(), arrays["inputs"]["train"])
    np.testing.assert_array_equal(run.labels(), arrays["targets"][:, 0].astype(int))
    for epoch in (0, 4, -1):
        np.testing.assert_array_equal(run.activations("hidden", epoch),
                                      arrays["activations"]["train"]["hidden"][epoch])
        np.testing.assert_array_equal(run.activations("hidden", epoch, source="mesh"),
                                      arrays["activations"]["mesh"]["hidden"][epoch])
        np.testing.assert_array_equal(run.preactivations("hidden", epoch),
                                      arrays["preactivations"]["hidden"][epoch])
        np.testing.assert_array_equal(run.outputs(epoch), arrays["outputs"]["train"][epoch])
        np.testing.assert_array_equal(run.weights("hidden", epoch)["kernel"],
                                      arrays["weights"]["hidden"]["kernel"][epoch])
    with pytest.raises(EpochOutOfRangeError, match="0..10"):
        run.outputs(11)


def test_the_per_sample_loss_and_the_history_are_derived(run, arrays):
    targets, outputs = arrays["targets"], arrays["outputs"]["train"]
    for epoch in (0, 10):
        np.testing.assert_allclose(run.per_sample_loss(epoch), bce(targets, outputs[epoch]),
                                   rtol=1e-5, atol=1e-7)
    assert run.attrs["loss"] == "binary_crossentropy"
    history = run.history
    np.testing.assert_array_equal(history["epoch"], np.arange(1, 11))
    np.testing.assert_allclose(history["loss"], [bce(targets, outputs[k]).mean()
                                                 for k in range(1, 11)], rtol=1e-5)
    np.testing.assert_allclose(history["accuracy"],
                               [np.mean((outputs[k] > 0.5) == (targets == 1))
                                for k in range(1, 11)])


def test_arrays_are_not_copied_and_cannot_be_changed_through_the_run(arrays):
    outputs = arrays["outputs"]["train"].copy()
    run = Run.from_arrays(inputs=arrays["inputs"]["train"], targets=arrays["targets"],
                          outputs=outputs)
    assert np.shares_memory(run._group[schema.outputs("train")].array, outputs)
    read = run.outputs(3)
    read[:] = -1.0  # a copy, like a read from a file
    assert run.outputs(3).min() >= 0
    assert outputs.flags.writeable  # the caller's array is left as it was


def test_history_epochs_and_losses_given_are_kept(arrays):
    losses = np.full((11, 100 * 2), 0.25)
    run = Run.from_arrays(inputs=arrays["inputs"]["train"], targets=arrays["targets"],
                          outputs=arrays["outputs"]["train"][..., 0], per_sample_loss=losses,
                          history={"loss": np.linspace(1, 0, 5), "auc": np.ones(5)},
                          epochs=np.arange(11) * 0.5)
    assert run.outputs(2).shape == (200, 1)  # one-unit outputs may omit their last axis
    np.testing.assert_array_equal(run.per_sample_loss(4), losses[4])
    np.testing.assert_array_equal(run.history["epoch"], np.arange(1, 6))
    np.testing.assert_array_equal(run.history["auc"], np.ones(5))
    np.testing.assert_array_equal(run.epochs, np.arange(11) * 0.5)


@pytest.mark.parametrize("one_hot", [True, False])
def test_multiclass_outputs_get_a_categorical_loss(one_hot):
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, size=40)
    logits = rng.normal(size=(4, 40, 3))
    outputs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    targets = np.eye(3)[labels] if one_hot else labels[:, None]
    run = Run.from_arrays(inputs=rng.normal(size=(40, 5)), targets=targets, outputs=outputs,
                          activations={"dense": rng.normal(size=(4, 40, 8))})
    assert run.attrs["loss"] == ("categorical_crossentropy" if one_hot
                                 else "sparse_categorical_crossentropy")
    expected = -np.log(outputs[2][np.arange(40), labels])
    np.testing.assert_allclose(run.per_sample_loss(2), expected, rtol=1e-5)
    np.testing.assert_allclose(run.history["accuracy"][-1],
                               np.mean(outputs[3].argmax(axis=1) == labels))
    np.testing.assert_array_equal(run.labels(), labels)


def test_every_view_draws_an_in_memory_run(run):
    import matplotlib.pyplot as plt

    from replay.views import (
        DecisionBoundary,
        FeatureSpace,
        LayerViolins,
        LossAndMetric,
        LossHistogram,
        ParameterUpdates,
        ProbabilityHistogram,
    )
    from replay.views.registry import VIEWS

    views = [FeatureSpace(run, "hidden"), DecisionBoundary(run), ProbabilityHistogram(run),
             LossHistogram(run), LossAndMetric(run), ParameterUpdates(run),
             *[LayerViolins(run, quantity, layers=["hidden", "output"]
                            if quantity != "preactivations" else ["hidden"])
               for quantity in ("activations", "preactivations", "weights")]]
    views += [VIEWS["error-scatter"].build(run)]
    for view in views:
        view.plot(6)
        plt.close(view.figure_)
    feature_space = views[0]
    assert feature_space.regions_ is not None and feature_space.grid_lines_ is not None


def test_a_scene_of_an_in_memory_run_renders(run, tmp_path):
    from replay.scene import Scene

    scene = Scene.part1(run, layer="hidden", title_prefix="numpy")
    stats = scene.save(tmp_path / "numpy.gif", epochs=range(0, 11, 5), fps=5, dpi=30,
                       progress=False)
    assert stats.frames == 3
    scene.save(tmp_path / "numpy.png", epoch=10, dpi=40)
    assert (tmp_path / "numpy.png").stat().st_size > 0


def test_in_memory_runs_compare_with_each_other_and_tabulate(run, arrays, tmp_path):
    from replay.compare import ComparisonScene, results_table

    other = Run.from_arrays(**train_numpy_net(seed=1), name="seed 1")
    ComparisonScene.grid([run, other], ["feature-space", "decision-boundary"]).save(
        tmp_path / "compare.png", epoch=5, dpi=40)
    table = results_table([run, other])
    assert table.column("run") == ["numpy", "seed 1"]


def test_an_in_memory_run_pickles_with_its_arrays(run):
    copy = pickle.loads(pickle.dumps(run))
    np.testing.assert_array_equal(copy.activations("hidden", 7), run.activations("hidden", 7))
    np.testing.assert_array_equal(copy.history["loss"], run.history["loss"])
    run.close()  # nothing to close: the arrays stay
    assert run.outputs(1).shape == (200, 1)


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(outputs=a["outputs"][:5]), r"same number of snapshots"),
    (lambda a: a.update(outputs=a["outputs"][:, :7]),
     r"outputs\['train'\] must have shape \(n_snapshots, 200, units\)\. Got \(11, 7, 1\)"),
    (lambda a: a.update(targets=a["targets"][:10]), r"same number of samples\. Got 200 and 10"),
    (lambda a: a.update(outputs={"test": a["outputs"]}), r"'test' is not one of"),
    (lambda a: a.update(activations={"validation": {"hidden": np.zeros((11, 5, 2))}}),
     r"inputs has no 'validation' entry"),
    (lambda a: a.update(activations={"hidden": np.zeros((11, 200, 2)), "train": {}}),
     r"mixes layers and sources"),
    (lambda a: a.update(inputs={"mesh": np.zeros((5, 5, 2))}), r"train samples"),
    (lambda a: a.update(epochs=np.zeros(11)), r"epochs must be 11 increasing values"),
    (lambda a: a.update(history={"loss": np.ones(3), "accuracy": np.ones(4)}), r"one length"),
    (lambda a: a.update(outputs=None, activations=None, weights=None, preactivations=None),
     r"Nothing per snapshot"),
    (lambda a: a.update(inputs=np.array(["a", "b"])), r"numeric array"),
])
def test_bad_arrays_raise_errors_that_name_them(arrays, change, message):
    given = {"inputs": arrays["inputs"]["train"], "targets": arrays["targets"],
             "outputs": arrays["outputs"]["train"],
             "activations": {"hidden": arrays["activations"]["train"]["hidden"]}}
    change(given)
    with pytest.raises(OptionError, match=message):
        Run.from_arrays(**given)


def test_building_and_drawing_needs_no_keras():
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from replay import Run, probe_points
        from replay.views import FeatureSpace
        X = np.random.default_rng(0).normal(size=(30, 2))
        points = probe_points(X)
        run = Run.from_arrays(inputs=X, targets=(X[:, :1] > 0) * 1.0,
                              activations={"h": np.random.default_rng(1).normal(size=(3, 30, 2))},
                              outputs=np.full((3, 30, 1), 0.4))
        FeatureSpace(run).plot(2)
        bad = [m for m in ("keras", "jax", "tensorflow", "torch") if m in sys.modules]
        sys.exit(1 if bad else 0)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"}, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_example_in_the_api_docs_runs(tmp_path):
    text = (ROOT / "docs" / "api.md").read_text()
    section = text[text.index("### `Run.from_arrays"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin",
                                               "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "arrays.png").stat().st_size > 0


def test_one_dimensional_targets_are_taken_as_documented():
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(40, 2)).astype(np.float32)
    labels = rng.integers(0, 3, 40)
    outputs = rng.dirichlet(np.ones(3), size=(2, 40)).astype(np.float32)
    run = Run.from_arrays(inputs, labels, outputs=outputs)
    assert run.targets().shape == (40, 1)
    np.testing.assert_array_equal(run.labels(), labels)
    expected = -np.log(outputs[1][np.arange(40), labels])
    np.testing.assert_allclose(run.per_sample_loss(1), expected, rtol=1e-5)
