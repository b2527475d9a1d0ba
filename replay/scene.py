"""Scenes, as before the ``replay.render`` package: a re-export.

The canonical module is :mod:`replay.render.scene` (and ``replay.render.Scene``).
"""

from replay.render.scene import Scene
from replay.views.base import freeze_layout
from replay.views.feature_space import default_layer

__all__ = ["Scene", "default_layer", "freeze_layout"]
