"""The library's own exceptions.

Every error a user can cause (a wrong file, run, layer, epoch or option) is a
:class:`ReplayError`. The subclasses also derive from the matching built-in
exception, so ``except KeyError`` or ``except ValueError`` keeps working.
"""


class ReplayError(Exception):
    """Base class of every error raised by replay for bad input."""


class RunFileError(ReplayError, OSError):
    """The file is missing, is not HDF5, is not a replay file, or is damaged."""


class FileBusyError(RunFileError):
    """The run file is held by a writer that does not let readers in (for now)."""


class SchemaVersionError(RunFileError):
    """The run was written with a schema version this replay cannot read."""


class RunNotFoundError(ReplayError, KeyError):
    """The requested run is not in the file."""

    def __str__(self):  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class LayerNotFoundError(ReplayError, KeyError):
    """The requested layer is not in the run (or has no such array)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class RecordingError(ReplayError, ValueError):
    """The recorder was given something it cannot record."""


class OptionError(ReplayError, ValueError):
    """An option has a value replay does not accept."""


class EpochOutOfRangeError(ReplayError, IndexError):
    """The requested epoch (snapshot) was not recorded.

    Raised by :meth:`replay.Run.snapshot_index` and :meth:`replay.Run.select`,
    the one place that checks epochs; callers that word the error their own
    way (the command line) read the attributes instead of checking again.

    Attributes:
        value: the epoch or the selection as it was given.
        n_snapshots: how many snapshots the run holds: the valid epochs are
            ``0 .. n_snapshots - 1`` and ``-n_snapshots .. -1``.
        run: the name of the run.
    """

    def __init__(self, message, *, value=None, n_snapshots=None, run=None):
        super().__init__(message)
        self.value = value
        self.n_snapshots = n_snapshots
        self.run = run


class EmptySelectionError(EpochOutOfRangeError, OptionError):
    """An epoch selection (e.g. ``"200:300"``) selects no snapshot of the run.

    Both an :class:`EpochOutOfRangeError` (with its attributes) and an
    :class:`OptionError`.
    """


class EncodingError(ReplayError, OSError):
    """ffmpeg could not write the animation; the message ends with ffmpeg's own output."""


class BudgetWarning(UserWarning):
    """The recorder records less than asked, to keep a snapshot within its size budget.

    Issued once per run by :class:`replay.Recorder` (``max_snapshot_bytes=``);
    the message says what was dropped and which option gets it back.
    """


class RecordingWarning(UserWarning):
    """The recorder cannot record everything of this model, and records the rest.

    Issued once per run by :class:`replay.Recorder`, e.g. for a subclassed
    ``keras.Model`` (no hidden activations); the message says what is
    recorded and what would record the rest.
    """


class UnreadableRunWarning(UserWarning):
    """A run file of a collection (a directory or a glob) could not be read and was left out.

    Issued by :class:`replay.Runs` once per file; the message names the file
    and what is wrong with it. The other runs are read as usual.
    """
