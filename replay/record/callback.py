"""The :class:`Recorder` callback: records a Keras training run into a run file."""

import datetime
import json
import os
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np

from replay.errors import BudgetWarning, OptionError, RecordingError
from replay.io import probes as probe_points_module
from replay.io import runfile, schema, writer_process
from replay.io.storage import check_storage_dtype
from replay.io.writer import RunWriter
from replay.io.writer_process import WriterProcess
from replay.record import budget
from replay.record.capture import (
    BackendCapture,
    CapturePlan,
    ModelLoss,
    check_layers,
    check_quantities,
)
from replay.record.gradients import GradientPlan, check_gradients_option, wants_gradients
from replay.run import TASKS as RUN_TASKS
from replay.run import infer_task


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
    #: before it is computed anyway (see ``on_train_begin``).
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
        if inputs is None or targets is None:
            raise OptionError(
                "Recorder needs inputs= and targets= (the samples whose activations "
                "and losses are recorded, usually the training data)."
            )
        check_run_name(run)
        self.path = os.fspath(path)
        # A DeepReplay (or other foreign) file is refused now, not after fit starts.
        runfile.check_writable(self.path)
        self.run = run
        self.sources = {"train": (_as_array(inputs, "inputs"), _as_targets(targets, "targets"))}
        if len(self.sources["train"][0]) != len(self.sources["train"][1]):
            raise OptionError(
                f"inputs and targets must have the same number of samples. Got "
                f"{len(self.sources['train'][0])} and {len(self.sources['train'][1])}."
            )
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise OptionError(
                    "validation_data must be a tuple (inputs, targets). Got "
                    f"{type(validation_data).__name__}."
                )
            self.sources["validation"] = (
                _as_array(validation_data[0], "validation inputs"),
                _as_targets(validation_data[1], "validation targets"),
            )
            if self.sources["validation"][0].shape[1:] != self.sources["train"][0].shape[1:]:
                raise OptionError(
                    f"validation inputs have shape {self.sources['validation'][0].shape[1:]} "
                    f"per sample, the inputs {self.sources['train'][0].shape[1:]}; they must "
                    "be samples of the same kind."
                )
            if len(self.sources["validation"][0]) != len(self.sources["validation"][1]):
                raise OptionError(
                    "validation inputs and targets must have the same number of samples. "
                    f"Got {len(self.sources['validation'][0])} and "
                    f"{len(self.sources['validation'][1])}."
                )
        if task not in TASKS:
            raise OptionError(f"task must be one of {', '.join(TASKS)}. Got {task!r}.")
        self.task = task
        if every_n_batches is not None:
            every_n_batches = check_positive_integer(every_n_batches, "every_n_batches",
                                                     "or None")
        if not isinstance(padding, (int, float, np.integer, np.floating)) or isinstance(
                padding, bool) or not np.isfinite(padding) or padding < 0:
            raise OptionError(
                f"padding must be a finite number of at least 0 (a fraction of the input "
                f"range). Got {padding!r}.")
        check_compression(compression)
        self.layers = check_layers(layers)
        self.quantities = check_quantities(quantities)
        self.max_samples = None if max_samples is None else check_positive_integer(
            max_samples, "max_samples", "or None")
        try:
            self.storage_dtype = check_storage_dtype(storage_dtype)
        except ValueError as error:
            raise OptionError(str(error)) from None
        self.max_snapshot_bytes = None if max_snapshot_bytes is None else \
            check_positive_integer(max_snapshot_bytes, "max_snapshot_bytes", "or None")
        if recompute not in (True, False):
            raise OptionError(f"recompute must be True or False. Got {recompute!r}.")
        self.recompute = recompute
        self.sample_seed = int(sample_seed)
        self._recording = None  # the RecordingPlan of self._plan
        if probes not in ("auto", True, False):
            raise OptionError(f"probes must be 'auto', True or False. Got {probes!r}.")
        train_inputs = self.sources["train"][0]
        is_2d = train_inputs.ndim == 2 and train_inputs.shape[1] == 2
        if probes is True and not is_2d:
            raise OptionError(
                f"Probe points need 2-D inputs (n_samples, 2). Got {train_inputs.shape}; "
                "use probes='auto' or False."
            )
        self.probe_points = {}
        if probes is True or (probes == "auto" and is_2d):
            limits = _probe_limits(self.sources, padding)
            self.probe_points = {
                "grid": probe_points_module.grid_lines(limits, grid_lines, grid_points),
                "mesh": probe_points_module.mesh(limits, mesh_resolution),
            }
            self._limits = limits
        self.every_n_batches = every_n_batches
        self.overwrite = overwrite
        # "auto": the static inputs compressed (once, before training), the
        # per-snapshot arrays not (see AUTO_COMPRESSION).
        self.compression = AUTO_COMPRESSION if compression == "auto" else compression
        self.static_compression = (AUTO_STATIC_COMPRESSION if compression == "auto"
                                   else compression)
        self.gradients = check_gradients_option(gradients)
        if writer not in ("process", "thread"):
            raise OptionError(f"writer must be 'process' or 'thread'. Got {writer!r}.")
        self.writer = writer
        if every_n_batches is not None:
            # Bound on the instance only: Keras skips per-batch hooks (and keeps
            # async dispatch) for callbacks that do not override them.
            self.on_train_batch_end = self._on_train_batch_end
        self._plan = None
        self._active = True  # False in processes other than the first of a multi-process run
        self._loss = None  # the model's ModelLoss
        self._warned_divergence = False
        self._capture = None  # FusedJaxCapture or BackendCapture of self._plan
        self._executor = None  # the writer thread
        self._pending = []  # jobs submitted to it, oldest first
        self._sink = None  # where snapshots go: a WriterProcess or a RunWriter
        self._started = False
        # Batches to train before Keras' training step is compiled (None: not waiting).
        self._batches_before_wait = None
        self._first_step_done = None  # threading.Event that lets snapshot 0 be computed
        self._open_check = None  # the writer's first sync: the file opened
        self._snapshot_0 = None  # the job after which snapshot 0 is on disk
        self._step = 0
        self._epochs_done = 0

    # -- Keras hooks -----------------------------------------------------------

    def on_train_begin(self, logs=None):
        # In a multi-process (multi-host) run every process trains the same
        # model; only the first writes the file.
        self._active = process_index() == 0
        self._batches_before_wait = None
        if not self._active:
            return
        self._wait()  # a previous fit that raised may have left a write in flight
        self._open_check = self._snapshot_0 = None
        self._close()
        n_snapshots = self._open(self.model)
        self._steps_per_epoch = (self.params or {}).get("steps")
        steps = self._steps_per_epoch or 0
        self._epochs_planned = int(self._epochs_done + (self.params or {}).get("epochs", 0))
        batch_size, n_train = _fit_data_facts()
        if batch_size is None and steps:
            # Not told by Keras: exact when the recorded inputs are the training data.
            batch_size = int(np.ceil(len(self.sources["train"][0]) / steps))
        self._sink.set_attributes(
            complete=False,
            epochs_planned=self._epochs_planned,
            steps_per_epoch=int(steps),
            batch_size=int(batch_size or 0),
            n_train_samples=int(n_train) if n_train is not None else -1,
        )
        if n_snapshots == 0:
            # Captured now (a copy of the weights before the first batch),
            # computed and written on the writer thread once Keras' first
            # training step is done (the second batch begins). Keras traces
            # and compiles that step on the first batch; on JAX the
            # capture's first compilation shares XLA's compile threads with
            # it and, run beside it, delays it by about its own length.
            # Beside ordinary training steps it costs less: the digits CNN's
            # first recorded run, 1.30 -> 1.24 of a plain fit (medians of
            # 24 processes each). A writer that could not open the file
            # (e.g. one another recorder holds) fails before the second
            # batch; snapshot 0 is on disk before the first epoch ends.
            self._first_step_done = threading.Event()
            self._open_check = self._submit(self._sink.sync)
            self._snapshot(epoch=0.0, after=self._first_step_done)
            self._snapshot_0 = self._submit(self._sink.sync)
            self._batches_before_wait = 1
        else:
            # A writer that cannot open the file fails now, not epochs later.
            self._sink.sync()

    def on_train_batch_begin(self, batch, logs=None):
        if self._batches_before_wait is None:
            return
        if self._batches_before_wait:
            self._batches_before_wait -= 1
            return
        self._batches_before_wait = None
        self._release_snapshot_0()
        job, self._open_check = self._open_check, None
        self._result(job)  # the writer child has the file open

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_in_fit = epoch
        self._batch_in_epoch = 0

    def _on_train_batch_end(self, batch, logs=None):
        if not self._active:
            return
        self._step += 1
        self._batch_in_epoch = batch + 1
        if self._step % self.every_n_batches == 0:
            # JAX keeps the training state outside the variables between
            # epochs; a sync makes them current for the capture pass.
            sync = getattr(self.model, "jax_state_sync", None)
            if sync is not None:
                sync()
            fraction = (batch + 1) / self._steps_per_epoch if self._steps_per_epoch else 0
            self._snapshot(epoch=self._epochs_done + fraction)

    def on_epoch_end(self, epoch, logs=None):
        if not self._active:
            return
        job, self._snapshot_0 = self._snapshot_0, None
        if job is not None:
            self._result(job)  # snapshot 0 written and flushed
        if self.every_n_batches is None and self._steps_per_epoch:
            self._step += self._steps_per_epoch
        self._epochs_done += 1
        logs = dict(logs or {})
        learning_rate = _learning_rate(self.model)
        if learning_rate is not None and "learning_rate" not in logs:
            logs["learning_rate"] = learning_rate
        history = (self._epochs_done, _plain_logs(logs))
        loss = history[1].get("loss")
        if loss is not None and not np.isfinite(loss) and not self._warned_divergence:
            self._warned_divergence = True
            warnings.warn(
                f"replay: run {self.run!r} diverged at epoch {self._epochs_done}: the loss is "
                f"{loss}. Later snapshots hold NaN or infinite values, which the views mark; "
                "a smaller learning rate usually helps.", RuntimeWarning, stacklevel=2)
        if self.every_n_batches is None:
            self._snapshot(epoch=float(self._epochs_done), history=history)
        else:
            self._submit(self._sink.append_history, *history)

    def on_train_end(self, logs=None):
        if not self._active:
            return
        if self.every_n_batches is not None and self._sink is not None \
                and self._step % self.every_n_batches:
            # Per-batch snapshots: the final state is recorded too.
            sync = getattr(self.model, "jax_state_sync", None)
            if sync is not None:
                sync()
            self._snapshot(epoch=float(self._epochs_done))
        self._wait()
        if self._sink is not None:
            self._sink.set_attributes(
                complete=True,
                stopped_early=bool(getattr(self.model, "stop_training", False)
                                   and self._epochs_done < self._epochs_planned),
                epochs_trained=self._epochs_done,
            )
        self._close()

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
        n_snapshots = self._open(model, in_process=True)
        try:
            if n_snapshots == 0:
                self._snapshot(epoch=0.0)
            self._wait()
            self._sink.set_attributes(complete=True, epochs_planned=0)
        finally:
            self.close()
        return Run(self.path, self.run)

    # -- internals -------------------------------------------------------------

    def _open(self, model, *, in_process=False):
        """Create the run (or reopen it to continue) and set up where snapshots go.

        The run's metadata and static arrays are written here, from the
        training process; then the file is handed to a :class:`WriterProcess`
        (``writer="process"``) or kept open for the writer thread.

        Returns:
            The number of snapshots the run holds already.
        """
        if self._started and self._plan is not None and self._plan.model is not model:
            raise RecordingError(
                f"This recorder recorded model {self._plan.model.name!r} into run "
                f"{self.run!r} of '{self.path}'; it cannot continue that run with another "
                f"model ({model.name!r}). Use a new Recorder (another run name) for it."
            )
        if self._plan is None or self._plan.model is not model:
            if not in_process and self.writer == "process":
                writer_process.prestart()  # starts up while the capture is built
            plan = CapturePlan(model, layers=self.layers, quantities=self.quantities)
            self._check_inputs(model)
            self._loss = ModelLoss(model)
            self._recording = self._plan_recording(plan)
            self._capture = self._capture_function(plan)
            self._check_targets(model)
            if self._recording.budget.dropped:
                warnings.warn(budget.budget_message(self.run, self.path, self._recording.budget,
                                                    self.max_snapshot_bytes),
                              BudgetWarning, stacklevel=3)
            self._plan = plan
        created = not os.path.exists(self.path)
        handle = runfile.open_file(self.path, "a")
        if not self._started and self.overwrite and list(handle) == [self.run]:
            # HDF5 does not give back the space of a deleted group: replacing
            # the only run of a file starts a new file, so it does not grow.
            handle.close()
            os.remove(self.path)
            handle = runfile.open_file(self.path, "a")
        writer = self._new_writer = handover = None
        try:
            if self._started and self.run in handle:
                writer = RunWriter(handle, self.run, compression=self.compression)
            else:
                writer = self._create_run(handle, model)
            n_snapshots = writer.n_snapshots
            if not (in_process or self.writer == "thread"):
                # Held until the child has the file open: a reader following
                # the run meanwhile knows it is being recorded.
                handover = runfile.WriterLock(self.path)
                handover.acquire()
                writer.close()  # a full disk shows here at the latest
        except BaseException:
            if handover is not None:
                handover.release()
            writer = writer or self._new_writer
            if writer is None:
                handle.close()
            else:
                writer.close()
                if created and writer.failed:
                    os.remove(self.path)  # a new file that could not be written: none left
            raise
        if in_process or self.writer == "thread":
            self._sink = writer
        else:
            try:
                self._sink = WriterProcess(self.path, self.run, compression=self.compression,
                                           handover=handover)
            except BaseException:
                handover.release()
                raise
        return n_snapshots

    def _create_run(self, handle, model):
        if self.run in handle:
            if not self.overwrite:
                raise RecordingError(
                    f"Run {self.run!r} already exists in '{self.path}'. Choose another "
                    "run name, or pass overwrite=True to replace it."
                )
            del handle[self.run]
        writer = RunWriter.create(
            handle, self.run, self._metadata(model), compression=self.compression,
            static_compression=self.static_compression,
        )
        self._new_writer = writer  # closed by _open if what follows fails
        for source, (inputs, targets) in self._recording.sources.items():
            writer.write_static(schema.inputs(source), inputs)
            writer.write_static(schema.targets(source), targets)
        for source, indices in self._recording.indices.items():
            writer.write_static(schema.sample_indices(source), indices)
        for source, points in self.probe_points.items():
            writer.write_static(schema.inputs(source), points)
        if self.probe_points:
            writer.set_attributes(probe_limits=self._limits.tolist())
        self._started = True
        self._epochs_done = 0
        self._step = 0
        return writer

    def _close(self):
        """Finish writing and close the file (waits for a writer process)."""
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.close()

    def _check_inputs(self, model):
        expected = model.inputs[0].shape[1:]
        for source, (inputs, _) in self.sources.items():
            if tuple(inputs.shape[1:]) != tuple(expected):
                raise RecordingError(
                    f"The {source} inputs have shape {inputs.shape[1:]} per sample but the "
                    f"model expects {tuple(expected)}."
                )

    def _check_targets(self, model):
        """Compute the per-sample loss of a few samples now, so a mismatch fails before training.

        On JAX the capture's trace checks it (no eager call, which compiles
        every operation in a fresh process).
        """
        if hasattr(self._capture, "check_targets"):
            return self._check_targets_traced()
        for source, (inputs, targets) in self.sources.items():
            few = slice(0, min(len(inputs), 4))
            outputs = None
            try:
                with warnings.catch_warnings():
                    # Functional models warn that one array is not a list of one.
                    warnings.filterwarnings("ignore", "The structure of `inputs`")
                    outputs = np.asarray(keras.ops.convert_to_numpy(
                        model(inputs[few], training=False)))
                losses = self._loss.per_sample_numpy(targets[few], outputs)
            except Exception as error:
                shape = "?" if outputs is None else tuple(outputs.shape)
                raise RecordingError(
                    f"The {source} targets (shape {targets.shape}, dtype {targets.dtype}) do "
                    f"not work with the model's loss {self._loss.name!r} on outputs of shape "
                    f"{shape}: {error}. Pass the targets as model.fit gets them."
                ) from error
            if losses.shape != (len(inputs[few]),):
                raise RecordingError(
                    f"The model's loss {self._loss.name!r} gives values of shape "
                    f"{losses.shape} for {len(inputs[few])} {source} samples; replay needs one "
                    f"value per sample. Check the targets' shape {targets.shape}."
                )

    def _check_targets_traced(self):
        try:
            shapes = self._capture.check_targets()
        except Exception as error:
            source, (_, targets) = next(iter(self._recording.sources.items()))
            raise RecordingError(
                f"The {source} targets (shape {targets.shape}, dtype {targets.dtype}) do "
                f"not work with the model's loss {self._loss.name!r}: {error}. Pass the "
                "targets as model.fit gets them.") from error
        for source, shape in shapes.items():
            inputs, targets = self._recording.sources[source]
            if shape is not None and tuple(shape) != (len(inputs),):
                raise RecordingError(
                    f"The model's loss {self._loss.name!r} gives values of shape {shape} for "
                    f"{len(inputs)} {source} samples; replay needs one value per sample. "
                    f"Check the targets' shape {targets.shape}.")

    def _metadata(self, model):
        try:
            config = json.dumps(model.get_config(), default=str)
        except Exception:  # a model whose config is not serialisable is still recordable
            config = "null"
        return {
            "created": datetime.datetime.now(datetime.UTC).isoformat(),
            "model_config": config,
            "model_class": type(model).__name__,
            "layers": self._plan.layers,
            "loss": self._loss.name,
            "from_logits": self._loss.from_logits,
            "task": infer_task(self._loss.name) if self.task == "auto" else self.task,
            "keras_version": keras.__version__,
            "backend": keras.backend.backend(),
            "n_samples": int(len(self._recording.sources["train"][0])),
            "n_validation_samples": int(len(self._recording.sources["validation"][0]))
            if "validation" in self.sources else 0,
            schema.RECOMPUTED_ATTRIBUTE: self._recording.recipes,
            "storage_dtype": self.storage_dtype.name,
            "compression": "none" if self.compression is None else str(self.compression),
            "max_snapshot_bytes": int(self.max_snapshot_bytes or 0),
            "snapshot_unit": "batch" if self.every_n_batches else "epoch",
            "snapshot_every": int(self.every_n_batches or 1),
            "n_outputs": int(model.outputs[0].shape[-1]),
        }

    def _capture_function(self, plan):
        """The capture of ``plan``'s model: one fused compiled call on JAX.

        Both kinds resolve the model's loss when built, so a model without a
        usable loss fails here, before training, not mid-fit.
        """
        model = plan.model
        gradients = self._wants_gradients(plan)
        sources = self._recording.sources
        if keras.backend.backend() == "jax":
            from replay.record.capture_jax import FusedJaxCapture

            return FusedJaxCapture(plan, sources, self.probe_points, gradients=gradients,
                                   storage_dtype=self.storage_dtype)
        return BackendCapture(plan, sources, self.probe_points,
                              gradients=GradientPlan(model) if gradients else None,
                              storage_dtype=self.storage_dtype)

    def _trained_per_snapshot(self):
        """Samples ``fit`` trains between two snapshots (the recorded inputs as the training set)."""
        samples = len(self.sources["train"][0])
        steps = (self.params or {}).get("steps")
        if self.every_n_batches is None:
            return samples
        return samples * self.every_n_batches / steps if steps else None

    def _wants_gradients(self, plan):
        return wants_gradients(self.gradients, plan.model) and any(plan.gradients.values())

    def _plan_recording(self, plan):
        """Recipes, the size budget and the sample subset of ``plan`` (see :mod:`replay.record.budget`)."""
        if not self._wants_gradients(plan):
            plan.gradients = dict.fromkeys(plan.gradients)  # none recorded
        return budget.plan_recording(
            plan, self.sources, self.probe_points, max_samples=self.max_samples,
            seed=self.sample_seed, recompute=self.recompute,
            itemsize=self.storage_dtype.itemsize, gradients=self._wants_gradients(plan),
            limit=self.max_snapshot_bytes, trained_per_snapshot=self._trained_per_snapshot())

    def _snapshot(self, epoch, history=None, after=None):
        """Capture the current state and hand it to the writer thread.

        The training thread only does what must see this exact state: on
        JAX a numpy copy of the weights (the writer thread runs the fused
        compiled function on it), on other backends the weight copy, the
        forward pass and the gradients. The writer thread turns the results
        into arrays and writes them, with the epoch's ``history`` row, under
        one flush; ``after``, an event, holds that back until it is set (or
        :attr:`first_step_timeout` seconds passed).
        """
        pending = self._capture.dispatch()
        self._submit(self._store_snapshot, epoch, self._step, pending, history, after)

    def _store_snapshot(self, epoch, step, pending, history, after=None):
        """Writer thread: turn a captured snapshot into arrays and append them."""
        if after is not None:
            after.wait(self.first_step_timeout)
        self._sink.append_snapshot(epoch, step, self._capture.collect(pending), history)

    def _submit(self, function, *args):
        """Run ``function(*args)`` on the writer thread, in order.

        At most :attr:`max_pending` jobs wait; an error on the writer thread
        is raised here, at the next submission.

        Returns:
            The job (a ``concurrent.futures.Future``).
        """
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1,
                                                thread_name_prefix="replay-writer")
        while self._pending and (self._pending[0].done()
                                 or len(self._pending) >= self.max_pending):
            self._result(self._pending.pop(0))
        job = self._executor.submit(function, *args)
        self._pending.append(job)
        return job

    def _release_snapshot_0(self):
        """Let the writer thread compute snapshot 0 (Keras' first step is done)."""
        if self._first_step_done is not None:
            self._first_step_done.set()

    def _wait(self):
        """Wait for every job in flight; re-raise the first error, if any."""
        while self._pending:
            self._result(self._pending.pop(0))

    def _result(self, job):
        """Wait for ``job``; if it failed, drop the jobs after it and raise its error.

        The jobs queued behind a failed write fail because of it: the first
        error is the one to report, once. Waiting for a job not done lets
        snapshot 0 go (the wait could be for it, or behind it).
        """
        if not job.done():
            self._release_snapshot_0()
        try:
            job.result()
        except BaseException:
            pending, self._pending = self._pending, []
            for later in pending:
                later.exception()  # wait, and drop the consequence
            raise

    def close(self):
        """Finish pending writes and close the run file.

        ``fit`` does this itself when training ends; call it after a ``fit``
        that raised (e.g. ``KeyboardInterrupt``) to release the file at once.
        The run stays marked incomplete.
        """
        try:
            self._wait()
        finally:
            self._close()
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None


def _probe_limits(sources, padding):
    stacked = np.concatenate([inputs for inputs, _ in sources.values()])
    return probe_points_module.padded_limits(stacked, padding)


def _as_array(values, what):
    if isinstance(values, (list, tuple, dict)) and len(values) and all(
            hasattr(item, "shape") for item in
            (values.values() if isinstance(values, dict) else values)):
        raise OptionError(
            f"{what} are a {type(values).__name__} of {len(values)} arrays: replay records "
            "models with one input (and one output). Concatenate the inputs into one "
            "array and the model's input into one keras.Input, or train without the "
            "recorder."
        )
    array = np.asarray(values)
    if array.dtype.kind not in "fiub" or array.ndim < 2:
        raise OptionError(
            f"{what} must be a numeric array of shape (n_samples, ...). Got dtype "
            f"{array.dtype} and shape {array.shape}."
        )
    if len(array) == 0:
        raise OptionError(f"{what} hold no samples (shape {array.shape}); record at least one.")
    array = array.astype(np.float32, copy=False)
    finite = np.isfinite(array.reshape(len(array), -1)).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise OptionError(
            f"{what} hold NaN or infinite values in {len(bad)} sample(s), the first at index "
            f"{bad[0]}; the pictures would be blank. Clean or drop those samples.")
    return array


def _learning_rate(model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    try:
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except Exception:  # a custom optimizer without a readable rate
        return None


def _plain_logs(logs):
    plain = {}
    for key, value in logs.items():
        if isinstance(value, (int, float)):  # Keras passes Python floats already
            plain[key] = float(value)
            continue
        try:
            plain[key] = float(np.asarray(keras.ops.convert_to_numpy(value)))
        except (TypeError, ValueError):
            continue
    return plain


#: The values of ``Recorder(task=...)``.
TASKS = ("auto", *RUN_TASKS)


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


def check_run_name(run):
    """Raise :class:`OptionError` unless ``run`` can name an HDF5 group of a run file."""
    if (not isinstance(run, str) or not run.strip() or "/" in run or run in (".", "..")
            or any(ord(character) < 32 for character in run)):
        raise OptionError(
            "run must be a name of printable characters without '/', other than '.' and "
            f"'..'. Got {run!r}.")


def check_positive_integer(value, name, alternatives=""):
    """Return ``value`` as an int if it is a positive integer (numpy ones too; not a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise OptionError(
            f"{name} must be a positive integer{' ' + alternatives if alternatives else ''}. "
            f"Got {value!r}.")
    return int(value)


#: What ``Recorder(compression=...)`` accepts: h5py's filters (gzip takes a level 0-9).
COMPRESSIONS = (None, "auto", "gzip", "lzf")
#: What ``compression="auto"`` is for the per-snapshot arrays: none. Measured
#: (2 cores): what remains of a snapshot after recomputing and float16 are
#: large float16 activations, which lzf shrinks by 1.0-1.2x and gzip by
#: 1.1-1.5x for 11-26 ms of the writer's CPU per MB; on the digits CNN that
#: took its fit from x1.12 to x1.25 (lzf) and x1.31 (gzip-1) of a plain fit.
AUTO_COMPRESSION = None
#: ... and for the static arrays (inputs, targets: written once, before training).
AUTO_STATIC_COMPRESSION = "lzf"


def check_compression(compression):
    """Raise :class:`OptionError` unless h5py can use ``compression``."""
    if compression in COMPRESSIONS or (isinstance(compression, (int, np.integer))
                                       and not isinstance(compression, bool)
                                       and 0 <= compression <= 9):
        return compression
    raise OptionError(
        f"compression must be None, 'gzip', 'lzf', 'auto' (the default) or a gzip level "
        f"0-9. Got {compression!r}.")


def _as_targets(values, what):
    targets = np.asarray(values)
    if targets.dtype.kind not in "fiub":
        raise OptionError(
            f"{what} must be numbers (class indices, one-hot rows or values), as model.fit "
            f"takes them. Got dtype {targets.dtype}; encode labels first, e.g. with "
            "numpy.unique(labels, return_inverse=True).")
    return targets
