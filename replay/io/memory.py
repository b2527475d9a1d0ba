"""Runs built from arrays in memory: the storage of :meth:`replay.Run.from_arrays`.

:func:`arrays_store` checks the arrays a user recorded elsewhere (any
framework, any training loop) and files them under the paths of
:mod:`replay.io.schema`, so that every view reads them as it reads a run
file. Arrays are not copied: they are kept as read-only views.
"""

import datetime

import numpy as np

from replay import forward
from replay.errors import OptionError
from replay.io import probes, schema
from replay.io.store import ArrayStore, StaticDataset

#: The ``path`` of a run built in memory (for messages).
IN_MEMORY = "<in memory>"


def probe_points(inputs, *, grid_lines=11, grid_points=500, mesh_resolution=100, padding=0.1):
    """Return the probe grid and mesh the recorder would use for 2-D ``inputs``.

    Push them through your own model and give its activations and outputs on
    them to :meth:`replay.Run.from_arrays` (sources ``"grid"`` and
    ``"mesh"``): the feature space then bends the grid and colours the
    decision regions. The defaults are those of :class:`replay.Recorder`.

    Args:
        inputs: the samples ``(N, 2)``.
        grid_lines, grid_points: grid lines per direction, points per line.
        mesh_resolution: mesh points per side (or ``(n_y, n_x)``).
        padding: fraction of the input range added on each side.

    Returns:
        ``{"grid": (2 * grid_lines, grid_points, 2), "mesh": (n_y, n_x, 2)}``.

    Example:
        >>> points = probe_points(np.random.default_rng(0).normal(size=(50, 2)))
        >>> points["grid"].shape, points["mesh"].shape
        ((22, 500, 2), (100, 100, 2))
    """
    limits = probes.padded_limits(inputs, padding)
    return {"grid": probes.grid_lines(limits, grid_lines, grid_points),
            "mesh": probes.mesh(limits, mesh_resolution)}


def arrays_store(*, inputs, targets, activations=None, preactivations=None, outputs=None,
                 per_sample_loss=None, weights=None, gradients=None, history=None,
                 epochs=None, loss=None, activation_names=None):
    """Return the :class:`ArrayStore` of a run given as arrays.

    See :meth:`replay.Run.from_arrays` for the arguments.

    Raises:
        OptionError: an array has the wrong shape, or names an unknown source.
    """
    inputs = {source: _numeric(array, f"inputs[{source!r}]")
              for source, array in _by_source(inputs, "inputs", schema.SOURCES).items()}
    if "train" not in inputs:
        raise OptionError("inputs must hold the train samples: an array (N, d), or a dict "
                          f"with a 'train' entry. Got the sources {', '.join(inputs)}.")
    # Targets of shape (N,) (class labels, binary or regression targets) are
    # stored as (N, 1), the shape the recorder keeps them in.
    targets = {source: _numeric(array, f"targets[{source!r}]", least=1).reshape(len(array), -1)
               for source, array in _by_source(targets, "targets",
                                               schema.SAMPLE_SOURCES).items()}
    _check_sources(inputs, targets)

    per_snapshot = {}  # path -> array (S, ...)
    outputs = _by_source(outputs, "outputs", schema.SOURCES)
    for source, array in outputs.items():
        array = _per_snapshot(array, f"outputs[{source!r}]", inputs, source, units=True)
        per_snapshot[schema.outputs(source)] = array
    for argument, values, allowed, path_of in (
            ("activations", activations, schema.SOURCES, schema.activations),
            ("preactivations", preactivations, schema.SAMPLE_SOURCES, schema.preactivations)):
        for source, layers in _by_layer_and_source(values, argument, allowed).items():
            for layer, array in layers.items():
                per_snapshot[path_of(source, layer)] = _per_snapshot(
                    array, f"{argument}[{source!r}][{layer!r}]", inputs, source, units=True)
    for source, array in _by_source(per_sample_loss, "per_sample_loss",
                                    schema.SAMPLE_SOURCES).items():
        per_snapshot[schema.loss(source)] = _per_snapshot(
            array, f"per_sample_loss[{source!r}]", inputs, source, units=False)
    for argument, values, path_of in (("weights", weights, schema.weights),
                                      ("gradients", gradients, schema.gradients)):
        for layer, arrays in _mapping(values, argument).items():
            for weight, array in _mapping(arrays, f"{argument}[{layer!r}]").items():
                per_snapshot[path_of(layer, weight)] = _numeric(
                    array, f"{argument}[{layer!r}][{weight!r}]", least=1)
    if not per_snapshot:
        raise OptionError(
            "Nothing per snapshot: give at least outputs= or activations= (arrays whose "
            "first axis is the snapshot)."
        )
    n_snapshots = _count_snapshots(per_snapshot)

    loss = loss or _default_loss(per_snapshot, targets)
    for source in targets:
        path = schema.loss(source)
        if path not in per_snapshot and schema.outputs(source) in per_snapshot \
                and forward.loss_function(loss) is not None:
            per_snapshot[path] = forward.per_sample_loss(
                loss, targets[source], per_snapshot[schema.outputs(source)])

    epochs = _epochs(epochs, n_snapshots)
    history = _history(history) if history is not None else {}

    datasets = {schema.SNAPSHOT_EPOCHS: epochs,
                schema.SNAPSHOT_STEPS: np.full(n_snapshots, -1, dtype=np.int64)}
    datasets.update({schema.inputs(source): array for source, array in inputs.items()})
    datasets.update({schema.targets(source): array for source, array in targets.items()})
    datasets.update(per_snapshot)
    datasets.update({schema.history(key): values for key, values in history.items()})
    layers = _layers(per_snapshot, weights, activation_names)
    attrs = {
        schema.FORMAT_ATTRIBUTE: schema.ARRAYS_FORMAT,
        "complete": True,
        "stopped_early": False,
        "created": datetime.datetime.now(datetime.UTC).isoformat(),
        "layers": layers,
        "loss": loss,
        "n_samples": len(inputs["train"]),
        "n_outputs": layers[-1]["units"] if layers and not layers[-1]["hidden"] else None,
        "epochs_trained": len(history.get(schema.HISTORY_INDEX, ())),
        "snapshot_unit": "epoch",
        "snapshot_every": 1,
    }
    return ArrayStore({path: StaticDataset(array) for path, array in datasets.items()}, attrs)


# -- checking the arguments ------------------------------------------------------------


def _mapping(value, argument):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OptionError(f"{argument} must be a dict. Got {type(value).__name__}.")
    return value


def _by_source(value, argument, allowed):
    """``{source: value}`` from one array (the train samples) or a dict by source."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        return {"train": value}
    unknown = [source for source in value if source not in allowed]
    if unknown:
        raise OptionError(
            f"{argument} is a dict of sources; {unknown[0]!r} is not one of "
            f"{', '.join(allowed)}."
        )
    return value


def _by_layer_and_source(value, argument, allowed):
    """``{source: {layer: array}}`` from ``{layer: array}`` (train) or by source."""
    value = _mapping(value, argument)
    if value and all(isinstance(item, dict) for item in value.values()):
        return _by_source(value, argument, allowed)
    nested = [key for key, item in value.items() if isinstance(item, dict)]
    if nested:
        raise OptionError(
            f"{argument} mixes layers and sources: give {{layer: array}} for the train "
            f"samples, or {{source: {{layer: array}}}}. {nested[0]!r} holds a dict."
        )
    return {"train": value} if value else {}


def _numeric(array, argument, *, least=2):
    array = np.asarray(array)
    if array.dtype.kind not in "fiub" or array.ndim < least:
        raise OptionError(
            f"{argument} must be a numeric array of at least {least} dimensions. Got dtype "
            f"{array.dtype} and shape {array.shape}."
        )
    return array


def _check_sources(inputs, targets):
    for source in schema.PROBE_SOURCES:
        if source in inputs and (inputs[source].ndim != 3 or inputs[source].shape[-1] != 2):
            raise OptionError(
                f"inputs[{source!r}] must be probe points of 2-D inputs, shape "
                f"{'(2 * n_lines, n_points, 2)' if source == 'grid' else '(n_y, n_x, 2)'}. "
                f"Got {inputs[source].shape}."
            )
    for source in schema.SAMPLE_SOURCES:
        if (source in inputs) != (source in targets):
            raise OptionError(
                f"The {source!r} samples need both inputs and targets; got only "
                f"{'inputs' if source in inputs else 'targets'}."
            )
        if source in inputs and len(inputs[source]) != len(targets[source]):
            raise OptionError(
                f"inputs[{source!r}] and targets[{source!r}] must have the same number of "
                f"samples. Got {len(inputs[source])} and {len(targets[source])}."
            )


def _per_snapshot(array, argument, inputs, source, *, units):
    """Check ``(S, *source shape[, units])``; one-unit outputs may omit their last axis."""
    if source not in inputs:
        raise OptionError(f"{argument} is given, but inputs has no {source!r} entry.")
    shape = inputs[source].shape[:-1] if source in schema.PROBE_SOURCES else \
        inputs[source].shape[:1]
    array = _numeric(array, argument)
    if units and array.shape[1:] == shape:
        array = array[..., None]
    expected = f"(n_snapshots, {', '.join(str(size) for size in shape)}" + (
        ", units)" if units else ")")
    if array.shape[1:1 + len(shape)] != shape or array.ndim != 1 + len(shape) + int(units):
        raise OptionError(f"{argument} must have shape {expected}. Got {array.shape}.")
    return array


def _count_snapshots(per_snapshot):
    counts = {path: len(array) for path, array in per_snapshot.items()}
    n = next(iter(counts.values()))
    odd = [path for path, count in counts.items() if count != n]
    if odd:
        first = next(iter(counts))
        raise OptionError(
            f"Every per-snapshot array must hold the same number of snapshots (first axis): "
            f"{first!r} has {n}, {odd[0]!r} has {counts[odd[0]]}."
        )
    if n == 0:
        raise OptionError("The arrays hold no snapshot (their first axis is empty).")
    return n


def _epochs(epochs, n_snapshots):
    if epochs is None:
        return np.arange(n_snapshots, dtype=np.float64)
    epochs = np.asarray(epochs, dtype=np.float64)
    if epochs.shape != (n_snapshots,) or np.any(np.diff(epochs) <= 0):
        raise OptionError(
            f"epochs must be {n_snapshots} increasing values, one per snapshot. Got shape "
            f"{epochs.shape}."
        )
    return epochs


def _default_loss(per_snapshot, targets):
    outputs = per_snapshot.get(schema.outputs("train"))
    if outputs is None:
        return None
    if outputs.shape[-1] == 1:
        return "binary_crossentropy"
    target = targets["train"]
    return ("categorical_crossentropy" if target.ndim == 2 and target.shape[1] > 1
            else "sparse_categorical_crossentropy")


def _history(history):
    history = {key: np.asarray(values, dtype=np.float64)
               for key, values in _mapping(history, "history").items()}
    lengths = {key: values.shape for key, values in history.items()}
    if any(len(shape) != 1 for shape in lengths.values()) or len(set(lengths.values())) > 1:
        raise OptionError(
            "history must map each key to a 1-D array, all of one length (one value per "
            f"epoch). Got shapes {lengths}."
        )
    if history and schema.HISTORY_INDEX not in history:
        length = len(next(iter(history.values())))
        history[schema.HISTORY_INDEX] = np.arange(1, length + 1, dtype=np.float64)
    return history


def add_derived_history(run, store):
    """Give a run built without ``history=`` one derived from its outputs.

    Per whole epoch after snapshot 0: ``loss``, the mean per-sample loss,
    and for cross-entropy losses ``accuracy``, from the predicted labels.

    Args:
        run: the :class:`replay.Run` reading ``store``.
        store: its :class:`ArrayStore`.
    """
    epochs = np.asarray(run.epochs)
    rows = np.flatnonzero((epochs >= 1) & (epochs == np.round(epochs)))
    if schema.loss("train") not in store or not len(rows):
        return
    history = {schema.HISTORY_INDEX: epochs[rows],
               "loss": np.array([np.mean(run.per_sample_loss(row), dtype=np.float64)
                                 for row in rows])}
    if "crossentropy" in str(run.attrs.get("loss")) and schema.outputs("train") in store:
        labels = run.labels()
        history["accuracy"] = np.array([np.mean(run.predicted_labels(row) == labels)
                                        for row in rows])
    store.add({schema.history(key): StaticDataset(values) for key, values in history.items()})
    store.attrs["epochs_trained"] = len(rows)


def _layers(per_snapshot, weights, activation_names):
    """LayerInfo dicts: the hidden layers (with activations), then the output layer."""
    activation_names = _mapping(activation_names, "activation_names")
    hidden, units = [], {}
    for path, array in per_snapshot.items():
        for source in schema.SOURCES:
            for path_of in (schema.activations, schema.preactivations):
                prefix = path_of(source, "")
                if path.startswith(prefix) and path[len(prefix):] not in hidden:
                    hidden.append(path[len(prefix):])
                    units[path[len(prefix):]] = int(array.shape[-1])
    weights = _mapping(weights, "weights")
    others = [layer for layer in weights if layer not in hidden]
    if len(others) > 1:
        raise OptionError(
            f"weights names the layers {', '.join(map(repr, others))} without activations; "
            "only one of them can be the output layer. Give the activations of the hidden "
            "layers."
        )
    output = others[0] if others else "output"
    outputs = per_snapshot.get(schema.outputs("train"))
    if outputs is None:
        outputs = next((array for path, array in per_snapshot.items()
                        if path.startswith(schema.outputs(""))), None)
    layers = [{"name": name, "class_name": "Dense", "units": units[name],
               "activation": activation_names.get(name, "unknown"),
               "weights": list(weights.get(name, {})), "hidden": True} for name in hidden]
    if outputs is not None or others:
        size = (int(outputs.shape[-1]) if outputs is not None
                else int(np.shape(next(iter(weights[output].values())))[-1]))
        layers.append({"name": output, "class_name": "Dense", "units": size,
                       "activation": activation_names.get(output, "unknown"),
                       "weights": list(weights.get(output, {})), "hidden": False})
    return layers
