"""The :class:`Recorder` callback: records a Keras training run into a run file.

The hooks here only say *when*; what is recorded and how it is written is
one :class:`replay.record.recording.Recording` per model, and the
arguments are checked by :class:`replay.record.options.RecorderOptions`.
"""

import sys
from copy import deepcopy

import keras

from replay.record import budget
from replay.record.landscape import check_recorder_option, record_landscape
from replay.record.options import (  # noqa: F401  (the names callers imported from here)
    AUTO_COMPRESSION,
    AUTO_STATIC_COMPRESSION,
    COMPRESSIONS,
    TASKS,
    RecorderOptions,
    check_compression,
    check_positive_integer,
    check_run_name,
    check_scalars,
)
from replay.record.recording import Recording
from replay.record.run_names import RunNames


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

    A subclassed ``keras.Model`` (its own ``call``, no graph of layers) records
    its layers' weights and gradients, its outputs, per-sample losses and
    history, and no hidden activations; a :class:`replay.RecordingWarning`
    says so once (a Sequential or functional model records them).

    The file is opened in ``on_train_begin``, flushed after every snapshot and
    closed in ``on_train_end``; a run interrupted by ``EarlyStopping``, an
    exception or a killed process keeps every completed snapshot.

    Calling ``fit`` again with the same recorder and model **continues** the
    run: new snapshots and history are appended (no second snapshot 0) and
    the epoch numbering goes on from where it stopped. A ``fit`` of another
    model starts a new run, named ``run-1`` (``run-2``, ...: the first name
    free). A deep copy of the recorder (KerasTuner copies the callbacks for
    every trial) records its own runs the same way, so every trial of a
    search is recorded and none writes over another; the engine adapters of
    :mod:`replay.record.sweeps` name each run after its trial.

    Distributed training: with ``keras.distribution`` on one process (e.g.
    ``DataParallel`` over several devices) the recorder records the same
    values as on one device; in a multi-process run only process 0 (see
    :func:`process_index`) writes, the others record nothing.

    Args:
        path: the HDF5 run file (created if missing; may hold many runs). An HDF5
            file of another kind, e.g. one of DeepReplay, is refused (RunFileError).
            A directory (an existing one, or a path ending in ``/``) holds one
            file per run, ``<run>.h5``: for trials that run in parallel.
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
        landscape: at the end of ``fit``, compute the loss landscape with the
            model and store it in the run (:func:`replay.record.landscape.record_landscape`):
            ``True``, or a dict of its options (``{"resolution": 25}``);
            for models replay cannot evaluate with numpy (``Run.landscape()``
            computes the others when asked). Default ``None``: no.
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
        hparams: the hyperparameters of the run, a flat dict ``{name: number,
            string, bool or None}``, stored as the run attribute ``hparams``
            (``Run.hparams``; shown by ``replay info``).
        trial: which trial of a sweep the run is, a flat dict (e.g.
            ``{"engine": "optuna", "id": 7}``), stored as the run attribute
            ``trial`` (``Run.trial``); the engine adapters fill it.

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
                 sample_seed=0, hparams=None, trial=None, landscape=None):
        super().__init__()
        self.options = RecorderOptions(
            path, run, inputs, targets, validation_data=validation_data,
            every_n_batches=every_n_batches, probes=probes, grid_lines=grid_lines,
            grid_points=grid_points, mesh_resolution=mesh_resolution, padding=padding,
            overwrite=overwrite, compression=compression, gradients=gradients,
            writer=writer, task=task, layers=layers, quantities=quantities,
            max_samples=max_samples, storage_dtype=storage_dtype,
            max_snapshot_bytes=max_snapshot_bytes, recompute=recompute,
            sample_seed=sample_seed, hparams=hparams, trial=trial)
        self._bind_batch_hook()
        self.landscape = check_recorder_option(landscape)
        self._recording = None  # the Recording of the model last trained
        self._names = RunNames()  # the runs of this recorder and its copies
        self._is_copy = False
        self._trial_run = None  # (run, hparams, trial) given by name_trial
        self._active = True  # False in processes other than the first of a multi-process run
        # Batches to train before Keras' training step is compiled (None: not waiting).
        self._batches_before_wait = None

    def _bind_batch_hook(self):
        if self.options.every_n_batches is not None:
            # Bound on the instance only: Keras skips per-batch hooks (and keeps
            # async dispatch) for callbacks that do not override them.
            self.on_train_batch_end = self._on_train_batch_end

    def __deepcopy__(self, memo):
        """A fresh recorder with the same options: it records its own runs.

        KerasTuner deep-copies the callbacks for every trial. The copy shares
        the (read-only) options and the record of the runs written, so the
        trials' runs get names of their own (``run``, ``run-1``, ... or the
        trial's name, see :meth:`name_trial`) and none is written over; it
        shares no file, writer or model with the original.
        """
        copy = type(self).__new__(type(self))
        memo[id(self)] = copy
        keras.callbacks.Callback.__init__(copy)
        copy.options = self.options
        copy._names = self._names
        copy._is_copy = True
        copy._trial_run = self._trial_run
        copy._recording = None
        self._names.copies.add(copy)
        copy._active = True
        copy._batches_before_wait = None
        for name, value in vars(self).items():
            # What a subclass added, copied as deepcopy would.
            if name not in vars(copy) and name not in ("on_train_batch_end", "params",
                                                       "_model"):
                setattr(copy, name, deepcopy(value, memo))
        copy._bind_batch_hook()
        return copy

    def name_trial(self, run, *, hparams=None, trial=None):
        """Name the runs this recorder (and every later copy of it) starts, after a trial.

        The engine adapters call it (see :mod:`replay.record.sweeps`): the
        next model trained records into run ``run`` (or ``run-1``, ... when
        taken), with the trial's ``hparams`` (added to the recorder's own)
        and ``trial`` (e.g. ``{"engine": "keras_tuner", "id": "03"}``).
        With a directory as ``path``, the run is the file ``<run>.h5`` in it.
        """
        check_run_name(run)
        self._trial_run = (run, {**self.options.hparams, **check_scalars(hparams, "hparams")},
                           {**self.options.trial, **check_scalars(trial, "trial")})

    @property
    def path(self):
        """The run file, or the directory of run files, as given (a string).

        The file of the run being recorded is ``recording.path``.
        """
        return self.options.path

    @property
    def run(self):
        """The run name as given; the run being recorded is ``recording.run`` (``run-1``,
        a trial's name, ... in a sweep)."""
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
        batch_size, n_train, initial_epoch = _fit_data_facts()
        recording = self._recording_for(self.model, steps_per_epoch=params.get("steps"))
        if recording.begin_fit(epochs=params.get("epochs", 0), steps=params.get("steps"),
                               batch_size=batch_size, n_train=n_train,
                               initial_epoch=initial_epoch):
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
            if self.landscape is not None:  # the file is closed: the landscape goes in
                record_landscape(self.model, self._recording.path, self._recording.run,
                                 **self.landscape)

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
        The run stays marked incomplete. The recorder's deep copies (a
        search's trials) are closed too.
        """
        try:
            if self._recording is not None:
                self._recording.close()
        finally:
            if not self._is_copy:
                for copy in list(self._names.copies):
                    copy.close()

    # -- internals -------------------------------------------------------------

    def _recording_for(self, model, *, steps_per_epoch=None, in_process=False):
        """The recording of ``model``: the current one, or a new run for a new model."""
        current = self._recording
        if current is not None:
            # A previous fit that raised may have left a write in flight.
            current.queue.wait()
            current.close_file()
            if current.model is model and self._trial_run == current.named_after:
                return current  # a second fit continues the run
            current.close()
        run, hparams, trial = self._trial_run or (self.options.run, self.options.hparams,
                                                  self.options.trial)
        # The recorder's own first run keeps its name (an existing one is an
        # error, or replaced with overwrite=True); later runs and copies' runs
        # take a free name.
        strict = not (self._is_copy or self._trial_run or self._names.written)
        path, run = self._names.place(self.options.path, run, strict=strict,
                                      overwrite=self.options.overwrite)
        self._recording = Recording(
            self.options, model, path, run, hparams=hparams, trial=trial,
            steps_per_epoch=steps_per_epoch, in_process=in_process,
            max_pending=self.max_pending, first_step_timeout=self.first_step_timeout,
            names=self._names)
        self._recording.named_after = self._trial_run
        return self._recording


def _fit_data_facts(max_depth=12):
    r"""Return ``(batch size, training samples, initial epoch)`` as ``model.fit`` sees them.

    Keras tells callbacks the steps per epoch but not the batch size nor
    ``initial_epoch``; its ``fit`` keeps them in the data adapter of its
    epoch iterator and in its arguments, locals of the ``fit`` frame that
    called ``on_train_begin``. When no such frame is found (another trainer,
    a future Keras), the sizes are ``None`` (the recorder estimates the
    batch size from the recorded inputs) and the initial epoch is 0.
    """
    frame = sys._getframe(1)
    initial_epoch = None
    for _ in range(max_depth):
        frame = frame.f_back
        if frame is None:
            break
        iterator = frame.f_locals.get("epoch_iterator")
        if iterator is not None and initial_epoch is None:
            value = frame.f_locals.get("initial_epoch")
            initial_epoch = value if isinstance(value, int) and value > 0 else 0
        adapter = getattr(iterator, "data_adapter", None) or getattr(iterator, "_data_adapter",
                                                                     None)
        batch_size = getattr(adapter, "batch_size", None)
        if isinstance(batch_size, int):
            samples = getattr(adapter, "_num_samples", None)
            return (batch_size, samples if isinstance(samples, int) else None,
                    initial_epoch or 0)
    return None, None, initial_epoch or 0


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


