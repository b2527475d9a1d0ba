"""A gallery of activation functions and their derivatives, in numpy.

Each activation has a numpy twin of the Keras function of the same name
(``keras.activations.<name>`` with its default arguments; the tests check
them against Keras) and its derivative, so the gallery draws without Keras.

Example:
    ```python
    from replay.gallery import activation_gallery

    activation_gallery().savefig("activations.png")
    activation_gallery(["relu", "elu", "selu"], ncols=3).savefig("three.png")
    ```
"""

import math

import matplotlib.pyplot as plt
import numpy as np

from replay.errors import OptionError

#: SELU constants (Klambauer et al., 2017), as in Keras.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
#: Keras' default slope of leaky relu (``keras.activations.leaky_relu``).
LEAKY_SLOPE = 0.2
#: Colours of the function and its derivative.
FUNCTION_COLOR = "#0072B2"
DERIVATIVE_COLOR = "#D55E00"

_erf = np.frompyfunc(math.erf, 1, 1)


def sigmoid(x):
    """The logistic function ``1 / (1 + exp(-x))``."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def sigmoid_derivative(x):
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x):
    return np.tanh(np.asarray(x, dtype=np.float64))


def tanh_derivative(x):
    return 1.0 - np.tanh(np.asarray(x, dtype=np.float64)) ** 2


def relu(x):
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def relu_derivative(x):
    return (np.asarray(x) > 0).astype(np.float64)


def leaky_relu(x, negative_slope=LEAKY_SLOPE):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, negative_slope * x)


def leaky_relu_derivative(x, negative_slope=LEAKY_SLOPE):
    return np.where(np.asarray(x) > 0, 1.0, negative_slope)


def elu(x, alpha=1.0):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def elu_derivative(x, alpha=1.0):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def selu(x):
    return SELU_SCALE * elu(x, SELU_ALPHA)


def selu_derivative(x):
    return SELU_SCALE * elu_derivative(x, SELU_ALPHA)


def _normal_cdf(x):
    return 0.5 * (1.0 + _erf(np.asarray(x, dtype=np.float64) / math.sqrt(2.0)).astype(np.float64))


def _normal_pdf(x):
    return np.exp(-0.5 * np.asarray(x, dtype=np.float64) ** 2) / math.sqrt(2.0 * math.pi)


def gelu(x):
    """The exact GELU ``x * Phi(x)`` (Keras' default, ``approximate=False``)."""
    x = np.asarray(x, dtype=np.float64)
    return x * _normal_cdf(x)


def gelu_derivative(x):
    x = np.asarray(x, dtype=np.float64)
    return _normal_cdf(x) + x * _normal_pdf(x)


def swish(x):
    """``x * sigmoid(x)`` (also called SiLU)."""
    x = np.asarray(x, dtype=np.float64)
    return x * sigmoid(x)


def swish_derivative(x):
    s = sigmoid(x)
    return s + np.asarray(x, dtype=np.float64) * s * (1.0 - s)


#: name → (function, derivative, label shown in the gallery).
ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_derivative, "sigmoid"),
    "tanh": (tanh, tanh_derivative, "tanh"),
    "relu": (relu, relu_derivative, "relu"),
    "leaky_relu": (leaky_relu, leaky_relu_derivative, f"leaky relu (\u03b1 = {LEAKY_SLOPE:g})"),
    "elu": (elu, elu_derivative, "elu"),
    "selu": (selu, selu_derivative, "selu"),
    "gelu": (gelu, gelu_derivative, "gelu"),
    "swish": (swish, swish_derivative, "swish (silu)"),
}


def activation(name):
    """Return ``(function, derivative)`` of activation ``name`` (a key of :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise OptionError(f"Unknown activation {name!r}. Known: {', '.join(ACTIVATIONS)}.")
    function, derivative, _ = ACTIVATIONS[name]
    return function, derivative


def activation_gallery(names=None, *, x_range=(-4.0, 4.0), ncols=4, panel_size=(3.0, 2.6),
                       figure=None):
    """Draw each activation and its derivative in a grid of small panels.

    Args:
        names: activations to draw (keys of :data:`ACTIVATIONS`); ``None``
            for all eight.
        x_range: the inputs shown, ``(low, high)``.
        ncols: panels per row.
        panel_size: ``(width, height)`` of a panel in inches.
        figure: a matplotlib figure to draw into; ``None`` makes one.

    Returns:
        The figure; the function is solid blue, its derivative dashed orange.
    """
    names = list(ACTIVATIONS) if names is None else [names] if isinstance(names, str) \
        else list(names)
    for name in names:
        activation(name)
    ncols = max(1, min(int(ncols), len(names)))
    nrows = math.ceil(len(names) / ncols)
    if figure is None:
        figure = plt.figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows + 0.6),
                            layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False, sharex=True)
    x = np.linspace(*x_range, 801)
    for ax, name in zip(axes.ravel(), names):
        function, derivative, label = ACTIVATIONS[name]
        ax.axhline(0.0, color="#BBBBBB", linewidth=0.7, zorder=0)
        ax.axvline(0.0, color="#BBBBBB", linewidth=0.7, zorder=0)
        ax.plot(x, function(x), color=FUNCTION_COLOR, linewidth=2.0, label="f(x)")
        ax.plot(x, derivative(x), color=DERIVATIVE_COLOR, linewidth=1.6, linestyle="--",
                label="f\u2032(x)")
        ax.set_title(label)
        ax.set_xlim(*x_range)
        ax.grid(True, color="#EEEEEE", linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("x")
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside upper right", ncols=2, frameon=False)
    figure.suptitle("Activation functions (solid) and their derivatives (dashed)")
    return figure
