"""Shared look: class colours and the colour of mistakes, the same in every view."""

import numpy as np
from matplotlib.colors import ListedColormap

#: Class colours, index = class label (0 = negative, 1 = positive, ...).
#: Colour-blind safe (Okabe-Ito), blue/orange first like the articles' figures.
CLASS_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                "#D55E00", "#F0E442", "#000000", "#999999", "#882255"]
#: Colour of wrongly classified samples / bars.
ERROR_COLOR = "#D62728"


def class_color(label):
    """Return the colour of class ``label``."""
    return CLASS_COLORS[int(label) % len(CLASS_COLORS)]


def class_colors(labels):
    """Return an array of colours, one per label."""
    return np.array([class_color(label) for label in np.asarray(labels).ravel()])


def region_cmap(n_classes):
    """Return a colormap of ``n_classes`` entries for decision regions."""
    return ListedColormap([class_color(label) for label in range(max(2, n_classes))])
