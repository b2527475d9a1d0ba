"""Views: one matplotlib panel each, built from a Run.

Every view has ``plot(epoch, ax=None)`` (one epoch, returns the figure) and
``animate(epochs)`` (a ``FuncAnimation``); several views share one figure
and one epoch clock in a :class:`replay.render.Scene`. The views that grids
and ``replay compare --view`` can show register themselves in :data:`VIEWS`
(:mod:`replay.views.registry`) when their module is imported here.
"""

from replay.views.base import FrameSource, View, resolve_epochs
from replay.views.curves import LossAndMetric
from replay.views.decision_boundary import DecisionBoundary
from replay.views.error_scatter import ErrorScatter
from replay.views.feature_space import FeatureSpace, default_layer
from replay.views.histograms import LossHistogram, ProbabilityHistogram
from replay.views.landscape import LossLandscape, LossLine
from replay.views.layer_violins import LayerViolins
from replay.views.network_graph import NetworkGraph
from replay.views.parameter_updates import ParameterUpdates
from replay.views.registry import VIEWS, ViewOption, ViewSpec, register
from replay.views.regression import PredictionScatter, ResidualHistogram

__all__ = [
    "VIEWS",
    "DecisionBoundary",
    "ErrorScatter",
    "FeatureSpace",
    "FrameSource",
    "LayerViolins",
    "LossAndMetric",
    "LossHistogram",
    "LossLandscape",
    "LossLine",
    "NetworkGraph",
    "ParameterUpdates",
    "PredictionScatter",
    "ProbabilityHistogram",
    "ResidualHistogram",
    "View",
    "ViewOption",
    "ViewSpec",
    "default_layer",
    "register",
    "resolve_epochs",
]
