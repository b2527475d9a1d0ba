"""The run-file schema as code: every dataset and attribute path of a run.

This module is the one place that spells the layout of a run group (see
``docs/run-file-schema.md``); the recorder, the writers, :class:`replay.Run`
and the views build their paths with these functions, never with string
literals of their own. Changing the layout means changing this module and
:data:`SCHEMA_VERSION`.

Example:
    >>> activations("train", "hidden")
    'activations/train/hidden'
    >>> weights("hidden", "kernel")
    'weights/hidden/kernel'
"""

#: The ``format`` attribute of the root of every run file.
FORMAT_NAME = "replay run file"
#: The schema version this replay writes.
SCHEMA_VERSION = 1
#: The schema versions this replay reads.
SUPPORTED_SCHEMA_VERSIONS = (1,)

#: The kinds of recorded inputs. ``train`` and ``validation`` are samples
#: (with targets and per-sample loss); ``grid`` and ``mesh`` are probe points.
SOURCES = ("train", "validation", "grid", "mesh")
#: The sources with targets, pre-activations and per-sample losses.
SAMPLE_SOURCES = ("train", "validation")
#: The sources of probe points (2-D inputs only).
PROBE_SOURCES = ("grid", "mesh")

#: The snapshot index: the epoch of each snapshot, grown last (crash safety).
SNAPSHOT_EPOCHS = "snapshots/epoch"
#: Batches trained before each snapshot.
SNAPSHOT_STEPS = "snapshots/step"
#: The group of per-epoch Keras logs; ``history/epoch`` is its index.
HISTORY = "history"
#: The history key that indexes it: the 1-based epoch of each row, grown last.
HISTORY_INDEX = "epoch"
HISTORY_EPOCHS = f"{HISTORY}/{HISTORY_INDEX}"

#: Root attributes (the file) and run attributes that the reader checks.
FORMAT_ATTRIBUTE = "format"
VERSION_ATTRIBUTE = "schema_version"
#: The attribute by which a DeepReplay group is recognised.
LEGACY_ATTRIBUTE = "n_epochs"


def inputs(source):
    """Path of the recorded inputs of ``source`` (static)."""
    return f"inputs/{source}"


def targets(source):
    """Path of the targets of a sample source (static)."""
    return f"targets/{source}"


def outputs(source):
    """Path of the model's outputs on ``source``, one row per snapshot."""
    return f"outputs/{source}"


def loss(source):
    """Path of the per-sample loss on a sample source, one row per snapshot."""
    return f"loss/{source}"


def activations(source, layer):
    """Path of a hidden layer's activations on ``source``, one row per snapshot."""
    return f"activations/{source}/{layer}"


def preactivations(source, layer):
    """Path of a hidden layer's pre-activations (z-values) on a sample source."""
    return f"preactivations/{source}/{layer}"


def weights(layer, weight):
    """Path of one weight array of a layer, one row per snapshot."""
    return f"weights/{layer}/{weight}"


def gradients_group(layer):
    """Path of the group holding a layer's gradients."""
    return f"gradients/{layer}"


def gradients(layer, weight):
    """Path of the gradient of the loss for one weight of a layer, one row per snapshot."""
    return f"{gradients_group(layer)}/{weight}"


def history(key):
    """Path of one history key (``loss``, ``val_accuracy``, ``epoch``, ...)."""
    return f"{HISTORY}/{key}"

