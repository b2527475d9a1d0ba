"""Datasets a run does not store but recomputes when they are read.

A Dense layer's pre-activations are its input times its kernel plus its
bias, a convolution layer's its input convolved with its kernel plus its
bias; its activations (and the outputs, for the output layer) are those
through the activation function. When the layer's input is recorded (the
model's inputs, or the activations of the layer before it) and the
recorder knows that this numpy pass gives what Keras computes, storing
these arrays would repeat what the weights already say: the recorder
writes a **recipe** instead, and the replay side computes the rows of the
snapshots it reads (see ``docs/run-file-schema.md``).

The recipes are the run attribute :data:`replay.io.schema.RECOMPUTED_ATTRIBUTE`
(JSON), ``{dataset path: recipe}`` with recipe::

    {"op": "dense", "input": <path>, "kernel": <path>, "bias": <path or null>,
     "activation": <a key of ACTIVATIONS or null>, "options": {...}}

or ``"op": "conv"`` with, in addition, ``"strides"`` and
``"dilation_rate"`` (one integer per spatial axis) and ``"padding"``
(``"valid"``, ``"same"`` or, for one spatial axis, ``"causal"``), as
Keras' ``Conv1D``, ``Conv2D`` and ``Conv3D`` define them (channels last).
``activation`` null gives the pre-activations. ``input`` is a static input
(``inputs/<source>``) or a per-snapshot dataset, itself stored or
recomputed (a chain of layers).

numpy only.
"""

import json
import math
from collections import OrderedDict

import numpy as np

from replay import forward as dense
from replay.errors import RunFileError
from replay.io import schema

#: Computed blocks kept for the next reads (a view reading a layer and then
#: the outputs computed from it shares one pass), in bytes.
CACHE_BYTES = 64 << 20
#: Largest block computed at once, in bytes (longer reads are split).
BLOCK_BYTES = 32 << 20


def _erf(x):
    """The error function (Abramowitz & Stegun 7.1.26: absolute error below 1.5e-7)."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                                                       + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def _gelu(z, approximate=False):
    if approximate:
        return 0.5 * z * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z ** 3)))
    return 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0)))


def _softplus(z):
    return np.logaddexp(0.0, z)


def _relu(z, negative_slope=0.0, max_value=None, threshold=0.0):
    result = np.where(z >= threshold, z, negative_slope * (z - threshold)) if (
        negative_slope or threshold) else np.maximum(z, 0.0)
    return result if max_value is None else np.minimum(result, max_value)


#: Activation name → numpy function of the pre-activations, as Keras 3 defines
#: them (``forward.ACTIVATIONS`` holds Keras 2's, for DeepReplay files).
ACTIVATIONS = {
    "linear": lambda z: z,
    "sigmoid": dense.ACTIVATIONS["sigmoid"],
    "tanh": np.tanh,
    "relu": _relu,
    "relu6": lambda z: np.clip(z, 0.0, 6.0),
    "leaky_relu": lambda z, negative_slope=0.2: np.where(z >= 0, z, negative_slope * z),
    "elu": lambda z, alpha=1.0: dense.ACTIVATIONS["elu"](z, alpha),
    "selu": dense.ACTIVATIONS["selu"],
    "gelu": _gelu,
    "softmax": dense.ACTIVATIONS["softmax"],
    "log_softmax": lambda z: z - z.max(axis=-1, keepdims=True) - np.log(
        np.exp(z - z.max(axis=-1, keepdims=True)).sum(axis=-1, keepdims=True)),
    "softplus": _softplus,
    "softsign": lambda z: z / (1.0 + np.abs(z)),
    "silu": lambda z: z * dense.ACTIVATIONS["sigmoid"](z),
    "swish": lambda z: z * dense.ACTIVATIONS["sigmoid"](z),
    "hard_sigmoid": lambda z: np.clip(z + 3.0, 0.0, 6.0) / 6.0,
    "hard_silu": lambda z: z * np.clip(z + 3.0, 0.0, 6.0) / 6.0,
    "exponential": np.exp,
    "mish": lambda z: z * np.tanh(_softplus(z)),
}


#: The keys a convolution recipe has beyond a dense one.
CONV_OPTIONS = ("strides", "padding", "dilation_rate")
#: Largest block of convolution patches built at once, in bytes.
PATCH_BYTES = 32 << 20


def apply_recipe(recipe, inputs, kernel, bias):
    """Compute a recipe's rows from arrays: the numpy pass, also used in the tests.

    Args:
        recipe: the recipe (its ``op``, ``activation``, ``options`` and, for
            a convolution, its :data:`CONV_OPTIONS`).
        inputs: a dense layer's ``(P, d)`` for every snapshot, or
            ``(m, P, d)``; a convolution's ``(P, *spatial, channels)`` for
            every snapshot, or ``(m, P, *spatial, channels)``.
        kernel: ``(m, d, u)`` or ``(m, *kernel size, channels, u)``;
            ``bias``: ``(m, u)`` or ``None``.

    Returns:
        Array ``(m, P, u)`` or ``(m, P, *output spatial, u)``, float32.
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    kernel = np.asarray(kernel, np.float32)
    if recipe.get("op", "dense") == "conv":
        z = convolve(inputs, kernel, recipe["strides"], recipe["padding"],
                     recipe["dilation_rate"])
    else:
        z = np.matmul(inputs if inputs.ndim == 3 else inputs[None], kernel)
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float32)
        z += bias.reshape(len(bias), *([1] * (z.ndim - 2)), bias.shape[-1])
    name = recipe.get("activation")
    if name is None:
        return z
    values = ACTIVATIONS[name](z.astype(np.float64) if name in ("gelu", "mish") else z,
                               **recipe.get("options", {}))
    return np.asarray(values, dtype=np.float32)


def conv_output_shape(spatial, kernel_size, strides, padding, dilation_rate):
    """The output's spatial shape of a Keras convolution on inputs of spatial shape ``spatial``."""
    shape = []
    for size, width, stride, dilation in zip(spatial, kernel_size, strides, dilation_rate):
        extent = (width - 1) * dilation + 1
        if padding == "same":
            shape.append(-(-size // stride))
        else:  # "valid", or "causal": padded by extent - 1 on the left
            padded = size + (extent - 1 if padding == "causal" else 0)
            shape.append(max((padded - extent) // stride + 1, 0))
    return tuple(shape)


def convolve(inputs, kernels, strides, padding, dilation_rate):
    """Keras' convolution (channels last, one group) of inputs with per-snapshot kernels.

    Args:
        inputs: ``(P, *spatial, c)`` for every kernel, or ``(m, P, *spatial, c)``.
        kernels: ``(m, *kernel size, c, u)``.
        strides, dilation_rate: one integer per spatial axis.
        padding: ``"valid"``, ``"same"`` (XLA's and TensorFlow's: the extra
            row of an odd total at the end) or ``"causal"`` (one spatial
            axis: ``(kernel size - 1) * dilation`` zeros at the start).

    Returns:
        ``(m, P, *output spatial, u)`` float32, without bias.
    """
    m, *kernel_size, _, units = kernels.shape
    rank = len(kernel_size)
    shared = inputs.ndim == rank + 2
    spatial = inputs.shape[-1 - rank:-1]
    extents = [(width - 1) * dilation + 1 for width, dilation in zip(kernel_size, dilation_rate)]
    out = conv_output_shape(spatial, kernel_size, strides, padding, dilation_rate)
    pads = []
    for size, extent, stride, count in zip(spatial, extents, strides, out):
        if padding == "same":
            total = max((count - 1) * stride + extent - size, 0)
            pads.append((total // 2, total - total // 2))
        elif padding == "causal":
            pads.append((extent - 1, 0))
        else:
            pads.append((0, 0))
    # The kernel as a matrix over (channel, *kernel position), the order of the patches.
    order = (0, rank + 1, *range(1, rank + 1), rank + 2)
    matrices = kernels.transpose(order).reshape(m, -1, units)
    batches = inputs[None] if shared else inputs
    samples = batches.shape[1]
    per_sample = max(int(np.prod(out)) * matrices.shape[1] * 4, 1)
    step = max(1, PATCH_BYTES // per_sample)
    result = np.empty((m, samples, *out, units), np.float32)
    for start in range(0, samples, step):
        chunk = batches[:, start:start + step]
        chunk = np.pad(chunk, [(0, 0), (0, 0), *pads, (0, 0)])
        windows = np.lib.stride_tricks.sliding_window_view(
            chunk, extents, axis=tuple(range(2, 2 + rank)))
        # (batch, n, *positions, c, *extents): every stride-th position, every
        # dilation-th element of each window.
        windows = windows[(slice(None), slice(None),
                           *(slice(None, count * stride, stride)
                             for count, stride in zip(out, strides)),
                           slice(None),
                           *(slice(None, None, dilation) for dilation in dilation_rate))]
        patches = windows.reshape(len(windows), -1, matrices.shape[1])
        values = np.matmul(patches, matrices)  # (m or 1 → m, n * positions, u)
        result[:, start:start + step] = values.reshape(m, -1, *out, units)
    return result


class RecomputedDatasets:
    """The recomputed datasets of one run, read through its store.

    The store wraps each one in a :class:`replay.io.store.ComputedDataset`
    of :meth:`shape` and :meth:`rows`.

    Args:
        store: the run's store (``[path]`` gives stored datasets and these).
        recipes: ``{dataset path: recipe}``.
    """

    def __init__(self, store, recipes):
        self.store = store
        self.recipes = dict(recipes)
        self._cache = OrderedDict()
        self._cached_bytes = 0
        self._shapes = {}
        self._resolving = set()

    @classmethod
    def from_attribute(cls, store, value):
        """The recomputed datasets of a run attribute value (JSON text or dict), or ``None``."""
        if value is None:
            return None
        if isinstance(value, bytes):
            value = value.decode()
        try:
            recipes = json.loads(value) if isinstance(value, str) else value
            if not isinstance(recipes, dict) or not all(
                    isinstance(recipe, dict) and recipe.get("op") in ("dense", "conv")
                    and isinstance(recipe.get("input"), str)
                    and isinstance(recipe.get("kernel"), str)
                    and isinstance(recipe.get("bias"), (str, type(None)))
                    and recipe.get("activation", None) in (None, *ACTIVATIONS)
                    and isinstance(recipe.get("options", {}), dict)
                    and (recipe["op"] == "dense" or _valid_conv(recipe))
                    for recipe in recipes.values()):
                raise ValueError("not a mapping of dataset paths to dense or conv recipes")
        except (TypeError, ValueError) as error:
            raise RunFileError(
                f"The {schema.RECOMPUTED_ATTRIBUTE!r} attribute of run {store.run!r} in "
                f"'{store.path}' is not readable ({error}); the file is damaged.") from None
        return cls(store, recipes) if recipes else None

    def __contains__(self, path):
        return path in self.recipes

    def shape(self, path):
        """The full shape ``(n_snapshots, *source shape, units)`` of a recomputed dataset."""
        if path not in self._shapes:
            if path in self._resolving:
                raise self._damaged(path, "its recipe depends on itself")
            self._resolving.add(path)
            try:
                recipe = self.recipes[path]
                kernel = tuple(self.store[recipe["kernel"]].shape)
                source_shape = self._input_shape(recipe)
                # A dense kernel (m, d, u) on (..., d); a convolution's
                # (m, *size, c, u) on (samples, *spatial, c).
                rank = len(recipe["strides"]) if recipe["op"] == "conv" else 0
                if len(kernel) != 3 + rank or not source_shape \
                        or source_shape[-1] != kernel[-2] \
                        or (rank and len(source_shape) != rank + 2):
                    raise self._damaged(path, f"its kernel {kernel} does not fit "
                                              f"its input {tuple(source_shape)}")
            finally:
                self._resolving.discard(path)
            if rank:
                spatial = conv_output_shape(source_shape[1:-1], kernel[1:-2],
                                            recipe["strides"], recipe["padding"],
                                            recipe["dilation_rate"])
                self._shapes[path] = (kernel[0], source_shape[0], *spatial, kernel[-1])
            else:
                self._shapes[path] = (kernel[0], *source_shape[:-1], kernel[-1])
        return self._shapes[path]

    def _damaged(self, path, why):
        return RunFileError(
            f"The recomputed {path!r} of run {self.store.run!r} in '{self.store.path}' cannot "
            f"be computed: {why}; the file is damaged.")

    def _input_shape(self, recipe):
        """The per-row shape of a recipe's input: ``(*source shape, d)``."""
        source = recipe["input"]
        if source in self.recipes:
            return self.shape(source)[1:]
        shape = tuple(self.store[source].shape)
        static = schema.quantity_of(source)[0] == "inputs"
        return shape if static else shape[1:]

    def arrays(self):
        """``{path: (shape, dtype, 0)}``: nothing of them is stored."""
        return {path: (self.shape(path), np.dtype(np.float32), 0) for path in self.recipes}

    def rows(self, path, indices):
        """Compute the rows ``indices`` (increasing, no repeats) of ``path``."""
        key = (path, tuple(indices))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        shape = self.shape(path)
        row_bytes = 4 * int(np.prod(shape[1:], dtype=np.int64))
        per_block = max(1, BLOCK_BYTES // max(row_bytes, 1))
        blocks = [self._compute(path, indices[start:start + per_block])
                  for start in range(0, len(indices), per_block)]
        result = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        self._keep(key, result)
        return result

    def _compute(self, path, indices):
        recipe = self.recipes[path]
        rows = _rows(indices)
        kernel = self.store[recipe["kernel"]][rows]
        bias = self.store[recipe["bias"]][rows] if recipe.get("bias") else None
        source = recipe["input"]
        static = source not in self.recipes and schema.quantity_of(source)[0] == "inputs"
        inputs = np.asarray(self.store[source][()] if static else self.store[source][rows],
                            dtype=np.float32)
        if recipe["op"] == "dense":  # every axis but the features (and snapshots) is a row
            rows_shape = (-1,) if static else (len(indices), -1)
            inputs = inputs.reshape(*rows_shape, inputs.shape[-1])
        values = apply_recipe(recipe, inputs, kernel, bias)
        return values.reshape(len(indices), *self.shape(path)[1:])

    def clear(self):
        """Drop the rows computed so far (a closed run keeps no arrays)."""
        self._cache.clear()
        self._cached_bytes = 0

    def _keep(self, key, array):
        if array.nbytes > CACHE_BYTES:
            return
        while self._cache and self._cached_bytes + array.nbytes > CACHE_BYTES:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= dropped.nbytes
        self._cache[key] = array
        self._cached_bytes += array.nbytes


def _valid_conv(recipe):
    """Whether a conv recipe's own keys are well formed (one entry per spatial axis)."""
    strides, dilation = recipe.get("strides"), recipe.get("dilation_rate")
    return (isinstance(strides, list) and isinstance(dilation, list)
            and 1 <= len(strides) <= 3 and len(dilation) == len(strides)
            and all(isinstance(size, int) and not isinstance(size, bool) and size >= 1
                    for size in strides + dilation)
            and recipe.get("padding") in ("valid", "same", "causal")
            and (recipe["padding"] != "causal" or len(strides) == 1))


def _rows(indices):
    """``indices`` as the cheapest h5py selection: a slice when they are consecutive."""
    indices = [int(index) for index in indices]
    if indices and indices[-1] - indices[0] + 1 == len(indices):
        return slice(indices[0], indices[-1] + 1)
    return indices
