"""The loss landscape of any Keras model, evaluated with the model and stored in its run file.

The replay side evaluates the loss with numpy for Dense and convolution
chains (:class:`replay.landscape.NumpyLoss`). Any other model (a CNN with
pooling and flattening, normalisation, recurrent layers...) is evaluated
here, with the model itself: :class:`KerasLoss` puts a weight vector into
the model's trainable variables and runs the compiled per-sample loss on
the run's recorded training samples; :func:`record_landscape` computes the
landscape of a recorded run with it and stores it in the run file, where
``Run.landscape()`` and the views read it like the rest.

Example:
    ```python
    model.fit(x, y, epochs=20, callbacks=[Recorder("cnn.h5", "cnn", x, y)])
    record_landscape(model, "cnn.h5", "cnn", resolution=25)
    Run("cnn.h5", "cnn").landscape().surface.shape    # (25, 25)
    ```
"""

import keras
import numpy as np

from replay.errors import RecordingError
from replay.io.landscape import write_landscape
from replay.landscape import (
    LINE_RANGE,
    MARGIN,
    ParameterLayout,
    compute_landscape,
    landscape_arrays,
    landscape_description,
)
from replay.record.capture import ModelLoss, _weight_names
from replay.run import Run

#: Weight vectors evaluated per compiled call on JAX (the last block is padded:
#: one compilation for the whole landscape).
BLOCK = 32


#: What ``Recorder(landscape={...})`` may pass on to :func:`record_landscape`.
RECORDER_OPTIONS = ("directions", "resolution", "margin", "line", "seed")


def check_recorder_option(value):
    """``Recorder(landscape=...)`` as :func:`record_landscape`'s keyword arguments, or ``None``.

    ``None`` or ``False``: no landscape; ``True``: the defaults; a dict of
    :data:`RECORDER_OPTIONS`.
    """
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(RECORDER_OPTIONS))
        if unknown:
            raise RecordingError(
                f"Recorder(landscape=...) takes {', '.join(RECORDER_OPTIONS)}. Got "
                f"{', '.join(map(repr, unknown))}.")
        return dict(value)
    raise RecordingError(f"Recorder(landscape=...) must be True, False, None or a dict of "
                         f"{', '.join(RECORDER_OPTIONS)}. Got {value!r}.")


class KerasLoss:
    """The mean loss of samples at any weights of a model, computed by the model.

    Args:
        model: the compiled Keras model the run was recorded from (its
            non-trainable variables, e.g. batch-norm statistics, stay as they are).
        layout: the :class:`replay.landscape.ParameterLayout` of the vectors:
            every trainable variable of the model must be in it.
        inputs: the samples' inputs (the run's recorded training samples).
        targets: their targets.

    Calling it with weight vectors ``(m, P)`` returns their mean losses ``(m,)``.
    """

    def __init__(self, model, layout, inputs, targets):
        self.model = model
        self.loss = ModelLoss(model)
        by_key = {}
        for layer in model.layers:
            for name, weight in zip(_weight_names(layer), layer.weights):
                by_key[(layer.name, name)] = weight
        slices = layout.slices()
        self._slots = []
        for variable in model.trainable_variables:
            key = next((key for key, weight in by_key.items() if weight is variable), None)
            if key is None or key not in slices:
                raise RecordingError(
                    f"The model's trainable variable {variable.path!r} is not among the run's "
                    "recorded weights: record every layer (Recorder(layers=None)) to compute "
                    "its landscape, and pass the model the run was recorded from.")
            shape = tuple(variable.shape)
            if int(np.prod(shape, dtype=np.int64)) != slices[key].stop - slices[key].start:
                raise RecordingError(
                    f"The model's {key[0]}/{key[1]} has shape {shape}, not the recorded one: "
                    "pass the model the run was recorded from.")
            self._slots.append((slices[key], shape, variable.dtype))
        self._inputs = keras.ops.convert_to_tensor(np.asarray(inputs, dtype=np.float32))
        self._targets = keras.ops.convert_to_tensor(np.asarray(targets))
        self._non_trainable = [variable.value for variable in model.non_trainable_variables]
        self._compiled = None

    def _mean_loss(self, vector):
        trainable = [keras.ops.cast(keras.ops.reshape(vector[part], shape), dtype)
                     for part, shape, dtype in self._slots]
        outputs, _ = self.model.stateless_call(trainable, self._non_trainable, self._inputs,
                                               training=False)
        return keras.ops.mean(self.loss.per_sample(self._targets, outputs))

    def __call__(self, vectors):
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if keras.backend.backend() == "jax":
            return self._jax(vectors)
        return np.array([float(keras.ops.convert_to_numpy(
            self._mean_loss(keras.ops.convert_to_tensor(vector)))) for vector in vectors])

    def _jax(self, vectors):
        import jax

        if self._compiled is None:
            # lax.map: a loop inside one compiled call, BLOCK points per call.
            self._compiled = jax.jit(lambda block: jax.lax.map(self._mean_loss, block))
        values = []
        for start in range(0, len(vectors), BLOCK):
            block = vectors[start:start + BLOCK]
            padded = np.concatenate([block, np.repeat(block[-1:], BLOCK - len(block), 0)])
            values.append(np.asarray(self._compiled(padded))[:len(block)])
        return np.concatenate(values).astype(np.float64)


def record_landscape(model, path, run=None, *, directions="pca", resolution=25, margin=MARGIN,
                     line=LINE_RANGE, seed=0):
    """Compute a recorded run's loss landscape with its model and store it in the run file.

    For models replay cannot evaluate with numpy (see
    :func:`replay.landscape.numpy_problem`); for the others it computes the
    same numbers as ``Run.landscape()``. Call it after ``fit``, with the
    trained model, once the recording is complete.

    Args:
        model: the trained, compiled model the run was recorded from.
        path: the run file.
        run: the run's name (may be omitted when the file holds one run).
        directions: ``"pca"`` or ``"random"``.
        resolution: grid points per axis.
        margin: the grid's margin around the path, a fraction of its extent.
        line: the range of ``t`` of the straight line.
        seed: the random directions' seed.

    Returns:
        The :class:`replay.landscape.Landscape` (stored in the file).
    """
    with Run(path, run) as recorded:
        layout = ParameterLayout.of_run(recorded)
        evaluator = KerasLoss(model, layout, recorded.inputs("train"), recorded.targets("train"))
        landscape = compute_landscape(recorded, directions=directions, resolution=resolution,
                                      margin=margin, line=line, seed=seed, evaluator=evaluator)
        name = recorded.name
    write_landscape(path, name, landscape_arrays(landscape), landscape_description(landscape))
    return landscape
