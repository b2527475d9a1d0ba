"""Rendering: scenes and the articles' presets, the frame renderer, encoders, progress.

- :class:`Scene` (:mod:`replay.render.scene`): several views, one figure, one
  epoch clock; presets in :mod:`replay.render.presets`;
- :func:`save` (:mod:`replay.render.save`): a scene or a view to PNG, MP4 or GIF;
- :class:`FrameRenderer` (:mod:`replay.render.renderer`): frames as pixels,
  blitting what changed (the :class:`replay.views.FrameSource` contract);
- :class:`VideoEncoder` (:mod:`replay.render.encoders`): frames to ffmpeg;
- :class:`GifWriter` (:mod:`replay.render.gif`): GIFs with one palette, changed pixels only;
- :data:`PRESETS` (:mod:`replay.render.sizes`): output sizes for common destinations;
- :class:`ProgressBar` (:mod:`replay.render.progress`);
- :func:`explore` (:mod:`replay.render.explorer`): one HTML page to move through
  runs epoch by epoch.

This is the canonical place of these names; ``replay.scene`` and
``replay.writers`` re-export them for code written against earlier versions.
"""

from replay.render.encoders import VideoEncoder, ffmpeg_command, output_kind
from replay.render.explorer import ExplorerPage, explore
from replay.render.gif import GifWriter
from replay.render.progress import ProgressBar
from replay.render.renderer import FrameRenderer, as_frame_source, blit_draw_order
from replay.render.save import RenderStats, save
from replay.render.scene import Scene
from replay.render.sizes import PRESETS

__all__ = [
    "ExplorerPage",
    "FrameRenderer",
    "GifWriter",
    "PRESETS",
    "ProgressBar",
    "RenderStats",
    "Scene",
    "VideoEncoder",
    "as_frame_source",
    "blit_draw_order",
    "explore",
    "ffmpeg_command",
    "output_kind",
    "save",
]
