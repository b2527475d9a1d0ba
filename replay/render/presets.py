"""The articles' figures as scene presets: which views go where.

Each preset takes the scene class to build (:class:`replay.render.Scene`, or
a subclass) so that this module needs only the views; ``Scene.part1`` and
``Scene.part2`` call these. The "showdown" of several runs is
:meth:`replay.compare.ComparisonScene.grid`.
"""

from replay.model_config import describe_initializer
from replay.views.curves import LossAndMetric
from replay.views.feature_space import FeatureSpace
from replay.views.histograms import LossHistogram, ProbabilityHistogram
from replay.views.layer_violins import LayerViolins, activation_range

#: The panels of the part-2 figure: (quantity, grid position).
PART2_PANELS = (("preactivations", (0, 0)), ("weights", (0, 1)),
                ("activations", (1, 0)), ("gradients", (1, 1)))


def part1(scene_class, run, layer=None, *, title_prefix="", figsize=(12.0, 6.0), bins=10,
          metric="accuracy", source="train"):
    """The five-panel figure of the activation-function experiment.

    Feature space of ``layer`` (large, left); probability histograms of
    negatives and positives; loss and ``metric`` against epochs; the
    histogram of per-sample losses; title ``"Epoch N"``.

    Args:
        scene_class: the scene class to build.
        run: the :class:`replay.Run`.
        layer: the hidden layer of the feature space; ``None`` picks the
            run's only 2-unit hidden layer (see :func:`replay.views.default_layer`).
        title_prefix: text before ``"Epoch N"``, e.g. the run name.
        figsize: figure size in inches.
        bins: bins of the probability histograms.
        metric: the metric of the curves.
        source: ``"train"`` or ``"validation"`` samples.

    Returns:
        The scene.
    """
    scene = scene_class(nrows=2, ncols=3, figsize=figsize, width_ratios=(1.9, 1.0, 1.0),
                        title_prefix=title_prefix)
    scene.add(FeatureSpace(run, layer, source=source), (slice(None), 0))
    scene.add(ProbabilityHistogram(run, source=source, bins=bins), (0, 1), (0, 2))
    scene.add(LossAndMetric(run, metric=metric), (1, 1))
    scene.add(LossHistogram(run, source=source), (1, 2))
    return scene


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
        activations = sorted({run.layer(name).activation for name in names})
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
