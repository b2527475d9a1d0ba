"""Files of the old DeepReplay package: read directly, computed with numpy, never written into.

The fixture in /work/shared/fixtures/deepreplay/ is DeepReplay's own test
file (part 1, 20 epochs, Keras 2.2) and the model file it saved. Expected
values are computed here from the raw h5py arrays, with numpy code of this
file, not with replay's forward pass. Smaller DeepReplay-layout files written
here with h5py cover what the fixture does not (no model file, early
stopping, activation layers, layers replay cannot compute).
"""

import hashlib
import json
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from replay import LayerNotFoundError, Run, RunFileError, list_runs
from replay.cli import main as cli_main
from replay.io import deepreplay, runfile, schema
from replay.io.writer import RunWriter

FIXTURES = Path("/work/shared/fixtures/deepreplay")
FIXTURE = FIXTURES / "hyperparms_in_action.h5"
MODEL_FILE = FIXTURES / "part1_activation_functions_model.h5"
RUN = "part1_activation_functions"

needs_fixture = pytest.mark.skipif(not FIXTURE.is_file(),
                                   reason=f"DeepReplay fixture {FIXTURE} not present")


# -- independent numpy ---------------------------------------------------------------


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def raw(path=FIXTURE, group=RUN):
    """The fixture's arrays, read straight with h5py."""
    with h5py.File(path, "r") as handle:
        g = handle[group]
        return {name: g[name][()] for name in ("inputs", "targets", "loss", "acc", "lr",
                                               "layer0/weights0", "layer0/weights1",
                                               "layer1/weights0", "layer1/weights1")}


def part1_pass(data, epoch, inputs=None):
    """z, hidden activations and outputs of the sigmoid-sigmoid part-1 net at ``epoch``."""
    x = data["inputs"] if inputs is None else inputs
    z = x @ data["layer0/weights0"][epoch] + data["layer0/weights1"][epoch]
    hidden = sigmoid(z)
    output = sigmoid(hidden @ data["layer1/weights0"][epoch] + data["layer1/weights1"][epoch])
    return z, hidden, output


def binary_crossentropy(targets, probabilities):
    p = np.clip(probabilities, 1e-7, 1 - 1e-7)
    return -(targets * np.log(p) + (1 - targets) * np.log(1 - p)).mean(axis=-1)


@pytest.fixture(scope="module")
def data():
    if not FIXTURE.is_file():
        pytest.skip(f"DeepReplay fixture {FIXTURE} not present")
    return raw()


@pytest.fixture
def run():
    if not FIXTURE.is_file():
        pytest.skip(f"DeepReplay fixture {FIXTURE} not present")
    with Run(FIXTURE) as opened:
        yield opened


@pytest.fixture
def fixture_copy(tmp_path):
    """The run file alone, copied (no model file beside it)."""
    if not FIXTURE.is_file():
        pytest.skip(f"DeepReplay fixture {FIXTURE} not present")
    copy = tmp_path / FIXTURE.name
    shutil.copyfile(FIXTURE, copy)
    copy.chmod(0o644)
    return copy


# -- reading the fixture -------------------------------------------------------------------


@needs_fixture
def test_the_run_file_lists_its_deepreplay_run():
    assert list_runs(FIXTURE) == [RUN]


def test_metadata_comes_from_the_run_and_its_model_file(run):
    assert run.name == RUN
    assert run.n_snapshots == 21  # 20 epochs + the state before training
    np.testing.assert_array_equal(run.epochs, np.arange(21))
    np.testing.assert_array_equal(run.steps, np.arange(21) * 125)
    assert [(layer.name, layer.units, layer.activation, layer.hidden) for layer in run.layers] \
        == [("hidden", 2, "sigmoid", True), ("output", 1, "sigmoid", False)]
    assert run.layer("hidden").weights == ["kernel", "bias"]
    assert run.hidden_layers == ["hidden"]
    assert run.sources == ["train", "grid", "mesh"]
    assert run.complete and not run.stopped_early
    assert run.attrs["format"] == "DeepReplay"
    assert run.attrs["loss"] == "binary_crossentropy"
    assert run.attrs["keras_version"] == "2.2.0" and run.attrs["backend"] == "tensorflow"
    assert run.attrs["batch_size"] == 16 and run.attrs["n_samples"] == 2000
    assert Path(run.attrs["model_file"]) == MODEL_FILE
    assert run.attrs["deepreplay"]["n_epochs"] == 20


def test_history_keeps_deepreplay_values_under_keras3_names(run, data):
    history = run.history
    assert set(history) == {"epoch", "loss", "accuracy", "learning_rate"}
    np.testing.assert_array_equal(history["epoch"], np.arange(1, 21))
    np.testing.assert_array_equal(history["loss"], data["loss"])  # loss[k-1] is epoch k's
    np.testing.assert_array_equal(history["accuracy"], data["acc"])
    np.testing.assert_array_equal(history["learning_rate"], data["lr"])


@pytest.mark.parametrize("epoch", [0, 1, 7, 20, -1])
def test_weights_are_the_stored_rows(run, data, epoch):
    weights = run.weights("hidden", epoch)
    np.testing.assert_array_equal(weights["kernel"], data["layer0/weights0"][epoch])
    np.testing.assert_array_equal(weights["bias"], data["layer0/weights1"][epoch])
    np.testing.assert_array_equal(run.weights("output", epoch)["kernel"],
                                  data["layer1/weights0"][epoch])


def test_row_zero_is_the_model_saved_before_training(run):
    with h5py.File(MODEL_FILE, "r") as handle:
        kernel = handle["model_weights/hidden/hidden/kernel:0"][()]
    np.testing.assert_array_equal(run.weights("hidden", 0)["kernel"], kernel)


@pytest.mark.parametrize("epoch", [0, 5, 20])
def test_activations_preactivations_and_outputs_match_numpy(run, data, epoch):
    z, hidden, output = part1_pass(data, epoch)
    np.testing.assert_allclose(run.preactivations("hidden", epoch), z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.activations("hidden", epoch), hidden, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.outputs(epoch), output, rtol=1e-5, atol=1e-6)
    assert run.outputs(epoch).shape == (2000, 1) and run.outputs(epoch).dtype == np.float32


@pytest.mark.parametrize("epoch", [0, 12, 20])
def test_per_sample_loss_is_binary_crossentropy(run, data, epoch):
    _, _, output = part1_pass(data, epoch)
    expected = binary_crossentropy(data["targets"], output)
    np.testing.assert_allclose(run.per_sample_loss(epoch), expected, rtol=1e-4, atol=1e-6)


def test_the_forward_pass_is_the_network_deepreplay_trained(run, data):
    # Keras logged the loss and accuracy averaged over epoch 20's batches;
    # the state after it must be close to both.
    assert abs(run.per_sample_loss(20).mean() - data["loss"][-1]) < 0.02
    accuracy = np.mean(run.predicted_labels(20) == run.labels())
    assert abs(accuracy - data["acc"][-1]) < 0.03


def test_probe_grid_and_mesh_are_the_recorders(run, data):
    inputs = data["inputs"]
    low, high = inputs.min(axis=0), inputs.max(axis=0)
    low, high = low - 0.1 * (high - low), high + 0.1 * (high - low)
    mesh = run.inputs("mesh")
    assert mesh.shape == (100, 100, 2)
    np.testing.assert_allclose(mesh[0, :, 0], np.linspace(low[0], high[0], 100), rtol=1e-6)
    np.testing.assert_allclose(mesh[:, 0, 1], np.linspace(low[1], high[1], 100), rtol=1e-6)
    grid = run.inputs("grid")
    assert grid.shape == (22, 500, 2)
    np.testing.assert_allclose(grid[:11, 0, 0], np.linspace(low[0], high[0], 11), rtol=1e-6)
    np.testing.assert_allclose(grid[11:, 0, 1], np.linspace(low[1], high[1], 11), rtol=1e-6)
    np.testing.assert_allclose(run.attrs["probe_limits"], np.stack([low, high], axis=1),
                               rtol=1e-6)


@pytest.mark.parametrize("source", ["grid", "mesh"])
def test_activations_and_outputs_on_the_probes_match_numpy(run, data, source, epoch=9):
    points = run.inputs(source)
    _, hidden, output = part1_pass(data, epoch, points.reshape(-1, 2).astype(np.float64))
    np.testing.assert_allclose(run.activations("hidden", epoch, source=source),
                               hidden.reshape(*points.shape[:-1], 2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.outputs(epoch, source=source),
                               output.reshape(*points.shape[:-1], 1), rtol=1e-5, atol=1e-6)


def test_series_reads_several_snapshots_in_any_order(run, data):
    path = schema.activations("train", "hidden")
    chunk = run.series(path, [20, 3, 3, 0])
    assert chunk.shape == (4, 2000, 2)
    for row, epoch in zip(chunk, [20, 3, 3, 0]):
        np.testing.assert_allclose(row, part1_pass(data, epoch)[1], rtol=1e-5, atol=1e-6)
    assert run.series(schema.loss("train")).shape == (21, 2000)


def test_no_pre_activations_or_loss_on_probe_points(run):
    with pytest.raises(LayerNotFoundError):
        run.preactivations("hidden", 3, source="mesh")
    with pytest.raises(LayerNotFoundError, match="gradients"):
        run.gradients("hidden", 3)


def test_arrays_list_what_is_stored_and_what_is_computed(run):
    arrays = run.arrays()
    assert arrays[schema.weights("hidden", "kernel")][0] == (21, 2, 2)
    assert arrays[schema.activations("mesh", "hidden")][:2] == ((21, 100, 100, 2),
                                                                np.dtype(np.float32))
    assert arrays[schema.activations("mesh", "hidden")][2] == 0  # computed: nothing stored
    assert arrays[schema.inputs("train")][2] > 0


class PassLog:
    """Records the forward passes a DeepReplay run computes: (source, snapshots)."""

    def __init__(self, monkeypatch):
        self.passes = []
        original = deepreplay._ForwardPass._pass

        def logged(engine, source, batch):
            self.passes.append((source, tuple(batch)))
            return original(engine, source, batch)

        monkeypatch.setattr(deepreplay._ForwardPass, "_pass", logged)


def test_reading_is_lazy_and_passes_are_shared(monkeypatch):
    if not FIXTURE.is_file():
        pytest.skip("no fixture")
    log = PassLog(monkeypatch)
    run = Run(FIXTURE)
    assert run.history["loss"].shape == (20,)
    assert log.passes == []  # opening reads metadata only
    run.activations("hidden", 4)
    run.outputs(4)
    run.per_sample_loss(4)
    run.preactivations("hidden", 4)
    assert log.passes == [("train", (4,))]  # one pass gave all four
    run.outputs(4, source="mesh")
    assert log.passes[-1] == ("mesh", (4,))
    run.close()


def test_a_frame_computes_only_a_few_snapshots_of_the_mesh(monkeypatch):
    if not FIXTURE.is_file():
        pytest.skip("no fixture")
    from replay.views import FeatureSpace
    from replay.views.reader import READ_AHEAD

    log = PassLog(monkeypatch)
    with Run(FIXTURE) as run:
        FeatureSpace(run, "hidden").plot(3)
    mesh_snapshots = {index for source, batch in log.passes if source == "mesh"
                      for index in batch}
    assert mesh_snapshots and len(mesh_snapshots) <= READ_AHEAD
    assert all(len(batch) <= deepreplay.PASS_SNAPSHOTS for _, batch in log.passes)


def test_a_pickled_run_reopens_the_file(run, data):
    copy = pickle.loads(pickle.dumps(run))
    np.testing.assert_allclose(copy.outputs(11), part1_pass(data, 11)[2], rtol=1e-5, atol=1e-6)
    assert copy.layer_names == ["hidden", "output"]
    copy.close()
    run.close()
    np.testing.assert_allclose(run.outputs(11), copy.outputs(11))  # both reopen


@needs_fixture
def test_reading_and_drawing_a_deepreplay_run_needs_no_keras(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        from replay import Run
        from replay.scene import Scene
        run = Run({str(FIXTURE)!r})
        Scene.part1(run).plot(7).savefig({str(tmp_path / "frame.png")!r})
        bad = [m for m in ("keras", "jax", "tensorflow", "torch") if m in sys.modules]
        sys.exit(1 if bad else 0)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"},
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "frame.png").stat().st_size > 0


# -- the model file -----------------------------------------------------------------------


def test_without_a_model_file_layers_get_generic_names(fixture_copy, data):
    with Run(fixture_copy) as run:
        assert run.layer_names == ["layer0", "layer1"]
        assert [layer.activation for layer in run.layers] == ["sigmoid", "sigmoid"]
        assert run.attrs["loss"] == "binary_crossentropy"
        assert run.attrs["model_file"] is None
        np.testing.assert_allclose(run.activations("layer0", 6), part1_pass(data, 6)[1],
                                   rtol=1e-5, atol=1e-6)
        assert run.weights("layer1", 6).keys() == {"kernel", "bias"}


def test_the_model_file_can_be_passed_explicitly(fixture_copy):
    with Run(fixture_copy, model_file=MODEL_FILE) as run:
        assert run.layer_names == ["hidden", "output"]
        assert Path(run.attrs["model_file"]) == MODEL_FILE


def test_a_missing_model_file_is_an_error(fixture_copy, tmp_path):
    with pytest.raises(RunFileError, match="No such model file.*nothing_model.h5"):
        Run(fixture_copy, model_file=tmp_path / "nothing_model.h5")


def test_a_model_file_of_another_model_is_an_error(fixture_copy, tmp_path):
    wrong = tmp_path / "wrong_model.h5"
    write_keras2_model(wrong, [("Dense", {"name": "hidden", "units": 3, "activation": "tanh"}),
                               ("Dense", {"name": "output", "units": 1,
                                          "activation": "sigmoid"})],
                       [[np.zeros((2, 3)), np.zeros(3)], [np.zeros((3, 1)), np.zeros(1)]])
    with pytest.raises(RunFileError, match=r"wrong_model.h5' does not match.*'hidden'.*\(2, 3\)"):
        Run(fixture_copy, model_file=wrong)


# -- DeepReplay files written here ----------------------------------------------------------


def write_deepreplay(path, group, inputs, targets, layers, *, losses, activation_functions,
                     n_epochs=None, metrics=None):
    """Write a group as DeepReplay's ReplayData callback does (arrays pre-allocated)."""
    rows = len(layers[0][0])
    n_epochs = rows - 1 if n_epochs is None else n_epochs
    with h5py.File(path, "a") as handle:
        g = handle.create_group(group)
        g.attrs["samples"] = len(inputs)
        g.attrs["batch_size"] = 16
        g.attrs["n_batches"] = int(np.ceil(len(inputs) / 16))
        g.attrs["n_epochs"] = n_epochs
        g.attrs["n_layers"] = len(layers)
        g.attrs["activation_functions"] = [np.bytes_(name) for name in activation_functions]
        g.create_dataset("inputs", data=inputs)
        g.create_dataset("targets", data=targets)
        g.create_dataset("loss", shape=(n_epochs,), dtype="f")
        g["loss"][: len(losses)] = losses
        for name, values in (metrics or {}).items():
            g.create_dataset(name, shape=(n_epochs,), dtype="f")
            g[name][: len(values)] = values
        for i, weights in enumerate(layers):
            layer = g.create_group(f"layer{i}")
            for j, values in enumerate(weights):
                layer.create_dataset(f"weights{j}", shape=(n_epochs + 1, *values.shape[1:]),
                                     dtype="f")
                layer[f"weights{j}"][: len(values)] = values


def write_keras2_model(path, layers, weights, loss="binary_crossentropy"):
    """Write the parts of a Keras 2 ``model.save`` file that replay reads."""
    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"] = np.bytes_("2.2.0")
        handle.attrs["backend"] = np.bytes_("tensorflow")
        handle.attrs["model_config"] = json.dumps({
            "class_name": "Sequential",
            "config": [{"class_name": name, "config": config} for name, config in layers]})
        handle.attrs["training_config"] = json.dumps({"loss": loss, "metrics": ["acc"]})
        group = handle.create_group("model_weights")
        for (_, config), arrays in zip(layers, weights):
            layer = group.create_group(config["name"])
            names = [f"{config['name']}/{weight}:0" for weight in ("kernel", "bias")][:len(arrays)]
            layer.attrs["weight_names"] = [np.bytes_(name) for name in names]
            for name, array in zip(names, arrays):
                layer[name] = array


@pytest.fixture
def blobs():
    rng = np.random.default_rng(3)
    inputs = rng.normal(size=(60, 3))
    targets = (inputs.sum(axis=1) > 0).astype(np.float64)[:, None]
    rows = 7
    kernel1 = rng.normal(size=(rows, 3, 4)).astype(np.float32)
    bias1 = rng.normal(size=(rows, 4)).astype(np.float32)
    kernel2 = rng.normal(size=(rows, 4, 1)).astype(np.float32)
    bias2 = rng.normal(size=(rows, 1)).astype(np.float32)
    return inputs, targets, (kernel1, bias1, kernel2, bias2)


def test_an_activation_layer_after_a_linear_dense_is_its_activation(tmp_path, blobs):
    # Dense(4, linear) → LeakyReLU(0.2) → Dropout → Dense(1, sigmoid): like the recorder,
    # replay shows the LeakyReLU's output as the Dense layer's activations.
    inputs, targets, (kernel1, bias1, kernel2, bias2) = blobs
    path = tmp_path / "leaky.h5"
    write_deepreplay(path, "leaky", inputs, targets,
                     [[kernel1, bias1], [], [], [kernel2, bias2]], losses=np.ones(6),
                     activation_functions=["linear", "", "", "sigmoid"])
    write_keras2_model(tmp_path / "leaky_model.h5", [
        ("Dense", {"name": "dense_1", "units": 4, "activation": "linear"}),
        ("LeakyReLU", {"name": "leaky", "alpha": 0.2}),
        ("Dropout", {"name": "dropout", "rate": 0.5}),
        ("Dense", {"name": "dense_2", "units": 1, "activation": "sigmoid"})],
        [[kernel1[0], bias1[0]], [], [], [kernel2[0], bias2[0]]])
    with Run(path) as run:
        assert run.layer_names == ["dense_1", "dense_2"]
        assert run.layer("dense_1").activation == "leaky_relu"
        for epoch in (0, 6):
            z = inputs @ kernel1[epoch] + bias1[epoch]
            hidden = np.where(z >= 0, z, 0.2 * z)
            output = sigmoid(hidden @ kernel2[epoch] + bias2[epoch])
            np.testing.assert_allclose(run.preactivations("dense_1", epoch), z, rtol=1e-4,
                                       atol=1e-5)
            np.testing.assert_allclose(run.activations("dense_1", epoch), hidden, rtol=1e-4,
                                       atol=1e-5)
            np.testing.assert_allclose(run.outputs(epoch), output, rtol=1e-4, atol=1e-5)
        assert "mesh" not in run.sources  # 3-D inputs: no probe points


def test_an_early_stopped_file_keeps_only_the_epochs_written(tmp_path, blobs):
    # DeepReplay pre-allocated 10 epochs; EarlyStopping ended after 6: the rest are zeros.
    inputs, targets, (kernel1, bias1, kernel2, bias2) = blobs
    path = tmp_path / "early.h5"
    write_deepreplay(path, "early", inputs, targets, [[kernel1, bias1], [kernel2, bias2]],
                     losses=np.linspace(0.7, 0.4, 6), n_epochs=10,
                     metrics={"acc": np.linspace(0.5, 0.8, 6)},
                     activation_functions=["tanh", "sigmoid"])
    with Run(path) as run:
        assert run.n_snapshots == 7
        assert not run.complete
        assert run.attrs["epochs_planned"] == 10 and run.attrs["epochs_trained"] == 6
        assert len(run.history["loss"]) == 6 and len(run.history["accuracy"]) == 6
        np.testing.assert_allclose(run.activations("layer0", 6),
                                   np.tanh(inputs @ kernel1[6] + bias1[6]), rtol=1e-4, atol=1e-5)
        with pytest.raises(IndexError, match="0..6"):
            run.outputs(7)


def test_a_net_replay_cannot_compute_still_opens(tmp_path, blobs, capsys):
    inputs, targets, (kernel1, bias1, kernel2, bias2) = blobs
    path = tmp_path / "odd.h5"
    write_deepreplay(path, "odd", inputs, targets, [[kernel1, bias1], [kernel2, bias2]],
                     losses=np.ones(6), activation_functions=["", "sigmoid"])
    with Run(path) as run:
        assert run.layer("layer0").activation == "unknown"
        assert len(run.history["loss"]) == 6
        np.testing.assert_array_equal(run.weights("layer0", 2)["kernel"], kernel1[2])
        with pytest.raises(LayerNotFoundError, match=r"stores only weights.*'layer0' has no "
                                                     r"activation.*model file"):
            run.activations("layer0", 2)
    assert cli_main(["info", str(path)]) == 0
    assert "cannot be computed" in capsys.readouterr().out


def test_a_multiclass_net_gets_categorical_crossentropy(tmp_path):
    rng = np.random.default_rng(5)
    inputs = rng.normal(size=(30, 2))
    labels = rng.integers(0, 3, size=30)
    targets = np.eye(3)[labels]
    kernel = rng.normal(size=(4, 2, 3)).astype(np.float32)
    bias = rng.normal(size=(4, 3)).astype(np.float32)
    path = tmp_path / "softmax.h5"
    write_deepreplay(path, "softmax", inputs, targets, [[kernel, bias]], losses=np.ones(3),
                     activation_functions=["softmax"])
    with Run(path) as run:
        assert run.attrs["loss"] == "categorical_crossentropy"
        logits = inputs @ kernel[2] + bias[2]
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(run.outputs(2), probabilities, rtol=1e-4, atol=1e-6)
        expected = -np.log(np.clip(probabilities[np.arange(30), labels], 1e-7, 1 - 1e-7))
        np.testing.assert_allclose(run.per_sample_loss(2), expected, rtol=1e-4, atol=1e-6)
        assert run.outputs(2, source="mesh").shape == (100, 100, 3)


# -- the command line --------------------------------------------------------------------


@needs_fixture
def test_cli_info(capsys):
    assert cli_main(["info", str(FIXTURE), "--arrays"]) == 0
    out = capsys.readouterr().out
    assert f"run '{RUN}': 21 snapshots (epochs 0..20), complete" in out
    assert "written by DeepReplay (20 of 20 epochs)" in out
    assert "part1_activation_functions_model.h5" in out
    assert "layer hidden" in out and "sigmoid" in out
    assert "history (20 epochs)" in out and "accuracy=0.746" in out
    assert "activations/mesh/hidden" in out


def test_cli_info_with_an_explicit_model_file(fixture_copy, capsys):
    assert cli_main(["info", str(fixture_copy), "--model-file", str(MODEL_FILE)]) == 0
    assert "layer hidden" in capsys.readouterr().out
    assert cli_main(["info", str(fixture_copy)]) == 0
    out = capsys.readouterr().out
    assert "layer layer0" in out and "generic layer names" in out


@needs_fixture
def test_cli_render_png(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "deepreplay.png"
    assert cli_main(["render", str(FIXTURE), "--epoch", "12", "--out", str(out)]) == 0
    assert "epoch 12, 1200x600 pixels" in capsys.readouterr().out
    assert Image.open(out).size == (1200, 600)


@needs_fixture
def test_cli_render_gif(tmp_path, capsys):
    out = tmp_path / "deepreplay.gif"
    assert cli_main(["render", str(FIXTURE), "--epochs", "0:21:10", "--dpi", "40", "--quiet",
                     "--out", str(out)]) == 0
    assert "3 frames" in capsys.readouterr().out and out.stat().st_size > 0


def test_cli_compare_two_files(fixture_copy, tmp_path, capsys):
    shutil.copyfile(MODEL_FILE, fixture_copy.parent / MODEL_FILE.name)
    out = tmp_path / "compare.png"
    assert cli_main(["compare", str(FIXTURE), str(fixture_copy), "--epoch", "20",
                     "--out", str(out)]) == 0
    assert "2 runs, epoch 20" in capsys.readouterr().out
    assert cli_main(["compare", str(FIXTURE), "--curves", "loss", "accuracy",
                     "--out", str(tmp_path / "curves.png")]) == 0


@needs_fixture
def test_cli_table(capsys):
    assert cli_main(["table", str(FIXTURE), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    header, row = out.strip().splitlines()
    values = dict(zip(header.split(","), row.split(",")))
    assert values["run"] == RUN and values["epochs"] == "20"
    assert float(values["accuracy final"]) == pytest.approx(0.746, abs=1e-6)
    assert float(values["loss final"]) == pytest.approx(raw()["loss"][-1], rel=1e-6)


# -- never damaging a foreign file ----------------------------------------------------------


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_writing_into_a_deepreplay_file_is_refused_and_leaves_it_untouched(fixture_copy):
    before = digest(fixture_copy)
    with pytest.raises(RunFileError, match=r"written by the old DeepReplay package.*"
                                           r"'part1_activation_functions'.*new file"):
        runfile.open_file(fixture_copy, "a")
    assert digest(fixture_copy) == before
    with Run(fixture_copy) as run:  # and it still reads
        assert run.n_snapshots == 21


def test_the_recorder_refuses_a_deepreplay_file_when_it_is_created(fixture_copy):
    pytest.importorskip("keras")
    from replay import Recorder

    before = digest(fixture_copy)
    inputs = np.zeros((4, 2), dtype=np.float32)
    with pytest.raises(RunFileError, match="DeepReplay.*hyperparms_in_action_replay.h5"):
        Recorder(fixture_copy, "new", inputs, np.zeros((4, 1)))
    assert digest(fixture_copy) == before


def test_a_file_marked_by_an_older_replay_keeps_both_runs_readable(fixture_copy, capsys):
    # Before the refusal, a Recorder marked a DeepReplay file as a run file and added
    # its run beside the DeepReplay group: such files read in full.
    with h5py.File(fixture_copy, "a") as handle:
        handle.attrs[schema.FORMAT_ATTRIBUTE] = schema.FORMAT_NAME
        handle.attrs[schema.VERSION_ATTRIBUTE] = schema.SCHEMA_VERSION
        writer = RunWriter.create(handle, "ours", {
            "created": "2024-01-01T00:00:00+00:00", "loss": "binary_crossentropy",
            "layers": [{"name": "output", "class_name": "Dense", "units": 1,
                        "activation": "sigmoid", "weights": ["kernel"], "hidden": False}]})
        writer.write_static(schema.inputs("train"), np.zeros((5, 2), dtype=np.float32))
        writer.write_static(schema.targets("train"), np.ones((5, 1), dtype=np.float32))
        for epoch in range(3):
            writer.append_snapshot(
                float(epoch), epoch,
                {schema.weights("output", "kernel"): np.full((2, 1), epoch, dtype=np.float32),
                 schema.outputs("train"): np.full((5, 1), 0.2 * epoch + 0.3, dtype=np.float32),
                 schema.loss("train"): np.full(5, 1.0 - 0.2 * epoch, dtype=np.float32)},
                history=(epoch, {"loss": 1.0 - 0.2 * epoch, "accuracy": 0.5})
                if epoch else None)
    assert list_runs(fixture_copy) == [RUN, "ours"]
    with Run(fixture_copy, RUN) as old, Run(fixture_copy, "ours") as new:
        assert old.n_snapshots == 21 and old.layer_names == ["layer0", "layer1"]
        assert new.n_snapshots == 3 and new.attrs.get("format") is None
    assert cli_main(["info", str(fixture_copy)]) == 0
    out = capsys.readouterr().out
    assert f"run '{RUN}'" in out and "run 'ours'" in out
    assert cli_main(["table", str(fixture_copy), "--metrics", "loss"]) == 0
    out = capsys.readouterr().out
    assert RUN in out and "| ours |" in out
    runfile.open_file(fixture_copy, "a").close()  # a replay file: recording goes on


def test_an_empty_hdf5_file_may_be_recorded_into(tmp_path):
    path = tmp_path / "empty.h5"
    h5py.File(path, "w").close()
    handle = runfile.open_file(path, "a")
    assert handle.attrs[schema.FORMAT_ATTRIBUTE] == schema.FORMAT_NAME
    handle.close()
