"""What the recorder captures from a Keras model, in one compiled call.

:class:`CapturePlan` inspects a built model once: which layers have weights,
which of them are hidden (their activations are recorded), which tensors a
single forward pass must return so that activations, pre-activations and
outputs all come out of **one** compiled function per snapshot. Keras is
imported here, so ``import replay`` never loads this module.
"""

import keras
import numpy as np

from replay.errors import RecordingError
from replay.io import schema

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


class CapturePlan:
    """The layers to record and the compiled function that captures them.

    Args:
        model: a built Keras model with a single input and a single output.
    """

    def __init__(self, model):
        if not model.built:
            raise RecordingError(
                "The model is not built yet. Call it on data, call model.build(...), or "
                "start it with keras.Input(...) before recording."
            )
        try:
            model_inputs = model.inputs
            model_outputs = model.outputs
        except (AttributeError, ValueError) as error:
            raise RecordingError(
                "Cannot trace the model's layers: replay records Sequential and "
                f"functional models (subclassed models are not supported). {error}"
            ) from error
        if not model_inputs or len(model_inputs) != 1 or len(model_outputs) != 1:
            raise RecordingError(
                f"replay records models with one input and one output. This model has "
                f"{len(model_inputs or [])} inputs and {len(model_outputs or [])} outputs."
            )
        self.model = model
        output_tensor = model_outputs[0]
        consumers = self._consumers(model)
        self.layers = []  # LayerInfo-like dicts, in model order
        self.hidden = []  # (layer, activation tensor, input tensor or None, z tensor or None)
        for layer in model.layers:
            if not layer.weights or isinstance(layer, keras.layers.InputLayer):
                continue
            output = layer.output
            is_output = output is output_tensor or _same_tensor(output, output_tensor)
            activation = getattr(layer, "activation", None)
            name = activation_name(activation)
            info = {
                "name": layer.name,
                "class_name": type(layer).__name__,
                "units": int(output.shape[-1]),
                "activation": name,
                "weights": _weight_names(layer),
                "hidden": not is_output,
            }
            if not is_output:
                activation_tensor, z_tensor, input_tensor = output, None, None
                if name == "linear":
                    follower = consumers.get(id(output))
                    if follower is not None:
                        z_tensor = output
                        activation_tensor = follower.output
                        info["activation"] = activation_name(follower)
                    else:
                        z_tensor = output
                elif type(layer).__name__ == "Dense":
                    input_tensor = layer.input
                self.hidden.append((layer, activation_tensor, input_tensor, z_tensor))
            self.layers.append(info)
        tensors = [output_tensor]
        for _, activation_tensor, input_tensor, z_tensor in self.hidden:
            tensors.append(activation_tensor)
            tensors.append(input_tensor if input_tensor is not None else z_tensor)
        #: A model returning the output, then per hidden layer its activations
        #: and its input (Dense: z = input @ kernel + bias) or its z-values.
        self.capture_model = keras.Model(model_inputs, tensors)
        self._forward = None  # compiled on first use (TensorFlow, PyTorch; JAX fuses its own)
        self._cached_inputs = (None, None)

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
        if self._forward is None:
            self._forward = _compiled_forward(self.capture_model)
        return self._forward(self._device_inputs(inputs))

    def collect(self, results, weights=None):
        """Turn :meth:`dispatch`'s tensors into numpy outputs, activations and z-values."""
        results = [np.asarray(keras.ops.convert_to_numpy(r)) for r in results]
        outputs = results[0]
        activations, preactivations = {}, {}
        for position, (layer, _, input_tensor, _) in enumerate(self.hidden):
            activation = results[1 + 2 * position]
            second = results[2 + 2 * position]
            activations[layer.name] = activation
            if input_tensor is None:
                preactivations[layer.name] = second
            else:
                # z = x W + b, in numpy: one compiled pass returns the layer's
                # input, and this small matmul avoids a second graph output
                # that would need the layer without its activation.
                current = (weights or {}).get(layer.name) or layer_weights(layer)
                z = second.reshape(-1, second.shape[-1]) @ current["kernel"]
                if getattr(layer, "use_bias", False):
                    z = z + current["bias"]
                preactivations[layer.name] = z.reshape(*second.shape[:-1], -1)
        return outputs, activations, preactivations


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


def layer_weights(layer):
    """Return ``{short name: numpy array}`` of a layer's current weights."""
    return {
        name: np.asarray(keras.ops.convert_to_numpy(weight))
        for name, weight in zip(_weight_names(layer), layer.weights)
    }


def read_weights(model):
    """Return a numpy copy ``{layer name: {weight name: array}}`` of every layer's weights.

    A copy, not a view: JAX's training step donates (frees) the old buffers
    and the other backends update variables in place.
    """
    return {layer.name: {name: np.array(keras.ops.convert_to_numpy(weight))
                         for name, weight in zip(_weight_names(layer), layer.weights)}
            for layer in model.layers if layer.weights}


def resolve_loss(model):
    """Return the model's compiled loss as ``(loss object or None, per-sample function)``.

    A ``keras.losses.Loss`` comes back with its ``call`` (unreduced); a loss
    given as a name or a function comes back as ``(None, function)``.
    """
    loss = getattr(model, "loss", None)
    if loss is None:
        raise RecordingError(
            "The model has no loss: compile it (model.compile(loss=...)) before recording."
        )
    if isinstance(loss, (list, tuple, dict)):
        raise RecordingError(
            "replay records models with a single loss; this model was compiled with "
            f"{type(loss).__name__} of losses."
        )
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    loss_object = loss if isinstance(loss, keras.losses.Loss) else None
    function = loss.call if loss_object is not None else loss
    if not callable(function):
        raise RecordingError(f"Cannot compute the model's loss {loss!r} per sample.")
    return loss_object, function


def per_sample_loss_function(model):
    """Return ``f(y_true, y_pred) -> (N,)`` computing the model's compiled loss per sample."""
    _, function = resolve_loss(model)

    def per_sample(y_true, y_pred):
        y_pred = keras.ops.convert_to_tensor(np.asarray(y_pred, dtype=np.float32))
        y_true = keras.ops.convert_to_tensor(np.asarray(y_true, dtype=np.float32))
        values = np.asarray(keras.ops.convert_to_numpy(function(y_true, y_pred)))
        values = values.reshape(len(values), -1).mean(axis=1) if values.ndim > 1 else values
        return values.astype(np.float32)

    return per_sample


class BackendCapture:
    """A snapshot from separate calls: forward pass, per-sample loss, gradients.

    The TensorFlow and PyTorch path (JAX has :class:`replay.record.capture_jax.FusedJaxCapture`).
    :meth:`dispatch` runs on the training thread: it copies the weights
    (these backends update variables in place) and runs the forward pass
    and the gradients on the current state. :meth:`collect` runs on the
    recorder's writer thread and turns the results into named arrays.

    Args:
        plan: the model's :class:`CapturePlan`.
        samples: ``{source: (inputs, targets)}`` recorded with z-values and loss.
        probes: ``{source: points}`` recorded with outputs and activations.
        gradients: a :class:`replay.record.gradients.GradientPlan`, or ``None``.
    """

    def __init__(self, plan, samples, probes, *, gradients=None):
        self.plan = plan
        self.samples = samples
        self.probes = probes
        self.gradient_plan = gradients
        self._loss = per_sample_loss_function(plan.model)
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
        outputs, activations, preactivations = self.plan.collect(forward, weights)
        arrays = {schema.weights(layer, name): value
                  for layer, values in weights.items() for name, value in values.items()}
        start = 0
        for source, size in zip([*self.samples, *self.probes], self._sizes):
            part = slice(start, start + size)
            start += size
            shape = self.probes[source].shape[:-1] if source in self.probes else (size,)
            arrays[schema.outputs(source)] = outputs[part].reshape(*shape, -1)
            for layer, values in activations.items():
                arrays[schema.activations(source, layer)] = values[part].reshape(*shape, -1)
            if source in self.samples:
                for layer, values in preactivations.items():
                    arrays[schema.preactivations(source, layer)] = values[part]
                arrays[schema.loss(source)] = self._loss(self.samples[source][1], outputs[part])
        if gradients is not None:
            for (layer, name), gradient in self.gradient_plan.collect(gradients).items():
                arrays[schema.gradients(layer, name)] = gradient
        return arrays


def loss_name(model):
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        return loss
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or repr(loss)
