"""One run being recorded: :class:`Recording` (its file, writer, capture and snapshots).

A :class:`replay.Recorder` is the Keras side of the line: its hooks say
*when* (training begins, an epoch ends, ...). A :class:`Recording` is
*what*: one model recorded into one run — the capture built for that model,
the run's file and the writer that appends to it, and the snapshot
bookkeeping (snapshot 0 held back until Keras' first training step, the
epoch and step counters a continued ``fit`` goes on from). A recorder
starts one recording per model, so each trial of a sweep is one recording.
"""

import datetime
import json
import os
import warnings

import keras
import numpy as np

from replay.errors import BudgetWarning, RecordingError, RecordingWarning
from replay.io import runfile, schema, writer_process
from replay.io.writer import RunWriter
from replay.io.writer_process import WriterProcess
from replay.record import budget, run_names
from replay.record.capture import BackendCapture, CapturePlan, ModelLoss, read_weights
from replay.record.gradients import GradientPlan, wants_gradients
from replay.record.write_queue import WriteQueue
from replay.run import infer_task


class Recording:
    """One model recorded into one run of a run file.

    Building it builds the capture of ``model`` and checks the recorded
    samples against it (a mismatch fails here, before training); nothing is
    written until :meth:`open` (or :meth:`begin_fit`).

    Args:
        options: the recorder's :class:`replay.record.options.RecorderOptions`.
        model: the Keras model recorded.
        path: the run file.
        run: the run's name in it.
        hparams: ``{name: JSON scalar}`` stored as the run's ``hparams``.
        trial: ``{key: JSON scalar}`` stored as the run's ``trial``.
        steps_per_epoch: the batches of an epoch, when known (it sets how much
            training a snapshot's capture may cost, see :mod:`replay.record.budget`).
        in_process: write from this process only (no writer child started).
        max_pending: snapshots that may wait for the writer thread.
        first_step_timeout: seconds snapshot 0 waits, at most, for Keras' first
            training step.
        names: the :class:`replay.record.run_names.RunNames` told of the run
            once it is created.
    """

    def __init__(self, options, model, path, run, *, hparams=None, trial=None,
                 steps_per_epoch=None, in_process=False, max_pending=4,
                 first_step_timeout=3.0, names=None):
        self.options = options
        self.model = model
        self.run = run
        self.path = path
        self.hparams = dict(hparams or {})
        self.trial = dict(trial or {})
        self.first_step_timeout = first_step_timeout
        self.names = names
        self.queue = WriteQueue(max_pending)
        self.sink = None  # where snapshots go: a WriterProcess or a RunWriter
        self.started = False  # the run was created in the file
        self.step = 0
        self.epochs_done = 0
        self.epochs_planned = 0
        self.steps_per_epoch = steps_per_epoch
        self._warned_divergence = False
        self._open_check = None  # the writer's first sync: the file opened
        self._snapshot_0 = None  # the job after which snapshot 0 is on disk
        self._new_writer = None
        if not in_process and options.writer == "process":
            writer_process.prestart()  # starts up while the capture is built
        self.plan = plan = CapturePlan(model, layers=options.layers,
                                       quantities=options.quantities,
                                       input_shape=options.sources["train"][0].shape[1:])
        self._check_inputs()
        self.loss = ModelLoss(model)
        self.kept = self._plan_recording(plan)  # the budget.RecordingPlan
        self.capture = self._capture_function(plan)
        self._check_targets()
        if plan.subclassed:
            warnings.warn(subclassed_message(run, self.path, model), RecordingWarning,
                          stacklevel=4)
        if self.kept.budget.dropped:
            warnings.warn(budget.budget_message(run, self.path, self.kept.budget,
                                                options.max_snapshot_bytes),
                          BudgetWarning, stacklevel=4)

    # -- one fit ---------------------------------------------------------------

    def begin_fit(self, *, epochs, steps, batch_size, n_train, initial_epoch=0):
        """Open the run (create it, or continue it) for a ``fit`` of ``epochs`` epochs.

        A ``fit`` from ``initial_epoch`` > 0 (e.g. a KerasTuner Hyperband
        trial resumed from an earlier one) trains ``epochs - initial_epoch``
        epochs; the run counts them from its own start and notes
        ``initial_epoch``.

        Returns:
            Whether snapshot 0 is held back until :meth:`first_step_done`.
        """
        self.queue.wait()  # a previous fit that raised may have left a write in flight
        self._open_check = self._snapshot_0 = None
        self.close_file()
        n_snapshots = self.open()
        self.steps_per_epoch = steps
        steps = steps or 0
        self.epochs_planned = int(self.epochs_done + max(epochs - initial_epoch, 0))
        if batch_size is None and steps:
            # Not told by Keras: exact when the recorded inputs are the training data.
            batch_size = int(np.ceil(len(self.options.sources["train"][0]) / steps))
        self.sink.set_attributes(
            complete=False,
            epochs_planned=self.epochs_planned,
            steps_per_epoch=int(steps),
            batch_size=int(batch_size or 0),
            n_train_samples=int(n_train) if n_train is not None else -1,
            **({"initial_epoch": int(initial_epoch)} if initial_epoch and not n_snapshots
               else {}),
        )
        if n_snapshots:
            # A writer that cannot open the file fails now, not epochs later.
            self.sink.sync()
            return False
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
        first_step_done = self.queue.hold_snapshot_0()
        self._open_check = self.queue.submit(self.sink.sync)
        self.snapshot(epoch=0.0, after=first_step_done)
        self._snapshot_0 = self.queue.submit(self.sink.sync)
        return True

    def first_step_done(self):
        """Keras' first training step is done: let snapshot 0 be computed; check the file."""
        self.queue.release_snapshot_0()
        job, self._open_check = self._open_check, None
        if job is not None:
            self.queue.result(job)  # the writer child has the file open

    def batch_end(self, batch):
        """A batch was trained: snapshot every ``every_n_batches`` batches."""
        self.step += 1
        if self.step % self.options.every_n_batches == 0:
            self._sync_state()
            fraction = (batch + 1) / self.steps_per_epoch if self.steps_per_epoch else 0
            self.snapshot(epoch=self.epochs_done + fraction)

    def epoch_end(self, logs):
        """An epoch was trained: record its ``logs`` (and, by default, a snapshot)."""
        job, self._snapshot_0 = self._snapshot_0, None
        if job is not None:
            self.queue.result(job)  # snapshot 0 written and flushed
        if self.options.every_n_batches is None and self.steps_per_epoch:
            self.step += self.steps_per_epoch
        self.epochs_done += 1
        logs = dict(logs or {})
        learning_rate = _learning_rate(self.model)
        if learning_rate is not None and "learning_rate" not in logs:
            logs["learning_rate"] = learning_rate
        history = (self.epochs_done, _plain_logs(logs))
        loss = history[1].get("loss")
        if loss is not None and not np.isfinite(loss) and not self._warned_divergence:
            self._warned_divergence = True
            warnings.warn(
                f"replay: run {self.run!r} diverged at epoch {self.epochs_done}: the loss is "
                f"{loss}. Later snapshots hold NaN or infinite values, which the views mark; "
                "a smaller learning rate usually helps.", RuntimeWarning, stacklevel=3)
        if self.options.every_n_batches is None:
            self.snapshot(epoch=float(self.epochs_done), history=history)
        else:
            self.queue.submit(self.sink.append_history, *history)

    def end_fit(self):
        """Training ended: record the final state (per-batch snapshots), mark the run complete."""
        every = self.options.every_n_batches
        if every is not None and self.sink is not None and self.step % every:
            # Per-batch snapshots: the final state is recorded too.
            self._sync_state()
            self.snapshot(epoch=float(self.epochs_done))
        self.queue.wait()
        if self.sink is not None:
            self.sink.set_attributes(
                complete=True,
                stopped_early=bool(getattr(self.model, "stop_training", False)
                                   and self.epochs_done < self.epochs_planned),
                epochs_trained=self.epochs_done,
            )
        self.close_file()

    def _sync_state(self):
        # JAX keeps the training state outside the variables between
        # epochs; a sync makes them current for the capture pass.
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()

    # -- snapshots ---------------------------------------------------------------

    def snapshot(self, epoch, history=None, after=None):
        """Capture the current state and hand it to the writer thread.

        The training thread only does what must see this exact state: on
        JAX a numpy copy of the weights (the writer thread runs the fused
        compiled function on it), on other backends the weight copy, the
        forward pass and the gradients. The writer thread turns the results
        into arrays and writes them, with the epoch's ``history`` row, under
        one flush; ``after``, an event, holds that back until it is set (or
        :attr:`first_step_timeout` seconds passed).
        """
        pending = self.capture.dispatch()
        self.queue.submit(self._store_snapshot, epoch, self.step, pending, history, after)

    def _store_snapshot(self, epoch, step, pending, history, after=None):
        """Writer thread: turn a captured snapshot into arrays and append them."""
        if after is not None:
            after.wait(self.first_step_timeout)
        self.sink.append_snapshot(epoch, step, self.capture.collect(pending), history)

    def close(self):
        """Finish pending writes, close the run file and stop the writer thread."""
        try:
            self.queue.wait()
        finally:
            self.close_file()
            self.queue.shutdown()

    def close_file(self):
        """Finish writing and close the file (waits for a writer process)."""
        sink, self.sink = self.sink, None
        if sink is not None:
            sink.close()

    # -- the file ------------------------------------------------------------------

    def open(self, *, in_process=False):
        """Create the run (or reopen it to continue) and set up where snapshots go.

        The run's metadata and static arrays are written here, from the
        training process; then the file is handed to a :class:`WriterProcess`
        (``writer="process"``) or kept open for the writer thread.

        Returns:
            The number of snapshots the run holds already.
        """
        options = self.options
        if run_names.is_directory(options.path):
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
        created = not os.path.exists(self.path)
        handle = runfile.open_file(self.path, "a")
        if not self.started and options.overwrite and list(handle) == [self.run]:
            # HDF5 does not give back the space of a deleted group: replacing
            # the only run of a file starts a new file, so it does not grow.
            handle.close()
            os.remove(self.path)
            handle = runfile.open_file(self.path, "a")
        own_writer = in_process or options.writer == "thread"
        writer = self._new_writer = handover = None
        try:
            if self.started and self.run in handle:
                writer = RunWriter(handle, self.run, compression=options.compression)
            else:
                writer = self._create_run(handle)
            n_snapshots = writer.n_snapshots
            if not own_writer:
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
        if own_writer:
            self.sink = writer
        else:
            try:
                self.sink = WriterProcess(self.path, self.run, compression=options.compression,
                                          handover=handover)
            except BaseException:
                handover.release()
                raise
        return n_snapshots

    def _create_run(self, handle):
        options = self.options
        if self.run in handle:
            if not options.overwrite:
                raise RecordingError(
                    f"Run {self.run!r} already exists in '{self.path}'. Choose another "
                    "run name, or pass overwrite=True to replace it."
                )
            del handle[self.run]
        writer = RunWriter.create(
            handle, self.run, self.metadata(), compression=options.compression,
            static_compression=options.static_compression,
        )
        self._new_writer = writer  # closed by open() if what follows fails
        for source, (inputs, targets) in self.kept.sources.items():
            writer.write_static(schema.inputs(source), inputs)
            writer.write_static(schema.targets(source), targets)
        for source, indices in self.kept.indices.items():
            writer.write_static(schema.sample_indices(source), indices)
        for source, points in options.probe_points.items():
            writer.write_static(schema.inputs(source), points)
        # The weights before training, on disk before the first batch (each
        # static write is flushed): snapshot 0 itself is computed after
        # Keras' first training step, and a trainer killed before then would
        # otherwise leave nothing of the one state a rerun cannot reproduce.
        for layer, values in read_weights(self.model).items():
            if self.plan.weights.get(layer) == "raw":
                for name, value in values.items():
                    writer.write_static(schema.initial_weights(layer, name), value)
        if options.probe_points:
            writer.set_attributes(probe_limits=options.probe_limits.tolist())
        self.started = True
        if self.names is not None:
            self.names.written.add((self.path, self.run))
        self.epochs_done = 0
        self.step = 0
        return writer

    def metadata(self):
        """The run's attributes, written when it is created."""
        model, options = self.model, self.options
        try:
            config = json.dumps(model.get_config(), default=str)
        except Exception:  # a model whose config is not serialisable is still recordable
            config = "null"
        return {
            "created": datetime.datetime.now(datetime.UTC).isoformat(),
            "model_config": config,
            "model_class": type(model).__name__,
            "layers": self.plan.layers,
            "loss": self.loss.name,
            "from_logits": self.loss.from_logits,
            "task": infer_task(self.loss.name) if options.task == "auto" else options.task,
            "keras_version": keras.__version__,
            "backend": keras.backend.backend(),
            "n_samples": int(len(self.kept.sources["train"][0])),
            "n_validation_samples": int(len(self.kept.sources["validation"][0]))
            if "validation" in options.sources else 0,
            schema.RECOMPUTED_ATTRIBUTE: self.kept.recipes,
            "storage_dtype": options.storage_dtype.name,
            "compression": "none" if options.compression is None else str(options.compression),
            "max_snapshot_bytes": int(options.max_snapshot_bytes or 0),
            "snapshot_unit": "batch" if options.every_n_batches else "epoch",
            "snapshot_every": int(options.every_n_batches or 1),
            "n_outputs": int(self.plan.outputs.shape[-1]) if self.plan.outputs.shape else 1,
            "subclassed": bool(self.plan.subclassed),
            **({schema.HPARAMS_ATTRIBUTE: json.dumps(self.hparams)} if self.hparams else {}),
            **({schema.TRIAL_ATTRIBUTE: json.dumps(self.trial)} if self.trial else {}),
        }

    # -- the capture ---------------------------------------------------------------

    def _capture_function(self, plan):
        """The capture of ``plan``'s model: one fused compiled call on JAX.

        Both kinds resolve the model's loss when built, so a model without a
        usable loss fails here, before training, not mid-fit.
        """
        options = self.options
        gradients = self._wants_gradients(plan)
        if keras.backend.backend() == "jax":
            from replay.record.capture_jax import FusedJaxCapture

            return FusedJaxCapture(plan, self.kept.sources, options.probe_points,
                                   gradients=gradients, storage_dtype=options.storage_dtype)
        return BackendCapture(plan, self.kept.sources, options.probe_points,
                              gradients=GradientPlan(plan.model) if gradients else None,
                              storage_dtype=options.storage_dtype)

    def _wants_gradients(self, plan):
        return wants_gradients(self.options.gradients, plan.model) \
            and any(plan.gradients.values())

    def _trained_per_snapshot(self):
        """Samples ``fit`` trains between two snapshots (the recorded inputs as the training set)."""
        samples = len(self.options.sources["train"][0])
        if self.options.every_n_batches is None:
            return samples
        steps = self.steps_per_epoch
        return samples * self.options.every_n_batches / steps if steps else None

    def _plan_recording(self, plan):
        """Recipes, the size budget and the sample subset of ``plan`` (see :mod:`replay.record.budget`)."""
        options = self.options
        if not self._wants_gradients(plan):
            plan.gradients = dict.fromkeys(plan.gradients)  # none recorded
        return budget.plan_recording(
            plan, options.sources, options.probe_points, max_samples=options.max_samples,
            seed=options.sample_seed, recompute=options.recompute,
            itemsize=options.storage_dtype.itemsize, gradients=self._wants_gradients(plan),
            limit=options.max_snapshot_bytes, trained_per_snapshot=self._trained_per_snapshot())

    def _check_inputs(self):
        if self.plan.subclassed:
            return  # its output was traced on the train inputs' shape; the others follow
        expected = self.model.inputs[0].shape[1:]
        for source, (inputs, _) in self.options.sources.items():
            if tuple(inputs.shape[1:]) != tuple(expected):
                raise RecordingError(
                    f"The {source} inputs have shape {inputs.shape[1:]} per sample but the "
                    f"model expects {tuple(expected)}."
                )

    def _check_targets(self):
        """Compute the per-sample loss of a few samples now, so a mismatch fails before training.

        On JAX the capture's trace checks it (no eager call, which compiles
        every operation in a fresh process).
        """
        if hasattr(self.capture, "check_targets"):
            return self._check_targets_traced()
        for source, (inputs, targets) in self.options.sources.items():
            few = slice(0, min(len(inputs), 4))
            outputs = None
            try:
                with warnings.catch_warnings():
                    # Functional models warn that one array is not a list of one.
                    warnings.filterwarnings("ignore", "The structure of `inputs`")
                    outputs = np.asarray(keras.ops.convert_to_numpy(
                        self.model(inputs[few], training=False)))
                losses = self.loss.per_sample_numpy(targets[few], outputs)
            except Exception as error:
                shape = "?" if outputs is None else tuple(outputs.shape)
                raise RecordingError(
                    f"The {source} targets (shape {targets.shape}, dtype {targets.dtype}) do "
                    f"not work with the model's loss {self.loss.name!r} on outputs of shape "
                    f"{shape}: {error}. Pass the targets as model.fit gets them."
                ) from error
            if losses.shape != (len(inputs[few]),):
                raise RecordingError(
                    f"The model's loss {self.loss.name!r} gives values of shape "
                    f"{losses.shape} for {len(inputs[few])} {source} samples; replay needs one "
                    f"value per sample. Check the targets' shape {targets.shape}."
                )

    def _check_targets_traced(self):
        try:
            shapes = self.capture.check_targets()
        except Exception as error:
            source, (_, targets) = next(iter(self.kept.sources.items()))
            raise RecordingError(
                f"The {source} targets (shape {targets.shape}, dtype {targets.dtype}) do "
                f"not work with the model's loss {self.loss.name!r}: {error}. Pass the "
                "targets as model.fit gets them.") from error
        for source, shape in shapes.items():
            inputs, targets = self.kept.sources[source]
            if shape is not None and tuple(shape) != (len(inputs),):
                raise RecordingError(
                    f"The model's loss {self.loss.name!r} gives values of shape {shape} for "
                    f"{len(inputs)} {source} samples; replay needs one value per sample. "
                    f"Check the targets' shape {targets.shape}.")


def subclassed_message(run, path, model):
    """The one warning of a recording of a subclassed model: what it records, what it cannot."""
    return (
        f"Run {run!r} of '{path}': model {model.name!r} is a subclassed keras.Model "
        f"({type(model).__name__}), whose hidden layers cannot be traced, so the recorder "
        "records its weights, gradients, outputs, per-sample losses and history, and no "
        "hidden activations or z-values (the figures show no feature space). Hidden "
        "activations need a Sequential or functional model: build the same layers with "
        "keras.Sequential([...]) or keras.Model(inputs, outputs).")


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
