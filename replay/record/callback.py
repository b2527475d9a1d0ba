"""The :class:`Recorder` callback: records a Keras training run into a run file.

The hooks here only say *when*; what is recorded and how it is written is
one :class:`replay.record.recording.Recording` per model, and the
arguments are checked by :class:`replay.record.options.RecorderOptions`.
"""

import sys

import keras

from replay.errors import RecordingError
from replay.record import budget
from replay.record.options import (  # noqa: F401  (the names callers imported from here)
    AUTO_COMPRESSION,
    AUTO_STATIC_COMPRESSION,
    COMPRESSIONS,
    TASKS,
    RecorderOptions,
    check_compression,
    check_positive_integer,
    check_run_name,
)
from replay.record.recording import Recording


class Recorder(keras.callbacks.Callback):
    """Records weights, activations, outputs and losses of every epoch into HDF5.

    Snapshot 0 is the state before training, then one snapshot per epoch (or
    every ``every_n_batches`` batches). Each snapshot holds every layer's
    weights; for each hidden layer its activations and pre-activations on
    ``inputs`` (and on ``validation_data``); the model's outputs; and the
    per-sample loss, computed with the model's own compiled loss. When the
    inputs are 2-D it also records the hidden activations and outputs on
    probe points (grid lines and a mesh over the padded input range), so the
    replay can bend the grid and colour decision regions without Keras.

    What the weights already say is not stored: a Dense or convolution layer
    whose input is recorded keeps its weights, and :class:`replay.Run`
    recomputes its z-values, activations and outputs when read
    (``recompute=``). Large activation arrays are stored as float16
    (``storage_dtype=``). A snapshot that would exceed ``max_snapshot_bytes``
    records less (z-values of wide layers as summaries, a sample subset,
    summaries of the widest layers) and says so once, in a
    :class:`replay.BudgetWarning`; ``layers=``, ``quantities=`` and
    ``max_samples=`` choose by hand.

    The file is opened in ``on_train_begin``, flushed after every snapshot and
    closed in ``on_train_end``; a run interrupted by ``EarlyStopping``, an
    exception or a killed process keeps every completed snapshot.

    Calling ``fit`` again with the same recorder **continues** the run: new
    snapshots and history are appended (no second snapshot 0) and the epoch
    numbering goes on from where it stopped.

    Distributed training: with ``keras.distribution`` on one process (e.g.
    ``DataParallel`` over several devices) the recorder records the same
    values as on one device; in a multi-process run only process 0 (see
    :func:`process_index`) writes, the others record nothing.

    Args:
        path: the HDF5 run file (created if missing; may hold many runs). An HDF5
            file of another kind, e.g. one of DeepReplay, is refused (RunFileError).
        run: the name of this run inside the file.
        inputs: the samples to record, e.g. the training inputs ``(N, d)``.
        targets: their targets, used for the per-sample loss.
        validation_data: optional ``(inputs, targets)`` recorded the same way.
        every_n_batches: snapshot every N batches instead of every epoch.
        probes: record probe points: ``"auto"`` (when inputs are 2-D),
            ``True`` or ``False``.
        grid_lines: grid lines per direction on the probe grid.
        grid_points: points per grid line.
        mesh_resolution: points per side of the probe mesh (int or
            ``(n_y, n_x)``).
        padding: fraction of the input range added on each side for probes.
        overwrite: replace an existing run of the same name instead of
            raising an error.
        compression: HDF5 compression of the arrays (with the shuffle
            filter): ``"auto"`` (default: the static inputs and targets
            with lzf, the per-snapshot arrays uncompressed, which costs
            training nothing; see :data:`AUTO_COMPRESSION`), ``None``,
            ``"gzip"``, ``"lzf"`` or a gzip level 0-9 (applied by the writer
            process to every array).
        layers: the layers to record: ``None`` (every layer with weights), a
            list of names, or a function ``layer -> bool``. Other layers
            store nothing (the outputs and losses are the model's).
        quantities: what to record: a list of ``"weights"``,
            ``"activations"``, ``"preactivations"``, ``"gradients"``,
            ``"outputs"``, ``"losses"`` (default: all), or a dict of such
            lists by layer name, whose ``"*"`` entry covers the other layers
            and the outputs and losses.
        max_samples: record at most this many samples of ``inputs`` (and of
            ``validation_data``): a fixed, seeded subset, its indices stored
            (``samples/train``); batch size and training-set size stay those
            ``fit`` uses.
        storage_dtype: ``"float16"`` (default) or ``"float32"``: how
            activations, z-values and the outputs on probe points are
            stored (weights, gradients, losses and the outputs on samples
            are always float32; values beyond float16's range widen the
            dataset to float32).
        max_snapshot_bytes: the size budget of one snapshot (default
            8,000,000 bytes; ``None``: no budget). When a snapshot would
            store more, the recorder records less (z-values of wide layers
            as summaries, a sample subset, summaries of the widest layers)
            and says so in one :class:`replay.BudgetWarning`.
        recompute: store only the weights of Dense layers whose input is
            recorded and recompute their z-values, activations and outputs
            when read (checked on the samples before training; default
            ``True``). ``False`` stores them.
        sample_seed: the seed of the sample subset.
        writer: ``"process"`` (default) writes the file from a child
            process (numpy and h5py only), so HDF5 never competes with
            training for the GIL; ``"thread"`` writes from a thread of the
            training process (no child process; slower training).
        task: ``"classification"``, ``"regression"`` or ``"auto"`` (decided
            from the loss: cross-entropies, focal and hinge losses classify,
            every other loss regresses); stored in the run, it picks the
            figure ``replay render`` draws.
        gradients: record, at every snapshot, the gradient of the mean
            compiled loss (on ``inputs``, ``training=False``) with respect to
            every weight, as ``gradients/<layer>/<weight>``: ``"auto"`` (when
            the model has at most 100,000 parameters), ``True`` or ``False``.
            One compiled gradient function per model (jax.jit, tf.function
            or torch autograd); read back with ``Run.gradients``.

    Example:
        ```python
        recorder = Recorder("part1.h5", run="sigmoid", inputs=X, targets=y)
        model.fit(X, y, epochs=150, batch_size=16, callbacks=[recorder])
        ```
    """

    #: Snapshots that may wait for the writer thread before training blocks:
    #: this bounds memory, and what a killed training can lose.
    max_pending = 4
    #: Seconds snapshot 0 waits, at most, for Keras' first training step
    #: before it is computed anyway (see :meth:`Recording.begin_fit`).
    first_step_timeout = 3.0

    def __init__(self, path, run="run", inputs=None, targets=None, *,
                 validation_data=None, every_n_batches=None, probes="auto",
                 grid_lines=11, grid_points=500, mesh_resolution=100, padding=0.1,
                 overwrite=False, compression="auto", gradients="auto", writer="process",
                 task="auto", layers=None, quantities=None, max_samples=None,
                 storage_dtype="float16",
                 max_snapshot_bytes=budget.DEFAULT_MAX_SNAPSHOT_BYTES, recompute=True,
                 sample_seed=0):
        super().__init__()
        self.options = RecorderOptions(
            path, run, inputs, targets, validation_data=validation_data,
            every_n_batches=every_n_batches, probes=probes, grid_lines=grid_lines,
            grid_points=grid_points, mesh_resolution=mesh_resolution, padding=padding,
            overwrite=overwrite, compression=compression, gradients=gradients,
            writer=writer, task=task, layers=layers, quantities=quantities,
            max_samples=max_samples, storage_dtype=storage_dtype,
            max_snapshot_bytes=max_snapshot_bytes, recompute=recompute,
            sample_seed=sample_seed)
        if every_n_batches is not None:
            # Bound on the instance only: Keras skips per-batch hooks (and keeps
            # async dispatch) for callbacks that do not override them.
            self.on_train_batch_end = self._on_train_batch_end
        self._recording = None  # the Recording of the model last trained
        self._active = True  # False in processes other than the first of a multi-process run
        # Batches to train before Keras' training step is compiled (None: not waiting).
        self._batches_before_wait = None

    @property
    def path(self):
        """The run file (a string)."""
        return self.options.path

    @property
    def run(self):
        """The name of the run in :attr:`path`."""
        return self.options.run

    @property
    def recording(self):
        """The :class:`Recording` of the model trained last (``None`` before any ``fit``)."""
        return self._recording

    # -- Keras hooks -----------------------------------------------------------

    def on_train_begin(self, logs=None):
        # In a multi-process (multi-host) run every process trains the same
        # model; only the first writes the file.
        self._active = process_index() == 0
        self._batches_before_wait = None
        if not self._active:
            return
        params = self.params or {}
        batch_size, n_train = _fit_data_facts()
        recording = self._recording_for(self.model, steps_per_epoch=params.get("steps"))
        if recording.begin_fit(epochs=params.get("epochs", 0), steps=params.get("steps"),
                               batch_size=batch_size, n_train=n_train):
            self._batches_before_wait = 1

    def on_train_batch_begin(self, batch, logs=None):
        if self._batches_before_wait is None:
            return
        if self._batches_before_wait:
            self._batches_before_wait -= 1
            return
        self._batches_before_wait = None
        self._recording.first_step_done()

    def _on_train_batch_end(self, batch, logs=None):
        if self._active:
            self._recording.batch_end(batch)

    def on_epoch_end(self, epoch, logs=None):
        if self._active:
            self._recording.epoch_end(logs)

    def on_train_end(self, logs=None):
        if self._active:
            self._recording.end_fit()

    # -- without training ------------------------------------------------------

    def snapshot(self, model):
        """Record ``model``'s current state as a run of one snapshot, without ``fit``.

        Use it to look at a freshly initialised model (its weights,
        activations and pre-activations before any training).

        Returns:
            The :class:`replay.Run` just written.
        """
        from replay.run import Run

        self.set_model(model)
        # No training runs beside it: a child writer process would only add
        # its start-up time.
        recording = self._recording_for(model, in_process=True)
        try:
            if recording.open(in_process=True) == 0:
                recording.snapshot(epoch=0.0)
            recording.queue.wait()
            recording.sink.set_attributes(complete=True, epochs_planned=0)
        finally:
            self.close()
        return Run(recording.path, recording.run)

    def close(self):
        """Finish pending writes and close the run file.

        ``fit`` does this itself when training ends; call it after a ``fit``
        that raised (e.g. ``KeyboardInterrupt``) to release the file at once.
        The run stays marked incomplete.
        """
        if self._recording is not None:
            self._recording.close()

    # -- internals -------------------------------------------------------------

    def _recording_for(self, model, *, steps_per_epoch=None, in_process=False):
        """The recording of ``model``: the current one, or a new one for a new model."""
        current = self._recording
        if current is not None:
            # A previous fit that raised may have left a write in flight.
            current.queue.wait()
            current.close_file()
            if current.model is model:
                return current
            if current.started:
                raise RecordingError(
                    f"This recorder recorded model {current.model.name!r} into run "
                    f"{current.run!r} of '{current.path}'; it cannot continue that run with "
                    f"another model ({model.name!r}). Use a new Recorder (another run name) "
                    "for it."
                )
            current.close()
        self._recording = Recording(
            self.options, model, self.options.run, steps_per_epoch=steps_per_epoch,
            in_process=in_process, max_pending=self.max_pending,
            first_step_timeout=self.first_step_timeout)
        return self._recording


def _fit_data_facts(max_depth=12):
    r"""Return ``(batch size, training samples)`` as ``model.fit`` sees them, or ``None``\ s.

    Keras tells callbacks the steps per epoch but not the batch size; its
    ``fit`` keeps them in the data adapter of its epoch iterator, a local of
    the ``fit`` frame that called ``on_train_begin``. When no such frame is
    found (another trainer, a future Keras), both are ``None`` and the
    recorder estimates the batch size from the recorded inputs.
    """
    frame = sys._getframe(1)
    for _ in range(max_depth):
        frame = frame.f_back
        if frame is None:
            break
        iterator = frame.f_locals.get("epoch_iterator")
        adapter = getattr(iterator, "data_adapter", None) or getattr(iterator, "_data_adapter",
                                                                     None)
        batch_size = getattr(adapter, "batch_size", None)
        if isinstance(batch_size, int):
            samples = getattr(adapter, "_num_samples", None)
            return batch_size, samples if isinstance(samples, int) else None
    return None, None


def process_index():
    """Return this process's index in a multi-process (multi-host) training run; 0 alone.

    JAX: ``jax.process_index()``; PyTorch: the rank of an initialised
    ``torch.distributed`` group; TensorFlow: the task id of a multi-worker
    strategy's cluster.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return int(jax.process_index())
    if backend == "torch":
        import torch.distributed

        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return int(torch.distributed.get_rank())
        return 0
    if backend == "tensorflow":
        import tensorflow as tf

        resolver = getattr(tf.distribute.get_strategy(), "cluster_resolver", None)
        return int(getattr(resolver, "task_id", 0) or 0)
    return 0


