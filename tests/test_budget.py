"""What the recorder keeps: selected layers and quantities, sample subsets, float16,
recomputed datasets, summaries and the size budget (``Recorder(max_snapshot_bytes=...)``)."""

import json
import re
import warnings

import h5py
import numpy as np
import pytest
from conftest import record_part1

from replay import BudgetWarning, LayerNotFoundError, OptionError, RecordingError, Run
from replay.cli import main
from replay.io import schema
from replay.io.storage import HALF_PRECISION_MIN_VALUES, Summary, summarize, to_storage
from replay.io.writer import RunWriter


def blobs(n=300, features=6, seed=0):
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(n, features)).astype(np.float32)
    return inputs, (inputs[:, 0] + inputs[:, 1] > 0).astype(np.float32)


def dense_model(features=6, units=(8, 5), activations=("tanh", "relu"), seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((features,))]
    for index, (width, activation) in enumerate(zip(units, activations), start=1):
        layers.append(keras.layers.Dense(width, activation=activation, name=f"h{index}"))
    layers.append(keras.layers.Dense(1, activation="sigmoid", name="output"))
    model = keras.Sequential(layers)
    model.compile(keras.optimizers.SGD(0.05), "binary_crossentropy", metrics=["accuracy"])
    return model


def record(path, model=None, *, inputs=None, targets=None, epochs=2, run="run",
           batch_size=32, **options):
    from replay import Recorder

    if inputs is None:
        inputs, targets = blobs()
    model = dense_model(inputs.shape[1]) if model is None else model
    recorder = Recorder(path, run, inputs, targets, **options)
    model.fit(inputs, targets, epochs=epochs, batch_size=batch_size, verbose=0,
              callbacks=[recorder])
    return model, inputs, targets


def stored(path, run="run"):
    """The datasets stored in the file (not the recomputed ones)."""
    found = set()
    with h5py.File(path, "r") as handle:
        handle[run].visititems(
            lambda name, item: found.add(name) if isinstance(item, h5py.Dataset) else None)
    return found


def snapshot_bytes(run):
    """Bytes one snapshot of ``run`` stores (uncompressed, recomputed datasets excluded)."""
    total = 0
    for path, (shape, dtype, size) in run.arrays().items():
        if size and schema.quantity_of(path)[0] not in ("inputs", "targets", "samples",
                                                        "history", "snapshots", "initial"):
            total += int(np.prod(shape[1:])) * np.dtype(dtype).itemsize
    return total


def keras_values(model, inputs, layer):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(
        keras.Model(model.inputs[0], model.get_layer(layer).output)(inputs)))


# -- choosing what to record ------------------------------------------------------------


@pytest.mark.backend
def test_selected_layers_and_quantities_store_exactly_what_was_asked(tmp_path):
    path = tmp_path / "run.h5"
    record(path, layers=["h1", "output"], recompute=False, gradients=True,
           quantities={"h1": ["activations", "preactivations"], "*": ["weights", "outputs"]})
    per_snapshot = {name for name in stored(path) if name.split("/")[0] not in (
        "inputs", "targets", "history", "snapshots", "initial")}
    assert per_snapshot == {"activations/train/h1", "preactivations/train/h1",
                            "outputs/train", "weights/output/kernel", "weights/output/bias"}
    # The weights before training: those of the layers whose weights are recorded.
    assert {name for name in stored(path) if name.startswith("initial/")} == {
        "initial/weights/output/kernel", "initial/weights/output/bias"}
    run = Run(path, "run")
    assert run.layer_names == ["h1", "output"]
    assert run.layer("h1").storage == {"weights": None, "activations": "raw",
                                       "preactivations": "raw", "gradients": None}
    assert run.layer("h1").weights == [] and run.hidden_layers == ["h1"]


@pytest.mark.backend
def test_a_layer_predicate_and_a_list_of_quantities(tmp_path):
    path = tmp_path / "run.h5"
    record(path, layers=lambda layer: layer.name != "h2", quantities=["weights", "losses"])
    names = stored(path)
    assert {"weights/h1/kernel", "weights/output/kernel", "loss/train"} <= names
    assert not any(name.startswith(("weights/h2", "activations", "outputs", "gradients"))
                   for name in names)
    assert Run(path, "run").layer_names == ["h1", "output"]


def test_selection_options_are_checked(tmp_path):
    from replay import Recorder

    inputs, targets = blobs()
    for options, message in [({"quantities": ["weights", "logits"]}, "unknown 'logits'"),
                             ({"layers": 3}, "layers must be None"),
                             ({"max_samples": 0}, "max_samples must be a positive integer"),
                             ({"storage_dtype": "int8"}, "storage_dtype must be one of"),
                             ({"max_snapshot_bytes": -5}, "max_snapshot_bytes must be"),
                             ({"recompute": "yes"}, "recompute must be True or False")]:
        with pytest.raises(OptionError, match=message):
            Recorder(tmp_path / "x.h5", "run", inputs, targets, **options)
    with pytest.raises(RecordingError, match="'h9'.*Its layers with weights: h1, h2, output"):
        record(tmp_path / "y.h5", layers=["h1", "h9"])


# -- a subset of the samples --------------------------------------------------------------


@pytest.mark.backend
def test_max_samples_records_a_seeded_subset_and_keeps_the_training_facts(tmp_path):
    from replay.views import LossHistogram, ProbabilityHistogram

    path = tmp_path / "run.h5"
    inputs, targets = blobs(500)
    validation = blobs(200, seed=1)
    model, _, _ = record(path, inputs=inputs, targets=targets, max_samples=120,
                         validation_data=validation, batch_size=25)
    run = Run(path, "run")
    with h5py.File(path, "r") as handle:
        indices = handle["run"][schema.sample_indices("train")][()]
        validation_indices = handle["run"][schema.sample_indices("validation")][()]
    assert len(indices) == 120 and np.all(np.diff(indices) > 0) and indices.max() < 500
    assert len(validation_indices) == 120
    np.testing.assert_array_equal(run.inputs(), inputs[indices])
    np.testing.assert_array_equal(run.targets(), targets[indices])
    np.testing.assert_array_equal(run.inputs("validation"), validation[0][validation_indices])
    assert run.attrs["n_samples"] == 120 and run.attrs["n_train_samples"] == 500
    assert run.attrs["batch_size"] == 25 and run.attrs["steps_per_epoch"] == 20
    import keras

    losses = keras.ops.convert_to_numpy(keras.losses.binary_crossentropy(
        targets[indices][:, None], model(inputs[indices])))
    np.testing.assert_allclose(run.per_sample_loss(-1), losses, rtol=1e-4, atol=1e-6)
    assert run.outputs(-1).shape == (120, 1) and run.activations("h1", -1).shape == (120, 8)
    histogram = LossHistogram(run)
    histogram.plot(-1)
    assert histogram.counts_.sum() == 120
    probabilities = ProbabilityHistogram(run)
    probabilities.plot(-1)
    assert sum(counts.sum() for counts in np.atleast_2d(probabilities.counts_)) == 120
    # The same seed gives the same subset; a smaller one is part of it.
    record(tmp_path / "small.h5", inputs=inputs, targets=targets, max_samples=60)
    with h5py.File(tmp_path / "small.h5", "r") as handle:
        assert set(handle["run"][schema.sample_indices("train")][()]) <= set(indices)


# -- float16 storage ------------------------------------------------------------------------


def test_float16_storage_reads_back_as_float32_within_its_precision(tmp_path):
    inputs, targets = blobs(600, features=4)
    path = tmp_path / "run.h5"
    model, _, _ = record(path, dense_model(4, units=(128, 4)), inputs=inputs, targets=targets,
                         recompute=False)
    with h5py.File(path, "r") as handle:
        group = handle["run"]
        assert group["activations/train/h1"].dtype == np.float16  # 600 x 128 values
        assert group["activations/train/h2"].dtype == np.float32  # small: stays exact
        assert group["weights/h1/kernel"].dtype == np.float32
        assert group["loss/train"].dtype == np.float32
    run = Run(path, "run")
    values = run.activations("h1", -1)
    assert values.dtype == np.float32 and run.series("activations/train/h1").dtype == np.float32
    np.testing.assert_allclose(values, keras_values(model, inputs, "h1"), rtol=1e-3, atol=1e-3)
    exact = Run(path, "run").activations("h2", -1)
    np.testing.assert_allclose(exact, keras_values(model, inputs, "h2"), rtol=1e-5, atol=1e-6)


def test_values_beyond_float16_widen_the_dataset_to_float32(tmp_path):
    path = tmp_path / "run.h5"
    big = HALF_PRECISION_MIN_VALUES
    with h5py.File(path, "w") as handle:
        writer = RunWriter.create(handle, "run", {"layers": []}, compression="lzf")
        path_of = schema.activations("train", "h")
        for epoch, scale in enumerate((1.0, 2.0, 1e6)):
            row = to_storage({path_of: np.full((big,), scale, np.float32)})
            assert row[path_of].dtype == (np.float32 if scale > 65504 else np.float16)
            writer.append_snapshot(float(epoch), epoch, row)
        assert handle["run"][path_of].dtype == np.float32
        np.testing.assert_array_equal(handle["run"][path_of][:, 0], [1.0, 2.0, 1e6])


# -- recomputed datasets --------------------------------------------------------------------


@pytest.mark.backend
def test_dense_layers_are_recomputed_from_their_weights_exactly(tmp_path):
    import keras

    def scaled_swish(x):  # a custom activation: not one numpy knows
        return x * keras.ops.sigmoid(2 * x)

    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((6,)), keras.layers.Dense(7, name="pair"), keras.layers.LeakyReLU(0.1),
        keras.layers.Dense(5, activation="gelu", name="gelu"),
        keras.layers.Dense(4, activation=scaled_swish, name="custom"),
        keras.layers.Dense(3, activation="softmax", name="output")])
    model.compile("adam", "sparse_categorical_crossentropy")
    inputs, _ = blobs()
    targets = (np.abs(inputs[:, 0]) * 2).astype(int).clip(0, 2)
    path = tmp_path / "run.h5"
    record(path, model, inputs=inputs, targets=targets, gradients=False)
    run = Run(path, "run")
    storage = {layer.name: layer.storage for layer in run.layers}
    assert storage["pair"]["activations"] == "recomputed"   # the LeakyReLU layer's slope
    assert storage["gelu"]["activations"] == "recomputed"
    assert storage["custom"]["activations"] == "raw"        # not a known function
    assert storage["custom"]["preactivations"] == "recomputed"
    assert "activations/train/pair" not in stored(path)
    assert schema.outputs("train") not in stored(path)       # softmax of 'custom', raw
    for layer in ("pair", "gelu", "custom"):
        np.testing.assert_allclose(run.activations(layer, -1),
                                   keras_values(model, inputs, layer if layer != "pair"
                                                else model.layers[1].name),
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.outputs(-1), keras_values(model, inputs, "output"),
                               rtol=1e-5, atol=1e-6)
    assert run.arrays()[schema.activations("train", "pair")][2] == 0  # nothing stored
    assert run.attrs[schema.VERSION_ATTRIBUTE] == 2  # readable by replays before version 3


#: Convolutions the numpy recipe must compute as Keras does: (class, spatial
#: shape, options). Odd and even sizes with "same" and strides, dilation,
#: causal padding, kernels larger than the stride.
CONVOLUTIONS = [
    ("Conv1D", (11,), {"kernel_size": 3}),
    ("Conv1D", (11,), {"kernel_size": 3, "padding": "causal", "dilation_rate": 2}),
    ("Conv1D", (10,), {"kernel_size": 4, "padding": "same", "strides": 3}),
    ("Conv2D", (9, 8), {"kernel_size": 3, "padding": "same", "strides": 2}),
    ("Conv2D", (9, 8), {"kernel_size": (2, 3), "dilation_rate": (2, 1)}),
    ("Conv2D", (8, 8), {"kernel_size": 1, "use_bias": False}),
    ("Conv3D", (5, 6, 7), {"kernel_size": 2, "padding": "same", "strides": (1, 2, 3)}),
]


@pytest.mark.parametrize("kind, spatial, options", CONVOLUTIONS)
def test_conv_recipe_computes_what_keras_computes(kind, spatial, options):
    import keras

    from replay.io.recompute import apply_recipe

    keras.utils.set_random_seed(0)
    layer = getattr(keras.layers, kind)(5, activation="elu", **options)
    inputs = np.random.default_rng(1).normal(size=(7, *spatial, 3)).astype(np.float32)
    expected = np.asarray(keras.ops.convert_to_numpy(layer(inputs)))
    kernel, *bias = layer.get_weights()
    recipe = {"op": "conv", "strides": list(layer.strides), "padding": layer.padding,
              "dilation_rate": list(layer.dilation_rate), "activation": "elu"}
    # One kernel per snapshot, on static inputs and on per-snapshot inputs.
    kernels = np.stack([kernel, 2 * kernel])
    biases = np.stack([bias[0], 2 * bias[0]]) if bias else None
    computed = apply_recipe(recipe, inputs, kernels, biases)
    assert computed.shape == (2, *expected.shape)
    np.testing.assert_allclose(computed[0], expected, rtol=1e-5, atol=1e-5)
    per_snapshot = apply_recipe(recipe, np.stack([inputs, inputs]), kernels, biases)
    np.testing.assert_allclose(per_snapshot, computed, rtol=1e-6, atol=1e-6)


@pytest.mark.backend
def test_conv_layers_are_recomputed_from_their_weights(tmp_path):
    """Conv2D → Conv2D chain: both layers' activations and z-values come from the weights."""
    import keras

    keras.utils.set_random_seed(2)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu", padding="same", name="conv_1"),
        keras.layers.Conv2D(3, 3, strides=2, name="conv_2"), keras.layers.Activation("tanh"),
        keras.layers.Flatten(), keras.layers.Dense(2, name="latent"),
        keras.layers.Dense(3, activation="softmax", name="output")])
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    inputs = rng.random((120, 8, 8, 1)).astype(np.float32)
    targets = rng.integers(0, 3, 120)
    path = tmp_path / "run.h5"
    record(path, model, inputs=inputs, targets=targets, epochs=2)
    run = Run(path, "run")
    storage = {layer.name: layer.storage for layer in run.layers}
    for layer in ("conv_1", "conv_2"):
        assert storage[layer]["activations"] == storage[layer]["preactivations"] == "recomputed"
        assert not {schema.activations("train", layer),
                    schema.preactivations("train", layer)} & stored(path)
    assert storage["latent"]["activations"] == "raw"  # its input (Flatten) is not recorded
    assert run.attrs[schema.VERSION_ATTRIBUTE] == 3  # convolution recipes: version 3
    np.testing.assert_allclose(run.activations("conv_1", -1),
                               keras_values(model, inputs, "conv_1"), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(run.activations("conv_2", -1),
                               keras_values(model, inputs, model.layers[2].name),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(run.preactivations("conv_2", -1),
                               keras_values(model, inputs, "conv_2"), rtol=1e-5, atol=1e-5)
    assert run.activations("conv_2", 0).shape == (120, 3, 3, 3)


def test_a_damaged_conv_recipe_is_a_run_file_error(tmp_path):
    import keras

    from replay.errors import RunFileError

    path = tmp_path / "run.h5"
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.Conv1D(2, 3, name="conv"),
                              keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid", name="output")])
    model.compile("sgd", "binary_crossentropy")
    inputs = np.random.default_rng(0).normal(size=(50, 6, 2)).astype(np.float32)
    record(path, model, inputs=inputs, targets=(inputs[:, 0, 0] > 0).astype(np.float32),
           epochs=1)
    with h5py.File(path, "r+") as handle:
        recipes = json.loads(handle["run"].attrs[schema.RECOMPUTED_ATTRIBUTE])
        assert {recipe["op"] for recipe in recipes.values()} == {"conv"}
        for recipe in recipes.values():
            recipe["padding"] = "causal!"
        handle["run"].attrs[schema.RECOMPUTED_ATTRIBUTE] = json.dumps(recipes)
    with pytest.raises(RunFileError, match="recomputed.*damaged"):
        Run(path, "run").activations("conv", 0)


def test_recompute_false_stores_everything(tmp_path):
    path = tmp_path / "run.h5"
    record(path, recompute=False)
    assert {"activations/train/h1", "preactivations/train/h2", "outputs/train"} <= stored(path)
    assert not Run(path, "run").attrs.get(schema.RECOMPUTED_ATTRIBUTE)


# -- the size budget and summaries ----------------------------------------------------------


def wide_run(path, **options):
    """A net with two 96-unit layers on 400 samples, recorded without recomputing."""
    inputs, targets = blobs(400, features=5)
    model = dense_model(5, units=(96, 96), activations=("tanh", "relu"))
    options.setdefault("recompute", False)
    return record(path, model, inputs=inputs, targets=targets, epochs=2, **options)


def test_the_budget_warns_once_names_what_it_dropped_and_how_to_get_it_back(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wide_run(tmp_path / "run.h5", max_snapshot_bytes=250_000, gradients=False)
    budget = [warning for warning in caught if issubclass(warning.category, BudgetWarning)]
    assert len(budget) == 1
    message = str(budget[0].message)
    assert "max_snapshot_bytes=250,000" in message
    assert "the z-values of 'h1', 'h2' as summaries" in message
    assert "the activations of 'h1' as summaries" in message  # h2 is the figure's layer
    assert "max_snapshot_bytes=None" in message and "max_samples=" in message
    run = Run(tmp_path / "run.h5", "run")
    assert run.layer("h1").storage["activations"] == "summary"
    assert run.layer("h2").storage == {"weights": "raw", "activations": "raw",
                                       "preactivations": "summary", "gradients": None}
    assert snapshot_bytes(run) < 250_000


def test_the_budget_takes_a_sample_subset_first(tmp_path):
    with pytest.warns(BudgetWarning, match=r"(\d,\d+) of the 3,000 train samples") as caught:
        inputs, targets = blobs(3000, features=5)
        record(tmp_path / "run.h5", dense_model(5, units=(64, 64)), inputs=inputs,
               targets=targets, epochs=1, recompute=False, max_snapshot_bytes=600_000,
               gradients=False)
    kept = int(re.search(r"(\d,\d+) of the 3,000", str(caught[0].message)).group(1)
               .replace(",", ""))
    run = Run(tmp_path / "run.h5", "run")
    assert 1000 <= kept < 3000
    assert run.attrs["n_samples"] == kept and run.attrs["n_train_samples"] == 3000
    assert snapshot_bytes(run) < 600_000


def test_no_warning_within_the_budget(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", BudgetWarning)
        record(tmp_path / "run.h5")


def test_summaries_feed_layer_violins_and_std_per_layer(tmp_path):
    from replay.views import LayerViolins

    with pytest.warns(BudgetWarning):
        wide_run(tmp_path / "small.h5", max_snapshot_bytes=250_000, gradients=False)
    wide_run(tmp_path / "full.h5", max_snapshot_bytes=None, gradients=False)
    small, full = Run(tmp_path / "small.h5", "run"), Run(tmp_path / "full.h5", "run")
    with pytest.raises(LayerNotFoundError, match="as summaries only .*max_snapshot_bytes=None"):
        small.activations("h1", 0)
    for quantity in ("activations", "preactivations"):
        summarized = LayerViolins(small, quantity, layers=["h1", "h2"])
        raw = LayerViolins(full, quantity, layers=["h1", "h2"])
        np.testing.assert_allclose(summarized.std_per_layer(), raw.std_per_layer(),
                                   rtol=2e-3, atol=1e-5)
        summarized.plot(-1)
        raw.plot(-1)
        for body, expected in zip(summarized.bodies_, raw.bodies_):
            np.testing.assert_allclose(body.get_xy(), expected.get_xy(), atol=2e-2)
        np.testing.assert_allclose(summarized.std_, raw.std_, rtol=2e-3)


def test_numpy_and_jax_summaries_agree():
    import jax.numpy as jnp

    from replay.record.capture_jax import _summary_pieces

    values = np.random.default_rng(0).normal(size=(300, 4, 7)).astype(np.float32)
    expected = summarize(values)
    traced = {path.rsplit("/", 1)[1]: np.asarray(array)
              for path, array in _summary_pieces("activations/train/x", jnp.asarray(values))}
    for statistic in schema.SUMMARY_STATISTICS:
        np.testing.assert_allclose(traced[statistic], expected[statistic], rtol=1e-5,
                                   atol=1e-5 if statistic != "histogram" else 2)
    summary = Summary(*(expected[statistic] for statistic in schema.SUMMARY_STATISTICS))
    assert summary.size == values.size
    np.testing.assert_allclose(summary.pooled_std, values.std(), rtol=1e-5)
    np.testing.assert_allclose(summary.pooled_mean, values.mean(), rtol=1e-5, atol=1e-7)


def test_the_tensorflow_and_torch_capture_writes_what_the_jax_capture_writes(tmp_path):
    """BackendCapture (TensorFlow, PyTorch) run on JAX: the same arrays as FusedJaxCapture."""
    from replay.record import budget
    from replay.record.capture import BackendCapture, CapturePlan
    from replay.record.capture_jax import FusedJaxCapture

    inputs, targets = blobs(400, features=2)
    model = dense_model(2, units=(96, 96))
    probes = {"mesh": np.stack(np.meshgrid(np.linspace(-2, 2, 30), np.linspace(-2, 2, 20)),
                               axis=-1).astype(np.float32)}
    results = []
    for kind in (FusedJaxCapture, BackendCapture):
        plan = CapturePlan(model)
        recording = budget.plan_recording(plan, {"train": (inputs, targets)}, probes,
                                          recompute=False, limit=150_000)
        options = {"gradients": False} if kind is FusedJaxCapture else {}
        capture = kind(plan, recording.sources, probes, **options)
        results.append(capture.collect(capture.dispatch()))
    fused, backend = results
    assert sorted(fused) == sorted(backend)
    assert any(path.startswith("summaries/") for path in fused)
    for path in fused:
        tolerance = 2 if path.endswith("histogram") else 1e-3
        np.testing.assert_allclose(np.asarray(backend[path], np.float64),
                                   np.asarray(fused[path], np.float64), atol=tolerance,
                                   rtol=1e-3, err_msg=path)
        assert backend[path].dtype == fused[path].dtype, path


def test_the_snapshot_function_compiles_with_cpu_options_or_without(monkeypatch):
    """The faster-compiling XLA options give the same arrays; a jaxlib without them still works."""
    from replay.record import budget, capture_jax
    from replay.record.capture import CapturePlan
    from replay.record.capture_jax import FusedJaxCapture

    inputs, targets = blobs(300, features=2)
    model = dense_model(2, units=(16,))
    results = []
    for options in (capture_jax.CPU_COMPILER_OPTIONS, {}, {"xla_cpu_no_such_option": True}):
        monkeypatch.setattr(capture_jax, "CPU_COMPILER_OPTIONS", options)
        monkeypatch.setattr(capture_jax, "_options_known", True)
        monkeypatch.setattr(capture_jax, "_COMPILED", type(capture_jax._COMPILED)())
        plan = CapturePlan(model)
        recording = budget.plan_recording(plan, {"train": (inputs, targets)}, {},
                                          recompute=False)
        capture = FusedJaxCapture(plan, recording.sources, {}, gradients=True)
        results.append(capture.collect(capture.dispatch()))
        # An option this jaxlib does not know: compiled without options, once noticed.
        assert capture_jax._options_known == ("xla_cpu_no_such_option" not in options)
    assert len(results[0]) > 5
    for other in results[1:]:
        assert sorted(other) == sorted(results[0])
        for path, array in results[0].items():
            np.testing.assert_array_equal(other[path], array, err_msg=path)


def test_same_shaped_models_share_one_compiled_snapshot_function(monkeypatch):
    """A sweep: a new model of the same shapes is traced, but neither lowered nor compiled."""
    from replay.record import budget, capture_jax
    from replay.record.capture import CapturePlan
    from replay.record.capture_jax import FusedJaxCapture

    monkeypatch.setattr(capture_jax, "_COMPILED", type(capture_jax._COMPILED)())
    inputs, targets = blobs(200, features=2)
    probes = {"mesh": np.zeros((5, 4, 2), np.float32)}
    lowered = []
    real_lower = capture_jax._compile_on_backend
    monkeypatch.setattr(capture_jax, "_compile_on_backend",
                        lambda stage: lowered.append(stage) or real_lower(stage))
    captures = []
    for seed, units in ((0, (8, 5)), (1, (8, 5)), (2, (8, 6))):
        plan = CapturePlan(dense_model(2, units=units, seed=seed))
        recording = budget.plan_recording(plan, {"train": (inputs, targets)}, probes,
                                          recompute=False)
        capture = FusedJaxCapture(plan, recording.sources, probes, gradients=True)
        arrays = capture.collect(capture.dispatch())
        np.testing.assert_allclose(arrays["weights/h1/kernel"],
                                   plan.model.get_layer("h1").get_weights()[0])
        captures.append(capture)
    assert captures[0].compiled is captures[1].compiled  # other weights, same program
    assert captures[2].compiled is not captures[0].compiled  # other shapes
    assert len(lowered) == 2 and len(capture_jax._COMPILED) == 2
    assert all(key.startswith("jaxpr:") for key in capture_jax._COMPILED)


# -- what it costs, shown -------------------------------------------------------------------


def test_replay_info_shows_the_size_of_each_run_and_quantity(tmp_path, capsys):
    path = tmp_path / "run.h5"
    record(path, run="recomputed")
    record(path, run="stored", recompute=False, max_samples=100)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "on disk" in out.splitlines()[0]
    assert out.count("per snapshot: ") == 2
    assert "recomputed from the weights when read (not stored): activations, outputs" in out
    assert "[activations recomputed, z-values recomputed]" in out
    assert "train: 100 samples of the 300 fit trained on, a fixed subset" in out
    stored_line = [line for line in out.splitlines() if "per snapshot" in line][1]
    assert "activations " in stored_line and "weights " in stored_line
    assert main(["info", str(path), "--run", "recomputed", "--arrays"]) == 0
    assert "recomputed" in [line.split()[-1] for line in capsys.readouterr().out.splitlines()
                            if "activations/train/h1" in line][0]


def test_part1_defaults_store_little_and_read_the_same(tmp_path):
    """The part-1 net: weights and losses stored, everything else recomputed on reading."""
    from conftest import part1_model  # noqa: F401 - the model record_part1 trains

    model, inputs, _ = record_part1(tmp_path / "run.h5", epochs=3)
    run = Run(tmp_path / "run.h5", "sigmoid")
    assert run.sources == ["train", "grid", "mesh"]
    assert not any(name.startswith(("activations", "outputs", "preactivations"))
                   for name in stored(tmp_path / "run.h5", "sigmoid"))
    np.testing.assert_allclose(run.activations("hidden", -1),
                               keras_values(model, inputs, "hidden"), rtol=1e-5, atol=1e-6)
    mesh = run.inputs("mesh").reshape(-1, 2)
    np.testing.assert_allclose(run.outputs(-1, source="mesh").reshape(-1, 1),
                               keras_values(model, mesh, "output"), rtol=1e-5, atol=1e-6)


def test_version_1_runs_still_read(tmp_path, part1_file):
    import shutil

    copy = tmp_path / "v1.h5"
    shutil.copy(part1_file, copy)
    with h5py.File(copy, "a") as handle:
        group = handle["sigmoid"]
        group.attrs[schema.VERSION_ATTRIBUTE] = 1
        layers = json.loads(group.attrs["layers"])
        group.attrs["layers"] = json.dumps([{key: value for key, value in layer.items()
                                             if key != "storage"} for layer in layers])
    with Run(copy, "sigmoid") as run:
        assert run.layers[0].storage is None
        np.testing.assert_array_equal(run.activations("hidden", 3),
                                      Run(part1_file, "sigmoid").activations("hidden", 3))


def test_diagnose_reads_summaries_as_it_reads_values(tmp_path):
    # h1: relu units, half of them dead from the start (a bias of -50 on 5
    # features of std 1), kept as summaries by the budget; the same run
    # recorded in full must give the same dead-unit finding.
    import keras

    def model():
        dense = dense_model(5, units=(96, 96), activations=("relu", "tanh"))
        bias = dense.get_layer("h1").bias
        bias.assign(np.where(np.arange(96) % 2 == 0, -50.0, 0.0).astype(np.float32))
        return dense

    inputs, targets = blobs(400, features=5)
    keras.utils.set_random_seed(0)
    record(tmp_path / "full.h5", model(), inputs=inputs, targets=targets,
           max_snapshot_bytes=None, recompute=False)
    with pytest.warns(BudgetWarning, match="the activations of 'h1' as summaries"):
        record(tmp_path / "small.h5", model(), inputs=inputs, targets=targets,
               max_snapshot_bytes=250_000, recompute=False)
    small, full = Run(tmp_path / "small.h5", "run"), Run(tmp_path / "full.h5", "run")
    assert small.layer("h1").storage["activations"] == "summary"

    def dead(run):
        findings = run.diagnose(checks=["dead-units"]).of_kind("dead-units")
        return [(finding.layer, finding.snapshots, list(finding.units), finding.value)
                for finding in findings]

    assert dead(small) == dead(full)
    assert dead(small) and dead(small)[0][0] == "h1" and dead(small)[0][3] >= 48
    assert not any(kind == "dead-units" for kind, _ in small.diagnose().skipped)


# -- the time rule of a heavy model -----------------------------------------------------


def heavy_cnn():
    """The 65k-parameter CNN of issue 24 (Conv 32-64-64, GAP, Dense 128, 4 classes)."""
    import keras

    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(32, 3, activation="relu", name="conv_1"),
        keras.layers.Conv2D(64, 3, activation="relu", name="conv_2"),
        keras.layers.Conv2D(64, 3, activation="relu", name="conv_3"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(128, activation="relu", name="dense"),
        keras.layers.Dense(4, activation="softmax", name="output")])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def plan_for(model, n, *, gradients=True, trained=None, **options):
    from replay.record.budget import plan_recording
    from replay.record.capture import CapturePlan

    inputs = np.zeros((n, *model.inputs[0].shape[1:]), np.float32)
    targets = np.zeros(n, np.float32)
    return plan_recording(CapturePlan(model), {"train": (inputs, targets)}, {},
                          gradients=gradients, trained_per_snapshot=trained or n, **options)


def test_a_heavy_models_time_rule_goes_below_the_size_floor():
    from replay.record.budget import CAPTURE_SHARE, MIN_SAMPLES, budget_message

    kept = plan_for(heavy_cnn(), 5000)
    result = kept.budget
    # 5 % of 5,000 samples' training (3 passes each) is 750 passes: 250 samples
    # with their gradients (3 passes each), not the size budget's 1,000.
    assert result.counts == {"train": 250} and len(kept.sources["train"][0]) == 250
    assert result.too_slow
    assert result.share_before == pytest.approx(1.0)
    assert result.share_after == pytest.approx(CAPTURE_SHARE)
    message = budget_message("run", "run.h5", result, 8_000_000)
    assert "250 of the 5,000 train samples" in message
    assert "would cost about 100% of the training between two snapshots" in message
    assert ("a snapshot's pass over the samples it keeps costs about 5.0% of the training "
            "between two snapshots") in message
    # Without gradients a pass costs a third: 750 samples.
    assert plan_for(heavy_cnn(), 5000, gradients=False).budget.counts == {"train": 750}
    # The size budget alone still keeps at least 1,000.
    sized = plan_for(heavy_cnn(), 5000, trained=10**9).budget
    assert not sized.too_slow and sized.counts == {"train": MIN_SAMPLES}


def test_the_time_rule_keeps_at_least_its_own_floor():
    from replay.record.budget import MIN_TIMED_SAMPLES

    # Snapshots every 500 samples of training would allow 25 samples.
    result = plan_for(heavy_cnn(), 5000, trained=500).budget
    assert result.counts == {"train": MIN_TIMED_SAMPLES}
    assert result.share_after == pytest.approx(MIN_TIMED_SAMPLES * 3 / (3 * 500))


def test_small_models_keep_every_sample_however_often_they_snapshot():
    result = plan_for(dense_model(6), 2000, trained=16).budget
    assert result.counts == {"train": 2000} and not result.dropped and not result.too_slow
