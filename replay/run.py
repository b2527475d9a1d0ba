"""Reading a recorded run: :class:`Run`, with numpy and h5py only.

:class:`Run` is also where epochs are checked: :meth:`Run.snapshot_index`
(one epoch) and :meth:`Run.select` (a selection such as ``"0:150:2"``) are
the one resolver that views, scenes and the command line use, raising
:class:`replay.EpochOutOfRangeError` with the value given and the valid range.
"""

import os
import time
from dataclasses import dataclass, field

import numpy as np

from replay.errors import (
    EmptySelectionError,
    EpochOutOfRangeError,
    FileBusyError,
    LayerNotFoundError,
    OptionError,
    RunFileError,
)
from replay.io import attributes, deepreplay, runfile, schema, shapes
from replay.io.store import HDF5Store

#: Polls of :meth:`Run.follow` without a writer after which a recording that is
#: not complete counts as ended (the file is free for a moment between the
#: recorder creating a run and its writer child opening it).
FOLLOW_ENDED_AFTER_POLLS = 3


@dataclass(frozen=True)
class LayerInfo:
    """What the recorder wrote about one layer of the model.

    Attributes:
        name: the Keras layer name.
        class_name: the Keras layer class, e.g. ``"Dense"``.
        units: output width (last axis of its output).
        activation: name of its activation (``"linear"`` for none; ``"none"``
            for layers without an activation function, e.g. normalisation).
        weights: names of its weight arrays, e.g. ``["kernel", "bias"]``.
        hidden: whether its activations were recorded (weighted, not output).
        shape: the shape of its output per sample, e.g. ``[6, 6, 8]`` for a
            convolution (``[units]`` in runs recorded before it was stored).
        trainable_weights: the weights that have gradients (``None``: all,
            in runs recorded before it was stored).
        preactivations: whether its pre-activations were recorded (hidden
            layers with an activation function; not recurrent layers).
        storage: how each of its quantities (``weights``, ``activations``,
            ``preactivations``, ``gradients``) is kept: ``"raw"`` (stored),
            ``"recomputed"`` (from the weights, when read), ``"summary"``
            (per-snapshot statistics, see :mod:`replay.io.storage`) or
            ``None`` (not recorded); ``None`` in runs recorded before it
            was stored (everything raw).
    """

    name: str
    class_name: str
    units: int
    activation: str
    weights: list = field(default_factory=list)
    hidden: bool = False
    shape: list = None
    trainable_weights: list = None
    preactivations: bool = True
    storage: dict = None

    def __post_init__(self):
        if self.shape is None:
            object.__setattr__(self, "shape", [self.units])

    @property
    def size(self):
        """Values per sample of its output (the product of :attr:`shape`)."""
        return int(np.prod(self.shape))

    @property
    def role(self):
        """``"hidden"`` (its activations are recorded) or ``"output"``: the word
        ``replay info`` and a run's notebook table both print beside its name."""
        return "hidden" if self.hidden else "output"


class Run:
    """One recorded run of a run file, read lazily.

    Opening reads only the metadata; arrays are read per call, one snapshot at
    a time. The file handle is opened on first use and kept until
    :meth:`close` (or the end of a ``with`` block); a ``Run`` can be pickled
    (it reopens the file in the other process).

    The same API reads three kinds of runs, each through its store
    (:mod:`replay.io.store`): runs of a replay run file; runs written by the
    old DeepReplay package, whose activations, outputs and losses are
    computed on demand from the stored weights (:mod:`replay.io.deepreplay`);
    and runs built from arrays with :meth:`from_arrays`.

    Args:
        path: the run file written by :class:`replay.Recorder` (or by
            DeepReplay's ``ReplayData`` callback).
        run: the run name; may be omitted when the file holds exactly one run.
        model_file: for a DeepReplay run, the Keras 2 model file DeepReplay
            saved for it; ``None`` looks for ``<run>_model.h5`` beside
            ``path`` (without one, layers get generic names). Ignored for
            other runs.

    Example:
        >>> run = Run("part1.h5", "sigmoid")                  # doctest: +SKIP
        >>> run.activations("hidden", epoch=60).shape         # doctest: +SKIP
        (2000, 2)
    """

    def __init__(self, path, run=None, *, model_file=None):
        self.path = os.fspath(path)
        self._handle = None
        self._store = None
        self._in_memory = False
        # Set by _following (replay.live, refresh): open without HDF5's lock.
        self._lock_free = getattr(self, "_lock_free", False)
        self._model_file = None if model_file is None else os.fspath(model_file)
        self._load(run)

    def _load(self, run):
        """Open ``run``'s group, build its store and read its metadata (or close and raise)."""
        group = self._open_group(run)
        self.name = group.name.lstrip("/")
        try:
            self._store = self._make_store(group)
        except Exception:
            self.close()
            raise
        self._read_metadata()

    @classmethod
    def from_arrays(cls, inputs, targets, *, activations=None, preactivations=None,
                    outputs=None, per_sample_loss=None, weights=None, gradients=None,
                    history=None, epochs=None, loss=None, activation_names=None,
                    name="arrays"):
        """Build a run in memory from arrays recorded elsewhere; every view reads it.

        Per-snapshot arrays have the snapshot first (snapshot 0 = before
        training, unless ``epochs`` says otherwise). Each argument given for
        the train samples may instead be a dict by source (``"train"``,
        ``"validation"``, ``"grid"``, ``"mesh"``), e.g.
        ``outputs={"train": P, "mesh": P_mesh}`` with
        ``inputs={"train": X, "mesh": mesh_points}``. Arrays are not copied.

        Args:
            inputs: the samples ``(N, d)``.
            targets: their targets ``(N,)`` or ``(N, k)``.
            activations: ``{hidden layer: (S, N, units)}``.
            preactivations: ``{hidden layer: (S, N, units)}`` (z-values).
            outputs: the model's outputs ``(S, N, k)`` (or ``(S, N)`` for one unit).
            per_sample_loss: ``(S, N)``; default: computed from the outputs
                with ``loss``.
            weights: ``{layer: {weight name: (S, ...)}}``; ``gradients`` alike.
            history: ``{key: (E,)}`` per-epoch values (``loss``, ``accuracy``,
                ...); default: ``loss`` and, for cross-entropies, ``accuracy``
                at every whole epoch after snapshot 0, from the outputs.
            epochs: the epoch of each snapshot ``(S,)``; default ``0 .. S - 1``.
            loss: the loss name (``"binary_crossentropy"``,
                ``"categorical_crossentropy"``, ``"mse"``, ...); default: binary
                cross-entropy for one output unit, categorical otherwise.
            activation_names: ``{layer: activation name}`` for the layer list.
            name: the run's name.

        Returns:
            A :class:`Run` (``path`` is ``"<in memory>"``).

        Raises:
            OptionError: an array has the wrong shape; the message names it.

        Example:
            >>> run = Run.from_arrays(inputs=X, targets=y,                 # doctest: +SKIP
            ...                       activations={"hidden": A}, outputs=P)
            >>> Scene.part1(run).plot(epoch=10)                           # doctest: +SKIP
        """
        from replay.io import memory

        store = memory.arrays_store(
            inputs=inputs, targets=targets, activations=activations,
            preactivations=preactivations, outputs=outputs, per_sample_loss=per_sample_loss,
            weights=weights, gradients=gradients, history=history, epochs=epochs, loss=loss,
            activation_names=activation_names)
        if not isinstance(name, str) or not name or "/" in name:
            raise OptionError(f"name must be a non-empty run name without '/'. Got {name!r}.")
        run = cls.__new__(cls)
        run.path = memory.IN_MEMORY
        run.name = name
        run._handle = None
        run._store = store
        run._in_memory = True
        run._model_file = None
        run._read_metadata()
        if history is None:
            memory.add_derived_history(run, store)
            run._read_metadata()
        return run

    def _read_metadata(self):
        """Read what a run holds (attributes, layers, snapshot count) from its store."""
        store = self._store
        self.attrs = {key: attributes.decode(value) for key, value in store.attrs.items()}
        self.layers = _layer_infos(self.attrs.get("layers", []), self)
        epochs = store[schema.SNAPSHOT_EPOCHS]
        if len(epochs.shape) != 1:
            raise RunFileError(
                f"The snapshot index of run {self.name!r} in '{self.path}' has shape "
                f"{epochs.shape}, not one epoch per snapshot; the file is damaged.")
        self.n_snapshots = int(epochs.shape[0])
        if isinstance(store, HDF5Store) and self.n_snapshots > 1:
            self.n_snapshots = _increasing_prefix(epochs[:])
        self._history = None
        self._facts = None
        self._checked = set()  # per-snapshot datasets whose shape was checked
        self._landscapes = {}  # Run.landscape's, by options

    # -- file handling -------------------------------------------------------

    def _open_group(self, run):
        if self._handle is None:
            self._handle = runfile.open_file(self.path, locking=not self._lock_free)
        try:
            return runfile.open_run_group(self._handle, self.path, run)
        except Exception:
            self.close()
            raise

    def _make_store(self, group):
        """The store of a run group: as stored, or a DeepReplay group read through numpy."""
        if deepreplay.is_deepreplay_group(group):
            return deepreplay.open_store(group, self.path, self._model_file)
        return HDF5Store(group, self.path)

    @property
    def _group(self):
        """The run's store (:mod:`replay.io.store`): ``path in``, ``[path]``, ``get``, ``attrs``."""
        store = self._store
        if store is None or not store.valid:
            if self._handle is None or not self._handle.id.valid:
                self._handle = runfile.open_file(self.path, locking=not self._lock_free)
            store = self._store = self._make_store(self._handle[self.name])
        return store

    @classmethod
    def _following(cls, path, run=None):
        """Open a run to follow its recording: without HDF5's file lock, which would
        stop the recorder from opening the file (see ``runfile.open_file``)."""
        following = cls.__new__(cls)
        following._lock_free = True
        following.__init__(path, run)
        return following

    @property
    def in_memory(self):
        """Whether the run was built from arrays (:meth:`from_arrays`), not read from a file."""
        return self._in_memory

    def refresh(self):
        """Read again what the recorder has written since: snapshots, history, attributes.

        A run can be read while it is being recorded (another process writes
        it; see ``docs/run-file-schema.md``). ``n_snapshots``, ``complete``,
        ``history`` and the arrays stay as they were when the run was opened
        (or last refreshed) until this is called. It reopens the file (a few
        milliseconds); a run in memory does not change.

        Returns:
            The number of snapshots that appeared.
        """
        if self._in_memory:
            return 0
        before = self.n_snapshots
        self.close()
        self._load(self.name)
        return self.n_snapshots - before

    def follow(self, *, interval=1.0, start=0):
        """Yield the index of every snapshot from ``start`` on, as the recorder writes it.

        For watching a run while it trains (in another process): yields the
        snapshots there are, then polls every ``interval`` seconds
        (:meth:`refresh`) and yields each new one; ends once the run is
        complete, or when its recording stopped without completing (the
        trainer was killed). Between two indices the run is refreshed, so
        ``run.n_snapshots`` and the arrays cover every yielded snapshot.
        See :mod:`replay.live` (``show_live`` for notebooks, ``watch_png``).

        Example:
            >>> run = Run("live.h5", "relu")  # doctest: +SKIP
            >>> for index in run.follow(interval=0.5):  # doctest: +SKIP
            ...     print(index, run.epochs[index])
        """
        if interval <= 0:
            raise OptionError(
                f"interval must be a positive number of seconds. Got {interval!r}.")
        return self._follow(interval, start)

    def _follow(self, interval, start):
        index = start if start >= 0 else max(0, self.n_snapshots + start)
        idle = 0
        while True:
            while index < self.n_snapshots:
                yield index
                index += 1
            if self._in_memory or self.complete:
                return
            time.sleep(interval)
            try:
                new = self.refresh()
            except FileBusyError:
                continue  # the writer holds the file for a moment (creating datasets)
            if self.complete:
                continue  # yields what is left, then ends
            if new:
                idle = 0
            elif not runfile.writer_alive(self.path):
                idle += 1
                if idle >= FOLLOW_ENDED_AFTER_POLLS:
                    return  # the recording ended without completing (killed)

    def close(self):
        """Close the file handle (it reopens on the next read)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if not self._in_memory:
            release = getattr(self._store, "release", None)
            if release is not None:
                release()  # what the store keeps refers back to it: free it now
            self._store = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_handle"] = None
        if not state.get("_in_memory"):
            state["_store"] = None  # reopened from the file in the other process
        return state

    def __repr__(self):
        return (f"Run({self.path!r}, {self.name!r}: {self.n_snapshots} snapshots, "
                f"{'complete' if self.complete else 'incomplete'})")

    def _repr_html_(self):
        """A notebook shows the run as a table: snapshots, state, task, layers, last metrics."""
        from html import escape

        epochs = self.epochs
        span = f"{float(epochs[0]):g} to {float(epochs[-1]):g}" if len(epochs) else "none"
        state = "complete" if self.complete else "incomplete"
        if self.stopped_early:
            state += " (stopped early)"
        if self.diverged_epoch is not None:
            state += f", diverged at epoch {self.diverged_epoch:g}"
        history = self.history
        last = ", ".join(f"{key} {float(values[-1]):.4g}" for key, values in history.items()
                         if key != "epoch" and len(values))
        layers = "<br>".join(
            escape(f"{layer.name}: {layer.class_name}, {layer.units} unit"
                   f"{'' if layer.units == 1 else 's'}, {layer.activation}, {layer.role}")
            for layer in self.layers)
        rows = [("run", self.name), ("file", str(self.path)),
                ("snapshots", f"{self.n_snapshots} (epochs {span})"), ("state", state),
                ("task", self.task), ("last epoch", last or "no history")]
        hparams, trial = self.hparams, self.trial
        if hparams:
            rows.append(("hyperparameters", format_hparams(hparams)))
        if trial:
            rows.append(("trial", format_hparams(trial)))
        body = "".join(f"<tr><th style='text-align:left'>{escape(str(key))}</th>"
                       f"<td style='text-align:left'>{escape(str(value))}</td></tr>"
                       for key, value in rows)
        body += ("<tr><th style='text-align:left'>layers</th>"
                 f"<td style='text-align:left'>{layers or 'none'}</td></tr>")
        return f"<table>{body}</table>"

    # -- metadata ------------------------------------------------------------

    @property
    def complete(self):
        """Whether training ended normally (``on_train_end`` was reached)."""
        return bool(self.attrs.get("complete", False))

    @property
    def hparams(self):
        """The hyperparameters the run was trained with: ``{name: JSON scalar}``.

        Written by ``Recorder(hparams=...)`` and the tuner adapters (run
        attribute ``hparams``, see ``docs/run-file-schema.md``); ``{}`` when
        the run has none. A new dict on every call.

        Raises:
            RunFileError: the attribute is not JSON text of a flat object of
                numbers, strings, booleans and nulls; the message names the
                file, the run and the attribute.

        Example:
            >>> run.hparams                                  # doctest: +SKIP
            {'activation': 'relu', 'learning_rate': 0.05}
        """
        return self._json_object(schema.HPARAMS_ATTRIBUTE, scalars=True)

    @property
    def trial(self):
        """The trial of a search that recorded the run, e.g. ``{"engine": "keras_tuner",
        "id": "03", "continues": "01"}``; ``{}`` outside a search. A new dict on every call.

        Raises:
            RunFileError: the attribute is not JSON text of an object.
        """
        return self._json_object(schema.TRIAL_ATTRIBUTE, scalars=False)

    def _json_object(self, attribute, *, scalars):
        """Run attribute ``attribute`` as a dict (``{}`` when absent), or a RunFileError."""
        return attributes.json_object(self.attrs.get(attribute), attribute, run=self.name,
                                      path=self.path, scalars=scalars)

    @property
    def subclassed(self):
        """Whether the model was a subclassed ``keras.Model``: its weights, gradients,
        outputs and losses are recorded, no hidden activations (they need a Sequential
        or functional model), so no figure shows its feature space."""
        return bool(self.attrs.get("subclassed", False))

    @property
    def stopped_early(self):
        """Whether a callback (e.g. ``EarlyStopping``) stopped training early."""
        return bool(self.attrs.get("stopped_early", False))

    @property
    def task(self):
        """``"classification"`` or ``"regression"``: what the model was trained for.

        Recorded from the loss (or ``Recorder(task=...)``); runs recorded
        before it was stored get it from their loss's name.
        """
        task = self.attrs.get("task")
        return task if task in TASKS else infer_task(self.attrs.get("loss"))

    @property
    def n_outputs(self):
        """The number of output units the recorder noted, or ``None`` when the run
        does not say (or says something that is not a positive integer)."""
        value = self.attrs.get("n_outputs")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            return None
        return int(value)

    @property
    def diverged_epoch(self):
        """The first epoch whose logged loss is NaN or infinite, or ``None``.

        Training diverged there (usually a learning rate too large): later
        snapshots hold NaN values that no picture can show.
        """
        loss = self.history.get("loss")
        if loss is None or not len(loss):
            return None
        bad = np.flatnonzero(~np.isfinite(loss))
        return float(self.history[schema.HISTORY_INDEX][bad[0]]) if bad.size else None

    @property
    def outputs_are_logits(self):
        """Whether the recorded outputs are logits (the loss was ``from_logits=True``)."""
        return bool(self.attrs.get("from_logits", False))

    @property
    def epochs(self):
        """Array ``(n_snapshots,)``: the training epoch of each snapshot.

        0 is the state before training; with per-batch snapshots the values
        are fractional (2.5 = half-way through the third epoch).
        """
        return self._group[schema.SNAPSHOT_EPOCHS][: self.n_snapshots]

    @property
    def steps(self):
        """Array ``(n_snapshots,)``: batches trained before each snapshot."""
        return self._group[schema.SNAPSHOT_STEPS][: self.n_snapshots]

    @property
    def hidden_layers(self):
        """Names of the layers whose activations were recorded."""
        return [layer.name for layer in self.layers if layer.hidden]

    @property
    def layer_names(self):
        return [layer.name for layer in self.layers]

    @property
    def sources(self):
        """The recorded input kinds: some of train, validation, grid, mesh."""
        return [source for source in schema.SOURCES if schema.inputs(source) in self._group]

    @property
    def history(self):
        """Per-epoch values Keras logged (``loss``, metrics, ``val_*``, ``lr``).

        A dict of name → array of length ``n_epochs``; ``history["epoch"]``
        holds the 1-based epoch numbers, and is there whenever the dict is
        not empty.
        """
        if self._history is None:
            group = self._group.get(schema.HISTORY)
            if group is None or schema.HISTORY_INDEX not in group:
                self._history = {}  # no epoch finished (or no index: nothing to trust)
            else:
                # history/epoch is written last: a run killed while writing an
                # epoch can hold longer arrays of other keys; that tail is dropped.
                length = _increasing_prefix(group[schema.HISTORY_INDEX][:])
                history = {}
                for key in group:
                    values = group[key]
                    if len(values.shape) != 1 or values.shape[0] < length:
                        raise RunFileError(
                            f"History {key!r} of run {self.name!r} in '{self.path}' has shape "
                            f"{values.shape} for {length} epochs; the file is damaged.")
                    history[key] = values[:length]
                self._history = history
        return self._history

    def layer(self, name):
        """Return the :class:`LayerInfo` of a layer, by name."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise LayerNotFoundError(
            f"No layer {name!r} in run {self.name!r} of '{self.path}'. Layers: "
            f"{', '.join(self.layer_names)} (hidden: {', '.join(self.hidden_layers)})."
        )

    # -- arrays --------------------------------------------------------------

    def snapshot_index(self, epoch):
        """Return snapshot ``epoch`` as an index ``0 .. n_snapshots - 1``, or raise.

        This is the one check of an epoch: views, scenes and the command line
        all come here.

        Two ways to name a snapshot: an **integer** is its index (0 is the
        state before training; negative values count from the end, ``-1``
        is the last snapshot); a **float** is its epoch value, as in
        :attr:`epochs` (``2.5`` is half-way through the third epoch of a
        per-batch run; ``3.0`` the snapshot after epoch 3).

        Args:
            epoch: an integer index or a float epoch value.

        Raises:
            EpochOutOfRangeError: ``epoch`` is neither, or names no snapshot
                of this run; the message names the valid range (or the
                nearest recorded epochs) and the error carries ``value`` and
                ``n_snapshots``.
        """
        n = self.n_snapshots
        details = {"value": epoch, "n_snapshots": n, "run": self.name}
        if n == 0:
            kept = (" Only the weights before training are kept: "
                    "Run.initial_weights(layer) reads them." if self.has_initial_weights else "")
            raise EpochOutOfRangeError(
                f"Run {self.name!r} of '{self.path}' holds no snapshots: its recording stopped "
                "(or is still starting) before snapshot 0, the state before training, was "
                f"written.{kept} Record it again, or wait for the recorder to write it.",
                **details)
        if isinstance(epoch, (float, np.floating)):
            return self._snapshot_at(float(epoch), details)
        if isinstance(epoch, (bool, np.bool_)) or not hasattr(epoch, "__index__"):
            raise EpochOutOfRangeError(
                f"epoch must be an integer snapshot index or a float epoch value. Got "
                f"{epoch!r}.", **details)
        index = int(epoch)
        if not -n <= index < n:
            raise EpochOutOfRangeError(
                f"Epoch {epoch} is out of range for run {self.name!r} of '{self.path}': "
                f"it holds snapshots {describe_snapshots(n)}.", **details)
        return index % n

    def _snapshot_at(self, value, details):
        """The index of the snapshot whose epoch is ``value``, or an error naming the nearest."""
        epochs = np.asarray(self.epochs, dtype=np.float64)
        if len(epochs) and np.isfinite(value):
            index = int(np.argmin(np.abs(epochs - value)))
            if abs(epochs[index] - value) <= 1e-6 * max(1.0, abs(value)):
                return index
            nearest = sorted(np.argsort(np.abs(epochs - value))[:2])
            hint = " or ".join(f"{epochs[i]:g} (snapshot {i})" for i in nearest)
        else:
            hint = "none"
        raise EpochOutOfRangeError(
            f"No snapshot of run {self.name!r} of '{self.path}' is at epoch {value:g}; the "
            f"nearest recorded epochs are {hint}. Give an integer to pick a snapshot by "
            "index.", **details)

    def select(self, epochs=None):
        """Return the snapshot indices of an epoch selection, checked.

        Args:
            epochs: ``None`` (every snapshot), a ``range``, a ``slice``, a
                string ``"start:stop:step"`` (parts optional, e.g. ``"::2"``;
                see :func:`parse_epoch_selection`) or an iterable of epochs
                (negative ones count from the end). A string that reaches
                the end of the run ends on the final snapshot, even when
                its step skips it (see :func:`selection_with_final`):
                ``"0:150:2"`` of a 150-epoch run selects 0, 2, ..., 148,
                150. A ``slice`` or ``range`` keeps Python's semantics
                exactly, as code slicing a run expects.

        Returns:
            A list of indices ``0 .. n_snapshots - 1``, in the order selected.

        Raises:
            OptionError: a malformed string, or a step of 0.
            EpochOutOfRangeError: an epoch outside the run.
            EmptySelectionError: the selection selects no snapshot.

        Example:
            >>> run.select("0:150:50")   # doctest: +SKIP
            [0, 50, 100, 150]
            >>> run.select("0:150:40")   # doctest: +SKIP
            [0, 40, 80, 120, 150]
            >>> run.select(slice(0, 150, 40))   # doctest: +SKIP
            [0, 40, 80, 120]

            Of a 150-epoch run (151 snapshots), the string adds the final
            snapshot its step skips; the slice keeps Python's semantics.
        """
        n = self.n_snapshots
        if epochs is None:
            return list(range(n))
        given = epochs
        if isinstance(epochs, str):
            epochs = parse_epoch_selection(epochs)
            selected = selection_with_final(epochs, n)
        elif isinstance(epochs, slice):
            if epochs.step == 0:
                raise OptionError(
                    f"The epoch selection {given!r} has a step of 0; use 1 or more.")
            selected = list(range(*epochs.indices(n)))
        else:
            selected = []
            for epoch in epochs:
                try:
                    selected.append(self.snapshot_index(epoch))
                except EpochOutOfRangeError as error:
                    error.value = given
                    raise
        if not selected:
            raise EmptySelectionError(
                f"The epoch selection {given!r} selects no snapshot of run {self.name!r}: "
                f"it holds snapshots 0..{n - 1}.", value=given, n_snapshots=n, run=self.name)
        return selected

    def _check_source(self, source):
        if source not in schema.SOURCES:
            raise OptionError(
                f"source must be one of {', '.join(schema.SOURCES)}. Got {source!r}."
            )
        if schema.inputs(source) not in self._group:
            raise LayerNotFoundError(
                f"Run {self.name!r} of '{self.path}' has no {source!r} data. It has: "
                f"{', '.join(self.sources)}."
                + (" Probe points are recorded only for 2-D inputs."
                   if source in ("grid", "mesh") else "")
            )

    def _read(self, name, epoch, what):
        index = self.snapshot_index(epoch)
        return self._per_snapshot(name, what)[index]

    def _read_all(self, name, what, epochs=None):
        dataset = self._per_snapshot(name, what)
        if epochs is None:
            return dataset[: self.n_snapshots]
        indices = [self.snapshot_index(epoch) for epoch in epochs]
        return dataset[np.asarray(indices)] if indices else dataset[:0]

    def _per_snapshot(self, name, what):
        """The dataset ``name`` with one row per snapshot, checked, or a clear error.

        Checked once per name: animations read the same datasets frame after frame.
        """
        group = self._group
        if name in self._checked:
            return group[name]
        if name not in group:
            if schema.summary(name, "histogram") in group:
                raise LayerNotFoundError(
                    f"Run {self.name!r} of '{self.path}' keeps its {what} as summaries only "
                    "(the recorder's size budget): LayerViolins and std_per_layer() read them. "
                    "Record with Recorder(..., max_snapshot_bytes=None) to store the values.")
            raise LayerNotFoundError(f"Run {self.name!r} of '{self.path}' has no {what}.")
        dataset = group[name]
        shape = tuple(dataset.shape)
        if not shape or shape[0] < self.n_snapshots:
            raise RunFileError(
                f"{name!r} of run {self.name!r} in '{self.path}' holds "
                f"{shape[0] if shape else 'no'} rows for {self.n_snapshots} snapshots; the "
                "file is damaged.")
        problem = shapes.shape_problem(name, shape[1:], self._shape_facts())
        if problem is not None:
            raise RunFileError(
                f"{name!r} of run {self.name!r} in '{self.path}' has shape {shape}, which "
                f"disagrees with the run's attributes: {problem}. The file is damaged "
                "(record the run again, or restore the file).")
        self._checked.add(name)
        return dataset

    def _shape_facts(self):
        """What the run's attributes say about its arrays' shapes (:mod:`replay.io.shapes`)."""
        if self._facts is None:
            rows = {}
            for source in self.sources:
                shape = tuple(self._group[schema.inputs(source)].shape)
                probe = source in schema.PROBE_SOURCES
                if len(shape) != 3 if probe else len(shape) < 2:
                    raise RunFileError(
                        f"The {source} inputs of run {self.name!r} in '{self.path}' have "
                        f"shape {shape}; the file is damaged.")
                rows[source] = shape[:-1] if probe else shape[:1]
            raw_layers = self.attrs.get("layers") or []
            self._facts = shapes.ShapeFacts(
                rows=rows, layers={layer.name: layer for layer in self.layers},
                shape_given=frozenset(info["name"] for info in raw_layers if "shape" in info),
                n_outputs=self.n_outputs, weight_shape=self._stored_weight_shape)
        return self._facts

    def _stored_weight_shape(self, layer, weight):
        """The per-snapshot shape of a stored weight, or ``None`` when it is not stored."""
        path = schema.weights(layer, weight)
        return tuple(self._group[path].shape[1:]) if path in self._group else None

    def inputs(self, source="train"):
        """Return the recorded inputs of ``source`` (train, validation, grid, mesh).

        Shapes: ``(N, d)`` for samples, ``(2 * n_lines, n_points, 2)`` for
        the grid lines, ``(n_y, n_x, 2)`` for the mesh.
        """
        self._check_source(source)
        inputs = self._group[schema.inputs(source)]
        probe = source in schema.PROBE_SOURCES
        if len(inputs.shape) != (3 if probe else len(inputs.shape)) or len(inputs.shape) < 2 \
                or (probe and inputs.shape[-1] != 2):
            raise RunFileError(
                f"The {source} inputs of run {self.name!r} in '{self.path}' have shape "
                f"{inputs.shape}; {'probe points are (lines or rows, points, 2)' if probe else 'samples are (N, features...)'}. "
                "The file is damaged.")
        return inputs[()]

    def targets(self, source="train"):
        """Return the recorded targets of ``train`` or ``validation``."""
        self._check_source(source)
        targets = self._group[schema.targets(source)]
        samples = self._group[schema.inputs(source)].shape[:1]
        if tuple(targets.shape[:1]) != tuple(samples):
            raise RunFileError(
                f"The {source} targets of run {self.name!r} in '{self.path}' have shape "
                f"{targets.shape} for {samples[0] if samples else 'no'} samples; the file is "
                "damaged.")
        outputs = schema.outputs(source)
        problem = shapes.target_problem(
            targets.shape, self._group[outputs].shape[2:] if outputs in self._group else None,
            task=self.task, n_outputs=self.n_outputs)
        if problem is not None:
            raise RunFileError(
                f"The {source} targets of run {self.name!r} in '{self.path}' have shape "
                f"{targets.shape}, which disagrees with the run's outputs: {problem}. The file "
                "is damaged.")
        return targets[()]

    def labels(self, source="train"):
        """Return integer class labels ``(N,)`` derived from the targets.

        One-hot targets give their argmax; single-column targets are rounded
        (0/1 for binary problems).
        """
        return targets_to_labels(self.targets(source))

    def predicted_labels(self, epoch, source="train"):
        """Return the classes the model predicts at ``epoch`` (argmax, or p > 0.5)."""
        return outputs_to_labels(self.probabilities(epoch, source=source))

    def weights(self, layer, epoch):
        """Return ``{weight name: array}`` of ``layer`` at snapshot ``epoch``."""
        info = self.layer(layer)
        return {
            name: self._read(schema.weights(layer, name), epoch, f"weight {name!r} of {layer!r}")
            for name in info.weights
        }

    @property
    def has_initial_weights(self):
        """Whether the weights before training are stored apart from snapshot 0
        (``initial/weights``, written before the first batch; runs recorded since
        this release)."""
        return schema.INITIAL in self._group

    def initial_weights(self, layer):
        """Return ``{weight name: array}`` of ``layer`` before training.

        Read from ``initial/weights``, which the recorder writes before the
        first batch, so a run whose trainer was killed before snapshot 0 was
        complete still has them; from snapshot 0 in runs without it.

        Raises:
            EpochOutOfRangeError: the run holds neither.
        """
        info = self.layer(layer)
        if not self.has_initial_weights:
            return self.weights(layer, 0)
        values = {}
        for name in info.weights:
            path = schema.initial_weights(layer, name)
            if path not in self._group:
                raise RunFileError(f"Run {self.name!r} of '{self.path}' has no {path!r}.")
            values[name] = self._group[path][()]
        return values

    def gradients(self, layer, epoch):
        """Return ``{weight name: gradient}`` of ``layer`` at snapshot ``epoch``.

        Recorded only when the recorder was asked for gradients, and only
        for trainable weights (batch-norm statistics, for example, have none).
        """
        info = self.layer(layer)
        if schema.gradients_group(layer) not in self._group:
            raise LayerNotFoundError(
                f"Run {self.name!r} of '{self.path}' has no gradients for {layer!r}; "
                "record with Recorder(..., gradients=True)."
            )
        names = info.weights if info.trainable_weights is None else info.trainable_weights
        return {
            name: self._read(schema.gradients(layer, name), epoch, f"gradient of {name!r}")
            for name in names
        }

    def activations(self, layer, epoch, *, source="train"):
        """Return the activations of a hidden ``layer`` at ``epoch``.

        Returns:
            Array ``(*source shape, units)``, e.g. ``(N, units)`` for ``train``.
        """
        self._check_layer_recorded(layer)
        self._check_source(source)
        return self._read(schema.activations(source, layer), epoch,
                          f"activations of {layer!r} on {source!r}")

    def preactivations(self, layer, epoch, *, source="train"):
        """Return the pre-activations (z-values) of a hidden ``layer`` at ``epoch``.

        Recorded on the train and validation samples (not on probe points).
        """
        self._check_layer_recorded(layer)
        self._check_source(source)
        return self._read(schema.preactivations(source, layer), epoch,
                          f"pre-activations of {layer!r} on {source!r}")

    def outputs(self, epoch, *, source="train"):
        """Return the model's outputs at ``epoch``: ``(*source shape, n_outputs)``."""
        self._check_source(source)
        return self._read(schema.outputs(source), epoch, f"outputs on {source!r}")

    def probabilities(self, epoch, *, source="train"):
        """Return the class probabilities of a classification run at ``epoch``.

        The recorded outputs, through a sigmoid (one output) or a softmax
        (several) when they are logits (:attr:`outputs_are_logits`); as
        recorded otherwise.

        Returns:
            Array ``(*source shape, n_outputs)``: probabilities of class 1 for
            one output, rows summing to 1 for several.
        """
        self.check_classification("probabilities")
        return self.output_probabilities(self.outputs(epoch, source=source))

    def output_probabilities(self, outputs):
        """Turn recorded outputs (any snapshots, any source) into probabilities.

        The conversion :meth:`probabilities` applies, for arrays read in bulk
        (e.g. by a view reading several snapshots at once).
        """
        outputs = np.asarray(outputs)
        if not self.outputs_are_logits:
            return outputs
        return outputs_to_probabilities(outputs)

    def check_classification(self, what):
        """Raise :class:`OptionError` unless this is a classification run (``what`` it lacks)."""
        if self.task != "classification":
            raise OptionError(
                f"Run {self.name!r} of '{self.path}' is a {self.task} (loss "
                f"{self.attrs.get('loss')!r}), so it has no {what}. Use the regression "
                "views (e.g. replay.views.PredictionScatter) or Scene.default(run)."
            )

    def per_sample_loss(self, epoch, *, source="train"):
        """Return the loss of every sample at ``epoch`` (the model's own loss)."""
        self._check_source(source)
        return self._read(schema.loss(source), epoch, f"per-sample loss on {source!r}")

    def series(self, name, epochs=None):
        """Return a per-snapshot array for several snapshots at once.

        Args:
            name: dataset path inside the run (see :mod:`replay.io.schema`),
                e.g. ``schema.loss("train")`` or ``schema.weights("hidden", "kernel")``.
            epochs: snapshot indices; ``None`` for all.

        Returns:
            Array ``(len(epochs), ...)``.
        """
        return self._read_all(name, repr(name), epochs)

    def _check_layer_recorded(self, layer):
        info = self.layer(layer)
        if not info.hidden:
            raise LayerNotFoundError(
                f"Layer {layer!r} of run {self.name!r} has no recorded activations; "
                f"hidden layers are: {', '.join(self.hidden_layers)}."
            )

    def arrays(self):
        """Return ``{dataset path: (shape, dtype, bytes)}`` of every array in the run."""
        return self._group.arrays()

    def diagnose(self, **options):
        """Check the run for dead, saturated or symmetric units, vanishing or exploding
        gradients, divergence, a stalled loss and frozen weights.

        See :func:`replay.diagnose.diagnose` (``checks=``, ``source=``) and
        ``docs/diagnose.md``; returns a :class:`replay.diagnose.Diagnosis`.
        """
        from replay.diagnose import diagnose

        return diagnose(self, **options)

    def landscape(self, **options):
        """Return the loss landscape around this run's weights and its path through it.

        The plane through the final weights spanned by the top two principal
        directions of the weight trajectory (or filter-normalised random
        ones), the path projected on it, the loss on a grid over it, and the
        loss along the straight line from the initial to the final weights;
        see :func:`replay.landscape.compute_landscape` (``directions=``,
        ``resolution=``, ``margin=``, ``line=``, ``seed=``) and
        ``docs/landscape.md``. Computed with numpy for Dense and convolution
        chains, read from the file when it was computed with the model
        (:func:`replay.record.landscape.record_landscape`); kept for the
        next call with the same options.

        Returns:
            A :class:`replay.landscape.Landscape`.
        """
        from replay.landscape import run_landscape

        key = tuple(sorted(options.items()))
        if key not in self._landscapes:
            self._landscapes[key] = run_landscape(self, **options)
        return self._landscapes[key]

    def to_xarray(self, layer=None, **options):
        """Return the per-sample arrays as an ``xarray`` object with dimensions
        ``(snapshot, sample, unit)``; see :func:`replay.interop.to_xarray`.

        Needs ``pip install 'keras-replay[xarray]'``.
        """
        from replay.interop import to_xarray

        return to_xarray(self, layer, **options)

    def history_frame(self):
        """Return the per-epoch history as a ``pandas.DataFrame`` indexed by epoch.

        Needs pandas (``pip install 'keras-replay[xarray]'``); see
        :func:`replay.interop.history_frame`.
        """
        from replay.interop import history_frame

        return history_frame(self)


#: The fields of a layer in the ``layers`` attribute, and their types.
_LAYER_FIELDS = {"name": str, "class_name": str, "units": int, "activation": str,
                 "weights": list, "hidden": bool, "shape": list, "trainable_weights": list,
                 "preactivations": bool, "storage": dict}


def _layer_infos(layers, run):
    """The :class:`LayerInfo` of a run's ``layers`` attribute, or a clear error when damaged."""
    def damaged(why):
        return RunFileError(
            f"The 'layers' attribute of run {run.name!r} in '{run.path}' is damaged: {why}.")

    if not isinstance(layers, list):
        raise damaged(f"a list of layers was expected, got {type(layers).__name__}")
    infos = []
    for info in layers:
        if not isinstance(info, dict):
            raise damaged(f"a layer is {info!r}, not a dict")
        unknown = set(info) - set(_LAYER_FIELDS)
        missing = {"name", "class_name", "units", "activation"} - set(info)
        if unknown or missing:
            raise damaged(f"layer fields {sorted(unknown)} unknown, {sorted(missing)} missing")
        for key, kind in _LAYER_FIELDS.items():
            value = info.get(key)
            if value is not None and not isinstance(value, kind) or (
                    kind is int and isinstance(value, bool)):
                raise damaged(f"{key!r} of layer {info.get('name')!r} is {value!r}")
        if info["units"] < 0 or any(not isinstance(size, int) or size < 0
                                    for size in info.get("shape") or []):
            raise damaged(f"layer {info['name']!r} has a negative size")
        infos.append(LayerInfo(**info))
    return infos


def _increasing_prefix(index):
    """The length of the longest prefix of a snapshot or history index that increases.

    Epochs only grow. A writer whose disk filled can leave its index longer
    than what reached the disk: HDF5 wrote the new length but not the rows,
    which read as the fill value (0, or NaN). Those rows are no snapshots.
    """
    index = np.asarray(index, dtype=np.float64)
    if index.size < 2:
        return int(index.size)
    bad = np.flatnonzero(~(np.diff(index) > 0))
    return int(bad[0] + 1) if bad.size else int(index.size)


def describe_snapshots(n_snapshots):
    """Return the valid epochs of a run of ``n_snapshots``, as error messages word them."""
    n = n_snapshots
    return (f"0..{n - 1} (0 is the state before training; negative values count from "
            f"the end, down to -{n})")


def parse_epoch_selection(text, *, name="epochs"):
    """Turn ``"start:stop:step"`` (parts optional, e.g. ``"::2"``) into a ``slice``.

    The one parser of epoch selections (``Run.select``, ``--epochs``).

    Args:
        text: the selection.
        name: what to call it in messages, e.g. ``"--epochs"``.

    Raises:
        OptionError: the text is not of that form, or its step is 0.
    """
    parts = text.split(":")
    try:
        if len(parts) > 3:
            raise ValueError(text)
        numbers = [int(part) if part.strip() else None for part in parts]
    except ValueError:
        raise OptionError(
            f"{name} {text!r} must look like start:stop:step with integers, "
            "e.g. 0:150:2 or ::5."
        ) from None
    if len(numbers) == 3 and numbers[2] == 0:
        raise OptionError(
            f"{name} {text!r}: the step cannot be 0. Use a positive step, e.g. ::2 "
            "for every second snapshot."
        )
    return slice(*numbers)


def selection_with_final(selection, n_snapshots):
    """Return the indices of a parsed selection string, ending on the final snapshot.

    A selection string (``--epochs``, ``Scene.save(epochs=...)``) picks the
    frames of a picture or an animation, and the final state of a training
    is the one frame a viewer must see. Python's slice semantics would drop
    it whenever the step does not land on it: ``0:150:2`` of a 150-epoch
    run (snapshots 0..150) stops at 148. So the rule is: the indices are
    ``range(*selection.indices(n_snapshots))``, as in Python, and when the
    selection **reaches the end of the run** -- its stop is omitted or is
    the final snapshot's index or beyond (``stop >= n_snapshots - 1``) --
    and its step is positive, the final snapshot ``n_snapshots - 1`` is
    appended if the step skipped it. A negative stop (``":-1"``) or a stop
    before the final snapshot keeps Python's meaning (the stop excluded,
    nothing appended), and so does a negative step.

    Args:
        selection: a ``slice`` from :func:`parse_epoch_selection`.
        n_snapshots: the number of snapshots of the run.

    Returns:
        A list of snapshot indices (empty if the selection selects none).

    Example:
        >>> selection_with_final(slice(0, 150, 2), 151)[-3:]
        [146, 148, 150]
        >>> selection_with_final(slice(0, 150, 2), 150)[-2:]   # 0..149: adds 149
        [148, 149]
        >>> selection_with_final(slice(0, 100, 2), 151)[-1]    # stops before the end
        98
    """
    selected = list(range(*selection.indices(n_snapshots)))
    step = 1 if selection.step is None else selection.step
    reaches_end = selection.stop is None or selection.stop >= n_snapshots - 1
    final = n_snapshots - 1
    if selected and step > 0 and reaches_end and selected[-1] != final:
        selected.append(final)
    return selected


#: What a run's model can be trained for (:attr:`Run.task`).
TASKS = ("classification", "regression")
#: Words in a loss name that make it a classification loss.
CLASSIFICATION_LOSSES = ("crossentropy", "focal", "hinge")


def infer_task(loss):
    """Return ``"classification"`` or ``"regression"`` from the name of a loss.

    Cross-entropies, focal and hinge losses classify; every other loss
    (mean squared error, Huber, ...) regresses.
    """
    name = str(loss).lower().replace("_", "")
    return ("classification" if any(word in name for word in CLASSIFICATION_LOSSES)
            else "regression")


def outputs_to_probabilities(logits):
    """Return probabilities from logits ``(..., n)``: sigmoid for ``n == 1``, else softmax."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.shape[-1] == 1:
        return (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.float32)  # stable sigmoid
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exponentials = np.exp(shifted)
    return (exponentials / exponentials.sum(axis=-1, keepdims=True)).astype(np.float32)


def targets_to_labels(targets):
    """Return integer labels ``(N,)`` from targets ``(N,)``, ``(N, 1)`` or one-hot."""
    targets = np.asarray(targets)
    if targets.ndim > 2 or targets.ndim == 0:
        raise OptionError(
            f"Targets of shape {targets.shape} are not class labels (one per sample, or one "
            "one-hot row per sample), so they have no classes to colour or count.")
    if targets.ndim == 2 and targets.shape[1] > 1:
        return targets.argmax(axis=1)
    return np.rint(np.nan_to_num(targets.reshape(len(targets)))).astype(np.int64)


def outputs_to_labels(outputs, threshold=0.5):
    """Return predicted labels from outputs: argmax, or ``> threshold`` for one unit."""
    outputs = np.asarray(outputs)
    if outputs.ndim >= 2 and outputs.shape[-1] > 1:
        return outputs.argmax(axis=-1)
    return (outputs.reshape(outputs.shape[: outputs.ndim - 1] if outputs.ndim > 1
                            else outputs.shape) > threshold).astype(np.int64)


def format_hparams(hparams):
    """Return ``{"activation": "relu", "lr": 0.05}`` as ``"activation=relu, lr=0.05"``."""
    return ", ".join(f"{name}={format_hparam_value(value)}" for name, value in hparams.items())


def format_hparam_value(value):
    """A hyperparameter value as the CLI and tables print it: text bare, numbers short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
