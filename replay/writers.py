"""Writers, as before the ``replay.render`` package: a re-export.

The canonical modules are :mod:`replay.render.save`, :mod:`replay.render.renderer`,
:mod:`replay.render.encoders` and :mod:`replay.render.progress`.
"""

from replay.render import (
    FrameRenderer,
    ProgressBar,
    RenderStats,
    VideoEncoder,
    blit_draw_order,
    ffmpeg_command,
    output_kind,
    save,
)

__all__ = ["FrameRenderer", "ProgressBar", "RenderStats", "VideoEncoder", "blit_draw_order",
           "ffmpeg_command", "output_kind", "save"]
