"""The loss landscape around a run's weights, and the optimiser's path through it.

Two pictures from the literature, computed from the recorded snapshots:

- **the plane** (Li et al., NeurIPS 2018, "Visualizing the Loss Landscape
  of Neural Nets"): the 2-D plane through the final weights spanned by the
  top two principal directions of the weight trajectory, the trajectory
  projected on it, and the loss of the recorded samples on a grid over the
  plane that covers the path with a margin. Filter-normalised random
  directions (every filter of the direction scaled to the norm of the same
  filter of the weights; biases left out) are the paper's alternative;
- **the line** (Goodfellow et al., ICLR 2015): the loss along the straight
  line from the initial to the final weights, ``t`` from -0.25 to 1.25.

The loss at a point is evaluated by an *evaluator*: a callable taking
weight vectors ``(m, P)`` (every trainable weight of the model, flattened
in :class:`ParameterLayout` order) and returning their mean per-sample
losses ``(m,)``. :class:`NumpyLoss` is the replay side's, for the runs
whose outputs the recorder left to numpy (Dense and convolution chains from
the inputs to the outputs, see :mod:`replay.io.recompute`): the pass runs
for many grid points at once. Any other model is evaluated with Keras by
:func:`replay.record.landscape.record_landscape`, which stores the result
in the run file; :func:`read_landscape` reads it back.

numpy only: no Keras import.

Example:
    >>> from replay import Run                                  # doctest: +SKIP
    >>> landscape = Run("part1.h5", "relu").landscape()         # doctest: +SKIP
    >>> landscape.surface.shape, landscape.explained_variance   # doctest: +SKIP
    ((50, 50), array([0.93, 0.05]))
"""

import json
from dataclasses import dataclass, field

import numpy as np

from replay import forward
from replay.errors import OptionError, RunFileError
from replay.io import recompute, schema
from replay.model_config import layer_configs

#: Directions of the plane: the trajectory's principal ones, or random filter-normalised ones.
DIRECTIONS = ("pca", "random")
#: Default grid points per axis of the plane, and the margin around the path
#: (a fraction of the path's extent on each side).
RESOLUTION = 50
MARGIN = 0.25
#: The straight line's range of ``t`` (0: the initial weights, 1: the final
#: ones) and its points per unit of ``t`` (0 and 1 are points of the line).
LINE_RANGE = (-0.25, 1.25)
LINE_STEPS_PER_UNIT = 40
#: Largest intermediate array of a :class:`NumpyLoss` block, in bytes.
BLOCK_BYTES = 48 << 20


@dataclass(frozen=True)
class ParameterLayout:
    """Where every trainable weight of a run sits in the flat weight vector.

    Attributes:
        entries: ``(layer, weight name, shape)`` per weight, in model order.
    """

    entries: tuple

    @classmethod
    def of_run(cls, run):
        """The trainable, stored weights of ``run``'s recorded layers."""
        entries = []
        for layer in run.layers:
            trainable = layer.weights if layer.trainable_weights is None else [
                name for name in layer.weights if name in layer.trainable_weights]
            storage = (layer.storage or {}).get("weights", "raw")
            if trainable and storage != "raw":
                raise OptionError(
                    f"Run {run.name!r} of '{run.path}' keeps the weights of layer "
                    f"{layer.name!r} as {storage!r}, so it has no weight trajectory; record "
                    "with Recorder(..., max_snapshot_bytes=None) to draw its landscape.")
            for name in trainable:
                shape = tuple(run._group[schema.weights(layer.name, name)].shape[1:])
                entries.append((layer.name, name, shape))
        if not entries:
            raise OptionError(
                f"Run {run.name!r} of '{run.path}' has no recorded trainable weights, so it "
                "has no loss landscape.")
        return cls(tuple(entries))

    @property
    def sizes(self):
        return [int(np.prod(shape, dtype=np.int64)) for _, _, shape in self.entries]

    @property
    def size(self):
        """P, the length of the flat vector."""
        return int(sum(self.sizes))

    def slices(self):
        """``{(layer, weight): slice}`` of every weight in the flat vector."""
        found, start = {}, 0
        for (layer, name, _), size in zip(self.entries, self.sizes):
            found[(layer, name)] = slice(start, start + size)
            start += size
        return found

    def trajectory(self, run):
        """The run's weights at every snapshot as one array ``(S, P)`` float64."""
        columns = [np.asarray(run.series(schema.weights(layer, name)), dtype=np.float64)
                   .reshape(run.n_snapshots, -1) for layer, name, _ in self.entries]
        return np.concatenate(columns, axis=1)

    def unflatten(self, vectors):
        """``{(layer, weight): (m, *shape)}`` of weight vectors ``(m, P)``."""
        vectors = np.asarray(vectors)
        return {key: vectors[:, part].reshape(len(vectors), *shape)
                for (key, part), (_, _, shape) in zip(self.slices().items(), self.entries)}

    def describe(self):
        """JSON-ready ``[[layer, weight, shape], ...]``."""
        return [[layer, name, list(shape)] for layer, name, shape in self.entries]


class NumpyLoss:
    """The mean loss of a run's recorded training samples at any weights, with numpy.

    The pass is the chain of recipes that recomputes ``outputs/train`` from
    ``inputs/train`` (Dense and convolution layers, :mod:`replay.io.recompute`),
    or the recipes of a Sequential stack of Dense layers, run for a block of
    weight vectors at once; the loss is the run's (``forward.per_sample_loss``,
    logits included).

    Args:
        run: a :class:`replay.Run` numpy can evaluate (see :func:`numpy_problem`).

    Example:
        >>> evaluate = NumpyLoss(run)                              # doctest: +SKIP
        >>> evaluate(layout.trajectory(run)[-1:])                  # doctest: +SKIP
        array([0.0123])
    """

    def __init__(self, run):
        problem = numpy_problem(run)
        if problem:
            raise OptionError(problem)
        self.layout = ParameterLayout.of_run(run)
        self.chain = _recipe_chain(run)
        self.loss = run.attrs["loss"]
        self.from_logits = bool(run.attrs.get("from_logits", False))
        self.inputs = np.asarray(run.inputs("train"), dtype=np.float32)
        self.targets = np.asarray(run.targets("train"))
        # Weights the chain uses that are not in the vector (frozen layers): final values.
        self._fixed = {}
        in_vector = {schema.weights(layer, name) for layer, name, _ in self.layout.entries}
        for recipe in self.chain:
            for key in ("kernel", "bias"):
                path = recipe.get(key)
                if path and path not in in_vector:
                    self._fixed[path] = np.asarray(run.series(path, [run.n_snapshots - 1]))
        # Values per sample of the widest layer output: what one grid point costs in memory.
        self._values_per_sample = max(
            int(np.prod(run._group[recipe["_path"]].shape[2:], dtype=np.int64))
            if recipe["op"] == "conv" else int(run._group[recipe["kernel"]].shape[-1])
            for recipe in self.chain)

    def __call__(self, vectors):
        """Return the mean per-sample loss ``(m,)`` float64 at weight vectors ``(m, P)``."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        per_point = len(self.inputs) * self._values_per_sample * 8
        step = max(1, BLOCK_BYTES // max(per_point, 1))
        return np.concatenate([self._block(vectors[start:start + step])
                               for start in range(0, len(vectors), step)])

    def per_sample(self, vectors):
        """The per-sample losses ``(m, N)`` at weight vectors ``(m, P)`` (one block)."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        weights = {schema.weights(*key): array
                   for key, array in self.layout.unflatten(vectors).items()}
        values = self.inputs
        for recipe in self.chain:
            kernel = self._weight(recipe["kernel"], weights, len(vectors))
            bias = self._weight(recipe["bias"], weights, len(vectors)) if recipe.get("bias") \
                else None
            values = recompute.apply_recipe(recipe, values, kernel, bias)
        outputs = values.reshape(len(vectors), len(self.inputs), -1)
        return forward.per_sample_loss(self.loss, self.targets, outputs,
                                       from_logits=self.from_logits)

    def _block(self, vectors):
        return self.per_sample(vectors).mean(axis=-1, dtype=np.float64)

    def _weight(self, path, weights, count):
        if path in weights:
            return weights[path]
        return np.broadcast_to(self._fixed[path], (count, *self._fixed[path].shape[1:]))


def _recipe_chain(run):
    """The recipes from ``inputs/train`` to ``outputs/train``, in order (or ``None``).

    The run's own recipes when the recorder left its outputs to numpy;
    else, for a plain stack of Dense layers (a Sequential model of Dense
    and Dropout layers whose activations numpy knows, every weight stored),
    the recipes of that stack.
    """
    recipes = run.attrs.get(schema.RECOMPUTED_ATTRIBUTE) or {}
    if isinstance(recipes, str):
        recipes = json.loads(recipes)
    chain, path = [], schema.outputs("train")
    while path in recipes and len(chain) <= len(recipes):
        chain.append({**recipes[path], "_path": path})
        path = recipes[path]["input"]
    if path == schema.inputs("train") and chain:
        return chain[::-1]
    return _dense_stack(run)


#: The layers of a Sequential model the Dense-stack pass accepts (Dropout is
#: the identity outside training).
DENSE_STACK_LAYERS = ("InputLayer", "Dense", "Dropout")


def _dense_stack(run):
    """The recipes of a Sequential stack of Dense layers, from its config, or ``None``."""
    config = run.attrs.get("model_config")
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            return None
    if run.attrs.get("model_class") != "Sequential" or not isinstance(config, dict):
        return None
    configs = list(layer_configs(config))
    if not configs or any(layer.get("class_name") not in DENSE_STACK_LAYERS
                          for layer in configs):
        return None
    dense = [layer.get("config", {}) for layer in configs if layer["class_name"] == "Dense"]
    if [layer.get("name") for layer in dense] != [layer.name for layer in run.layers]:
        return None
    chain, source = [], schema.inputs("train")
    for layer, settings in zip(run.layers, dense):
        activation = settings.get("activation", "linear")
        if not isinstance(activation, str) or activation not in recompute.ACTIVATIONS \
                or "kernel" not in layer.weights \
                or not set(layer.weights) <= {"kernel", "bias"} \
                or (layer.storage or {}).get("weights", "raw") != "raw":
            return None
        output = (schema.outputs("train") if layer is run.layers[-1]
                  else schema.activations("train", layer.name))
        chain.append({"op": "dense", "input": source,
                      "kernel": schema.weights(layer.name, "kernel"),
                      "bias": schema.weights(layer.name, "bias") if "bias" in layer.weights
                      else None, "activation": activation, "options": {}, "_path": output})
        source = output
    return chain


def numpy_problem(run):
    """Why replay cannot evaluate ``run``'s loss with numpy, or ``""`` when it can."""
    where = f"Run {run.name!r} of '{run.path}'"
    if _recipe_chain(run) is None:
        return (f"{where}: replay evaluates the loss with numpy only for chains of Dense and "
                "convolution layers from the inputs whose outputs the recorder left to numpy, "
                "and for Sequential stacks of Dense layers. "
                "Compute its landscape with the model: "
                "replay.record.landscape.record_landscape(model, path, run).")
    if forward.loss_function(run.attrs.get("loss", "")) is None or (
            run.attrs.get("from_logits") and forward.LOGIT_LOSSES.get(
                forward.LOSS_ALIASES.get(run.attrs["loss"], run.attrs["loss"])) is None):
        return (f"{where}: replay cannot compute its loss {run.attrs.get('loss')!r} with "
                "numpy. Compute its landscape with the model: "
                "replay.record.landscape.record_landscape(model, path, run).")
    return ""


@dataclass(eq=False)
class Landscape:
    """A loss landscape: the plane, the paths on it, the surface, and the straight lines.

    Attributes:
        runs: the names of the runs whose paths it shows.
        directions_kind: ``"pca"`` or ``"random"``.
        layout: the :class:`ParameterLayout` of the weight vectors.
        origin: ``(P,)`` the plane's centre: the final weights (of the first run).
        directions: ``(2, P)`` the plane's directions.
        explained_variance: ``(2,)`` the fraction of the trajectories' variance
            along each principal direction (NaN for random directions).
        paths: per run ``(S, 2)``, its snapshots' coordinates on the plane
            (up to its last finite weights, for a run that diverged).
        path_loss: per run ``(S,)``, the mean loss at each snapshot.
        alpha, beta: ``(nx,)``, ``(ny,)`` the grid's coordinates.
        surface: ``(ny, nx)`` the mean loss at ``origin + alpha d1 + beta d2``.
        line_t: ``(T,)`` the line's positions; ``line_loss``: per run ``(T,)``
            the mean loss at ``initial + t (final - initial)``.
        path_t: per run ``(S,)``, each snapshot's weights projected on its
            line (0 at the initial weights, 1 at the final ones).
        evaluator: the callable that computed it (``None`` when read from a file).
    """

    runs: tuple
    directions_kind: str
    layout: ParameterLayout
    origin: np.ndarray
    directions: np.ndarray
    explained_variance: np.ndarray
    paths: tuple
    path_loss: tuple
    alpha: np.ndarray
    beta: np.ndarray
    surface: np.ndarray
    line_t: np.ndarray
    line_loss: tuple
    path_t: tuple
    evaluator: object = field(default=None, repr=False)

    def project(self, weights):
        """Coordinates ``(m, 2)`` on the plane of weight vectors ``(m, P)`` (least squares)."""
        return project(weights, self.origin, self.directions)

    def unproject(self, coordinates):
        """Weight vectors ``(m, P)`` of plane coordinates ``(m, 2)``."""
        return self.origin + np.asarray(coordinates, dtype=np.float64) @ self.directions

    def loss_at(self, coordinates):
        """The mean loss ``(m,)`` at plane coordinates ``(m, 2)`` (needs the evaluator)."""
        if self.evaluator is None:
            raise OptionError("This landscape was read from the run file: it has no evaluator "
                              "to compute new points. Use its surface, or compute it again.")
        return self.evaluator(self.unproject(np.atleast_2d(coordinates)))

    @property
    def spans_decades(self):
        """Whether the surface's finite positive values span more than two decades."""
        values = self.surface[np.isfinite(self.surface) & (self.surface > 0)]
        return bool(values.size) and values.max() / values.min() > 100.0


def project(weights, origin, directions):
    """Least-squares coordinates of ``weights - origin`` in the basis ``directions``."""
    offsets = np.atleast_2d(np.asarray(weights, dtype=np.float64)) - origin
    gram = directions @ directions.T
    return np.linalg.solve(gram, directions @ offsets.T).T


def pca_directions(trajectories, origin):
    """The top two principal directions of the trajectories' offsets from ``origin``.

    As Li et al.: the PCA (centred) of ``[w_i - origin]`` over every snapshot
    of every trajectory. Signs are chosen so that the first trajectory starts
    at negative coordinates (its path runs left to right, bottom to top).

    Returns:
        ``(directions (2, P), explained variance ratio (2,))``.
    """
    offsets = np.concatenate(trajectories) - origin
    centred = offsets - offsets.mean(axis=0)
    total = float(np.sum(centred ** 2))
    if total <= 0.0 or not np.isfinite(total):
        raise OptionError(
            "The weights never moved (or are not finite): the trajectory has no principal "
            "directions. Use directions='random' to see the landscape around them.")
    # The eigenvectors of the smaller Gram matrix: an SVD of the (S, P) matrix
    # took seconds where this takes a millisecond (BLAS threads on shared cores).
    count, size = centred.shape
    values, vectors = np.linalg.eigh(centred.T @ centred if size <= count
                                     else centred @ centred.T)
    order = np.argsort(values)[::-1][:2]
    values = np.clip(values[order], 0.0, None)
    if size <= count:
        directions = vectors[:, order].T
    else:  # right singular vectors from the left ones: v = X^T u / sigma
        kept = values > 1e-12 * values[0]
        directions = (centred.T @ vectors[:, order[kept]]).T / np.sqrt(values[kept])[:, None]
    variance = values / total
    if len(directions) < 2:  # the path is a straight line: any orthogonal second direction
        extra = np.random.default_rng(0).normal(size=origin.shape)
        extra -= (extra @ directions[0]) * directions[0]
        directions = np.vstack([directions, extra / np.linalg.norm(extra)])
        variance = np.array([variance[0], 0.0])
    start = trajectories[0][0] - origin
    signs = np.where(directions @ start > 0, -1.0, 1.0)
    return directions * signs[:, None], variance


def random_directions(layout, origin, seed=0):
    """Two filter-normalised random directions (Li et al.): ``(2, P)``.

    Each weight array of ``ndim >= 2`` gets a Gaussian direction whose every
    filter (a slice along the last axis: a Dense unit, a convolution filter)
    has the norm of the same filter of the weights; 1-D weights (biases,
    normalisation) get none, as the paper's default.
    """
    rng = np.random.default_rng(seed)
    directions = np.zeros((2, layout.size))
    for row in directions:
        for (_, _, shape), part in zip(layout.entries, layout.slices().values()):
            if len(shape) < 2:
                continue
            weights = origin[part].reshape(-1, shape[-1])
            direction = rng.normal(size=weights.shape)
            direction *= np.linalg.norm(weights, axis=0) / (
                np.linalg.norm(direction, axis=0) + 1e-10)
            row[part] = direction.ravel()
    if not np.any(directions):
        raise OptionError("The model has no weight of two or more axes to normalise a random "
                          "direction by. Use directions='pca'.")
    return directions


def grid_axes(paths, resolution, margin, kind):
    """The grid's coordinates ``(alpha, beta)`` covering every path with ``margin``."""
    points = np.concatenate(paths)
    low, high = points.min(axis=0), points.max(axis=0)
    span = high - low
    fallback = max(float(span.max()), 1.0) if kind == "random" else max(float(span.max()), 1e-3)
    span = np.where(span > 1e-9 * max(1.0, float(np.abs(points).max())), span, fallback)
    low, high = low - margin * span, high + margin * span
    if kind == "random":  # the paper's window: at least [-1, 1] around the centre
        low, high = np.minimum(low, -1.0), np.maximum(high, 1.0)
    return (np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))


def line_positions(line=LINE_RANGE, steps_per_unit=LINE_STEPS_PER_UNIT):
    """``t`` of the straight line: ``line[0]`` to ``line[1]`` with 0 and 1 exactly."""
    start, stop = (round(value * steps_per_unit) for value in line)
    if start > 0 or stop < steps_per_unit:
        raise OptionError(f"line must include 0 and 1 (the initial and final weights). "
                          f"Got {tuple(line)}.")
    return np.arange(start, stop + 1) / steps_per_unit


def check_same_model(runs):
    """Raise :class:`OptionError` unless every run is of the same model on the same data."""
    first = runs[0]
    for run in runs[1:]:
        difference = _model_difference(first, run)
        if difference:
            raise OptionError(
                f"Runs {first.name!r} and {run.name!r} are of different models "
                f"({difference}): their loss surfaces differ, so they cannot share one "
                "landscape. Draw one landscape each (LossLandscape(run) per run, or "
                "`replay compare --view loss-landscape`).")


def _model_difference(first, other):
    layers_a = {layer.name: layer for layer in first.layers}
    layers_b = {layer.name: layer for layer in other.layers}
    if list(layers_a) != list(layers_b):
        return f"layers {list(layers_a)} and {list(layers_b)}"
    for name, layer in layers_a.items():
        theirs = layers_b[name]
        for what in ("class_name", "shape", "activation", "weights"):
            if getattr(layer, what) != getattr(theirs, what):
                return (f"layer {name!r}: {what} {getattr(layer, what)!r} and "
                        f"{getattr(theirs, what)!r}")
    for what in ("loss", "from_logits"):
        if first.attrs.get(what) != other.attrs.get(what):
            return f"{what} {first.attrs.get(what)!r} and {other.attrs.get(what)!r}"
    for what, read in (("inputs", first.inputs), ("targets", first.targets)):
        mine, theirs = read("train"), getattr(other, what)("train")
        if mine.shape != theirs.shape or not np.array_equal(mine, theirs):
            return f"different training {what}"
    return ""


def compute_landscape(runs, *, directions="pca", resolution=RESOLUTION, margin=MARGIN,
                      line=LINE_RANGE, seed=0, evaluator=None):
    """Compute the loss landscape of one run, or of several runs of one model on one plane.

    Args:
        runs: a :class:`replay.Run`, or runs (a list, a ``replay.Runs``) of the same model
            on the same data (layers, activations, loss, samples); the
            plane goes through the final weights of the first.
        directions: ``"pca"`` (the top two principal directions of the
            combined trajectories) or ``"random"`` (filter-normalised).
        resolution: grid points per axis.
        margin: the grid's margin around the paths, a fraction of their extent.
        line: the range of ``t`` of the straight line from the initial
            (``t = 0``) to the final (``t = 1``) weights of each run.
        seed: the random directions' seed.
        evaluator: the loss at weight vectors ``(m, P) -> (m,)``; by default
            :class:`NumpyLoss` of the first run.

    Returns:
        A :class:`Landscape`.
    """
    runs = [runs] if hasattr(runs, "n_snapshots") else list(runs)
    if not runs:
        raise OptionError("compute_landscape needs at least one run. Got none.")
    if directions not in DIRECTIONS:
        raise OptionError(f"directions must be one of {', '.join(DIRECTIONS)}. "
                          f"Got {directions!r}.")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or resolution < 2:
        raise OptionError(f"resolution must be an integer of at least 2. Got {resolution!r}.")
    if not np.isfinite(margin) or margin < 0:
        raise OptionError(f"margin must be a non-negative number. Got {margin!r}.")
    check_same_model(runs)
    layout = ParameterLayout.of_run(runs[0])
    if evaluator is None:
        evaluator = NumpyLoss(runs[0])
    trajectories = [layout.trajectory(run) for run in runs]
    # A run that diverged has its path up to its last finite weights (its
    # line ends there too): the picture shows where it went before it blew up.
    for position, (run, trajectory) in enumerate(zip(runs, trajectories)):
        finite = np.all(np.isfinite(trajectory), axis=1)
        kept = len(finite) if finite.all() else int(np.argmin(finite))
        if kept == 0:
            raise OptionError(f"Run {run.name!r} of '{run.path}' has weights that are NaN or "
                              "infinite from its first snapshot: it has no landscape to draw.")
        trajectories[position] = trajectory[:kept]
    origin = trajectories[0][-1]
    if directions == "pca":
        if layout.size < 2:
            raise OptionError("A landscape needs at least 2 trainable weights. Got 1.")
        plane, variance = pca_directions(trajectories, origin)
    else:
        plane, variance = random_directions(layout, origin, seed), np.full(2, np.nan)
    paths = tuple(project(trajectory, origin, plane) for trajectory in trajectories)
    alpha, beta = grid_axes(paths, resolution, margin, directions)
    mesh = np.stack(np.meshgrid(alpha, beta), axis=-1).reshape(-1, 2)
    surface = np.asarray(evaluator(origin + mesh @ plane), dtype=np.float64).reshape(
        len(beta), len(alpha))
    t = line_positions(line)
    line_loss = tuple(np.asarray(evaluator(trajectory[0] + t[:, None] * (
        trajectory[-1] - trajectory[0])), dtype=np.float64) for trajectory in trajectories)
    path_loss = tuple(_path_loss(run, trajectory, evaluator)
                      for run, trajectory in zip(runs, trajectories))
    return Landscape(tuple(run.name for run in runs), directions, layout, origin, plane,
                     np.asarray(variance, dtype=np.float64), paths, path_loss, alpha, beta,
                     surface, t, line_loss, tuple(map(line_coordinates, trajectories)),
                     evaluator)


def line_coordinates(trajectory):
    """Each snapshot's ``t`` on the line from the first to the last: ``(S,)``."""
    start, end = trajectory[0], trajectory[-1]
    step = end - start
    length = float(step @ step)
    if length == 0.0:
        return np.zeros(len(trajectory))
    return (trajectory - start) @ step / length


def _path_loss(run, trajectory, evaluator):
    """The mean loss at each snapshot: recorded when the run has it, else evaluated."""
    if schema.loss("train") in run._group:
        return np.asarray(run.series(schema.loss("train"), range(len(trajectory))),
                          dtype=np.float64).mean(axis=1)
    return np.asarray(evaluator(trajectory), dtype=np.float64)


# -- the landscape stored in a run file (computed with the model) --------------------------


def stored_description(run):
    """The run's stored-landscape attribute as a dict, or ``None`` when it has none."""
    value = run.attrs.get(schema.LANDSCAPE_ATTRIBUTE)
    if value is None:
        return None
    try:
        description = json.loads(value) if isinstance(value, (str, bytes)) else dict(value)
    except (TypeError, ValueError):
        description = None
    if not isinstance(description, dict) or not isinstance(description.get("parameters"), list):
        raise RunFileError(f"The {schema.LANDSCAPE_ATTRIBUTE!r} attribute of run {run.name!r} "
                           f"in '{run.path}' is not readable; the file is damaged.")
    return description


def read_landscape(run):
    """The landscape stored in ``run``'s file (see ``docs/run-file-schema.md``), or ``None``."""
    description = stored_description(run)
    if description is None:
        return None
    version = description.get("version")
    if version != schema.LANDSCAPE_VERSION:
        raise RunFileError(
            f"Run {run.name!r} of '{run.path}' stores a landscape of version {version!r}; this "
            f"replay reads version {schema.LANDSCAPE_VERSION}. Upgrade replay, or compute it "
            "again with replay.record.landscape.record_landscape.")
    try:
        arrays = {name: np.asarray(run._group[schema.landscape(name)][()], dtype=np.float64)
                  for name in schema.LANDSCAPE_ARRAYS}
    except KeyError as error:
        raise RunFileError(f"The stored landscape of run {run.name!r} in '{run.path}' lacks "
                           f"{error}; the file is damaged.") from None
    layout = ParameterLayout(tuple((layer, name, tuple(shape))
                                   for layer, name, shape in description["parameters"]))
    if arrays["directions"].shape != (2, layout.size) or arrays["surface"].shape != (
            len(arrays["beta"]), len(arrays["alpha"])):
        raise RunFileError(f"The stored landscape of run {run.name!r} in '{run.path}' has "
                           "arrays of shapes that do not fit together; the file is damaged.")
    trajectory = layout.trajectory(run)
    path = project(trajectory, arrays["origin"], arrays["directions"])
    return Landscape((run.name,), description.get("directions", "pca"), layout,
                     arrays["origin"], arrays["directions"], arrays["explained_variance"],
                     (path,), (_path_loss(run, trajectory, _no_evaluator),), arrays["alpha"],
                     arrays["beta"], arrays["surface"], arrays["line_t"],
                     (arrays["line_loss"],), (line_coordinates(trajectory),))


def _no_evaluator(vectors):
    raise OptionError("The run records no per-sample loss and its landscape was read from the "
                      "file: replay cannot evaluate the loss along its path.")


def landscape_arrays(landscape):
    """``{array name: array}`` of :data:`replay.io.schema.LANDSCAPE_ARRAYS`, to store one run's."""
    return {"origin": landscape.origin, "directions": landscape.directions,
            "explained_variance": landscape.explained_variance, "alpha": landscape.alpha,
            "beta": landscape.beta, "surface": landscape.surface, "line_t": landscape.line_t,
            "line_loss": landscape.line_loss[0]}


def landscape_description(landscape):
    """The run attribute describing a stored landscape (JSON text)."""
    return json.dumps({"version": schema.LANDSCAPE_VERSION,
                       "directions": landscape.directions_kind,
                       "parameters": landscape.layout.describe()})


def run_landscape(run, **options):
    """The landscape of one run: stored in its file (computed with the model) or with numpy.

    The stored landscape is used when ``options`` ask for nothing it does not
    hold (its directions, its resolution); numpy computes any other, where it
    can evaluate the run's model.
    """
    stored = read_landscape(run) if stored_description(run) is not None else None
    if stored is not None and set(options) <= {"directions", "resolution"} \
            and options.get("directions", stored.directions_kind) == stored.directions_kind \
            and options.get("resolution", len(stored.alpha)) == len(stored.alpha):
        return stored
    problem = numpy_problem(run)
    if problem:
        if stored is not None:
            problem += (f" (The stored landscape has {stored.directions_kind} directions and "
                        f"{len(stored.alpha)} points per axis; this asked for {options}.)")
        raise OptionError(problem)
    return compute_landscape(run, **options)
