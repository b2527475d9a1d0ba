"""Output sizes: a width in pixels, or a preset for a common destination.

A figure's size in pixels is its size in inches times its dpi; text and
line widths are in points, so the inches decide how large the text looks
next to the panels and the dpi how many pixels that takes. ``width=``
keeps the figure's inches and picks the dpi that gives the width; a
:data:`PRESETS` entry also sets the figure's width in inches (its height
follows the scene's aspect ratio), so that the text stays legible at the
destination's width (the five-panel figure needs about 11 inches for its
labels; a narrower figure would clip them).

- ``readme``: 880 px wide, 11 in (dpi 80): a GitHub README or docs page
  (the column is about 880 px);
- ``article``: 1400 px, 12 in (dpi 117): a blog or Medium article, a 700 px
  column sharp on 2x screens;
- ``slide``: 1920 px, 16 in (dpi 120): a full-HD slide, full width;
- ``phone``: 1080 px, 12 in (dpi 90): a chat message or a phone screen.

For the 12 x 6 inch five-panel figure that is 880 x 440, 1400 x 700,
1920 x 960 and 1080 x 540 pixels; ``scripts/bench_media.py`` measures the
bytes and render time of each.
"""

from dataclasses import dataclass

from replay.errors import OptionError


@dataclass(frozen=True)
class SizePreset:
    """A destination's frame size.

    Attributes:
        name: the preset's name (``--preset NAME``).
        width: frame width in pixels.
        figure_width: figure width in inches (the height keeps the scene's aspect).
        destination: what it is for.
    """

    name: str
    width: int
    figure_width: float
    destination: str

    @property
    def dpi(self):
        """Pixels per inch the preset renders at."""
        return self.width / self.figure_width


#: The presets, by name.
PRESETS = {preset.name: preset for preset in (
    SizePreset("readme", 880, 11.0, "a GitHub README or docs page"),
    SizePreset("article", 1400, 12.0, "a blog or Medium article (700 px column at 2x)"),
    SizePreset("slide", 1920, 16.0, "a full-HD slide"),
    SizePreset("phone", 1080, 12.0, "a chat message or a phone screen (1080 px across)"),
)}


def preset(name):
    """Return the :class:`SizePreset` called ``name``, or raise an error listing them."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise OptionError(f"Unknown size preset {name!r}. Presets: "
                          f"{', '.join(PRESETS)}.") from None


def dpi_for_width(width, figure_width):
    """The dpi at which a ``figure_width``-inch figure is ``width`` pixels wide.

    Matplotlib truncates ``inches * dpi`` to whole pixels, so the dpi aims
    at the middle of the pixel.
    """
    return (width + 0.5) / figure_width


def check_width(width):
    """Return ``width`` as a pixel count (an integer from 16 to 16384), or raise."""
    if isinstance(width, bool) or not isinstance(width, int) or not 16 <= width <= 16384:
        raise OptionError(f"width must be a number of pixels from 16 to 16384. Got {width!r}.")
    return width


def apply_size(source, *, dpi=None, width=None, preset_name=None):
    """Return the dpi to render ``source`` at; with a preset, also set its figure size.

    Args:
        source: a scene or a view (its ``figsize`` is used before its figure
            exists; a figure already drawn keeps its inches).
        dpi: pixels per inch, or ``None``.
        width: frame width in pixels (picks the dpi), or ``None``.
        preset_name: a :data:`PRESETS` name (picks the figure width and the dpi), or ``None``.

    Returns:
        The dpi (100 when nothing is given).
    """
    given = [name for name, value in (("dpi", dpi), ("width", width), ("preset", preset_name))
             if value is not None]
    if len(given) > 1:
        raise OptionError(f"Give one of dpi, width and preset: they all set the size in "
                          f"pixels. Got {' and '.join(given)}.")
    if width is None and preset_name is None:
        return 100 if dpi is None else dpi
    figure = getattr(source, "figure_", None)
    requested = getattr(source, "_requested_ax", None)  # a view drawn into the user's axes
    if figure is None and requested is not None:
        figure = requested.figure
    if figure is not None:
        inches = tuple(figure.get_size_inches())
    else:
        inches = tuple(getattr(source, "figsize", (12.0, 6.0)))
    if preset_name is not None:
        chosen = preset(preset_name)
        if figure is None:
            # Before the first draw: the layout is computed for the new inches.
            scale = chosen.figure_width / inches[0]
            source.figsize = (chosen.figure_width, inches[1] * scale)
            inches = source.figsize
        width = chosen.width
    return dpi_for_width(check_width(width), inches[0])


def check_frame_size(frame, size, what):
    """Raise :class:`OptionError` unless ``frame`` is ``size`` = ``(width, height)`` pixels."""
    height, width = frame.shape[:2]
    if (width, height) != tuple(size):
        raise OptionError(f"Frame of {width}x{height} pixels; the {what} is "
                          f"{size[0]}x{size[1]}.")
