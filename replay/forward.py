"""A Dense network's forward pass and per-sample losses, in numpy.

Runs that store only weights (files of the old DeepReplay package) get
their activations, pre-activations, outputs and per-sample losses from here,
computed on demand from the stored weights: no Keras needed. The pass runs
for many snapshots at once: a kernel of shape ``(m, d, u)`` (one per
snapshot) turns inputs ``(n, d)`` into ``(m, n, u)`` with one ``matmul``.

Example:
    >>> import numpy as np
    >>> layers = [DenseLayer("hidden", "tanh"), DenseLayer("output", "sigmoid")]
    >>> weights = [(np.ones((1, 2, 3)), np.zeros((1, 3))), (np.ones((1, 3, 1)), None)]
    >>> [a.shape for _, a in forward(np.zeros((5, 2)), layers, weights)]
    [(1, 5, 3), (1, 5, 1)]
"""

from dataclasses import dataclass, field

import numpy as np

from replay.errors import OptionError

#: Keras' fuzz factor: probabilities are clipped to [EPSILON, 1 - EPSILON] in losses.
EPSILON = 1e-7


def _sigmoid(z):
    # 1 / (1 + exp(-z)) in place: exp overflows to inf for z < -88 (float32),
    # and 1 / inf is the right 0. Six times faster than a two-branch form.
    z = np.asarray(z)
    out = np.negative(z, dtype=np.result_type(z.dtype, np.float32))
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def _softmax(z):
    shifted = np.exp(z - z.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _elu(z, alpha=1.0):
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def _selu(z):
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return scale * _elu(z, alpha)


def _relu(z, negative_slope=0.0, max_value=None, threshold=0.0):
    result = np.where(z >= threshold, z, negative_slope * (z - threshold))
    return result if max_value is None else np.minimum(result, max_value)


#: Activation name → function of the pre-activations (Keras 2 and Keras 3 names).
ACTIVATIONS = {
    "linear": lambda z: z,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": _relu,
    "leaky_relu": lambda z, alpha=0.3: np.where(z >= 0, z, alpha * z),
    "elu": _elu,
    "selu": _selu,
    "softmax": _softmax,
    "softplus": lambda z: np.logaddexp(0.0, z),
    "softsign": lambda z: z / (1.0 + np.abs(z)),
    "hard_sigmoid": lambda z: np.clip(0.2 * z + 0.5, 0.0, 1.0),  # Keras 2's definition
    "exponential": np.exp,
    "swish": lambda z: z * _sigmoid(z),
    "silu": lambda z: z * _sigmoid(z),
}


@dataclass(frozen=True)
class DenseLayer:
    """One Dense layer of the pass: ``a = activation(x @ kernel + bias)``.

    Attributes:
        name: the layer name (for messages).
        activation: a key of :data:`ACTIVATIONS`.
        options: keyword arguments of the activation, e.g. ``{"alpha": 0.2}``.
    """

    name: str
    activation: str = "linear"
    options: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise OptionError(
                f"Layer {self.name!r} has activation {self.activation!r}, which replay cannot "
                f"compute with numpy. Known: {', '.join(sorted(ACTIVATIONS))}."
            )


def activate(name, z, **options):
    """Apply the activation ``name`` (a key of :data:`ACTIVATIONS`) to ``z``."""
    return ACTIVATIONS[name](z, **options)


def forward(inputs, layers, weights):
    """Run a Dense network on ``inputs`` for one or more snapshots of its weights.

    Args:
        inputs: array ``(n, d)``.
        layers: the :class:`DenseLayer` of every layer, in order.
        weights: one ``(kernel, bias)`` per layer: kernels ``(m, d_in, d_out)``
            and biases ``(m, d_out)`` (or ``None``) for ``m`` snapshots.

    Returns:
        A list of ``(z, a)`` per layer, each ``(m, n, units)`` float32: the
        pre-activations and activations; the last ``a`` is the output.
    """
    x = np.asarray(inputs, dtype=np.float32)
    results = []
    for layer, (kernel, bias) in zip(layers, weights):
        z = np.matmul(x, np.asarray(kernel, dtype=np.float32))
        if bias is not None:
            z += np.asarray(bias, dtype=np.float32)[:, None, :]
        x = activate(layer.activation, z, **layer.options).astype(np.float32, copy=False)
        results.append((z, x))
    return results


def _probabilities(outputs):
    return np.clip(np.asarray(outputs, dtype=np.float64), EPSILON, 1.0 - EPSILON)


def _binary_crossentropy(targets, outputs):
    p = _probabilities(outputs)
    return -np.mean(targets * np.log(p) + (1.0 - targets) * np.log(1.0 - p), axis=-1)


def _categorical_crossentropy(targets, outputs):
    outputs = np.asarray(outputs, dtype=np.float64)
    p = _probabilities(outputs / outputs.sum(axis=-1, keepdims=True))
    return -np.sum(targets * np.log(p), axis=-1)


def _sparse_categorical_crossentropy(targets, outputs):
    labels = np.rint(np.reshape(targets, len(targets))).astype(np.int64)
    outputs = np.asarray(outputs, dtype=np.float64)
    p = _probabilities(outputs / outputs.sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(p, np.broadcast_to(labels[:, None], p.shape[:-1] + (1,)), axis=-1)
    return -np.log(picked[..., 0])


def _mean_squared_error(targets, outputs):
    return np.mean((np.asarray(outputs, dtype=np.float64) - targets) ** 2, axis=-1)


def _mean_absolute_error(targets, outputs):
    return np.mean(np.abs(np.asarray(outputs, dtype=np.float64) - targets), axis=-1)


#: Loss name → per-sample function ``(targets (n, k), outputs (..., n, k)) -> (..., n)``.
LOSSES = {
    "binary_crossentropy": _binary_crossentropy,
    "categorical_crossentropy": _categorical_crossentropy,
    "sparse_categorical_crossentropy": _sparse_categorical_crossentropy,
    "mean_squared_error": _mean_squared_error,
    "mean_absolute_error": _mean_absolute_error,
}
#: Short names Keras accepts for the same losses.
LOSS_ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error",
                "bce": "binary_crossentropy"}


def _log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _binary_crossentropy_logits(targets, logits):
    # max(z, 0) - z y + log(1 + exp(-|z|)): Keras' (and TensorFlow's) stable form.
    return np.mean(np.maximum(logits, 0.0) - logits * targets
                   + np.log1p(np.exp(-np.abs(logits))), axis=-1)


def _categorical_crossentropy_logits(targets, logits):
    return -np.sum(targets * _log_softmax(logits), axis=-1)


def _sparse_categorical_crossentropy_logits(targets, logits):
    labels = np.rint(np.reshape(targets, len(targets))).astype(np.int64)
    log_p = _log_softmax(logits)
    picked = np.take_along_axis(
        log_p, np.broadcast_to(labels[:, None], log_p.shape[:-1] + (1,)), axis=-1)
    return -picked[..., 0]


#: The crossentropies of logits (a loss compiled with ``from_logits=True``).
LOGIT_LOSSES = {
    "binary_crossentropy": _binary_crossentropy_logits,
    "categorical_crossentropy": _categorical_crossentropy_logits,
    "sparse_categorical_crossentropy": _sparse_categorical_crossentropy_logits,
}


def loss_function(name):
    """Return the per-sample function of loss ``name``, or ``None`` when replay has none."""
    return LOSSES.get(LOSS_ALIASES.get(name, name))


def per_sample_loss(name, targets, outputs, *, from_logits=False):
    """Return the loss ``name`` of every sample, as Keras computes it (unreduced).

    Args:
        name: a key of :data:`LOSSES` (or an alias such as ``"mse"``).
        targets: ``(n,)`` or ``(n, k)``.
        outputs: ``(..., n, k)``, e.g. ``(m, n, k)`` for ``m`` snapshots.
        from_logits: the outputs are logits (a crossentropy of :data:`LOGIT_LOSSES`).

    Returns:
        Array ``(..., n)`` float32.
    """
    function = loss_function(name)
    if from_logits and function is not None:
        function = LOGIT_LOSSES.get(LOSS_ALIASES.get(name, name))
        if function is None:
            raise OptionError(
                f"replay cannot compute the loss {name!r} of logits with numpy. Known: "
                f"{', '.join(sorted(LOGIT_LOSSES))}.")
    if function is None:
        raise OptionError(
            f"replay cannot compute the loss {name!r} per sample with numpy. Known: "
            f"{', '.join(sorted(LOSSES) + sorted(LOSS_ALIASES))}."
        )
    targets = np.asarray(targets, dtype=np.float64)
    outputs = np.asarray(outputs)
    if targets.ndim == 1 and function not in (_sparse_categorical_crossentropy,
                                              _sparse_categorical_crossentropy_logits):
        targets = targets[:, None]
    return function(targets, outputs).astype(np.float32)
