"""What the recorder captures from a Keras model, in one compiled call.

:class:`CapturePlan` inspects a built model once: which layers have weights,
which of them are hidden (their activations are recorded), how each
quantity is kept (raw, recomputed from the weights on reading, as a
summary, or not at all), and which tensors a single forward pass must
return so that activations, pre-activations and outputs all come out of
**one** compiled function per snapshot. Keras is imported here, so
``import replay`` never loads this module.
"""

import copy

import keras
import numpy as np

from replay.errors import OptionError, RecordingError
from replay.io import schema
from replay.io.recompute import ACTIVATIONS as RECIPE_ACTIVATIONS
from replay.io.recompute import CONV_OPTIONS
from replay.io.storage import summary_arrays, to_storage

#: Weightless layers that apply an activation: when one directly follows a
#: linear weighted layer, its output counts as that layer's activation.
_ACTIVATION_LAYERS = ("Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax")


def activation_name(function):
    """Return a readable name for a Keras activation function or layer."""
    if function is None:
        return "linear"
    if isinstance(function, keras.layers.Layer):
        if hasattr(function, "activation"):
            return activation_name(function.activation)
        name = type(function).__name__
        return {"LeakyReLU": "leaky_relu", "ReLU": "relu", "ELU": "elu",
                "PReLU": "prelu", "Softmax": "softmax"}.get(name, name.lower())
    name = getattr(function, "__name__", None) or type(function).__name__
    return name


class PreActivation(keras.layers.Layer):
    """The output of ``target`` before its activation function, as a layer of its own.

    It calls the target layer's own ``call`` on a shallow proxy whose
    ``activation`` is linear: the proxy shares every weight variable with
    the target (no copy, nothing to keep in sync), and the target itself is
    never changed, so training beside the capture is unaffected. This works
    for the layers whose ``call`` ends with ``self.activation(...)``: Dense,
    EinsumDense, Conv1D/2D/3D and their transposed and separable kinds.
    """

    def __init__(self, target):
        super().__init__(name=f"{target.name}_preactivation", dtype=target.dtype_policy)
        proxy = object.__new__(type(target))
        proxy.__dict__.update(target.__dict__)
        proxy.__dict__["activation"] = keras.activations.linear
        # A bound method, not an attribute holding a layer: Keras would
        # track a layer attribute and list its variables a second time.
        self._target_call = type(target).call.__get__(proxy)

    def call(self, inputs):
        return self._target_call(inputs)


#: Layer classes whose pre-activations :class:`PreActivation` can compute.
_PREACTIVATION_LAYERS = ("Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D",
                         "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
                         "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D",
                         "DepthwiseConv2D")


#: Quantities a recorder can be asked for (``Recorder(quantities=...)``).
QUANTITIES = (*schema.LAYER_QUANTITIES, *schema.MODEL_QUANTITIES)
#: Activations and outputs are recomputed on reading (instead of stored) for
#: Dense layers of at most this many multiply-adds per sample (256 x 256):
#: cheap enough for a view reading them at every frame.
RECOMPUTE_MAX_MACS = 1 << 16
#: ... and z-values, which views read rarely, up to this many (1024 x 1024).
RECOMPUTE_MAX_MACS_Z = 1 << 20


class Quantity:
    """One per-sample tensor of a snapshot: a layer's activations or z-values, or the outputs.

    Attributes:
        kind: ``"activations"``, ``"preactivations"`` or ``"outputs"``.
        layer: the layer's name (for outputs: the output layer's).
        tensor: the symbolic Keras tensor.
        shape: its shape per sample.
        recipe: how to recompute it from the weights with numpy, or ``None``:
            ``{"op": "dense" or "conv", "input": ("inputs",) or
            ("activations", layer), "layer": the Dense or convolution layer,
            "bias": bool, "activation": name or None, "options": {...},
            "macs": multiply-adds per sample}``, and for ``"conv"`` its
            ``strides``, ``padding`` and ``dilation_rate``.
        mode: how it is kept: ``"raw"``, ``"recomputed"``, ``"summary"``,
            or ``"none"`` (not recorded; the outputs are still computed,
            for the per-sample loss).
        fallback: the mode it takes when its recipe cannot be used (its input
            is not kept raw or recomputed).
    """

    def __init__(self, kind, layer, tensor, recipe=None):
        self.kind = kind
        self.layer = layer
        self.tensor = tensor
        self.shape = tuple(int(size) for size in tensor.shape[1:])
        self.recipe = recipe
        self.mode = "raw"
        self.fallback = "raw"

    @property
    def size(self):
        """Values per sample."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def stored(self):
        """Whether the capture must return it (raw or as a summary)."""
        return self.mode in ("raw", "summary")

    def path(self, source):
        """Its dataset path on ``source``."""
        if self.kind == "outputs":
            return schema.outputs(source)
        return getattr(schema, self.kind)(source, self.layer)

    def __repr__(self):
        return f"Quantity({self.kind}, {self.layer!r}, {self.shape}, {self.mode})"


def check_quantities(quantities):
    """Return ``Recorder(quantities=...)`` as ``{layer or "*": frozenset}``, or raise.

    ``None`` is every quantity; a sequence of names applies to every layer
    (and decides the outputs and losses); a dict maps layer names to their
    per-layer quantities, its ``"*"`` entry (default: every quantity)
    applying to the other layers and to the outputs and losses.
    """
    if quantities is None:
        return {"*": frozenset(QUANTITIES)}
    if isinstance(quantities, str):
        quantities = [quantities]
    if isinstance(quantities, dict):
        entries = {str(key): value for key, value in quantities.items()}
        entries.setdefault("*", QUANTITIES)
    else:
        entries = {"*": quantities}
    checked = {}
    for key, names in entries.items():
        names = [names] if isinstance(names, str) else list(names)
        unknown = [name for name in names if name not in QUANTITIES]
        if unknown:
            raise OptionError(
                f"quantities: unknown {', '.join(map(repr, unknown))}"
                f"{'' if key == '*' else f' for layer {key!r}'}; choose from "
                f"{', '.join(QUANTITIES)}.")
        checked[key] = frozenset(names)
    return checked


def check_layers(layers):
    """Return ``Recorder(layers=...)`` checked: ``None``, a tuple of names or a predicate."""
    if layers is None or callable(layers):
        return layers
    if isinstance(layers, str):
        return (layers,)
    try:
        names = tuple(layers)
    except TypeError:
        names = None
    if names is None or not all(isinstance(name, str) for name in names):
        raise OptionError(
            "layers must be None (every layer), a list of layer names or a function "
            f"layer -> bool. Got {layers!r}.")
    return names


class CapturePlan:
    """The layers to record, how each quantity is kept, and the tensors one forward pass returns.

    Every selected layer with weights records its weights; every such layer
    but the output layer is *hidden*: its activations (its output, in the
    layer's own shape per sample) are recorded, and its pre-activations
    where the layer has them:

    - a layer with an activation function (Dense, Conv, ...): its output
      before the activation (:class:`PreActivation`), same shape;
    - a linear layer followed directly by an activation layer
      (``Activation``, ``ReLU``, ``LeakyReLU``, ...): the pair is recorded as
      one layer, named after the weighted one: its output is the
      pre-activation, the activation layer's output the activation;
    - recurrent layers (SimpleRNN, GRU, LSTM) apply their activations inside
      the time loop: they record activations (their output) and no
      pre-activations; so do layers without an activation function
      (normalisation, embedding).

    Each quantity is kept ``"raw"``, ``"recomputed"`` (a Dense or
    convolution layer whose input is recorded: numpy recomputes it from the
    weights on reading, see :mod:`replay.io.recompute`; :meth:`use_recipes`
    checks its activation function against Keras' first), as a
    ``"summary"`` (:mod:`replay.io.storage`) or not at all. The recorder's
    size budget (:mod:`replay.record.budget`) sets the modes;
    :meth:`finalize` then builds the capture model.

    A subclassed ``keras.Model`` has no graph of layers to read hidden
    tensors from: its plan records the weights of its layers (and their
    gradients), its outputs and per-sample losses, and no activations
    (:attr:`subclassed`); its capture model is the model itself.

    Args:
        model: a built Keras model with a single input and a single output.
        layers: ``None`` (every layer with weights), layer names, or a
            function ``layer -> bool``.
        quantities: see :func:`check_quantities`.
        input_shape: the shape of one input sample; needed for a subclassed
            model only (its output's shape is traced from it).

    Attributes:
        layers: one dict per recorded layer (name, class_name, units, shape,
            activation, weights, trainable_weights, hidden, preactivations,
            storage), for the run's metadata (after :meth:`finalize`).
        quantities: the :class:`Quantity` of every recorded activation and
            z-value, in model order, then the outputs.
        weights: ``{layer: mode}`` of the weights (``"raw"``, ``"summary"``,
            ``None``); ``gradients`` alike.
        losses: whether the per-sample losses are recorded.
        layout: after :meth:`finalize`, what each output of
            :attr:`capture_model` is: ``(kind, layer, mode)``; the first is
            always the outputs.
        capture_model: after :meth:`finalize`, a Keras model returning those tensors.
        subclassed: whether the model is a subclassed ``keras.Model`` (no
            hidden activations recorded).
    """

    def __init__(self, model, *, layers=None, quantities=None, input_shape=None):
        if not model.built:
            raise RecordingError(
                "The model is not built yet. Call it on data, call model.build(...), or "
                "start it with keras.Input(...) before recording."
            )
        self.subclassed = is_subclassed(model)
        if self.subclassed:
            self._init_subclassed(model, layers, quantities, input_shape)
            return
        try:
            model_inputs = model.inputs
            model_outputs = model.outputs
        except (AttributeError, ValueError) as error:
            raise RecordingError(
                f"Cannot trace the layers of model {model.name!r}: {error}") from error
        if not model_inputs or len(model_inputs) != 1 or len(model_outputs) != 1:
            raise RecordingError(
                f"replay records models with one input and one output. This model has "
                f"{len(model_inputs or [])} inputs and {len(model_outputs or [])} outputs: "
                "record a one-input, one-output model (e.g. concatenate the inputs first), "
                "or train without the recorder."
            )
        self.model = model
        layers = check_layers(layers)
        wanted = check_quantities(quantities)
        self._check_selection(model, layers, wanted)
        output_tensor = model_outputs[0]
        consumers = self._consumers(model)
        self.layers = []
        self.hidden = []
        self.quantities = []
        self.weights, self.gradients = {}, {}
        self._layer_objects = {}
        activation_of = {id(model_inputs[0]): ("inputs",)}  # tensor -> where it is recorded
        for layer in model.layers:
            if not layer.weights or isinstance(layer, keras.layers.InputLayer):
                continue
            try:
                output = layer.output
            except (AttributeError, ValueError) as error:
                raise RecordingError(
                    f"Layer {layer.name!r} is used more than once in the model (or not at "
                    f"all), so it has no single output to record: {error}"
                ) from error
            is_output = output is output_tensor or _same_tensor(output, output_tensor)
            name, activation_tensor, z_tensor, function = self._activation(
                layer, output, consumers, is_output)
            if is_output:
                recipe = _layer_recipe(layer, activation_of, function)
                self.outputs = Quantity("outputs", layer.name, output_tensor, recipe)
            if not _selected(layer, layers):
                continue
            own = wanted.get(layer.name, wanted["*"])
            self._layer_objects[layer.name] = layer
            self.weights[layer.name] = "raw" if "weights" in own else None
            self.gradients[layer.name] = "raw" if "gradients" in own else None
            self.layers.append({
                "name": layer.name,
                "class_name": type(layer).__name__,
                "units": int(output.shape[-1]),
                "shape": [int(size) for size in output.shape[1:]],
                "activation": name,
                "weights": _weight_names(layer) if "weights" in own else [],
                "trainable_weights": [weight_name for weight_name, weight
                                      in zip(_weight_names(layer), layer.weights)
                                      if weight.trainable],
                "hidden": not is_output,
                "preactivations": z_tensor is not None,
            })
            if is_output:
                continue
            self.hidden.append((layer, activation_tensor, z_tensor))
            if "activations" in own:
                self.quantities.append(Quantity(
                    "activations", layer.name, activation_tensor,
                    _layer_recipe(layer, activation_of, function)))
                activation_of[id(activation_tensor)] = ("activations", layer.name)
            if z_tensor is not None and "preactivations" in own:
                self.quantities.append(Quantity(
                    "preactivations", layer.name, z_tensor,
                    _layer_recipe(layer, activation_of, None)))
        if not hasattr(self, "outputs"):
            self.outputs = Quantity("outputs", None, output_tensor)
        if "outputs" not in wanted["*"]:
            self.outputs.mode = self.outputs.fallback = "none"
        self.losses = "losses" in wanted["*"]
        self._forward = None  # compiled on first use (TensorFlow, PyTorch; JAX fuses its own)
        self._cached_inputs = (None, None)
        self.capture_model = None
        self.layout = None

    def _init_subclassed(self, model, layers, quantities, input_shape):
        """The plan of a subclassed model: weights, gradients, outputs and losses only."""
        if input_shape is None:
            raise RecordingError(
                f"Model {model.name!r} is a subclassed keras.Model: pass input_shape= (one "
                "sample's shape) to trace its output.")
        try:
            output = model.compute_output_spec(
                keras.KerasTensor((None, *map(int, input_shape)), dtype="float32"))
        except Exception as error:
            raise RecordingError(
                f"Cannot trace subclassed model {model.name!r} on inputs of shape "
                f"{tuple(input_shape)} per sample: {error}") from error
        if isinstance(output, (list, tuple, dict)):
            raise RecordingError(
                f"replay records models with one output; subclassed model {model.name!r} "
                f"returns a {type(output).__name__} of {len(output)}. Return one tensor, or "
                "train without the recorder.")
        self.model = model
        layers = check_layers(layers)
        wanted = check_quantities(quantities)
        self._check_selection(model, layers, wanted)
        self.layers, self.hidden, self.quantities = [], [], []
        self.weights, self.gradients = {}, {}
        self._layer_objects = {}
        for layer in model.layers:
            if not layer.weights or not _selected(layer, layers):
                continue
            own = wanted.get(layer.name, wanted["*"])
            self._layer_objects[layer.name] = layer
            self.weights[layer.name] = "raw" if "weights" in own else None
            self.gradients[layer.name] = "raw" if "gradients" in own else None
            units = int(layer.weights[0].shape[-1]) if layer.weights[0].shape else 1
            self.layers.append({
                "name": layer.name,
                "class_name": type(layer).__name__,
                "units": units,
                "shape": [units],
                "activation": activation_name(layer.activation)
                if hasattr(layer, "activation") else "none",
                "weights": _weight_names(layer) if "weights" in own else [],
                "trainable_weights": [weight_name for weight_name, weight
                                      in zip(_weight_names(layer), layer.weights)
                                      if weight.trainable],
                "hidden": False,  # nothing between input and output can be traced
                "preactivations": False,
            })
        self.outputs = Quantity("outputs", None, output)
        if "outputs" not in wanted["*"]:
            self.outputs.mode = self.outputs.fallback = "none"
        self.losses = "losses" in wanted["*"]
        self._forward = None
        self._cached_inputs = (None, None)
        self.capture_model = None
        self.layout = None

    @staticmethod
    def _check_selection(model, layers, wanted):
        weighted = [layer.name for layer in model.layers if layer.weights]
        named = set(wanted) - {"*"}
        if isinstance(layers, tuple):
            named |= set(layers)
        unknown = sorted(named - set(weighted))
        if unknown:
            raise RecordingError(
                f"Recorder(layers=..., quantities=...) names {', '.join(map(repr, unknown))}, "
                f"which {'is not a layer' if len(unknown) == 1 else 'are not layers'} with "
                f"weights of model {model.name!r}. Its layers with weights: "
                f"{', '.join(weighted) or 'none'}.")

    def macs_per_sample(self):
        """About how many multiply-adds the model's forward pass costs per sample.

        Every weight counts once per output position of its layer (a Dense
        kernel once, a convolution kernel at every position of its output).
        """
        total = 0
        for layer in self.model.layers:
            if not layer.weights:
                continue
            try:
                shape = layer.output.shape[1:-1]
            except (AttributeError, ValueError):
                shape = ()
            positions = int(np.prod([size or 1 for size in shape])) if shape else 1
            total += positions * sum(int(np.prod(weight.shape)) for weight in layer.weights)
        return total

    @property
    def all_quantities(self):
        """Every per-sample quantity: the layers' activations and z-values, then the outputs."""
        return [*self.quantities, self.outputs]

    # -- recipes ---------------------------------------------------------------

    def use_recipes(self, *, max_macs=RECOMPUTE_MAX_MACS, max_macs_z=RECOMPUTE_MAX_MACS_Z):
        """Mark the quantities that numpy recomputes exactly as ``"recomputed"``.

        A quantity with a recipe and cheap enough (``max_macs`` multiply-adds
        per sample; ``max_macs_z`` for z-values) is recomputed when its
        activation function, applied by Keras and by numpy to the same test
        values, agrees (a plain float32 Dense layer computes
        ``activation(x @ kernel + bias)``, nothing else).
        """
        checked = {}
        for quantity in self.all_quantities:
            recipe = quantity.recipe
            if recipe is None or quantity.mode == "none" or recipe["macs"] > (
                    max_macs_z if quantity.kind == "preactivations" else max_macs):
                continue
            if recipe["activation"] is not None:
                key = id(recipe["function"])
                if key not in checked:
                    checked[key] = _same_activation(recipe)
                if not checked[key]:
                    continue
            quantity.mode = "recomputed"

    def recipes(self, sources):
        """``{dataset path: recipe}`` (JSON-ready) of every recomputed quantity on ``sources``."""
        found = {}
        for quantity in self.all_quantities:
            if quantity.mode != "recomputed":
                continue
            recipe = quantity.recipe
            for source in sources:
                if quantity.kind == "preactivations" and source not in schema.SAMPLE_SOURCES:
                    continue
                if recipe["input"] == ("inputs",):
                    source_path = schema.inputs(source)
                else:
                    source_path = schema.activations(source, recipe["input"][1])
                found[quantity.path(source)] = {
                    "op": recipe["op"], "input": source_path,
                    "kernel": schema.weights(recipe["layer"], "kernel"),
                    "bias": schema.weights(recipe["layer"], "bias") if recipe["bias"] else None,
                    "activation": recipe["activation"], "options": recipe["options"],
                    **{key: recipe[key] for key in CONV_OPTIONS if key in recipe}}
        return found

    def resolve(self):
        """Give up the recipes whose input or weights are not kept (raw or recomputed)."""
        kept = {("inputs",)}
        for quantity in self.all_quantities:
            if quantity.mode == "recomputed":
                recipe = quantity.recipe
                if recipe["input"] not in kept or self.weights.get(recipe["layer"]) != "raw":
                    quantity.mode = quantity.fallback
            if quantity.kind == "activations" and quantity.mode in ("raw", "recomputed"):
                kept.add(("activations", quantity.layer))

    # -- the capture -----------------------------------------------------------

    def finalize(self):
        """Build :attr:`capture_model` and :attr:`layout` from the modes; update :attr:`layers`."""
        self.resolve()
        tensors = [self.outputs.tensor]
        self.layout = [("outputs", self.outputs.layer,
                        "raw" if self.outputs.mode == "raw" else "none")]
        for quantity in self.quantities:
            if quantity.stored:
                tensors.append(quantity.tensor)
                self.layout.append((quantity.kind, quantity.layer, quantity.mode))
        # A subclassed model returns its outputs and nothing else (no quantities).
        self.capture_model = self.model if self.subclassed else keras.Model(
            self.model.inputs, tensors)
        self._forward = None
        modes = {(quantity.kind, quantity.layer): quantity.mode for quantity in self.quantities}
        for info in self.layers:
            name = info["name"]
            storage = {"weights": self.weights[name],
                       "activations": modes.get(("activations", name)),
                       "preactivations": modes.get(("preactivations", name)),
                       "gradients": self.gradients[name]}
            info["storage"] = storage
            if info["hidden"]:
                info["hidden"] = storage["activations"] is not None
                info["preactivations"] = storage["preactivations"] is not None
            if storage["weights"] is None:
                info["weights"] = []
        return self

    @staticmethod
    def _activation(layer, output, consumers, is_output):
        """Return ``(name, activation tensor, pre-activation tensor or None, recipe activation)``.

        The recipe activation is ``(name, options)`` of the numpy function
        that turns the pre-activations into the activations, or ``None``
        when there is none.
        """
        cell = getattr(layer, "cell", None)
        if cell is not None:  # recurrent: the activation works inside the time loop
            return activation_name(getattr(cell, "activation", None)), output, None, None
        if not hasattr(layer, "activation"):  # normalisation, embedding, ...
            return "none", output, None, None
        name = activation_name(layer.activation)
        if name == "linear":
            follower = None if is_output else consumers.get(id(output))
            if follower is not None:
                return (activation_name(follower), follower.output, output,
                        _layer_function(follower))
            return name, output, output, ("linear", {}, layer.activation)
        if type(layer).__name__ in _PREACTIVATION_LAYERS:
            return name, output, PreActivation(layer)(layer.input), (name, {}, layer.activation)
        return name, output, None, None

    @staticmethod
    def _consumers(model):
        """Map id(output tensor) → the single activation layer consuming it."""
        found = {}
        layers = model.layers
        for index, layer in enumerate(layers):
            if type(layer).__name__ not in _ACTIVATION_LAYERS or layer.weights:
                continue
            try:
                source = layer.input
            except (AttributeError, ValueError):
                continue
            for previous in layers[:index]:
                try:
                    if previous.output is source:
                        found[id(previous.output)] = layer
                except (AttributeError, ValueError):
                    continue
        return found

    def _device_inputs(self, inputs):
        # The recorded inputs never change: convert them to a backend tensor
        # once and reuse it at every snapshot.
        array, tensor = self._cached_inputs
        if array is not inputs:
            tensor = keras.ops.convert_to_tensor(inputs)
            self._cached_inputs = (inputs, tensor)
        return tensor

    def dispatch(self, inputs):
        """Start the forward pass on ``inputs``; return the backend's result tensors.

        Pass the same array object at every snapshot: it is converted to a
        tensor once.
        """
        if self.capture_model is None:
            self.finalize()
        if self._forward is None:
            self._forward = _compiled_forward(self.capture_model)
        return self._forward(self._device_inputs(inputs))

    def collect(self, results):
        """Turn :meth:`dispatch`'s tensors into ``[(kind, layer, mode, numpy array)]`` by :attr:`layout`."""
        if not isinstance(results, (list, tuple)):
            results = [results]  # a one-tensor model returns the tensor itself
        return [(kind, layer, mode, np.asarray(keras.ops.convert_to_numpy(result)))
                for (kind, layer, mode), result in zip(self.layout, results)]


def is_subclassed(model):
    """Whether ``model`` is a subclassed ``keras.Model``: its own ``call``, no graph of layers.

    Sequential and functional models (and subclasses of ``keras.Model``
    built the functional way, ``super().__init__(inputs, outputs)``) keep
    their input and output tensors; a subclassed model has none.
    """
    try:
        return not model.inputs or not model.outputs
    except (AttributeError, ValueError):
        return True


def _selected(layer, layers):
    if layers is None:
        return True
    if callable(layers):
        return bool(layers(layer))
    return layer.name in layers


def _layer_function(layer):
    """``(name, options, the layer)`` of an activation layer for a recipe, or ``None``."""
    kind = type(layer).__name__
    if kind == "Activation":
        return (activation_name(layer.activation), {}, layer)
    if kind == "ReLU":
        options = {key: float(value) for key, value in (
            ("negative_slope", layer.negative_slope), ("max_value", layer.max_value),
            ("threshold", layer.threshold)) if value is not None}
        return ("relu", options, layer)
    if kind == "LeakyReLU":
        return ("leaky_relu", {"negative_slope": float(layer.negative_slope)}, layer)
    if kind == "ELU":
        return ("elu", {"alpha": float(layer.alpha)}, layer)
    if kind == "Softmax" and getattr(layer, "axis", -1) in (-1, (-1,), [-1]):
        return ("softmax", {}, layer)
    return None


#: The convolution layers a recipe computes (exactly these classes: a
#: subclass may compute something else), by number of spatial axes.
_CONV_LAYERS = {"Conv1D": 1, "Conv2D": 2, "Conv3D": 3}


def _layer_recipe(layer, activation_of, function):
    """The recipe of a layer's activations (``function``) or z-values (``None``), or ``None``.

    Only a plain ``keras.layers.Dense`` on an input of one axis per sample,
    or a plain ``Conv1D``, ``Conv2D`` or ``Conv3D`` (channels last, one
    group; any strides, dilation and padding), neither with LoRA nor
    quantized, in float32, on a recorded input, with a known activation.
    """
    kind = type(layer).__name__
    if type(layer) is not getattr(keras.layers, kind, None) or (
            kind != "Dense" and kind not in _CONV_LAYERS):
        return None
    if getattr(layer, "lora_enabled", False) \
            or getattr(layer, "quantization_mode", None) is not None:
        return None
    names = _weight_names(layer)
    if names not in (["kernel"], ["kernel", "bias"]):
        return None
    try:
        source = activation_of.get(id(layer.input))
        input_rank = len(layer.input.shape)
        output_shape = layer.output.shape[1:-1]
    except (AttributeError, ValueError):
        return None
    if source is None or input_rank != 2 + _CONV_LAYERS.get(kind, 0):
        return None
    if function is not None and (function[0] not in RECIPE_ACTIVATIONS):
        return None
    if str(getattr(layer, "compute_dtype", "float32")) != "float32":
        return None  # mixed precision: numpy's float32 pass would not be what Keras computes
    name, options, keras_function = (None, {}, None) if function is None else function
    fan_in = int(np.prod(layer.kernel.shape[:-1]))  # inputs of one output unit
    recipe = {"op": "dense", "input": source, "layer": layer.name, "bias": "bias" in names,
              "activation": name, "options": options, "function": keras_function,
              "macs": fan_in * int(layer.kernel.shape[-1])}
    if kind == "Dense":
        return recipe
    if getattr(layer, "data_format", "channels_last") != "channels_last" \
            or getattr(layer, "groups", 1) != 1 or None in output_shape:
        return None
    recipe.update(op="conv", strides=[int(size) for size in layer.strides],
                  padding=str(layer.padding),
                  dilation_rate=[int(size) for size in layer.dilation_rate])
    recipe["macs"] *= int(np.prod(output_shape))  # the kernel at every output position
    return recipe


def _is_keras_activation(function, name):
    """Whether ``function`` is Keras' own activation function ``name`` (default options)."""
    try:
        return keras.activations.get(name) is function
    except (ValueError, TypeError):
        return False


#: Test values on which a recipe's activation must agree with Keras' (8 rows
#: of 16, for row-wise functions such as softmax).
_ACTIVATION_TEST_VALUES = np.concatenate([
    np.linspace(-8.0, 8.0, 97), [-30.0, -3.0, -1e-3, 0.0, 1e-3, 3.0, 30.0],
    np.random.default_rng(0).normal(0.0, 2.0, 24)]).astype(np.float32).reshape(8, 16)


def _same_activation(recipe):
    """Whether numpy's function of ``recipe`` gives what its Keras function gives.

    Keras' own activation functions and layers are known; anything else (a
    custom function or layer that reuses a name) is compared on test values.
    """
    function, name = recipe["function"], recipe["activation"]
    if isinstance(function, keras.layers.Layer):
        if type(function).__module__.startswith("keras.") and (
                type(function).__name__ != "Activation"
                or _is_keras_activation(function.activation, name)):
            return True
    elif _is_keras_activation(function, name):
        return True
    values = _ACTIVATION_TEST_VALUES
    try:
        expected = np.asarray(keras.ops.convert_to_numpy(
            recipe["function"](keras.ops.convert_to_tensor(values))), dtype=np.float64)
        computed = RECIPE_ACTIVATIONS[recipe["activation"]](
            values.astype(np.float64), **recipe["options"])
    except Exception:  # noqa: BLE001 - any failure means: store instead
        return False
    return bool(np.shape(computed) == expected.shape and np.all(np.isfinite(expected))
                and np.allclose(computed, expected, rtol=1e-4, atol=1e-5))


def _compiled_forward(capture_model):
    """Return ``f(x) -> list of tensors``: one compiled inference pass per call.

    TensorFlow gets a ``tf.function``, PyTorch a plain call under
    ``torch.no_grad()`` (eager is PyTorch's fast path); JAX never comes here:
    :class:`replay.record.capture_jax.FusedJaxCapture` compiles its own.
    ``predict_on_batch`` would also compile, but rebuilds a data iterator and
    copies the inputs at every call.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda inputs: capture_model(inputs, training=False),
                           reduce_retracing=True)
    if backend == "torch":
        import torch

        def call(inputs):
            with torch.no_grad():
                return capture_model(inputs, training=False)

        return call
    return capture_model.predict_on_batch


def _weight_names(layer):
    """Short names of a layer's weights (``kernel``, ``bias``), unique in the layer."""
    names = []
    for weight in layer.weights:
        name = weight.name.split("/")[-1].split(":")[0]
        while name in names:
            name += "_"
        names.append(name)
    return names


def _same_tensor(first, second):
    return getattr(first, "_keras_history", None) is not None and (
        first._keras_history == getattr(second, "_keras_history", None)
    )


def read_weights(model):
    """Return a numpy copy ``{layer name: {weight name: array}}`` of every layer's weights.

    A copy, not a view: JAX's training step donates (frees) the old buffers
    and the other backends update variables in place.
    """
    return {layer.name: {name: np.array(keras.ops.convert_to_numpy(weight))
                         for name, weight in zip(_weight_names(layer), layer.weights)}
            for layer in model.layers if layer.weights}


class _FunctionLoss(keras.losses.Loss):
    """A loss function as an unreduced ``keras.losses.Loss`` (Keras' own wrapper is private)."""

    def __init__(self, function):
        super().__init__(name=getattr(function, "__name__", None), reduction=None)
        self.function = function

    def call(self, y_true, y_pred):
        return self.function(*same_rank(y_true, y_pred))


def same_rank(y_true, y_pred):
    """Align the ranks of targets and outputs as Keras' losses do before computing.

    A rank-1 side next to a trailing axis of 1 on the other gets that axis
    (``(N,)`` targets with ``(N, 1)`` outputs); otherwise the side with the
    extra trailing axis of 1 loses it.
    """
    true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    if true_rank == pred_rank + 1 and y_true.shape[-1] == 1:
        if pred_rank == 1:
            y_pred = keras.ops.expand_dims(y_pred, -1)
        else:
            y_true = keras.ops.squeeze(y_true, -1)
    elif pred_rank == true_rank + 1 and y_pred.shape[-1] == 1:
        if true_rank == 1:
            y_true = keras.ops.expand_dims(y_true, -1)
        else:
            y_pred = keras.ops.squeeze(y_pred, -1)
    return y_true, y_pred


class ModelLoss:
    """The model's compiled loss, per sample and reduced, as Keras computes it.

    Per-sample values come from the loss with ``reduction=None``: a copy of a
    ``keras.losses.Loss``, or a ``Loss`` around a loss given by name or
    function (as ``compile`` wraps it). Going through
    ``Loss.__call__`` aligns the targets' rank with the outputs' the way
    training does, so ``(N,)`` binary targets work with ``(N, 1)`` outputs.
    The functions take backend tensors, so the JAX capture can trace them.

    Args:
        model: a compiled model with one loss.

    Attributes:
        name: the loss's name, for the run's metadata.
        from_logits: whether the loss takes logits (its ``from_logits``).
    """

    def __init__(self, model):
        loss = getattr(model, "loss", None)
        if loss is None:
            raise RecordingError(
                "The model has no loss: compile it (model.compile(loss=...)) before "
                "recording.")
        if isinstance(loss, (list, tuple, dict)):
            raise RecordingError(
                "replay records models with a single loss; this model was compiled with "
                f"a {type(loss).__name__} of losses.")
        self.name = loss_name(model)
        function = keras.losses.get(loss) if isinstance(loss, str) else loss
        if isinstance(function, keras.losses.Loss):
            self._reduced = function
            self._unreduced = copy.copy(function)
            self._unreduced.reduction = None
            options = getattr(function, "_fn_kwargs", {}) or {}
            self.from_logits = bool(getattr(function, "from_logits",
                                            options.get("from_logits", False)))
        elif callable(function):
            self._reduced = None  # compile() averages over the batch
            self._unreduced = _FunctionLoss(function)
            self.from_logits = False
        else:
            raise RecordingError(f"Cannot compute the model's loss {loss!r} per sample.")

    def per_sample(self, targets, predictions):
        """Return the loss of every sample ``(N,)`` (mean over any further axes)."""
        values = self._unreduced(targets, predictions)
        return values.reshape(values.shape[0], -1).mean(axis=1) if values.ndim > 1 else values

    def reduced(self, targets, predictions, per_sample):
        """Return the batch loss as training computes it (the loss's own reduction)."""
        if self._reduced is not None:
            return self._reduced(targets, predictions)
        return per_sample.mean()

    def per_sample_numpy(self, targets, predictions):
        """:meth:`per_sample` from and to numpy arrays (float32)."""
        values = self.per_sample(keras.ops.convert_to_tensor(np.asarray(targets)),
                                 keras.ops.convert_to_tensor(
                                     np.asarray(predictions, dtype=np.float32)))
        return np.asarray(keras.ops.convert_to_numpy(values), dtype=np.float32)


class BackendCapture:
    """A snapshot from separate calls: forward pass, per-sample loss, gradients.

    The TensorFlow and PyTorch path (JAX has :class:`replay.record.capture_jax.FusedJaxCapture`).
    :meth:`dispatch` runs on the training thread: it copies the weights
    (these backends update variables in place) and runs the forward pass
    and the gradients on the current state. :meth:`collect` runs on the
    recorder's writer thread and turns the results into named arrays, in
    the plan's modes (raw, summaries) and the storage dtype.

    Args:
        plan: the model's :class:`CapturePlan`, finalized.
        samples: ``{source: (inputs, targets)}`` recorded with z-values and loss.
        probes: ``{source: points}`` recorded with outputs and activations.
        gradients: a :class:`replay.record.gradients.GradientPlan`, or ``None``.
        storage_dtype: the dtype of activations, z-values and probe outputs
            (:func:`replay.io.storage.to_storage`).
    """

    def __init__(self, plan, samples, probes, *, gradients=None, storage_dtype=np.float16):
        self.plan = plan
        self.samples = samples
        self.probes = probes
        self.gradient_plan = gradients
        self.storage_dtype = storage_dtype
        self._loss = ModelLoss(plan.model)
        blocks = [inputs for inputs, _ in samples.values()]
        blocks += [points.reshape(-1, points.shape[-1]) for points in probes.values()]
        self._inputs = np.concatenate(blocks).astype(np.float32, copy=False)
        self._sizes = [len(block) for block in blocks]

    def dispatch(self):
        weights = read_weights(self.plan.model)
        forward = self.plan.dispatch(self._inputs)
        gradients = (self.gradient_plan.dispatch(*self.samples["train"])
                     if self.gradient_plan is not None else None)
        return weights, forward, gradients

    def collect(self, pending):
        weights, forward, gradients = pending
        plan = self.plan
        results = plan.collect(forward)
        arrays = {}
        for layer, values in weights.items():
            mode = plan.weights.get(layer)
            for name, value in values.items():
                keep(arrays, schema.weights(layer, name), value, mode)
        start = 0
        for source, size in zip([*self.samples, *self.probes], self._sizes):
            part = slice(start, start + size)
            start += size
            shape = self.probes[source].shape[:-1] if source in self.probes else (size,)
            is_sample = source in self.samples
            for kind, layer, mode, values in results:
                values = values[part].reshape(*shape, *values.shape[1:])
                if kind == "outputs":
                    if mode == "raw":
                        arrays[schema.outputs(source)] = values
                    if is_sample and plan.losses:
                        arrays[schema.loss(source)] = self._loss.per_sample_numpy(
                            self.samples[source][1], values)
                elif kind == "activations":
                    if mode == "raw" or is_sample:
                        keep(arrays, schema.activations(source, layer), values, mode)
                elif is_sample:  # pre-activations: on the samples only
                    keep(arrays, schema.preactivations(source, layer), values, mode)
        if gradients is not None:
            for (layer, name), gradient in self.gradient_plan.collect(gradients).items():
                keep(arrays, schema.gradients(layer, name), gradient, plan.gradients.get(layer))
        return to_storage(arrays, self.storage_dtype)


def keep(arrays, path, values, mode):
    """Add ``values`` of dataset ``path`` to ``arrays`` as ``mode`` says: raw, a summary, or not."""
    if mode == "raw":
        arrays[path] = values
    elif mode == "summary":
        arrays.update(summary_arrays(path, values))


def loss_name(model):
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        return loss
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or repr(loss)
