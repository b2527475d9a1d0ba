"""Reading runs of the old DeepReplay package, without Keras.

DeepReplay's ``ReplayData`` callback wrote one group per run: ``inputs``,
``targets``, per-epoch ``loss`` and metrics (``acc``, ``lr``, ...),
``layer{i}/weights{j}`` with one row per snapshot (row 0 before training,
row *k* after epoch *k*) and the attributes ``n_epochs``, ``n_layers``,
``samples``, ``batch_size``, ``n_batches`` and ``activation_functions``.
Layer names, activations and the loss are in the Keras 2 model file it saved
beside the run file (``<group>_model.h5``), which is read with h5py.

:func:`open_store` turns such a group into an
:class:`replay.io.store.ArrayStore` with the datasets of
:mod:`replay.io.schema`: weights, inputs and targets are read from the file;
the snapshot index, the history (Keras 3 names: ``accuracy``,
``learning_rate``), the probe grid and mesh (2-D inputs) are derived once;
activations, pre-activations, outputs and per-sample losses are computed on
demand, a few snapshots at a time, with the numpy forward pass of
:mod:`replay.forward` (Dense nets only). See ``docs/deepreplay.md``.
"""

import json
import os
from collections import OrderedDict
from dataclasses import dataclass, field

import h5py
import numpy as np

from replay import forward as dense
from replay.errors import LayerNotFoundError, OptionError, RunFileError
from replay.io import schema
from replay.io.memory import probe_points
from replay.io.store import ArrayStore, ComputedDataset, StaticDataset

#: Snapshots per forward pass; a longer read runs several passes.
PASS_SNAPSHOTS = 64
#: Bytes of computed arrays kept for the next read (the views read the
#: activations, outputs and losses of the same snapshots one after another).
CACHE_BYTES = 64 * 2**20
#: Keras 2 layers without weights that apply an activation: (activation, options).
ACTIVATION_LAYERS = {
    "Activation": lambda config: (config.get("activation") or "linear", {}),
    "LeakyReLU": lambda config: ("leaky_relu", {"alpha": float(config.get("alpha", 0.3))}),
    "ELU": lambda config: ("elu", {"alpha": float(config.get("alpha", 1.0))}),
    "ReLU": lambda config: ("relu", {
        "negative_slope": float(config.get("negative_slope") or 0.0),
        "max_value": config.get("max_value"),
        "threshold": float(config.get("threshold") or 0.0)}),
    "Softmax": lambda config: ("softmax", {}),
}
#: Keras 2 layers that do nothing at inference (or on flat inputs).
IDENTITY_LAYERS = ("InputLayer", "Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise",
                   "ActivityRegularization", "Flatten")


def is_deepreplay_group(group):
    """Whether an HDF5 group is a run written by DeepReplay's ``ReplayData``."""
    return (isinstance(group, h5py.Group) and schema.LEGACY_ATTRIBUTE in group.attrs
            and schema.VERSION_ATTRIBUTE not in group.attrs)


def model_file_beside(path, run):
    """Return the model file DeepReplay saved for ``run`` beside ``path``, or ``None``."""
    candidate = os.path.join(os.path.dirname(os.path.abspath(path)),
                             f"{run}{schema.DEEPREPLAY_MODEL_SUFFIX}")
    return candidate if os.path.isfile(candidate) else None


@dataclass
class ModelFile:
    """What a Keras 2 model file (``model.save``) says about the model.

    Attributes:
        path: the file.
        layers: ``(class_name, config)`` of every layer, in model order.
        model_class: ``"Sequential"`` or ``"Model"``.
        model_config: ``{"name", "layers"}`` as :mod:`replay.model_config` reads it.
        loss: the compiled loss (a name), or ``None``.
        metrics: the compiled metrics.
        keras_version, backend: as saved.
        weight_names: ``{layer name: [weight name, ...]}`` (``"kernel"``, ``"bias"``).
        weight_shapes: ``{layer name: [shape, ...]}``.
    """

    path: str
    layers: list
    model_class: str = None
    model_config: dict = None
    loss: object = None
    metrics: list = field(default_factory=list)
    keras_version: str = None
    backend: str = None
    weight_names: dict = field(default_factory=dict)
    weight_shapes: dict = field(default_factory=dict)


def read_model_file(path):
    """Read a Keras 2 model file with h5py (Keras 3 cannot load it as a model).

    Raises:
        RunFileError: no such file, not HDF5, or no model config in it.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise RunFileError(
            f"No such model file: '{path}'. Pass the Keras model file DeepReplay saved for "
            f"the run (<run>{schema.DEEPREPLAY_MODEL_SUFFIX}), or none to use generic layer "
            "names."
        )
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise RunFileError(
            f"'{path}' is not an HDF5 file, so it cannot be the Keras model file of a "
            f"DeepReplay run: {error}"
        ) from error
    with handle:
        config = _json_attribute(handle, schema.KERAS2_MODEL_CONFIG)
        if not isinstance(config, dict) or "config" not in config:
            raise RunFileError(
                f"'{path}' holds no Keras model config (attribute "
                f"{schema.KERAS2_MODEL_CONFIG!r}); pass the model file DeepReplay saved "
                "beside the run file."
            )
        inner = config["config"]
        layers = inner if isinstance(inner, list) else inner.get("layers", [])
        layers = [(layer.get("class_name"), layer.get("config") or {}) for layer in layers]
        training = _json_attribute(handle, schema.KERAS2_TRAINING_CONFIG) or {}
        weight_names, weight_shapes = {}, {}
        weights = handle.get(schema.KERAS2_WEIGHTS)
        for _, layer_config in layers:
            name = layer_config.get("name")
            group = weights.get(name) if weights is not None else None
            if group is None:
                continue
            names = [_text(item) for item in group.attrs.get(schema.KERAS2_WEIGHT_NAMES, [])]
            weight_names[name] = [item.rsplit("/", 1)[-1].split(":")[0] for item in names]
            weight_shapes[name] = [tuple(group[item].shape) if item in group else None
                                   for item in names]
        return ModelFile(
            path=path, layers=layers, model_class=config.get("class_name"),
            model_config={"name": None if isinstance(inner, list) else inner.get("name"),
                          "layers": [{"class_name": class_name, "config": layer_config}
                                     for class_name, layer_config in layers]},
            loss=training.get("loss"), metrics=list(training.get("metrics") or []),
            keras_version=_text(handle.attrs.get("keras_version")),
            backend=_text(handle.attrs.get("backend")),
            weight_names=weight_names, weight_shapes=weight_shapes,
        )


@dataclass
class _Layer:
    """One layer of the DeepReplay model, as the forward pass needs it."""

    index: int
    name: str
    class_name: str
    weights: list  # (DeepReplay path, our weight name)
    config: dict


def open_store(group, path, model_file=None):
    """Return the :class:`ArrayStore` of a DeepReplay run group.

    Args:
        group: the run's ``h5py.Group``, in a file open for reading.
        path: the run file, for messages and to find the model file.
        model_file: the Keras 2 model file DeepReplay saved for the run;
            ``None`` looks for ``<run>_model.h5`` beside ``path`` and, when
            there is none, names the layers ``layer0``, ``layer1``, ... with
            the activations of the ``activation_functions`` attribute.

    Raises:
        RunFileError: the group is damaged, or the model file does not match it.
    """
    run = group.name.lstrip("/")
    where = f"DeepReplay run {run!r} of '{path}'"
    if model_file is None:
        model_file = model_file_beside(path, run)
    model = read_model_file(model_file) if model_file is not None else None
    attrs = {key: _plain(value) for key, value in group.attrs.items()}
    layers = _layers(group, attrs, model, where)
    n_rows = min((group[weight_path].shape[0] for layer in layers
                  for weight_path, _ in layer.weights), default=0)
    if (n_rows == 0 or schema.DEEPREPLAY_INPUTS not in group
            or schema.DEEPREPLAY_TARGETS not in group):
        raise RunFileError(
            f"The {where} has no weights or no inputs; the file is damaged or was not "
            "written by DeepReplay's ReplayData callback."
        )
    planned = int(attrs.get(schema.LEGACY_ATTRIBUTE) or n_rows - 1)
    trained = _epochs_written(group, layers, min(planned, n_rows - 1))
    steps_per_epoch = int(attrs.get("n_batches") or 0)
    hidden_layers, output_layer = _split_output(layers)
    inputs = group[schema.DEEPREPLAY_INPUTS]
    _check_shapes(group, layers, where)

    datasets = {
        schema.SNAPSHOT_EPOCHS: StaticDataset(np.arange(trained + 1, dtype=np.float64),
                                              stored_bytes=0),
        schema.SNAPSHOT_STEPS: StaticDataset(np.arange(trained + 1, dtype=np.int64)
                                             * steps_per_epoch, stored_bytes=0),
        schema.inputs("train"): inputs,
        schema.targets("train"): group[schema.DEEPREPLAY_TARGETS],
        **_history(group, trained),
        **{schema.weights(layer.name, weight): group[weight_path]
           for layer in layers for weight_path, weight in layer.weights},
    }
    sources, limits = _sources(inputs)
    datasets.update({schema.inputs(source): StaticDataset(points, stored_bytes=0)
                     for source, points in sources.items() if source in schema.PROBE_SOURCES})

    steps, problem = _steps(layers, attrs, model, run)
    loss = (model.loss if model is not None and model.loss is not None
            else _assumed_loss(_units(group, output_layer)))
    if problem is None and not isinstance(loss, str):
        problem = (f"its model was compiled with a loss {loss!r} of several outputs; replay "
                   "reads single-output models")
    loss_problem = problem
    if loss_problem is None and dense.loss_function(loss) is None:
        loss_problem = (f"replay cannot compute its loss {loss!r} per sample with numpy "
                        f"(known: {', '.join(sorted(dense.LOSSES))})")
    engine = _ForwardPass(group, layers, steps, sources, loss, where)
    for source, points in sources.items():
        shape = (trained + 1, *points.shape[:-1])
        for layer in hidden_layers:
            units = (*shape, _units(group, layer))
            paths = [schema.activations(source, layer.name)]
            if source in schema.SAMPLE_SOURCES:
                paths.append(schema.preactivations(source, layer.name))
            datasets.update({path: engine.dataset(source, path, units, problem)
                             for path in paths})
        path = schema.outputs(source)
        datasets[path] = engine.dataset(source, path, (*shape, _units(group, output_layer)),
                                        problem)
        if source in schema.SAMPLE_SOURCES:
            path = schema.loss(source)
            datasets[path] = engine.dataset(source, path, shape, loss_problem)

    weighted = [*hidden_layers, output_layer]
    run_attrs = {
        schema.FORMAT_ATTRIBUTE: schema.DEEPREPLAY_FORMAT,
        "complete": trained == planned,
        "stopped_early": False,  # DeepReplay did not record why training ended
        "epochs_planned": planned,
        "epochs_trained": trained,
        "layers": [{"name": layer.name, "class_name": layer.class_name,
                    "units": _units(group, layer),
                    "activation": _activation_name(layer, weighted, steps, attrs, model),
                    "weights": [weight for _, weight in layer.weights],
                    "hidden": layer is not output_layer} for layer in weighted],
        "loss": loss if isinstance(loss, str) else json.dumps(loss),
        "batch_size": int(attrs.get("batch_size") or 0),
        "steps_per_epoch": steps_per_epoch,
        "n_samples": int(inputs.shape[0]),
        "n_outputs": _units(group, output_layer),
        "snapshot_unit": "epoch",
        "snapshot_every": 1,
        "model_file": None if model is None else model.path,
        "deepreplay": attrs,
    }
    if limits is not None:
        run_attrs["probe_limits"] = limits.tolist()
    if problem is not None:
        run_attrs["compute_problem"] = problem
    if model is not None:
        run_attrs.update(model_config=model.model_config, model_class=model.model_class,
                         keras_version=model.keras_version, backend=model.backend)
    return ArrayStore(datasets, run_attrs, valid=lambda: group.id.valid)


def _check_shapes(group, layers, where):
    """Raise :class:`RunFileError` when the inputs, weights and targets do not chain.

    A Dense net's kernels are ``(inputs, units)``: the first one's rows are
    the inputs' features, each next one's the previous layer's units; the
    targets hold one value, or one per output unit, per sample. A file
    whose arrays were reshaped breaks that chain, and the forward pass
    would fail in numpy instead.
    """
    inputs = group[schema.DEEPREPLAY_INPUTS]
    targets = group[schema.DEEPREPLAY_TARGETS]
    features = inputs.shape[1] if inputs.ndim == 2 else None

    def damaged(what):
        return RunFileError(f"The {where} is damaged: {what}.")

    if features is None:
        raise damaged(f"its inputs have shape {inputs.shape}, not (samples, features)")
    width, units = features, None
    for layer in layers:
        if layer.class_name != "Dense" or not layer.weights:
            continue
        kernel = group[layer.weights[0][0]].shape[1:]
        if len(kernel) != 2 or kernel[0] != width:
            raise damaged(f"the kernel of layer {layer.name!r} has shape {tuple(kernel)} for "
                          f"{width} values in, not ({width}, units)")
        units = kernel[1]
        for weight_path, weight in layer.weights[1:2]:
            bias = group[weight_path].shape[1:]
            if tuple(bias) != (units,):
                raise damaged(f"the {weight} of layer {layer.name!r} has shape {tuple(bias)}, "
                              f"not ({units},)")
        width = units
    if units is not None and (targets.shape[:1] != inputs.shape[:1]
                              or tuple(targets.shape[1:]) not in ((), (1,), (units,))):
        raise damaged(f"its targets have shape {targets.shape} for {inputs.shape[0]} samples "
                      f"and {units} output{'' if units == 1 else 's'}")


def _sources(inputs):
    """``({source: points}, probe limits or None)``: the samples, and probes for 2-D inputs.

    The probe points are the recorder's defaults, so that the pictures of a
    DeepReplay run look like those of our own runs.
    """
    sources = {"train": inputs}
    if inputs.ndim != 2 or inputs.shape[1] != 2:
        return sources, None
    sources.update(probe_points(inputs[()]))
    mesh = sources["mesh"]
    limits = np.array([[mesh[0, 0, 0], mesh[0, -1, 0]], [mesh[0, 0, 1], mesh[-1, 0, 1]]],
                      dtype=np.float64)
    return sources, limits


# -- the model ----------------------------------------------------------------


def _layers(group, attrs, model, where):
    """Return every layer of the DeepReplay run, named and checked against the model file."""
    n_layers = int(attrs.get("n_layers") or 0)
    if not n_layers:
        n_layers = sum(1 for name in group if name.startswith(schema.DEEPREPLAY_LAYER_PREFIX))
    stored = []
    for index in range(n_layers):
        layer_group = group.get(schema.deepreplay_layer(index))
        count = len(layer_group) if isinstance(layer_group, h5py.Group) else 0
        stored.append([schema.deepreplay_weights(index, j) for j in range(count)])
    model_layers = None
    if model is not None:
        model_layers = model.layers
        if len(model_layers) != n_layers:
            model_layers = [layer for layer in model_layers if layer[0] != "InputLayer"]
        if len(model_layers) != n_layers:
            raise RunFileError(
                f"The model file '{model.path}' does not match the {where}: it has "
                f"{len(model_layers)} layers, the run {n_layers}. Pass the model file "
                f"DeepReplay saved for this run (model_file=...)."
            )
    layers = []
    for index, paths in enumerate(stored):
        if model_layers is None:
            names = _generic_weight_names(len(paths))
            layers.append(_Layer(index, schema.deepreplay_layer(index), "Dense" if paths else "",
                                 list(zip(paths, names)), {}))
            continue
        class_name, config = model_layers[index]
        name = config.get("name") or schema.deepreplay_layer(index)
        names = model.weight_names.get(name) or _generic_weight_names(len(paths))
        shapes = model.weight_shapes.get(name) or [None] * len(names)
        if len(names) != len(paths):
            raise RunFileError(
                f"The model file '{model.path}' does not match the {where}: layer {name!r} "
                f"has {len(names)} weights there and {len(paths)} in the run. Pass the model "
                "file DeepReplay saved for this run (model_file=...)."
            )
        for path, weight, shape in zip(paths, names, shapes):
            stored_shape = tuple(group[path].shape[1:])
            if shape is not None and tuple(shape) != stored_shape:
                raise RunFileError(
                    f"The model file '{model.path}' does not match the {where}: weight "
                    f"{weight!r} of layer {name!r} has shape {tuple(shape)} there and "
                    f"{stored_shape} in the run. Pass the model file DeepReplay saved for "
                    "this run (model_file=...)."
                )
        layers.append(_Layer(index, name, class_name, list(zip(paths, names)), config))
    return layers


def _generic_weight_names(count):
    return ["kernel", "bias", *[f"weight{j}" for j in range(2, count)]][:count]


def _split_output(layers):
    weighted = [layer for layer in layers if layer.weights]
    return weighted[:-1], weighted[-1]


def _units(group, layer):
    return int(group[layer.weights[0][0]].shape[-1])


def _activation_of(layer, attrs, model, run=""):
    """Return ``(activation, options)`` a layer applies, or raise ``ValueError`` (why not)."""
    if model is not None:
        if layer.class_name in ACTIVATION_LAYERS:
            return ACTIVATION_LAYERS[layer.class_name](layer.config)
        activation = layer.config.get("activation", "linear")
        if not isinstance(activation, str):
            raise ValueError(f"layer {layer.name!r} has a custom activation {activation!r}")
        return activation, {}
    functions = attrs.get("activation_functions") or []
    activation = functions[layer.index] if layer.index < len(functions) else ""
    if not activation:
        raise ValueError(
            f"layer {layer.name!r} has no activation in the run's activation_functions "
            "attribute; put the model file DeepReplay saved for the run "
            f"('{run}{schema.DEEPREPLAY_MODEL_SUFFIX}') beside the run file, or pass it "
            "(model_file=, --model-file)")
    return activation, {}


def _steps(layers, attrs, model, run):
    """Return ``(DenseLayer per weighted layer, None)``, or ``(None, why not)``."""
    steps = []
    try:
        for layer in layers:
            if layer.weights:
                if layer.class_name != "Dense":
                    raise ValueError(f"layer {layer.name!r} is a {layer.class_name}")
                if len(layer.weights) > 2:
                    raise ValueError(f"Dense layer {layer.name!r} has {len(layer.weights)} weights")
                activation, options = _activation_of(layer, attrs, model, run)
                steps.append([activation, options])
            elif layer.class_name in IDENTITY_LAYERS:
                continue
            else:
                if model is not None and layer.class_name not in ACTIVATION_LAYERS:
                    raise ValueError(f"layer {layer.name!r} is a {layer.class_name}")
                activation, options = _activation_of(layer, attrs, model, run)
                if not steps:
                    raise ValueError(f"layer {layer.name!r} applies an activation before "
                                     "the first Dense layer")
                if steps[-1][0] != "linear":
                    raise ValueError(f"layer {layer.name!r} applies a second activation after "
                                     f"{steps[-1][0]!r}")
                steps[-1] = [activation, options]
        weighted = [layer for layer in layers if layer.weights]
        return [dense.DenseLayer(layer.name, activation, options)
                for layer, (activation, options) in zip(weighted, steps)], None
    except (ValueError, OptionError) as error:
        return None, (f"{error} (replay computes DeepReplay runs of Dense layers, with "
                      "Activation, LeakyReLU, ELU, ReLU, Softmax or Dropout layers between "
                      "them)")


def _activation_name(layer, weighted, steps, attrs, model):
    """The activation a weighted layer's outputs have (a following activation layer's, too)."""
    if steps is not None:
        return steps[weighted.index(layer)].activation
    try:
        return _activation_of(layer, attrs, model)[0]
    except ValueError:
        return "unknown"


def _assumed_loss(units):
    # Without a model file: DeepReplay's own replay knew binary cross-entropy only.
    return "binary_crossentropy" if units == 1 else "categorical_crossentropy"


# -- history and snapshots ------------------------------------------------------


def _epochs_written(group, layers, epochs):
    """The epochs DeepReplay wrote: its arrays are pre-allocated, unwritten rows are 0.

    An epoch counts as unwritten when its loss is exactly 0 and every weight
    of the snapshot after it is 0; only such trailing epochs are read.
    """
    if schema.DEEPREPLAY_LOSS not in group:
        return epochs
    losses = group[schema.DEEPREPLAY_LOSS][:epochs]
    written = epochs
    while written > 0 and losses[written - 1] == 0:
        if any(np.any(group[path][written]) for layer in layers for path, _ in layer.weights):
            break
        written -= 1
    return written


def _history(group, trained):
    """Return ``{history path: dataset}``: every per-epoch array, Keras 3 names, ``epoch`` added."""
    found = {}
    for key, dataset in group.items():
        if (not isinstance(dataset, h5py.Dataset) or dataset.ndim != 1
                or key in (schema.DEEPREPLAY_INPUTS, schema.DEEPREPLAY_TARGETS)):
            continue
        name = schema.DEEPREPLAY_HISTORY_NAMES.get(key, key)
        if name in found:
            continue
        values = np.full(trained, np.nan)
        stored = dataset[:trained]
        values[: len(stored)] = stored
        found[name] = StaticDataset(values, stored_bytes=dataset.id.get_storage_size())
    history = {schema.history(key): values for key, values in found.items()}
    history[schema.HISTORY_EPOCHS] = StaticDataset(np.arange(1, trained + 1, dtype=np.float64),
                                                   stored_bytes=0)
    return history


# -- the forward pass -------------------------------------------------------------


class _ForwardPass:
    """Computes the per-snapshot arrays of one DeepReplay run, a few snapshots at a time.

    One pass on one source gives every hidden layer's z-values and
    activations, the outputs and (on samples) the per-sample losses of the
    snapshots asked for; the results of the last passes are kept (up to
    :data:`CACHE_BYTES`), so the views' reads of the same snapshots share one
    pass.
    """

    def __init__(self, group, layers, steps, sources, loss, where):
        self.group = group
        self.weighted = [layer for layer in layers if layer.weights]
        self.steps = steps
        self.sources = sources
        self.targets = {"train": group[schema.DEEPREPLAY_TARGETS]}
        self.loss = loss
        self.where = where
        self._hidden = [layer.name for layer in self.weighted[:-1]]
        self._inputs = {}
        self._cache = OrderedDict()
        self._cached_bytes = 0

    def dataset(self, source, path, shape, problem):
        """A :class:`ComputedDataset` of ``path`` on ``source`` (raising ``problem`` if set)."""
        if problem is not None:
            def refuse(indices):
                raise LayerNotFoundError(
                    f"The {self.where} stores only weights, and replay cannot compute its "
                    f"{path!r} from them: {problem}."
                )
            return ComputedDataset(shape, refuse)
        return ComputedDataset(shape, lambda indices: self.rows(source, path, indices))

    def rows(self, source, path, indices):
        parts = []
        for start in range(0, len(indices), PASS_SNAPSHOTS):
            batch = tuple(indices[start:start + PASS_SNAPSHOTS])
            key = (source, batch)
            results = self._cache.get(key)
            if results is None:
                results = self._pass(source, batch)
                self._keep(key, results)
            else:
                self._cache.move_to_end(key)
            parts.append(results[path])
        return parts[0].copy() if len(parts) == 1 else np.concatenate(parts)

    def _keep(self, key, results):
        size = sum(array.nbytes for array in results.values())
        if size > CACHE_BYTES:
            return
        while self._cache and self._cached_bytes + size > CACHE_BYTES:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= sum(array.nbytes for array in dropped.values())
        self._cache[key] = results
        self._cached_bytes += size

    def _source_inputs(self, source):
        if source not in self._inputs:
            points = np.asarray(self.sources[source][()], dtype=np.float32)
            self._inputs[source] = points.reshape(-1, points.shape[-1])
        return self._inputs[source]

    def _weights(self, batch):
        rows = (slice(batch[0], batch[-1] + 1) if batch[-1] - batch[0] + 1 == len(batch)
                else list(batch))
        weights = []
        for layer in self.weighted:
            arrays = [self.group[path][rows] for path, _ in layer.weights]
            weights.append((arrays[0], arrays[1] if len(arrays) > 1 else None))
        return weights

    def _pass(self, source, batch):
        shape = (len(batch), *self.sources[source].shape[:-1])
        results = dense.forward(self._source_inputs(source), self.steps, self._weights(batch))
        arrays = {}
        for name, (z, activations) in zip(self._hidden, results):
            arrays[schema.activations(source, name)] = activations.reshape(*shape, -1)
            if source in schema.SAMPLE_SOURCES:
                arrays[schema.preactivations(source, name)] = z.reshape(*shape, -1)
        outputs = results[-1][1].reshape(*shape, -1)
        arrays[schema.outputs(source)] = outputs
        if source in schema.SAMPLE_SOURCES and dense.loss_function(self.loss) is not None:
            arrays[schema.loss(source)] = dense.per_sample_loss(
                self.loss, self.targets[source][()], outputs)
        return arrays


# -- attribute values ---------------------------------------------------------------


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _plain(value):
    """An attribute value as plain Python (bytes decoded, arrays as lists)."""
    if isinstance(value, np.ndarray):
        return [_plain(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return _plain(value.item())
    return _text(value)


def _json_attribute(handle, name):
    value = _text(handle.attrs.get(name))
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None
