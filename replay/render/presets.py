"""The ready-made figures as scene presets: which views go where.

Each preset takes the scene class to build (:class:`replay.render.Scene`, or
a subclass) so that this module needs only the views; ``Scene.default``,
``Scene.part1`` and ``Scene.part2`` call these. :func:`default` picks the
figure for a run: :func:`part1` (classification) or :func:`regression`. The "showdown" of several runs is
:meth:`replay.compare.ComparisonScene.grid`.
"""

from replay.errors import LayerNotFoundError
from replay.model_config import describe_initializer
from replay.views.curves import LossAndMetric
from replay.views.decision_boundary import DecisionBoundary
from replay.views.feature_space import FeatureSpace, default_layer
from replay.views.histograms import LossHistogram, ProbabilityHistogram
from replay.views.layer_violins import LayerViolins, activation_range
from replay.views.regression import PredictionScatter, ResidualHistogram

#: The panels of the part-2 figure: (quantity, grid position).
PART2_PANELS = (("preactivations", (0, 0)), ("weights", (0, 1)),
                ("activations", (1, 0)), ("gradients", (1, 1)))


def feature_layer(run):
    """The layer whose feature space a default figure shows, or ``None``.

    The run's only 2-unit hidden layer (:func:`replay.views.default_layer`);
    else the last hidden layer of at least 2 values per sample (shown
    through PCA); ``None`` when the model has no such hidden layer.
    """
    try:
        return default_layer(run)
    except LayerNotFoundError:
        wide = [layer.name for layer in run.layers if layer.hidden and layer.size >= 2]
        return wide[-1] if wide else None


def default(scene_class, run, layer=None, *, title_prefix="", figsize=(12.0, 6.0),
            metric=None, values="snapshots", source="train", limits="fixed"):
    """The figure that fits the run: :func:`part1` for classification, :func:`regression`.

    A classification model without a hidden layer shows its decision
    boundary (2-D inputs) in the feature space's place, or no large panel.

    Args:
        scene_class: the scene class to build.
        run: the :class:`replay.Run`.
        layer: the hidden layer of the feature space; ``None`` for
            :func:`feature_layer`.
        title_prefix, figsize, metric, values, source, limits: as in :func:`part1`.

    Returns:
        The scene.
    """
    layer = feature_layer(run) if layer is None else layer
    options = {"title_prefix": title_prefix, "figsize": figsize, "metric": metric,
               "values": values, "source": source, "limits": limits}
    if run.task == "regression":
        return regression(scene_class, run, layer, **options)
    return part1(scene_class, run, layer, **options)


def part1(scene_class, run, layer=None, *, title_prefix="", figsize=(12.0, 6.0), bins=10,
          metric=None, values="snapshots", source="train", limits="fixed"):
    """The five-panel figure of the activation-function experiment.

    Feature space of ``layer`` (large, left); probability histograms of
    negatives and positives; loss and ``metric`` against epochs; the
    histogram of per-sample losses; title ``"Epoch N"``. A run without a
    hidden layer gets its decision boundary (2-D inputs) as the large
    panel, or no large panel.

    Args:
        scene_class: the scene class to build.
        run: the :class:`replay.Run`.
        layer: the hidden layer of the feature space; ``None`` picks the
            run's only 2-unit hidden layer (see :func:`replay.views.default_layer`).
        title_prefix: text before ``"Epoch N"``, e.g. the run name.
        figsize: figure size in inches.
        bins: bins of the probability histograms.
        metric: the metric of the curves (``None``: accuracy, or the first
            recorded metric).
        values: what the curves show: ``"snapshots"`` (each snapshot's mean
            per-sample loss and accuracy, the state the other panels show),
            ``"history"`` (Keras' log) or ``"both"``; see
            :class:`replay.views.LossAndMetric`.
        source: ``"train"`` or ``"validation"`` samples.
        limits: the feature space's axis limits (see
            :class:`replay.views.FeatureSpace`; ``"fixed"`` renders fastest).

    Returns:
        The scene.
    """
    big = _large_panel(run, layer, source, limits)
    scene, column = _grid(scene_class, big, figsize, title_prefix)
    scene.add(ProbabilityHistogram(run, source=source, bins=bins), (0, column),
              (0, column + 1))
    scene.add(LossAndMetric(run, metric=metric, values=values), (1, column))
    scene.add(LossHistogram(run, source=source), (1, column + 1))
    return scene


def regression(scene_class, run, layer=None, *, title_prefix="", figsize=(12.0, 6.0),
               metric=None, values="snapshots", source="train", limits="fixed"):
    """The figure of a regression run.

    Feature space of ``layer`` coloured by target value (large, left, when
    the model has a hidden layer); predictions against targets; the
    residuals' histogram; loss and ``metric`` against epochs; the
    per-sample losses.

    Args:
        scene_class: the scene class to build.
        run: a regression :class:`replay.Run`.
        layer: the hidden layer of the feature space; ``None`` for
            :func:`feature_layer` (no large panel when there is none).
        title_prefix, figsize, values, source, limits: as in :func:`part1`.
        metric: the metric of the curves (``None``: the first recorded one).

    Returns:
        The scene.
    """
    layer = feature_layer(run) if layer is None else layer
    big = FeatureSpace(run, layer, source=source, limits=limits) if layer is not None else None
    scene, column = _grid(scene_class, big, figsize, title_prefix)
    scene.add(PredictionScatter(run, source=source), (0, column))
    scene.add(ResidualHistogram(run, source=source), (0, column + 1))
    scene.add(LossAndMetric(run, metric=metric, values=values), (1, column))
    scene.add(LossHistogram(run, source=source, by_class=False), (1, column + 1))
    return scene


def _large_panel(run, layer, source, limits="fixed"):
    """The left panel of a classification figure: feature space, else input space, else none."""
    if layer is not None or any(info.hidden and info.size >= 2 for info in run.layers):
        return FeatureSpace(run, layer, source=source, limits=limits)  # None: the only 2-unit layer, or why not
    if "mesh" in run.sources:
        return DecisionBoundary(run, source=source)
    return None


def _grid(scene_class, big, figsize, title_prefix):
    """A 2-row scene with ``big`` over both rows on the left (if any); its next free column."""
    if big is None:
        return scene_class(nrows=2, ncols=2, figsize=figsize, title_prefix=title_prefix), 0
    scene = scene_class(nrows=2, ncols=3, figsize=figsize, width_ratios=(1.9, 1.0, 1.0),
                        title_prefix=title_prefix)
    scene.add(big, (slice(None), 0))
    return scene, 1


def part2(scene_class, run, *, layers=None, include_inputs=False, ylim=None, title_prefix=None,
          figsize=(11.0, 7.5), source="train"):
    """The four-panel figure of the weight-initializer experiment.

    Violins per layer of z-values (top left), weights (top right),
    activations (bottom left) and gradients (bottom right); the title
    names the activation and the kernel initializer, e.g.
    ``"sigmoid + RandomNormal(σ=0.01) — Epoch 0"``.

    Args:
        scene_class: the scene class to build.
        run: the :class:`replay.Run` (recorded with gradients, the
            default for small models).
        layers: the layers to show; ``None`` for every hidden layer.
        include_inputs: add an ``inputs`` violin to the z-value and
            activation panels.
        ylim: y-limits of every panel (see :class:`LayerViolins`): ``None``
            fixes them over the whole run (bounded activations: their
            range), ``"frame"`` fits each snapshot (best for one picture;
            bounded activations keep their range).
        title_prefix: text before ``"Epoch N"``; ``None`` for
            ``"<activation> + <initializer>"``.
        figsize: figure size in inches.
        source: ``"train"`` or ``"validation"`` samples.

    Returns:
        The scene.
    """
    if title_prefix is None:
        names = layers or run.hidden_layers or run.layer_names
        # Layers without an activation function (normalisation) name none.
        activations = sorted({run.layer(name).activation for name in names} - {"none"})
        initializer = describe_initializer(run, names[0] if names else None)
        title_prefix = " / ".join(activations) + (f" + {initializer}" if initializer else "")
    scene = scene_class(nrows=2, ncols=2, figsize=figsize, title_prefix=title_prefix)
    # Sigmoid/tanh activations keep their full range even per frame:
    # squeezed activations are what the figure is there to show.
    bounded = activation_range(run, layers or run.hidden_layers) is not None
    for quantity, position in PART2_PANELS:
        inputs = include_inputs and quantity in ("preactivations", "activations")
        limits = None if quantity == "activations" and ylim == "frame" and bounded else ylim
        scene.add(LayerViolins(run, quantity, layers=layers, include_inputs=inputs,
                               ylim=limits, source=source), position)
    return scene
