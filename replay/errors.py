"""The library's own exceptions.

Every error a user can cause (a wrong file, run, layer, epoch or option) is a
:class:`ReplayError`. The subclasses also derive from the matching built-in
exception, so ``except KeyError`` or ``except ValueError`` keeps working.
"""


class ReplayError(Exception):
    """Base class of every error raised by replay for bad input."""


class RunFileError(ReplayError, OSError):
    """The file is missing, is not HDF5, is not a replay file, or is damaged."""


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


class EpochOutOfRangeError(ReplayError, IndexError):
    """The requested epoch (snapshot) was not recorded."""


class RecordingError(ReplayError, ValueError):
    """The recorder was given something it cannot record."""


class OptionError(ReplayError, ValueError):
    """An option has a value replay does not accept."""


class EncodingError(ReplayError, OSError):
    """ffmpeg could not write the animation; the message ends with ffmpeg's own output."""
