"""replay: watch a Keras model learn.

Record a training run with :class:`Recorder` (a Keras callback), read it back
with :class:`Run` (numpy and h5py only) -- many runs at once (a directory of a
sweep's run files) with :class:`Runs` -- and render it with the views in
:mod:`replay.views`, scenes and files in :mod:`replay.render`, several runs
in :mod:`replay.compare`. The layout is in ``docs/architecture.md``.

Importing ``replay`` never imports Keras or a backend: :class:`Recorder` is
loaded on first use.
"""

from replay.collection import Runs
from replay.errors import (
    BudgetWarning,
    EmptySelectionError,
    EncodingError,
    EpochOutOfRangeError,
    FileBusyError,
    LayerNotFoundError,
    OptionError,
    RecordingError,
    RecordingWarning,
    ReplayError,
    RunFileError,
    RunNotFoundError,
    SchemaVersionError,
    UnreadableRunWarning,
)
from replay.io.memory import probe_points
from replay.io.runfile import list_runs
from replay.run import LayerInfo, Run

__version__ = "0.1.0"

__all__ = [
    "BudgetWarning",
    "EmptySelectionError",
    "EncodingError",
    "EpochOutOfRangeError",
    "LayerInfo",
    "LayerNotFoundError",
    "OptionError",
    "Recorder",
    "RecordingError",
    "RecordingWarning",
    "ReplayError",
    "Run",
    "Runs",
    "FileBusyError",
    "RunFileError",
    "RunNotFoundError",
    "SchemaVersionError",
    "UnreadableRunWarning",
    "list_runs",
    "probe_points",
]


def __getattr__(name):
    # The recorder subclasses keras.callbacks.Callback; importing it lazily
    # keeps `import replay` (and every replay of a file) free of Keras.
    if name == "Recorder":
        from replay.record.callback import Recorder

        return Recorder
    raise AttributeError(f"module 'replay' has no attribute {name!r}")
