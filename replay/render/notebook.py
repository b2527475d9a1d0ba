"""Views, scenes and comparisons in a notebook: an H.264 ``<video>``, or a PNG for one frame.

What ``_repr_html_`` of :class:`replay.views.View` and
:class:`replay.render.Scene` returns, so that a scene on the last line of a
Jupyter cell plays as a video. The frames go through the same fast path as
``save`` (blitted :class:`~replay.render.FrameRenderer`, the bundled ffmpeg),
not through matplotlib's animation writers: the five-panel part-1 animation
(151 frames) takes a few seconds and about 1 MB of HTML.

Example:
    >>> from replay.render.notebook import to_html          # doctest: +SKIP
    >>> html = to_html(Scene.part1(run), epochs="0:150:2")  # doctest: +SKIP
"""

import base64
import sys
import tempfile
from pathlib import Path

# Nothing of replay.views, here or in what save imports: views display
# themselves through this module (View._repr_html_).
from replay.render.save import save

#: Frames per second of a notebook video.
NOTEBOOK_FPS = 10
#: CSS pixels kept free under the picture for the browser's video controls.
#: Browsers draw their controls over the bottom of a ``<video>`` element,
#: where the five-panel figure has its legend: Chromium a 40 px bar under a
#: shading gradient that starts about 110 px above the element's bottom
#: (measured in a headless Chromium screenshot). The element is made this
#: much taller than the picture, the picture pinned to its top, so buttons
#: and shading lie on empty space.
CONTROLS_BAND = 112


def to_html(source, *, epochs=None, fps=NOTEBOOK_FPS, dpi=None, **options):
    """Return ``source`` as HTML: a looping H.264 ``<video>``, or an ``<img>`` of one snapshot.

    Args:
        source: a :class:`replay.render.Scene` or a :class:`replay.views.View`.
        epochs: the snapshots to show (default: all; see
            :meth:`replay.Run.select`). One snapshot gives a PNG.
        fps: frames per second of the video.
        dpi: pixels per inch (default: the figure's).
        **options: passed to :func:`replay.render.save` (``width``,
            ``preset``, ``hold_last``, ``quality``, ...).

    Returns:
        The HTML text, the media inline as a ``data:`` URI.
    """
    selected = source.select_epochs(epochs)
    with tempfile.TemporaryDirectory(prefix="replay-notebook-") as folder:
        if len(selected) == 1:
            path = Path(folder) / "frame.png"
            save(source, path, epoch=selected[0], dpi=dpi, progress=False, **options)
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            html = (f'<img src="data:image/png;base64,{data}" style="max-width:100%" '
                    'alt="replay frame"/>')
        else:
            path = Path(folder) / "animation.mp4"
            stats = save(source, path, epochs=selected, fps=fps, dpi=dpi, progress=False,
                         **options)
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            html = video_html(data, *stats.size)
    _forget_figure(source)
    return html


def _forget_figure(source):
    """Take the source's figure off pyplot's list of open figures.

    Otherwise the inline backend would show it once more, as a still image
    under the video, when the cell ends. The figure itself stays usable.
    """
    pyplot = sys.modules.get("matplotlib.pyplot")
    figure = getattr(source, "figure_", None)
    if pyplot is not None and figure is not None:
        pyplot.close(figure)



def video_html(data, width, height, *, band=CONTROLS_BAND):
    """A looping ``<video>`` of base64 H.264 ``data`` whose controls cover none of the picture.

    The element is the picture's height plus ``band`` pixels; ``object-fit``
    and ``object-position`` keep the picture unscaled in shape at its top, so
    the controls drawn over the element's bottom lie on the band. The
    element shrinks with a narrow output area (``max-width``); the height
    then follows the width (a container query unit), and where a browser
    lacks those units the fixed height still leaves the band (larger).

    Args:
        data: the MP4 file, base64-encoded.
        width: the video's width in pixels.
        height: the video's height in pixels.
        band: pixels kept free under the picture.

    Returns:
        The HTML text.
    """
    element_height = (f"height:{height + band}px;"
                      f"height:calc(100cqw * {height} / {width} + {band}px)")
    return (f'<div style="container-type:inline-size;width:100%;max-width:{width}px">'
            f'<video width="{width}" style="display:block;width:100%;{element_height};'
            'object-fit:contain;object-position:top;background:transparent" '
            'controls autoplay loop muted playsinline>'
            f'<source type="video/mp4" src="data:video/mp4;base64,{data}"/>'
            "Your browser does not play H.264 videos.</video></div>")
