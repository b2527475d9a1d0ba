"""What the recorder captures from a Keras model, in one compiled call.

:class:`CapturePlan` inspects a built model once: which layers have weights,
which of them are hidden (their activations are recorded), which tensors a
single forward pass must return so that activations, pre-activations and
outputs all come out of **one** compiled function per snapshot. Keras is
imported here, so ``import replay`` never loads this module.
"""

import copy

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


class CapturePlan:
    """The layers to record and the tensors one forward pass must return.

    Every layer with weights is recorded (its weights); every such layer but
    the output layer is *hidden*: its activations (its output, in the
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

    Args:
        model: a built Keras model with a single input and a single output.

    Attributes:
        layers: one dict per layer with weights (name, class_name, units,
            shape, activation, weights, hidden, preactivations), for the
            run's metadata.
        hidden: ``(layer, activation tensor, pre-activation tensor or None)``
            per hidden layer, in model order.
        layout: what each output of :attr:`capture_model` is:
            ``("outputs", None)``, ``("activations", layer name)`` or
            ``("preactivations", layer name)``.
        capture_model: a Keras model returning those tensors.
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
                f"{len(model_inputs or [])} inputs and {len(model_outputs or [])} outputs: "
                "record a one-input, one-output model (e.g. concatenate the inputs first), "
                "or train without the recorder."
            )
        self.model = model
        output_tensor = model_outputs[0]
        consumers = self._consumers(model)
        self.layers = []
        self.hidden = []
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
            name, activation_tensor, z_tensor = self._activation(layer, output, consumers,
                                                                 is_output)
            self.layers.append({
                "name": layer.name,
                "class_name": type(layer).__name__,
                "units": int(output.shape[-1]),
                "shape": [int(size) for size in output.shape[1:]],
                "activation": name,
                "weights": _weight_names(layer),
                "trainable_weights": [weight_name for weight_name, weight
                                      in zip(_weight_names(layer), layer.weights)
                                      if weight.trainable],
                "hidden": not is_output,
                "preactivations": z_tensor is not None,
            })
            if not is_output:
                self.hidden.append((layer, activation_tensor, z_tensor))
        tensors, self.layout = [output_tensor], [("outputs", None)]
        for layer, activation_tensor, z_tensor in self.hidden:
            tensors.append(activation_tensor)
            self.layout.append(("activations", layer.name))
            if z_tensor is not None:
                tensors.append(z_tensor)
                self.layout.append(("preactivations", layer.name))
        self.capture_model = keras.Model(model_inputs, tensors)
        self._forward = None  # compiled on first use (TensorFlow, PyTorch; JAX fuses its own)
        self._cached_inputs = (None, None)

    @staticmethod
    def _activation(layer, output, consumers, is_output):
        """Return ``(activation name, activation tensor, pre-activation tensor or None)``."""
        cell = getattr(layer, "cell", None)
        if cell is not None:  # recurrent: the activation works inside the time loop
            return activation_name(getattr(cell, "activation", None)), output, None
        if not hasattr(layer, "activation"):  # normalisation, embedding, ...
            return "none", output, None
        name = activation_name(layer.activation)
        if name == "linear":
            follower = None if is_output else consumers.get(id(output))
            if follower is not None:
                return activation_name(follower), follower.output, output
            return name, output, output
        if type(layer).__name__ in _PREACTIVATION_LAYERS:
            return name, output, PreActivation(layer)(layer.input)
        return name, output, None

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

    def collect(self, results):
        """Turn :meth:`dispatch`'s tensors into ``[(kind, layer, numpy array)]`` by :attr:`layout`."""
        if not isinstance(results, (list, tuple)):
            results = [results]  # a one-tensor model returns the tensor itself
        return [(kind, layer, np.asarray(keras.ops.convert_to_numpy(result)))
                for (kind, layer), result in zip(self.layout, results)]


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
        results = self.plan.collect(forward)
        arrays = {schema.weights(layer, name): value
                  for layer, values in weights.items() for name, value in values.items()}
        start = 0
        for source, size in zip([*self.samples, *self.probes], self._sizes):
            part = slice(start, start + size)
            start += size
            shape = self.probes[source].shape[:-1] if source in self.probes else (size,)
            for kind, layer, values in results:
                values = values[part].reshape(*shape, *values.shape[1:])
                if kind == "outputs":
                    arrays[schema.outputs(source)] = values
                    if source in self.samples:
                        arrays[schema.loss(source)] = self._loss.per_sample_numpy(
                            self.samples[source][1], values)
                elif kind == "activations":
                    arrays[schema.activations(source, layer)] = values
                elif source in self.samples:  # pre-activations: on the samples only
                    arrays[schema.preactivations(source, layer)] = values
        if gradients is not None:
            for (layer, name), gradient in self.gradient_plan.collect(gradients).items():
                arrays[schema.gradients(layer, name)] = gradient
        return arrays


def loss_name(model):
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        return loss
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or repr(loss)
