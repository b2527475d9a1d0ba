"""Gradients of the model's loss with respect to every weight, on each backend.

:class:`GradientPlan` builds, once per model, a compiled function returning
the gradient of the **mean compiled loss** (the loss ``model.compile(loss=...)``
set, plus any regularisation losses, exactly as ``model.compute_loss``
computes it) with respect to every trainable weight, on the recorded
inputs, in inference mode (``training=False``: dropout off, batch
statistics frozen).

Keras 3 has no backend-neutral gradient call, so each backend gets its own
small function. On JAX the recorder computes gradients inside its one fused
snapshot function (:mod:`replay.record.capture_jax`); this module serves the others:

- TensorFlow: ``tf.function`` around a ``tf.GradientTape``.
- PyTorch: ``torch.autograd.grad`` on the parameters (no ``.grad`` touched).

On TensorFlow and PyTorch the loss is computed inside a
``keras.StatelessScope`` so that computing it never changes metric or other
variable state of the model being trained.

Keras is imported here (the recorder imports this module), so ``import
replay`` never loads it.
"""

import keras
import numpy as np

from replay.errors import OptionError, RecordingError
from replay.record.capture import _weight_names

#: ``gradients="auto"`` records gradients for models with at most this many
#: parameters (a 5 x 100-unit net has about 41,000).
AUTO_MAX_PARAMETERS = 100_000


def check_gradients_option(option):
    """Return the recorder's ``gradients=`` option if it is ``"auto"``, True or False, or raise."""
    if isinstance(option, str) and option == "auto" or option is True or option is False:
        return option
    raise OptionError(f"gradients must be 'auto', True or False. Got {option!r}.")


def wants_gradients(option, model):
    """Resolve the recorder's ``gradients=`` option (``"auto"``, True, False) for ``model``."""
    if check_gradients_option(option) == "auto":
        return model.count_params() <= AUTO_MAX_PARAMETERS
    return bool(option)


class GradientPlan:
    """The compiled gradient function of one model.

    Args:
        model: a built and compiled Keras model.

    Attributes:
        names: ``(layer, weight)`` pairs, one per weight of every layer with
            weights, in the order the recorder stores weights.
    """

    def __init__(self, model):
        if getattr(model, "loss", None) is None and not model.losses:
            raise RecordingError(
                "Recording gradients needs a compiled loss: call model.compile(loss=...) "
                "or pass gradients=False."
            )
        self.model = model
        self.backend = keras.backend.backend()
        trainable = {id(variable): index
                     for index, variable in enumerate(model.trainable_variables)}
        # ((layer, weight), index into model.trainable_variables or None, shape)
        self._targets = []
        for layer in model.layers:
            if not layer.weights:
                continue
            for name, weight in zip(_weight_names(layer), layer.weights):
                self._targets.append(((layer.name, name), trainable.get(id(weight)),
                                      tuple(weight.shape)))
        self.names = [name for name, _, _ in self._targets]
        builders = {"tensorflow": self._build_tensorflow, "torch": self._build_torch}
        if self.backend not in builders:
            raise RecordingError(
                f"Gradients are recorded on the jax, tensorflow and torch backends (JAX "
                f"through replay.record.capture_jax.FusedJaxCapture); this "
                f"is {self.backend!r}. Pass gradients=False."
            )
        self._function = builders[self.backend]()
        self._cached_samples = (None, None, None)

    def dispatch(self, inputs, targets):
        """Start computing the gradients; return the backend's tensors.

        The samples are converted to arrays once and reused.
        """
        cached_inputs, cached_targets, tensors = self._cached_samples
        if cached_inputs is not inputs or cached_targets is not targets:
            array_inputs = np.asarray(inputs, dtype=np.float32)
            array_targets = np.asarray(targets)
            if array_targets.dtype.kind == "f":
                array_targets = array_targets.astype(np.float32)
            tensors = (array_inputs, array_targets)
            self._cached_samples = (inputs, targets, tensors)
        return self._function(*tensors)

    def collect(self, gradients):
        """Turn :meth:`dispatch`'s tensors into ``{(layer, weight): array}``.

        Non-trainable weights (e.g. batch-norm statistics) are left out: the
        loss does not move them; trainable weights the loss does not depend on
        get zeros.
        """
        result = {}
        for name, index, shape in self._targets:
            if index is None:
                continue  # a non-trainable weight: the loss does not move it
            if gradients[index] is None:  # trainable, but the loss does not depend on it
                result[name] = np.zeros(shape, dtype=np.float32)
            else:
                result[name] = np.asarray(keras.ops.convert_to_numpy(gradients[index]),
                                          dtype=np.float32)
        return result

    # -- one builder per backend ---------------------------------------------

    def _build_tensorflow(self):
        import tensorflow as tf

        model = self.model
        variables = model.trainable_variables

        @tf.function(reduce_retracing=True)
        def function(x, y):
            with tf.GradientTape() as tape:
                loss = self._stateless_loss(x, y)
            return tape.gradient(loss, [variable.value for variable in variables])

        return function

    def _build_torch(self):
        import torch

        model = self.model

        def function(x, y):
            parameters = [variable.value for variable in model.trainable_variables]
            with torch.enable_grad():
                loss = self._stateless_loss(x, y)
                return torch.autograd.grad(loss, parameters, allow_unused=True)

        return function

    def _stateless_loss(self, x, y):
        model = self.model
        with keras.StatelessScope():
            x = keras.ops.convert_to_tensor(x)
            y = keras.ops.convert_to_tensor(y)
            y_pred = model(x, training=False)
            return model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
