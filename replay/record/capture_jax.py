"""Everything a snapshot records, on JAX, from **one** compiled call.

:class:`FusedJaxCapture` traces one ``jax.jit`` function per model that
takes the weights and returns, packed into a single float32 buffer, the
outputs, hidden activations and z-values on every recorded source, the
per-sample loss on the samples and, when asked, the gradient of the mean
loss. One dispatch and one device-to-host copy per snapshot, one trace and
one compilation per run: a forward function, a loss function and a
gradient function compiled apart cost three traces (~250 ms on a small
net, more than a whole part-1 epoch) and a dozen transfers per snapshot.

The training thread only copies the weights to numpy (microseconds for a
small net); :meth:`FusedJaxCapture.collect` runs the compiled function on
that copy on the recorder's writer thread, so the first trace and
compilation overlap training instead of delaying it.

Compiled functions are kept by the text of their traced program (its
jaxpr, :func:`program_key`): a sweep of same-shaped models (other
initializers, seeds or learning rates) in one session traces each model
(~20 ms) but neither lowers (~25 ms) nor compiles (~300 ms) it again. The
key is exact: equal text is the same computation, since weights and
samples are arguments of the program, never constants in it.
"""

import functools
import hashlib
import re
import threading
from collections import OrderedDict

import numpy as np

from replay.errors import RecordingError
from replay.io import schema
from replay.io.storage import (
    FLOAT16_MAX,
    HALF_PRECISION_MIN_VALUES,
    is_half_precision_path,
    to_storage,
)
from replay.record.capture import ModelLoss, _weight_names, keep


class FusedJaxCapture:
    """The compiled snapshot function of one model on the JAX backend.

    The plan's modes decide what the compiled function returns: raw
    arrays, the statistics of a summary (computed on the device, so a wide
    layer's values never reach the host), nothing for recomputed
    quantities. :meth:`collect` hands the arrays over in the storage dtype.

    Args:
        plan: the model's :class:`replay.record.capture.CapturePlan`, finalized.
        samples: ``{source: (inputs, targets)}`` (``train``, ``validation``):
            recorded with z-values and per-sample loss.
        probes: ``{source: points}`` (``grid`` of shape ``(2L, P, 2)``,
            ``mesh`` of shape ``(H, W, 2)``): recorded with outputs and
            activations, reshaped to the points' shape.
        gradients: also return ``gradients/<layer>/<weight>``, the gradient
            of the mean compiled loss (plus regularisation losses) on the
            ``train`` samples with respect to every weight.
        storage_dtype: the dtype of activations, z-values and probe outputs
            (:func:`replay.io.storage.to_storage`).
    """

    def __init__(self, plan, samples, probes, *, gradients, storage_dtype=np.float16):
        import jax

        self.storage_dtype = storage_dtype
        self.plan = plan
        self.model = plan.model
        self.gradients = gradients
        capture_model = plan.capture_model
        self._trainable = list(capture_model.trainable_variables)
        self._non_trainable = list(capture_model.non_trainable_variables)
        location = {id(variable): (True, index) for index, variable in enumerate(self._trainable)}
        location.update({id(variable): (False, index)
                         for index, variable in enumerate(self._non_trainable)})
        # Every recorded weight: (layer, weight name, variable, (trainable?, index)).
        self._weights = []
        for layer in self.model.layers:
            for name, variable in zip(_weight_names(layer), layer.weights):
                if id(variable) not in location:
                    raise RecordingError(
                        f"The weight {variable.path!r} of layer {layer.name!r} is not used "
                        "by the model's forward pass; replay cannot record this model.")
                self._weights.append((layer.name, name, variable, location[id(variable)]))
        self._samples = {source: (np.asarray(inputs, np.float32), np.asarray(targets, np.float32))
                         for source, (inputs, targets) in samples.items()}
        self._probes = {source: np.asarray(points, np.float32) for source, points in probes.items()}
        self._device_data = None  # the constant inputs, on the device once
        self._layout = None  # [(name, shape, offset, size)], set while tracing
        self._loss = ModelLoss(self.model)
        # Two variants: large activations cast to float16 on the device (the
        # default), and everything in float32, compiled only if a snapshot
        # has a value beyond float16's range.
        self._half = np.dtype(storage_dtype) == np.float16
        self._functions = {half: jax.jit(functools.partial(self._snapshot, half=half))
                           for half in {self._half, False}}
        self._layouts = {}  # half -> [(name, shape, buffer, offset, size)], set while tracing
        self._checks = {}  # half -> offsets (in the float32 buffer) of the float16 pieces' max
        self._compiled = {}
        self._traced = {}

    # -- the two halves of a snapshot -----------------------------------------

    def dispatch(self):
        """Copy the forward pass's variables to numpy (training thread; microseconds).

        A copy, not a reference: the training step donates (frees) the
        buffers it replaces.
        """
        return ([np.array(variable.value) for variable in self._trainable],
                [np.array(variable.value) for variable in self._non_trainable])

    def collect(self, variables):
        """Run the compiled function on ``dispatch``'s copy; return every array.

        Returns:
            ``{dataset path: numpy array}`` for ``weights/``, ``outputs/``,
            ``activations/``, ``preactivations/``, ``loss/`` and
            ``gradients/`` of this snapshot.
        """
        trainable, non_trainable = variables
        arguments = self._arguments(variables)
        half = self._half
        buffers = self._run(half, arguments)
        if half and any(buffers[0][offset] > FLOAT16_MAX for offset in self._checks[half]):
            half = False  # a value float16 cannot hold: this snapshot in float32
            buffers = self._run(half, arguments)
        arrays = {}
        for layer, name, _, (is_trainable, index) in self._weights:
            keep(arrays, schema.weights(layer, name),
                 (trainable if is_trainable else non_trainable)[index],
                 self.plan.weights.get(layer))
        for name, shape, buffer, offset, size in self._layouts[half]:
            arrays[name] = buffers[buffer][offset:offset + size].reshape(shape)
        return to_storage(arrays, self.storage_dtype)

    @property
    def compiled(self):
        """The compiled snapshot function (the storage dtype's variant), once compiled."""
        return self._compiled.get(self._half)

    def _run(self, half, arguments):
        """The compiled variant's two buffers (float32, float16) as numpy arrays."""
        if half not in self._compiled:
            self._compiled[half] = _compile(self.trace(arguments, half=half))
        return [np.asarray(buffer) for buffer in self._compiled[half](*arguments)]

    def _arguments(self, variables):
        trainable, non_trainable = variables
        if self._device_data is None:
            import jax

            # device_put copies; keras.ops.convert_to_tensor would compile a
            # program per array shape (~7 ms each in a fresh process).
            self._device_data = (
                {source: tuple(jax.device_put(part) for part in pair)
                 for source, pair in self._samples.items()},
                {source: jax.device_put(points.reshape(-1, points.shape[-1]))
                 for source, points in self._probes.items()},
            )
        return (trainable, non_trainable, *self._device_data)

    def trace(self, arguments=None, *, half=None):
        """Trace the snapshot function once (this sets the layout); return it traced.

        A ``jax.stages.Traced`` (lowered only if no compiled program of the
        same jaxpr is kept, see :func:`_compile`), or with a jax before
        ``jit(...).trace``, a ``jax.stages.Lowered``.
        """
        half = self._half if half is None else half
        if half not in self._traced:
            function = self._functions[half]
            stage = getattr(function, "trace", function.lower)
            self._traced[half] = stage(*(arguments or self._arguments(self.dispatch())))
        return self._traced[half]

    def check_targets(self):
        """Trace the snapshot function, so that targets which do not fit the loss fail now.

        Tracing costs no compilation and no eager calls (an eager call of a
        Keras model on JAX compiles every operation it meets, seconds in a
        fresh process); the trace is the one the first snapshot compiles.

        Returns:
            ``{source: shape of its per-sample loss}``.
        """
        self.trace()
        shapes = {source: None for source in self._samples}
        for name, shape, _, _, _ in self._layouts[self._half]:
            for source in shapes:
                if name == schema.loss(source):
                    shapes[source] = shape
        return shapes

    # -- the traced function ---------------------------------------------------

    def _snapshot(self, trainable, non_trainable, samples, probes, *, half):
        import jax
        import jax.numpy as jnp

        pieces = []  # (dataset path, traced array)
        capture_model = self.plan.capture_model
        # stateless_call hands its keywords to call() itself: a subclassed
        # model's call may take no `training` (Keras' __call__ checks the same).
        mode = ({"training": False} if getattr(capture_model, "_call_has_training_arg", True)
                else {})

        def forward(trainable_values, inputs):
            outputs, _, losses = capture_model.stateless_call(
                trainable_values, non_trainable, inputs, return_losses=True, **mode)
            if not isinstance(outputs, (list, tuple)):
                outputs = [outputs]  # a model of one output tensor returns it bare
            return outputs, losses

        def add(path, array, mode):
            if mode == "raw":
                pieces.append((path, array))
            elif mode == "summary":
                pieces.extend(_summary_pieces(path, array))

        def add_forward(source, results, shape, is_sample):
            for (kind, layer, mode), result in zip(self.plan.layout, results):
                result = result.reshape(*shape, *result.shape[1:])
                if kind == "outputs":
                    add(schema.outputs(source), result, mode)
                elif kind == "activations":
                    if mode == "raw" or is_sample:  # no summaries of probe points
                        add(schema.activations(source, layer), result, mode)
                elif is_sample:
                    add(schema.preactivations(source, layer), result, mode)

        for source, (inputs, targets) in samples.items():
            def objective(trainable_values, inputs=inputs, targets=targets):
                results, losses = forward(trainable_values, inputs)
                per_sample = self._loss.per_sample(targets, results[0])
                total = self._loss.reduced(targets, results[0], per_sample)
                return total + sum(losses, jnp.zeros(())), (results, per_sample)

            if source == "train" and self.gradients:
                gradient, (results, per_sample) = jax.grad(objective, has_aux=True)(trainable)
            else:
                gradient, (results, per_sample) = None, objective(trainable)[1]
            add_forward(source, results, (len(inputs),), is_sample=True)
            if self.plan.losses:
                pieces.append((schema.loss(source), per_sample))
            if gradient is not None:  # non-trainable weights have none
                for layer, name, _, (is_trainable, index) in self._weights:
                    if is_trainable:
                        add(schema.gradients(layer, name), gradient[index],
                            self.plan.gradients.get(layer))

        # The probe points only when something of them is stored (raw).
        if probes and any(mode == "raw" and kind != "preactivations"
                          for kind, _, mode in self.plan.layout):
            sizes = [len(points) for points in probes.values()]
            results, _ = forward(trainable, jnp.concatenate(list(probes.values())))
            start = 0
            for (source, size) in zip(probes, sizes):
                part = [result[start:start + size] for result in results]
                start += size
                add_forward(source, part, self._probes[source].shape[:-1], is_sample=False)

        # Large activations travel (and are stored) as float16; the largest
        # absolute value of each goes along, to tell a value float16 cannot hold.
        wide = [(name, array) for name, array in pieces
                if half and is_half_precision_path(name)
                and int(np.prod(array.shape)) >= HALF_PRECISION_MIN_VALUES]
        narrow = [piece for piece in pieces if all(piece[0] != name for name, _ in wide)]
        checks = [(None, jnp.max(jnp.abs(array)).astype(jnp.float32)) for _, array in wide]
        layout, offsets = [], [0, 0]
        for buffer, group in ((0, narrow + checks), (1, wide)):
            for name, array in group:
                size = int(np.prod(array.shape))
                layout.append((name, tuple(array.shape), buffer, offsets[buffer], size))
                offsets[buffer] += size
        # A side effect of tracing: shapes are static.
        self._layouts[half] = [entry for entry in layout if entry[0] is not None]
        self._checks[half] = [entry[3] for entry in layout if entry[0] is None]

        def pack(group, dtype):
            if not group:
                return jnp.zeros((0,), dtype)
            return jnp.concatenate([array.astype(dtype).reshape(-1) for _, array in group])

        return pack(narrow + checks, jnp.float32), pack(wide, jnp.float16)


def _summary_pieces(path, values):
    """The statistics of :func:`replay.io.storage.summarize`, traced: ``[(path, array)]``.

    Per unit (last axis) the mean and standard deviation; pooled, the range
    and a histogram of ``schema.SUMMARY_BINS`` bins between min and max
    (values on the top edge fall in the last bin, as with ``np.histogram``).
    """
    import jax.numpy as jnp

    flat = values.reshape(-1, values.shape[-1] if values.ndim else 1).astype(jnp.float32)
    low, high = flat.min(), flat.max()
    bins = schema.SUMMARY_BINS
    scale = jnp.where(high > low, bins / jnp.where(high > low, high - low, 1.0), 0.0)
    index = jnp.clip(jnp.floor((flat - low) * scale), 0, bins - 1).astype(jnp.int32)
    counts = jnp.bincount(index.reshape(-1), length=bins)
    return [(schema.summary(path, "mean"), flat.mean(axis=0)),
            (schema.summary(path, "std"), flat.std(axis=0)),
            (schema.summary(path, "histogram"), counts.astype(jnp.float32)),
            (schema.summary(path, "range"), jnp.stack([low, high]))]


#: Compiled snapshot functions by the SHA-256 of their program (see
#: :func:`program_key`), least recently used first.
_COMPILED = OrderedDict()
_COMPILED_LOCK = threading.Lock()
_COMPILED_MAX = 32

#: XLA options of the snapshot function's compilation on CPU. XLA's older
#: (LLVM IR) fusion emitters compile it 20-50 % faster than its MLIR ones,
#: and the executable runs as fast with bit-identical results (measured on
#: jax 0.10: the digits CNN's capture 0.54 -> 0.32 s, 0.92 -> 0.57 s of CPU;
#: an LSTM, two MLPs and a two-conv net alike). The first recorded run of
#: a session pays this compilation while Keras compiles its training step.
CPU_COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}
#: Set to False once this jaxlib refused the options (it does not know them).
_options_known = True


def program_key(stage):
    """Key a traced (or lowered) snapshot function by its program; return ``(key, stage)``.

    The key is the SHA-256 of the program and its argument shapes. A traced
    function is keyed by its jaxpr's text and the values of its constants:
    equal text is the same computation (every primitive prints its
    parameters), and it is 4 ms to print where lowering takes 25 ms (the
    digits CNN). A jaxpr that prints an object's address (a callback) is
    lowered and keyed by its lowered text, and the lowered stage is
    returned, so it is not lowered twice. The argument shapes go with
    either: arguments the program does not use are dropped from a lowered
    text, but the executable still checks them.
    """
    closed = getattr(stage, "jaxpr", None)
    if closed is not None:
        text = str(closed.jaxpr)
        if not re.search(r"0x[0-9a-fA-F]{6,}", text):
            digest = hashlib.sha256(text.encode())
            digest.update(repr(closed.in_avals).encode())
            for constant in closed.consts:
                array = np.asarray(constant)
                digest.update(f"{array.dtype}{array.shape}".encode())
                digest.update(np.ascontiguousarray(array).tobytes())
            return "jaxpr:" + digest.hexdigest(), stage
        stage = stage.lower()
    text = stage.as_text() + repr(stage.in_avals)
    return "hlo:" + hashlib.sha256(text.encode()).hexdigest(), stage


def _compile(stage):
    """Compile a traced (or lowered) snapshot function, unless the same program was compiled before."""
    key, stage = program_key(stage)
    with _COMPILED_LOCK:
        compiled = _COMPILED.get(key)
        if compiled is not None:
            _COMPILED.move_to_end(key)
            return compiled
    if hasattr(stage, "jaxpr"):  # traced, not lowered yet
        stage = stage.lower()
    compiled = _compile_on_backend(stage)
    with _COMPILED_LOCK:
        _COMPILED[key] = compiled
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    return compiled


def _compile_on_backend(lowered):
    """``lowered.compile()``, with :data:`CPU_COMPILER_OPTIONS` on CPU where jaxlib takes them."""
    global _options_known
    import jax

    if _options_known and CPU_COMPILER_OPTIONS and jax.default_backend() == "cpu":
        try:
            return lowered.compile(compiler_options=dict(CPU_COMPILER_OPTIONS))
        except Exception:  # noqa: BLE001 - jaxlib's errors have no common class
            # An older jaxlib (no compiler_options, or not this option); a
            # real compilation error raises again here.
            compiled = lowered.compile()
            _options_known = False
            return compiled
    return lowered.compile()
