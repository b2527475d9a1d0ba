"""The synthetic runs of the view tests hold what a recording would, and learn as a training does.

``tests/synthetic.py`` writes runs from numpy so that the view, render and
compare tests need no Keras training. These tests keep those runs honest:
their layout is a recorded run's, their numpy forward pass, losses and
gradients equal what Keras recorded for the same weights, and their
history, outputs and weights agree with each other.
"""

import dataclasses

import h5py
import numpy as np
import pytest
import synthetic

from replay import Run
from replay.io import schema


def layout(path, run):
    """``{dataset path: (shape, dtype)}`` (stored or recomputed) and the attribute names of a run."""
    with Run(path, run) as opened:
        datasets = {name: (tuple(shape), dtype) for name, (shape, dtype, _) in
                    opened.arrays().items()}
    with h5py.File(path, "r") as handle:
        return datasets, set(handle[run].attrs)


@pytest.mark.parametrize("run", ["sigmoid", "relu"])
def test_a_synthetic_run_has_the_layout_of_a_recorded_run(part1_file, recorded_part1_file, run):
    synthetic_arrays, synthetic_attributes = layout(part1_file, run)
    recorded_arrays, recorded_attributes = layout(recorded_part1_file, run)
    # When the recorder writes a new array or attribute, synthetic.write_run must too.
    assert synthetic_arrays == recorded_arrays
    assert synthetic_attributes == recorded_attributes, (
        f"only recorded: {sorted(recorded_attributes - synthetic_attributes)}; only "
        f"synthetic: {sorted(synthetic_attributes - recorded_attributes)}")
    made, recorded = Run(part1_file, run), Run(recorded_part1_file, run)
    # The synthetic run stores every array; the recorder recomputes some (storage).
    assert ([dataclasses.replace(layer, storage=None) for layer in made.layers]
            == [dataclasses.replace(layer, storage=None) for layer in recorded.layers])
    for key in ("loss", "n_outputs", "n_samples", "batch_size", "steps_per_epoch",
                "snapshot_unit", "complete", "epochs_planned", "epochs_trained"):
        assert made.attrs[key] == recorded.attrs[key], key
    np.testing.assert_allclose(made.attrs["probe_limits"], recorded.attrs["probe_limits"])
    np.testing.assert_array_equal(made.steps, recorded.steps)
    assert sorted(made.history) == sorted(recorded.history)
    for source in ("train", "grid", "mesh"):
        np.testing.assert_array_equal(made.inputs(source), recorded.inputs(source))


@pytest.mark.parametrize("run", ["sigmoid", "relu"])
def test_the_numpy_snapshot_equals_what_keras_recorded(recorded_part1_file, run):
    # Keras' weights through synthetic.py's forward pass, loss and backpropagation.
    recorded = Run(recorded_part1_file, run)
    layers = synthetic.part1_layers(run)
    sources = {"train": (recorded.inputs(), recorded.targets())}
    probes = {source: recorded.inputs(source) for source in ("grid", "mesh")}
    for epoch in (0, 6, 12):
        weights = {layer: recorded.weights(layer, epoch) for layer in ("hidden", "output")}
        arrays = synthetic.snapshot_arrays(layers, weights, sources, probes,
                                           "binary_crossentropy")
        assert sorted(arrays) == sorted(name for name in recorded.arrays()
                                        if name.split("/")[0] not in
                                        ("inputs", "targets", "snapshots", "history", "initial"))
        for name, values in arrays.items():
            expected = recorded.series(name, [epoch])[0]
            scale = np.abs(expected).max()
            np.testing.assert_allclose(values, expected, atol=1e-5 * max(scale, 1e-3),
                                       err_msg=f"{name} at epoch {epoch}")


def test_history_outputs_and_weights_agree(part1_file, wide_multiclass_file,
                                           small_softmax_file):
    for path, name, loss in [(part1_file, "sigmoid", "binary_crossentropy"),
                             (part1_file, "relu", "binary_crossentropy"),
                             (wide_multiclass_file, "softmax", "categorical_crossentropy"),
                             (small_softmax_file, "small", "sparse_categorical_crossentropy")]:
        run = Run(path, name)
        assert run.attrs["loss"] == loss
        layers = [synthetic.Dense(info.name, info.units, info.activation) for info in run.layers]
        hidden = layers[0].name
        for epoch in range(run.n_snapshots):
            weights = {layer.name: run.weights(layer.name, epoch) for layer in layers}
            (z, activations), (_, outputs) = synthetic.forward(layers, weights, run.inputs())
            np.testing.assert_allclose(run.preactivations(hidden, epoch), z, atol=1e-5)
            np.testing.assert_allclose(run.activations(hidden, epoch), activations, atol=1e-6)
            np.testing.assert_allclose(run.outputs(epoch), outputs, atol=1e-6)
            if epoch == 0:
                continue
            losses = run.per_sample_loss(epoch)
            assert run.history["loss"][epoch - 1] == pytest.approx(losses.mean(), rel=1e-6)
            if "accuracy" in run.history:
                correct = run.predicted_labels(epoch) == run.labels()
                assert run.history["accuracy"][epoch - 1] == pytest.approx(correct.mean())
        np.testing.assert_array_equal(run.history["epoch"], np.arange(1, run.n_snapshots))
        np.testing.assert_array_equal(run.epochs, np.arange(run.n_snapshots))


def test_softmax_gradients_equal_finite_differences(wide_multiclass_file):
    run = Run(wide_multiclass_file, "softmax")
    layers = [synthetic.Dense(info.name, info.units, info.activation) for info in run.layers]
    weights = {layer.name: {name: value.astype(np.float64)
                            for name, value in run.weights(layer.name, 1).items()}
               for layer in layers}
    inputs, targets = run.inputs(), run.targets()

    def mean_loss(changed):
        outputs = synthetic.forward(layers, changed, inputs)[-1][1]
        return synthetic.per_sample_loss("categorical_crossentropy", targets, outputs).mean()

    step = 1e-6
    for layer, weight, index in [("wide", "kernel", (1, 2)), ("wide", "bias", (0,)),
                                 ("output", "kernel", (2, 0)), ("output", "bias", (1,))]:
        changed = {name: {key: value.copy() for key, value in values.items()}
                   for name, values in weights.items()}
        changed[layer][weight][index] += step
        above = mean_loss(changed)
        changed[layer][weight][index] -= 2 * step
        numeric = (above - mean_loss(changed)) / (2 * step)
        recorded = run.gradients(layer, 1)[weight][index]
        assert recorded == pytest.approx(numeric, rel=1e-3, abs=1e-7), (layer, weight, index)


def test_the_synthetic_part1_runs_learn_like_a_training(part1_file):
    for name, perfect_at in [("sigmoid", 8), ("relu", 8)]:
        run = Run(part1_file, name)
        loss, accuracy = run.history["loss"], run.history["accuracy"]
        assert np.all(np.diff(loss) < 0), "the loss falls at every epoch"
        correct = [np.mean(run.predicted_labels(epoch) == run.labels())
                   for epoch in range(run.n_snapshots)]
        assert correct[0] < 0.6 and accuracy[0] < 0.9
        assert int(np.argmax(accuracy >= 1.0)) + 1 == perfect_at
        # The boundary moves: the mesh's class-1 region grows and shifts.
        regions = run.series(schema.outputs("mesh"))[..., 0] > 0.5
        assert all(not np.array_equal(regions[epoch], regions[epoch + 1]) for epoch in (2, 5))
        mesh_outputs = run.outputs(12, source="mesh")
        assert mesh_outputs.min() < 0.5 < mesh_outputs.max()
    sigmoid, relu = Run(part1_file, "sigmoid"), Run(part1_file, "relu")
    assert not np.allclose(sigmoid.history["accuracy"], relu.history["accuracy"])
