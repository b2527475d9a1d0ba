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
#: The newest schema version this replay writes. Version 2 added float16
#: datasets, recomputed datasets (:data:`RECOMPUTED_ATTRIBUTE`), summaries
#: (:func:`summary`), sample subsets (:func:`sample_indices`) and the
#: ``storage`` entry of every layer; a version-1 reader would miss or
#: misread them. Version 3 added convolution recipes (``"op": "conv"``),
#: which a version-2 reader would take for damage. A run is written with
#: the oldest version that describes it (:func:`run_version`), so older
#: replays keep reading the runs that need nothing newer.
SCHEMA_VERSION = 3
#: The schema versions this replay reads.
SUPPORTED_SCHEMA_VERSIONS = (1, 2, 3)


def run_version(recipes):
    """The schema version of a run with these recipes (``{path: recipe}``): 3 with a convolution's.

    Example:
        >>> run_version({"outputs/train": {"op": "dense"}})
        2
    """
    return 3 if any(recipe.get("op") == "conv" for recipe in (recipes or {}).values()) else 2


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
#: The run attribute (JSON) of the datasets that are not stored but
#: recomputed on reading: ``{dataset path: recipe}`` (see
#: :mod:`replay.io.recompute`).
RECOMPUTED_ATTRIBUTE = "recomputed"
#: The run attribute (JSON text of a flat object ``{name: JSON scalar}``) of
#: the hyperparameters the run was trained with (``Recorder(hparams=...)``,
#: the tuner adapters); absent when none were given.
HPARAMS_ATTRIBUTE = "hparams"
#: The run attribute (JSON text of an object) naming the trial of a search
#: that recorded the run, e.g. ``{"engine": "keras_tuner", "id": "03",
#: "continues": "01"}``; absent outside a search.
TRIAL_ATTRIBUTE = "trial"

#: The per-layer quantities a recorder can store, and the model-level ones.
LAYER_QUANTITIES = ("weights", "activations", "preactivations", "gradients")
MODEL_QUANTITIES = ("outputs", "losses")
#: The statistics of a summary (:func:`summary`): per-unit ``mean`` and
#: ``std`` ``(S, units)``, the pooled ``histogram`` ``(S, SUMMARY_BINS)`` of
#: every value between the pooled ``range`` ``(S, 2)`` (min, max).
SUMMARY_STATISTICS = ("mean", "std", "histogram", "range")
SUMMARY_BINS = 256


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


#: The group of the weights before training: written with the run, before
#: the first batch, so a trainer killed before snapshot 0 is complete (its
#: outputs, losses and activations wait for Keras' first training step)
#: still leaves the one state a rerun cannot reproduce.
INITIAL = "initial"


def initial_weights(layer, weight):
    """Path of a weight before training: ``initial/weights/<layer>/<weight>`` (static)."""
    return f"{INITIAL}/weights/{layer}/{weight}"


def gradients_group(layer):
    """Path of the group holding a layer's gradients."""
    return f"gradients/{layer}"


def gradients(layer, weight):
    """Path of the gradient of the loss for one weight of a layer, one row per snapshot."""
    return f"{gradients_group(layer)}/{weight}"


def history(key):
    """Path of one history key (``loss``, ``val_accuracy``, ``epoch``, ...)."""
    return f"{HISTORY}/{key}"


def sample_indices(source):
    """Path of the indices (into the samples given to the recorder) of a recorded subset.

    Present when the recorder kept a subset of ``source`` (``max_samples=``
    or the size budget): ``inputs/<source>`` and ``targets/<source>`` hold
    those samples, in this order.
    """
    return f"samples/{source}"


def summary(dataset, statistic):
    """Path of one statistic (:data:`SUMMARY_STATISTICS`) of a per-snapshot dataset stored as a summary.

    Example:
        >>> summary(activations("train", "dense"), "std")
        'summaries/activations/train/dense/std'
    """
    return f"summaries/{dataset}/{statistic}"


def summary_group(dataset):
    """Path of the group holding the summary of ``dataset``."""
    return f"summaries/{dataset}"


#: The group of a loss landscape computed with the model (``replay.record.landscape``),
#: for models replay cannot evaluate with numpy; read by ``Run.landscape()``.
LANDSCAPE = "landscape"
#: The run attribute (JSON) describing the stored landscape: ``{"version",
#: "directions", "parameters", "runs"}`` (see ``docs/run-file-schema.md``).
LANDSCAPE_ATTRIBUTE = "landscape"
#: The stored landscape's own format version: a reader refuses a version it
#: does not know (older readers of the run ignore the group).
LANDSCAPE_VERSION = 1
#: Its arrays: the plane's ``origin`` (P,) and ``directions`` (2, P), their
#: ``explained_variance`` (2,) (NaN for random directions), the grid's axes
#: ``alpha`` (nx,) and ``beta`` (ny,), the ``surface`` (ny, nx), and the
#: straight line's ``line_t`` (T,) and ``line_loss`` (T,).
LANDSCAPE_ARRAYS = ("origin", "directions", "explained_variance", "alpha", "beta",
                    "surface", "line_t", "line_loss")


def landscape(name):
    """Path of one array of the stored landscape (a name of :data:`LANDSCAPE_ARRAYS`)."""
    if name not in LANDSCAPE_ARRAYS:
        raise ValueError(f"A landscape holds {', '.join(LANDSCAPE_ARRAYS)}; not {name!r}.")
    return f"{LANDSCAPE}/{name}"


def quantity_of(path):
    """Return what a per-snapshot dataset path holds: ``(quantity, source or None)``.

    ``quantity`` is the first part of the path (``"activations"``,
    ``"outputs"``, ``"loss"``, ``"weights"``, ...); ``source`` is the
    recorded input kind for datasets recorded per source.

    Example:
        >>> quantity_of("outputs/mesh")
        ('outputs', 'mesh')
    """
    parts = path.split("/")
    if parts[0] in ("activations", "preactivations", "outputs", "loss") and len(parts) > 1:
        return parts[0], parts[1]
    return parts[0], None



# -- runs of other origins ----------------------------------------------------------

#: The ``format`` attribute of runs that are not read from a replay run group:
#: a DeepReplay group, or arrays given to ``Run.from_arrays``.
DEEPREPLAY_FORMAT = "DeepReplay"
ARRAYS_FORMAT = "arrays"

# The layout of a DeepReplay group (read only; see docs/deepreplay.md).
DEEPREPLAY_INPUTS = "inputs"
DEEPREPLAY_TARGETS = "targets"
#: Per-epoch mean loss; metrics (``acc``, ``lr``, ...) are further 1-D datasets.
DEEPREPLAY_LOSS = "loss"
DEEPREPLAY_LAYER_PREFIX = "layer"
#: The Keras 2 model file DeepReplay saved beside the run file: ``<group>_model.h5``.
DEEPREPLAY_MODEL_SUFFIX = "_model.h5"
#: DeepReplay's Keras 2 history names, and the Keras 3 names replay gives them.
DEEPREPLAY_HISTORY_NAMES = {"acc": "accuracy", "val_acc": "val_accuracy", "lr": "learning_rate"}


def deepreplay_layer(index):
    """Path of the group of layer ``index`` (every layer of the model, weights or not)."""
    return f"{DEEPREPLAY_LAYER_PREFIX}{index}"


def deepreplay_weights(layer_index, weight_index):
    """Path of weight ``weight_index`` of layer ``layer_index``: one row per snapshot."""
    return f"{deepreplay_layer(layer_index)}/weights{weight_index}"


# The Keras 2 model file (``model.save``), read with h5py.
KERAS2_MODEL_CONFIG = "model_config"
KERAS2_TRAINING_CONFIG = "training_config"
#: The group of weights: ``model_weights/<layer>/<weight name>``.
KERAS2_WEIGHTS = "model_weights"
#: The attribute of a layer's weight group listing its weights ("hidden/kernel:0", ...).
KERAS2_WEIGHT_NAMES = "weight_names"
