"""The :class:`Recorder`'s arguments, checked once: :class:`RecorderOptions`.

Everything a user can get wrong in ``Recorder(...)`` is refused here, in the
constructor, with an :class:`replay.errors.OptionError` that names the
argument and echoes the value; what passes is stored as plain values (numpy
arrays, ints, names) that every recording of the recorder reads. No model
is needed: one is checked against these options when a recording starts
(:mod:`replay.record.recording`).
"""

import math
import os
from collections.abc import Mapping

import numpy as np

from replay.errors import OptionError
from replay.io import probes as probe_points_module
from replay.io import runfile
from replay.io.storage import check_storage_dtype
from replay.record import budget, run_names
from replay.record.capture import check_layers, check_quantities
from replay.record.gradients import check_gradients_option
from replay.run import TASKS as RUN_TASKS

#: The values of ``Recorder(task=...)``.
TASKS = ("auto", *RUN_TASKS)
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


class RecorderOptions:
    """The checked arguments of a :class:`replay.Recorder` (see its docstring for each).

    Attributes:
        path, run: the run file (a string) and the run's name in it.
        sources: ``{"train": (inputs, targets)}`` and, with validation data,
            ``"validation"``: float32 inputs and numeric targets.
        probe_points: ``{"grid": points, "mesh": points}`` over 2-D inputs, or ``{}``.
        probe_limits: the padded input range the probes cover (``None`` without probes).
        compression, static_compression: the HDF5 filters of the per-snapshot
            arrays and of the static ones (``"auto"`` resolved).
        hparams: ``{name: JSON scalar}`` stored in the run (``{}``: none).
        trial: ``{key: JSON scalar}`` saying which trial of a sweep the run is (``{}``: none).
        the others: as given, checked.
    """

    def __init__(self, path, run="run", inputs=None, targets=None, *,
                 validation_data=None, every_n_batches=None, probes="auto",
                 grid_lines=11, grid_points=500, mesh_resolution=100, padding=0.1,
                 overwrite=False, compression="auto", gradients="auto", writer="process",
                 task="auto", layers=None, quantities=None, max_samples=None,
                 storage_dtype="float16",
                 max_snapshot_bytes=budget.DEFAULT_MAX_SNAPSHOT_BYTES, recompute=True,
                 sample_seed=0, hparams=None, trial=None):
        if inputs is None or targets is None:
            raise OptionError(
                "Recorder needs inputs= and targets= (the samples whose activations "
                "and losses are recorded, usually the training data)."
            )
        check_run_name(run)
        self.path = os.fspath(path)
        if not run_names.is_directory(self.path):
            # A DeepReplay (or other foreign) file is refused now, not after fit starts.
            runfile.check_writable(self.path)
        self.run = run
        self.hparams = check_scalars(hparams, "hparams")
        self.trial = check_scalars(trial, "trial")
        self.sources = {"train": check_samples(inputs, targets, "inputs", "targets")}
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise OptionError(
                    "validation_data must be a tuple (inputs, targets). Got "
                    f"{type(validation_data).__name__}."
                )
            inputs = as_inputs(validation_data[0], "validation inputs")
            if inputs.shape[1:] != self.sources["train"][0].shape[1:]:
                raise OptionError(
                    f"validation inputs have shape {inputs.shape[1:]} per sample, the "
                    f"inputs {self.sources['train'][0].shape[1:]}; they must be samples of "
                    "the same kind."
                )
            self.sources["validation"] = check_samples(
                inputs, validation_data[1], "validation inputs", "validation targets")
        if task not in TASKS:
            raise OptionError(f"task must be one of {', '.join(TASKS)}. Got {task!r}.")
        self.task = task
        self.every_n_batches = None if every_n_batches is None else check_positive_integer(
            every_n_batches, "every_n_batches", "or None")
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
        self.probe_limits = None
        if probes is True or (probes == "auto" and is_2d):
            self.probe_limits = probe_limits(self.sources, padding)
            self.probe_points = {
                "grid": probe_points_module.grid_lines(self.probe_limits, grid_lines,
                                                       grid_points),
                "mesh": probe_points_module.mesh(self.probe_limits, mesh_resolution),
            }
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


def check_scalars(values, name):
    """Return ``values`` as a flat dict ``{str: JSON scalar}`` (``{}`` for ``None``).

    numpy scalars become Python ones; anything else (a list, an array, an
    object, NaN or an infinity, which JSON cannot hold) is an :class:`OptionError`
    naming the key.
    """
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise OptionError(f"{name} must be a dict {{name: value}}. Got "
                          f"{type(values).__name__}.")
    checked = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise OptionError(f"{name} keys must be strings. Got {key!r}.")
        if isinstance(value, np.generic):
            value = value.item()
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise OptionError(
                f"{name}[{key!r}] must be a number, a string, a bool or None (a flat "
                f"JSON object). Got {type(value).__name__} {value!r}.")
        if isinstance(value, float) and not math.isfinite(value):
            raise OptionError(f"{name}[{key!r}] must be finite (JSON holds no {value}).")
        checked[key] = value
    return checked


def check_samples(inputs, targets, inputs_name, targets_name):
    """Return ``(inputs, targets)`` as arrays if they are samples replay can record."""
    inputs = as_inputs(inputs, inputs_name)
    targets = as_targets(targets, targets_name)
    if len(inputs) != len(targets):
        raise OptionError(
            f"{inputs_name} and {targets_name} must have the same number of samples. "
            f"Got {len(inputs)} and {len(targets)}."
        )
    return inputs, targets


def probe_limits(sources, padding):
    """The input range of every source's samples, padded by ``padding`` on each side."""
    stacked = np.concatenate([inputs for inputs, _ in sources.values()])
    return probe_points_module.padded_limits(stacked, padding)


def as_inputs(values, what):
    """Return ``values`` as a float32 array of samples, or raise :class:`OptionError`."""
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


def as_targets(values, what):
    """Return ``values`` as a numeric array, or raise :class:`OptionError`."""
    targets = np.asarray(values)
    if targets.dtype.kind not in "fiub":
        raise OptionError(
            f"{what} must be numbers (class indices, one-hot rows or values), as model.fit "
            f"takes them. Got dtype {targets.dtype}; encode labels first, e.g. with "
            "numpy.unique(labels, return_inverse=True).")
    return targets


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


def check_compression(compression):
    """Raise :class:`OptionError` unless h5py can use ``compression``."""
    if compression in COMPRESSIONS or (isinstance(compression, (int, np.integer))
                                       and not isinstance(compression, bool)
                                       and 0 <= compression <= 9):
        return compression
    raise OptionError(
        f"compression must be None, 'gzip', 'lzf', 'auto' (the default) or a gzip level "
        f"0-9. Got {compression!r}.")
