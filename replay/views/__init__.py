"""Views: one matplotlib panel each, built from a Run.

Every view has ``plot(epoch, ax=None)`` (one epoch, returns the figure) and
``animate(epochs)`` (a ``FuncAnimation``); several views share one figure
and one epoch clock in a :class:`replay.scene.Scene`.
"""

from replay.views.base import View, resolve_epochs
from replay.views.curves import LossAndMetric
from replay.views.decision_boundary import DecisionBoundary
from replay.views.error_scatter import ErrorScatter
from replay.views.feature_space import FeatureSpace
from replay.views.histograms import LossHistogram, ProbabilityHistogram
from replay.views.layer_violins import LayerViolins
from replay.views.parameter_updates import ParameterUpdates

__all__ = [
    "DecisionBoundary",
    "ErrorScatter",
    "FeatureSpace",
    "LayerViolins",
    "LossAndMetric",
    "LossHistogram",
    "ParameterUpdates",
    "ProbabilityHistogram",
    "View",
    "resolve_epochs",
]
