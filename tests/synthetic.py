"""Run files built from numpy arrays, without Keras: the runs of the view, render and compare tests.

A run here is what :class:`replay.Recorder` would have written for a small
``Sequential`` net of ``Dense`` layers, computed with numpy and written
through :class:`replay.io.writer.RunWriter` (the writer the recorder uses),
so a test gets a run in milliseconds instead of a Keras training.

Every snapshot is self-consistent, as a recording is: from the snapshot's
weights a numpy forward pass gives the activations, pre-activations and
outputs on the samples and on the probe grid and mesh
(:mod:`replay.io.probes`); the per-sample loss is the model's loss as
Keras computes it (probabilities clipped to [1e-7, 1 - 1e-7]); the
gradients are those of the mean loss over the recorded samples, by
backpropagation (the recorder's ``gradients=True``: ``training=False``,
every sample). The history row of epoch *k* holds the mean loss, the
accuracy (Keras' rule: ``p > 0.5``, or the argmax) and the learning rate
of snapshot *k* (Keras logs the average over the epoch's batches instead;
here the history matches the outputs exactly). ``test_synthetic.py`` checks
these functions against a run Keras really recorded.

The weights are not trained: they move from a random initial state to
weights that solve the problem, along a path chosen so that the boundary
sweeps through the data, the loss falls at every epoch and the accuracy
climbs as in a training (``part1_weights``); the layer-views run takes real
minibatch SGD steps instead (``small_softmax_weights``).
"""

import datetime
import json
from dataclasses import dataclass

import numpy as np

from replay.datasets import parabola, square_blobs_mod2
from replay.io import probes as probe_points
from replay.io import runfile, schema
from replay.io.writer import RunWriter

#: Keras' ``backend.epsilon()``: probabilities are clipped to [EPSILON, 1 - EPSILON].
EPSILON = 1e-7


@dataclass(frozen=True)
class Dense:
    """One ``Dense`` layer of a synthetic net (kernel and bias)."""

    name: str
    units: int
    activation: str
    #: ``(class name, config)`` of the kernel initializer, for the model config.
    initializer: tuple = ("GlorotUniform", {"seed": None})
    weights: tuple = ("kernel", "bias")


# -- the maths of a snapshot ----------------------------------------------------------


def activate(name, z):
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "softmax":
        shifted = np.exp(z - z.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)
    if name == "linear":
        return z
    raise ValueError(f"no activation {name!r} in tests/synthetic.py")


def activation_slope(name, z, activation):
    """d activation / d z, elementwise (hidden layers; softmax only as an output)."""
    if name == "sigmoid":
        return activation * (1.0 - activation)
    if name == "tanh":
        return 1.0 - activation ** 2
    if name == "relu":
        return (z > 0).astype(np.float64)
    if name == "linear":
        return np.ones_like(z)
    raise ValueError(f"no slope of {name!r} in tests/synthetic.py")


def forward(layers, weights, inputs):
    """Return ``[(z, activation), ...]`` of every layer, in float64."""
    values = np.asarray(inputs, dtype=np.float64)
    results = []
    for layer in layers:
        kernel = np.asarray(weights[layer.name]["kernel"], dtype=np.float64)
        bias = np.asarray(weights[layer.name]["bias"], dtype=np.float64)
        z = values.reshape(-1, values.shape[-1]) @ kernel + bias
        z = z.reshape(*values.shape[:-1], layer.units)
        values = activate(layer.activation, z)
        results.append((z, values))
    return results


def one_hot(loss, targets, n_outputs):
    """The targets as ``(N, n_outputs)`` floats (sparse labels become one-hot)."""
    targets = np.asarray(targets)
    if loss == "sparse_categorical_crossentropy":
        return np.eye(n_outputs)[targets.reshape(-1).astype(int)]
    return targets.reshape(len(targets), n_outputs).astype(np.float64)


def per_sample_loss(loss, targets, outputs):
    """The compiled loss of every sample, as Keras computes it (clipped probabilities)."""
    outputs = np.asarray(outputs, dtype=np.float64)
    expected = one_hot(loss, targets, outputs.shape[-1])
    if loss == "binary_crossentropy":
        clipped = np.clip(outputs, EPSILON, 1.0 - EPSILON)
        terms = expected * np.log(clipped) + (1.0 - expected) * np.log(1.0 - clipped)
        return -terms.mean(axis=-1)
    if loss in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        normalised = outputs / outputs.sum(axis=-1, keepdims=True)
        return -(expected * np.log(np.clip(normalised, EPSILON, 1.0 - EPSILON))).sum(axis=-1)
    raise ValueError(f"no loss {loss!r} in tests/synthetic.py")


def predicted_correctly(loss, targets, outputs):
    """Keras' accuracy per sample: ``p > 0.5`` for one sigmoid unit, else the argmax."""
    outputs = np.asarray(outputs)
    expected = one_hot(loss, targets, outputs.shape[-1])
    if outputs.shape[-1] == 1:
        return (outputs[:, 0] > 0.5) == (expected[:, 0] > 0.5)
    return outputs.argmax(axis=-1) == expected.argmax(axis=-1)


def mean_loss_gradients(layers, weights, inputs, targets, loss):
    """Gradients of the mean loss over ``inputs`` for every weight, by backpropagation.

    The output layer is sigmoid with binary cross-entropy, or softmax with
    (sparse) categorical cross-entropy: the gradient at its pre-activation
    is ``(p - y) / N`` (exact away from the 1e-7 clipping).
    """
    passes = forward(layers, weights, inputs)
    outputs = passes[-1][1]
    delta = (outputs - one_hot(loss, targets, outputs.shape[-1])) / len(outputs)
    gradients = {}
    for position in range(len(layers) - 1, -1, -1):
        layer = layers[position]
        below = (np.asarray(inputs, dtype=np.float64) if position == 0
                 else passes[position - 1][1])
        gradients[layer.name] = {"kernel": below.T @ delta, "bias": delta.sum(axis=0)}
        if position:
            kernel = np.asarray(weights[layer.name]["kernel"], dtype=np.float64)
            z, activation = passes[position - 1]
            delta = (delta @ kernel.T) * activation_slope(layers[position - 1].activation, z,
                                                          activation)
    return gradients


# -- writing a run --------------------------------------------------------------------


def model_config(layers, n_inputs):
    """A Keras-3-like ``Sequential.get_config()`` of the net (what ``describe_initializer`` reads)."""
    entries = [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                "config": {"batch_shape": [None, n_inputs], "dtype": "float32",
                           "sparse": False, "name": "input_layer"}}]
    fan_in = n_inputs
    for layer in layers:
        initializer, arguments = layer.initializer
        entries.append({
            "module": "keras.layers", "class_name": "Dense", "registered_name": None,
            "build_config": {"input_shape": [None, fan_in]},
            "config": {
                "name": layer.name, "trainable": True, "dtype": "float32",
                "units": layer.units, "activation": layer.activation, "use_bias": True,
                "kernel_initializer": {"module": "keras.initializers",
                                       "class_name": initializer, "config": arguments,
                                       "registered_name": None},
                "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros",
                                     "config": {}, "registered_name": None},
                "kernel_regularizer": None, "bias_regularizer": None,
                "kernel_constraint": None, "bias_constraint": None,
            },
        })
        fan_in = layer.units
    return {"name": "sequential", "trainable": True, "dtype": "float32", "layers": entries,
            "build_input_shape": [None, n_inputs]}


def snapshot_arrays(layers, weights, sources, probes, loss, *, gradients=True):
    """The arrays of one snapshot, by dataset path, as ``BackendCapture.collect`` names them."""
    arrays = {schema.weights(layer.name, name): np.asarray(weights[layer.name][name])
              for layer in layers for name in layer.weights}
    hidden = layers[:-1]
    for source, (inputs, targets) in sources.items():
        passes = forward(layers, weights, inputs)
        outputs = passes[-1][1].astype(np.float32)
        arrays[schema.outputs(source)] = outputs
        for layer, (z, activation) in zip(hidden, passes):
            arrays[schema.activations(source, layer.name)] = activation
            arrays[schema.preactivations(source, layer.name)] = z
        arrays[schema.loss(source)] = per_sample_loss(loss, targets, outputs)
    for source, points in probes.items():
        passes = forward(layers, weights, points)
        arrays[schema.outputs(source)] = passes[-1][1]
        for layer, (_, activation) in zip(hidden, passes):
            arrays[schema.activations(source, layer.name)] = activation
    if gradients:
        inputs, targets = sources["train"]
        for layer_name, values in mean_loss_gradients(layers, weights, inputs, targets,
                                                      loss).items():
            for name, gradient in values.items():
                arrays[schema.gradients(layer_name, name)] = gradient
    return arrays


def write_run(path, run, layers, snapshots, inputs, targets, *, loss, metrics=("accuracy",),
              probes=True, grid_lines=11, grid_points=100, mesh_resolution=40, padding=0.1,
              gradients=True, learning_rate=0.05, batch_size=16, attributes=None):
    """Write a run of ``len(snapshots)`` snapshots into ``path`` (created or appended to).

    Args:
        path: the run file.
        run: the run name.
        layers: the :class:`Dense` layers, the last one the output layer.
        snapshots: one ``{layer: {"kernel": array, "bias": array}}`` per
            snapshot, snapshot 0 the initial state.
        inputs, targets: the samples recorded (``train``).
        loss: a Keras loss name (binary, categorical or sparse categorical
            cross-entropy).
        metrics: history keys besides ``loss`` and ``learning_rate``
            (``"accuracy"`` or none).
        probes: record the probe grid and mesh (2-D inputs only).
        gradients: record the gradients of the mean loss.
        attributes: more run attributes, e.g. ``{"hparams": {"lr": 0.05}}``
            (dicts and lists are stored as JSON text, as the recorder does).

    Returns:
        The path.
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    targets = np.asarray(targets)
    # As the recorder stores them: weights in float32, and everything computed from those.
    snapshots = [{layer: {name: np.asarray(value, dtype=np.float32)
                          for name, value in values.items()}
                  for layer, values in weights.items()} for weights in snapshots]
    steps_per_epoch = int(np.ceil(len(inputs) / batch_size))
    n_epochs = len(snapshots) - 1
    extra_attributes = attributes or {}
    attributes = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(),
        "model_config": json.dumps(model_config(layers, inputs.shape[1])),
        "model_class": "Sequential",
        "layers": [{"name": layer.name, "class_name": "Dense", "units": layer.units,
                    "shape": [layer.units], "activation": layer.activation,
                    "weights": list(layer.weights), "trainable_weights": list(layer.weights),
                    "hidden": position < len(layers) - 1, "preactivations": True,
                    "storage": {"weights": "raw", "gradients": "raw" if gradients else None,
                                **dict.fromkeys(("activations", "preactivations"),
                                                "raw" if position < len(layers) - 1 else None)}}
                   for position, layer in enumerate(layers)],
        "loss": loss,
        "from_logits": False,
        "task": "classification",
        "keras_version": "none (tests/synthetic.py)",
        "backend": "numpy",
        "n_samples": len(inputs),
        "n_validation_samples": 0,
        "snapshot_unit": "epoch",
        "snapshot_every": 1,
        "n_outputs": layers[-1].units,
        "subclassed": False,
        "epochs_planned": n_epochs,
        # Stored as they are: every array raw, float32, uncompressed.
        schema.RECOMPUTED_ATTRIBUTE: {},
        "storage_dtype": "float32",
        "compression": "none",
        "max_snapshot_bytes": 0,
    }
    attributes.update(extra_attributes)
    if n_epochs:  # what on_train_begin adds (Recorder.snapshot runs no fit)
        attributes.update(steps_per_epoch=steps_per_epoch, batch_size=batch_size,
                          n_train_samples=len(inputs))
    sources = {"train": (inputs, targets)}
    probe_sets = {}
    if probes:
        limits = probe_points.padded_limits(inputs, padding)
        probe_sets = {"grid": probe_points.grid_lines(limits, grid_lines, grid_points),
                      "mesh": probe_points.mesh(limits, mesh_resolution)}
        attributes["probe_limits"] = limits.tolist()
    with runfile.open_file(path, "a") as handle:
        writer = RunWriter.create(handle, run, attributes)
        for source, (source_inputs, source_targets) in sources.items():
            writer.write_static(schema.inputs(source), source_inputs)
            writer.write_static(schema.targets(source), source_targets)
        for source, points in probe_sets.items():
            writer.write_static(schema.inputs(source), points)
        # As the recorder does: the weights before training, before snapshot 0.
        for layer, values in (snapshots[0] if snapshots else {}).items():
            for name, value in values.items():
                writer.write_static(schema.initial_weights(layer, name), value)
        for epoch, weights in enumerate(snapshots):
            arrays = snapshot_arrays(layers, weights, sources, probe_sets, loss,
                                     gradients=gradients)
            history = None
            if epoch:
                outputs = arrays[schema.outputs("train")]
                logs = {"loss": float(arrays[schema.loss("train")].astype(np.float32).mean())}
                if "accuracy" in metrics:
                    logs["accuracy"] = float(predicted_correctly(loss, targets, outputs).mean())
                logs["learning_rate"] = float(np.float32(learning_rate))
                history = (epoch, logs)
            writer.append_snapshot(float(epoch), epoch * steps_per_epoch, arrays, history)
        writer.set_attributes(complete=True, stopped_early=False, epochs_trained=n_epochs)
    return path


# -- the runs of the tests ------------------------------------------------------------


def part1_layers(activation="sigmoid"):
    """Dense(2, activation) 'hidden' → Dense(1, sigmoid) 'output' (the part-1 net)."""
    return [Dense("hidden", 2, activation, ("GlorotNormal", {"seed": None})),
            Dense("output", 1, "sigmoid",
                  ("RandomNormal", {"mean": 0.0, "stddev": 0.05, "seed": None}))]


def part1_weights(activation="sigmoid", epochs=12, seed=0):
    """Weights of the part-1 net from a random initial state to a solution of the parabolas.

    The solution: each hidden unit looks at one arm of a V, ``x2 = ±0.8 x1 - 0.22``,
    which runs between the parabolas ``x2 = x1²`` (class 0) and ``x2 = x1² - 0.5``
    (class 1); the output says class 1 when either unit finds the sample
    below its arm. On the way the V opens, sharpens and slides down from
    ``x2 = 0.45`` (sigmoid) or ``0.2`` (relu), so the boundary sweeps through
    the data: the accuracy climbs from about 0.5 to 1.0 at epoch 8 of 12
    and the loss falls at every epoch.
    """
    rng = np.random.default_rng(seed)
    glorot = np.sqrt(2.0 / (2 + 2))
    initial = {
        "hidden": {"kernel": np.clip(rng.normal(0.0, glorot, (2, 2)),
                                     -2 * glorot, 2 * glorot),
                   "bias": np.zeros(2)},
        "output": {"kernel": rng.normal(0.0, 0.05, (2, 1)), "bias": np.zeros(1)},
    }
    start = 0.45 if activation == "sigmoid" else 0.2
    snapshots = []
    for epoch in range(epochs + 1):
        progress = 1.0 - (1.0 - epoch / max(epochs, 1)) ** 2  # fast first, then settling
        sharpness = 8.0 + 32.0 * progress
        slope = 0.8 * progress
        offset = start + (-0.22 - start) * progress
        solution = {"hidden": {"kernel": sharpness * np.array([[slope, -slope], [-1.0, -1.0]]),
                               "bias": sharpness * np.array([offset, offset])}}
        if activation == "sigmoid":  # class 1 when h1 + h2 > 0.5
            solution["output"] = {"kernel": np.full((2, 1), 8.0 * progress),
                                  "bias": np.array([-4.0 * progress])}
        else:  # relu: class 1 when h1 + h2 > 0.75
            solution["output"] = {"kernel": np.full((2, 1), 2.0 * progress),
                                  "bias": np.array([-1.5 * progress])}
        snapshots.append({layer: {name: (1 - progress) * initial[layer][name]
                                  + progress * solution[layer][name]
                                  for name in ("kernel", "bias")}
                          for layer in ("hidden", "output")})
    return snapshots


def write_part1(path, run="sigmoid", activation="sigmoid", *, epochs=12, n_points=200,
                mesh_resolution=40, grid_points=100, seed=0, **options):
    """The part-1 net on ``parabola(n_points)``, ``epochs`` epochs (``epochs + 1`` snapshots)."""
    inputs, targets = parabola(n_points)
    return write_run(path, run, part1_layers(activation),
                     part1_weights(activation, epochs, seed), inputs, targets,
                     loss="binary_crossentropy", mesh_resolution=mesh_resolution,
                     grid_points=grid_points, **options)


def write_wide_multiclass(path, run="softmax", *, epochs=4):
    """2 → Dense(3, tanh) 'wide' → Dense(3, softmax) 'output' on three 2-D blobs, one-hot targets.

    The solution is the nearest-centre rule: unit *j* computes
    ``2 c_j·x - |c_j|²`` (largest for the nearest centre ``c_j``) and the
    output picks the largest unit.
    """
    rng = np.random.default_rng(0)
    centres = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5]])
    labels = np.repeat(np.arange(3), 60)
    inputs = (centres[labels] + 0.4 * rng.normal(size=(len(labels), 2))).astype("float32")
    targets = np.eye(3, dtype="float32")[labels]
    layers = [Dense("wide", 3, "tanh"), Dense("output", 3, "softmax")]
    initial = {"wide": {"kernel": rng.uniform(-1.1, 1.1, (2, 3)), "bias": np.zeros(3)},
               "output": {"kernel": rng.uniform(-1.0, 1.0, (3, 3)), "bias": np.zeros(3)}}
    solution = {"wide": {"kernel": 2.0 * centres.T, "bias": -(centres ** 2).sum(axis=1)},
                "output": {"kernel": 3.0 * np.eye(3), "bias": np.zeros(3)}}
    return write_run(path, run, layers, interpolate(initial, solution, epochs), inputs, targets,
                     loss="categorical_crossentropy", mesh_resolution=30, grid_points=50,
                     learning_rate=0.1, batch_size=32)


def small_softmax_weights(layers, inputs, labels, *, epochs=5, batch_size=32,
                          learning_rate=0.5, seed=0):
    """Weights of minibatch SGD (numpy, shuffled each epoch), one snapshot per epoch."""
    rng = np.random.default_rng(seed)
    weights = {"hidden": {"kernel": rng.normal(0.0, 0.01, (2, 2)), "bias": np.zeros(2)},
               "output": {"kernel": rng.uniform(-1.0, 1.0, (2, 4)), "bias": np.zeros(4)}}
    snapshots = [weights]
    for _ in range(epochs):
        order = rng.permutation(len(inputs))
        for start in range(0, len(inputs), batch_size):
            batch = order[start:start + batch_size]
            gradients = mean_loss_gradients(layers, weights, inputs[batch], labels[batch],
                                            "sparse_categorical_crossentropy")
            weights = {layer: {name: value - learning_rate * gradients[layer][name]
                               for name, value in values.items()}
                       for layer, values in weights.items()}
        snapshots.append(weights)
    return snapshots


def write_small_softmax(path, run="small", *, epochs=5):
    """2 → Dense(2, tanh, RandomNormal(0.01)) 'hidden' → Dense(4, softmax) 'output', sparse labels.

    The labels are ``index % 4`` of ``square_blobs_mod2(120)`` (nothing to learn,
    as in the Keras run it replaces: what moves is the weights, by SGD with
    learning rate 0.5); no probes, no metric, gradients recorded.
    """
    inputs, _ = square_blobs_mod2(120)
    labels = (np.arange(len(inputs)) % 4).astype("int32")
    layers = [Dense("hidden", 2, "tanh",
                    ("RandomNormal", {"mean": 0.0, "stddev": 0.01, "seed": None})),
              Dense("output", 4, "softmax")]
    snapshots = small_softmax_weights(layers, inputs.astype(np.float64), labels, epochs=epochs)
    return write_run(path, run, layers, snapshots, inputs, labels,
                     loss="sparse_categorical_crossentropy", metrics=(), probes=False,
                     learning_rate=0.5, batch_size=32)


def write_three_features(path, run="three", *, epochs=2, n_samples=60):
    """The part-1 net on 3 input features, class 1 where ``x1 + x2 - x3 > 0`` (no probe points)."""
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(n_samples, 3)).astype("float32")
    targets = (inputs[:, :1] + inputs[:, 1:2] - inputs[:, 2:] > 0).astype("float32")
    initial = {"hidden": {"kernel": rng.normal(0.0, 0.6, (3, 2)), "bias": np.zeros(2)},
               "output": {"kernel": rng.normal(0.0, 0.05, (2, 1)), "bias": np.zeros(1)}}
    solution = {"hidden": {"kernel": np.array([[3.0, -3.0], [3.0, -3.0], [-3.0, 3.0]]),
                           "bias": np.zeros(2)},
                "output": {"kernel": np.array([[6.0], [-6.0]]), "bias": np.zeros(1)}}
    return write_run(path, run, part1_layers("sigmoid"), interpolate(initial, solution, epochs),
                     inputs, targets, loss="binary_crossentropy", probes=False)


def interpolate(initial, solution, epochs):
    """Snapshots from ``initial`` to ``solution`` weights, fast first, then settling."""
    snapshots = []
    for epoch in range(epochs + 1):
        progress = 1.0 - (1.0 - epoch / epochs) ** 2
        snapshots.append({layer: {name: (1 - progress) * values[name]
                                  + progress * solution[layer][name] for name in values}
                          for layer, values in initial.items()})
    return snapshots
