"""The visual style of every view, in one place: colour roles, font sizes, notes, spines.

Each colour or size a view uses is named here once (see ``docs/style.md``):

- **classes**: :data:`CLASS_COLORS` (Okabe-Ito), blue = class 0, orange = class 1;
- **runs** (curve charts comparing runs): :data:`RUN_COLORS`, dark or muted
  colours that are none of the class colours, each with its own marker
  (:data:`RUN_MARKERS`) as a second cue;
- **decision boundary**: :data:`BOUNDARY_COLOR` (near black), the ``p = 0.5`` line;
- **errors**: :data:`ERROR_COLOR` (red), misclassified samples and bars;
- **curves of one run**: :data:`LOSS_COLOR` and :data:`METRIC_COLOR`.

Notes (counts, ``σ = ...``) sit in a band reserved above the data
(:data:`HEADROOM`, :func:`headroom_limits`, :func:`add_note`), never on it.
"""

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox

# -- colour roles ---------------------------------------------------------------

#: Class colours, index = class label (0 = negative, 1 = positive, ...).
#: Colour-blind safe (Okabe-Ito), blue/orange first like the articles' figures.
CLASS_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                "#D55E00", "#F0E442", "#000000", "#999999", "#882255"]
#: Colour of wrongly classified samples / bars.
ERROR_COLOR = "#D62728"
#: Colour of the decision boundary line (p = 0.5) and of its legend entry.
BOUNDARY_COLOR = "#222222"
#: Colour of the input grid lines (bent by the hidden layers in the feature space).
GRID_COLOR = "#555555"
#: Colour of bars when classes are not told apart (correctly classified, regression).
NEUTRAL_COLOR = "#7F7F7F"
#: Colours of the loss and metric curves of one run (not class colours).
LOSS_COLOR = "#222222"
METRIC_COLOR = "#7B3294"
#: Strength of Keras' logged history where it is drawn beside the snapshots' curves.
HISTORY_ALPHA = 0.7
#: Colour of notes and reference lines (counts, thresholds).
NOTE_COLOR = "#333333"
#: Colours of runs in charts comparing runs: mostly Paul Tol's muted and dark
#: hues, none of them a class colour, far from the class colours blue and orange
#: for normal vision and simulated deuteranopia, protanopia and tritanopia
#: (CIELAB distance >= 13), and from each other (>= 11); see docs/style.md and
#: tests/test_style.py.
RUN_COLORS = ["#332288", "#117733", "#AA3377", "#44AA99", "#999933", "#661100",
              "#DDCC77", "#6699CC", "#CC6677", "#3A3A3A"]
#: Markers of the runs (a cue that does not depend on colour), one per run colour.
RUN_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">"]
#: Strength of the decision-region colours over white (points and grid stay readable).
REGION_ALPHA = 0.35
#: Smallest strength of a region colour, at p = 0.5: the regions stay visible
#: right up to the boundary (a region is never white).
REGION_MIN_ALPHA = 0.18

# -- fonts ---------------------------------------------------------------------

#: Font sizes in points. The floor, :data:`FONT_FLOOR`, is 8 pt: 8.9 pixels
#: high at dpi 80, the smallest dpi the scripts write.
FONT_FLOOR = 8.0
NOTE_SIZE = 8.5
LEGEND_SIZE = 8.0
TICK_SIZE = 8.5
LABEL_SIZE = 9.5
TITLE_SIZE = 10.5

# -- notes, spines, grids --------------------------------------------------------

#: Fraction of an axes' height above the data kept for notes and legends.
HEADROOM = 0.18
#: Drawing order of moving bars: above the axes' spines and ticks (2.5), as
#: blitted frames draw them, so that full redraws look the same.
BAR_ZORDER = 2.6
#: Drawing order of legends inside an axes: under the data (which stays below
#: the band anyway), so blitted frames, whose moving artists are drawn over
#: a static background, equal full redraws.
LEGEND_ZORDER = 0.9


def class_color(label):
    """Return the colour of class ``label``."""
    return CLASS_COLORS[int(label) % len(CLASS_COLORS)]


def class_colors(labels):
    """Return an array of colours, one per label."""
    return np.array([class_color(label) for label in np.asarray(labels).ravel()])


def run_color(index):
    """Return the line colour of the ``index``-th run (distinct for the first ten)."""
    return RUN_COLORS[index % len(RUN_COLORS)]


def run_marker(index):
    """Return the marker of the ``index``-th run."""
    return RUN_MARKERS[index % len(RUN_MARKERS)]


def region_cmap(n_classes):
    """Return a colormap of ``n_classes`` entries for decision regions."""
    return ListedColormap([class_color(label) for label in range(max(2, n_classes))])


def headroom_limits(low, high, fraction=HEADROOM):
    """Return y-limits that keep the data in ``[low, high]`` below a band for notes.

    The data take the lower ``1 - fraction`` of the axes; notes and legends
    placed above ``1 - fraction`` (axes coordinates) never cover them.
    """
    low, high = float(low), float(high)
    if not high > low:
        high = low + 1.0
    return low, low + (high - low) / (1.0 - fraction)


class BelowBandLocator(MaxNLocator):
    """Ticks of the data's part of an axis only: none in the band above it for notes.

    Args:
        fraction: the band's share of the axis (:data:`HEADROOM`).
        top: a value that must be labelled (e.g. 1.0 on an accuracy axis):
            the ticks are counted down from it in ``MaxNLocator``'s step;
            ``None`` lets ``MaxNLocator`` place them.
        **kwargs: passed to ``MaxNLocator`` (default ``nbins="auto"``).
    """

    def __init__(self, fraction=HEADROOM, *, top=None, **kwargs):
        kwargs.setdefault("nbins", "auto")
        super().__init__(**kwargs)
        self.fraction = fraction
        self.top = top

    def __call__(self):
        low, high = self.axis.get_view_interval()
        top = low + (high - low) * (1.0 - self.fraction)
        ticks = self.tick_values(low, top)
        tolerance = 1e-9 * max(abs(high - low), 1e-300)
        if self.top is not None and low - tolerance <= self.top <= top + tolerance \
                and len(ticks) > 1:
            step = float(ticks[1] - ticks[0])
            below = int(np.floor((self.top - low) / step + 1e-9))
            # Rounded: 1.0 - 3 * 0.1 must print as 0.7, not 0.7000000000000001.
            ticks = np.round(self.top - step * np.arange(below, -1, -1), 12)
        return ticks[(ticks >= low - tolerance) & (ticks <= top + tolerance)]


def ticks_below_band(axis, fraction=HEADROOM, **kwargs):
    """Give ``axis`` (e.g. ``ax.yaxis``) a :class:`BelowBandLocator` (``top=``, ...)."""
    axis.set_major_locator(BelowBandLocator(fraction, **kwargs))


def add_note(ax, text="", *, x=0.5, ha="center", color=NOTE_COLOR, **kwargs):
    """Write a note in the band above the data (see :func:`headroom_limits`); return it."""
    # Clipped to its axes: a note never spills into the next panel.
    return ax.text(x, 0.985, text, transform=ax.transAxes, ha=ha, va="top",
                   fontsize=NOTE_SIZE, color=color, zorder=3, clip_on=True, **kwargs)


class CountNote:
    """A note ``"<count><rest>"`` in the band above the data whose count changes per frame.

    Only the count is a per-frame artist (:attr:`count_`); the rest
    (:attr:`rest_`, e.g. ``" of 1000 misclassified"``) is fixed text drawn
    once with the background, centred where :func:`add_note` centres a note,
    and the count sits just before it on the same baseline. Matplotlib draws
    text glyph by glyph: redrawing a whole 23-character note cost 3.5 ms a
    frame, the count alone a few tenths of that.

    Args:
        ax: the axes.
        rest: the fixed text after the count (with its leading space).
        count: the first count shown.
    """

    def __init__(self, ax, rest, count=0):
        self.rest_ = add_note(ax, rest)
        # Right-aligned to the fixed text's left edge, bottoms level: the
        # same font, so the baselines are level too.
        self.count_ = ax.annotate(str(count), xy=(0.0, 0.0), xycoords=self.rest_, ha="right",
                                  va="bottom", fontsize=NOTE_SIZE, color=NOTE_COLOR,
                                  zorder=3, annotation_clip=False)
        self.count_.set_clip_path(ax.patch)

    def set_count(self, count):
        """Show ``count``; return the artist that changed."""
        self.count_.set_text(str(count))
        return self.count_

    def get_text(self):
        """The note as read: the count, then the rest."""
        return self.count_.get_text() + self.rest_.get_text()

    def get_window_extent(self, renderer=None):
        """The display box of the whole note."""
        return Bbox.union([self.count_.get_window_extent(renderer),
                           self.rest_.get_window_extent(renderer)])


def despine(ax):
    """Hide the top and right spines: a cleaner chart, and fewer lines per frame."""
    ax.spines[["top", "right"]].set_visible(False)


def light_grid(ax, axis="both"):
    """A light grid behind the data."""
    ax.grid(True, axis=axis, color="#E5E5E5", linewidth=0.6)
    ax.set_axisbelow(True)


def style_axes(ax):
    """The fonts of an axes' title, labels and ticks (the sizes above)."""
    ax.title.set_fontsize(TITLE_SIZE)
    ax.xaxis.label.set_fontsize(LABEL_SIZE)
    ax.yaxis.label.set_fontsize(LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
