"""The explorer: one self-contained HTML page to move through a run, or a sweep, epoch by epoch.

A writer beside PNG, MP4 and GIF: :func:`explore` draws every snapshot of
each run with the library's own scene or view (in worker processes),
encodes each run's frames as a short-GOP H.264 video
(:mod:`~replay.render.explorer.frames`), and writes one HTML page
(:mod:`~replay.render.explorer.page`) from the package's ``page.html``,
``explorer.css`` and ``explorer.js``, with the runs' summaries
(:mod:`~replay.render.explorer.summary`) as JSON. ``docs/explorer.md``
describes the page and the measurements behind the encoding.

Example:
    >>> from replay.render import explore                       # doctest: +SKIP
    >>> explore("runs/part1/part1.h5", "part1.html")            # doctest: +SKIP
"""

from replay.render.explorer.explore import ExplorerPage, explore

__all__ = ["ExplorerPage", "explore"]
