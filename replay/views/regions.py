"""Decision regions and boundaries, shared by the feature space and the input space.

The colours come from the model's recorded outputs on the probe mesh: a
binary model (one sigmoid output) shades each cell from the negative class
colour through white (p = 0.5) to the positive class colour; a multiclass
model colours each cell by its predicted class.
"""

import functools

import contourpy
import numpy as np
from matplotlib.colors import LinearSegmentedColormap, to_rgba

from replay.views.style import class_color

#: Opacity of the decision regions, so points and grid lines stay readable.
REGION_ALPHA = 0.35
#: Colour of the decision boundary line (p = threshold).
BOUNDARY_COLOR = "#222222"


def thinned_indices(n_points, limit):
    """Return at most ``limit`` evenly spaced indices of ``range(n_points)``, ends included.

    Used to draw a fine probe mesh or long grid lines with fewer vertices:
    the picture barely changes, the drawing time drops with the square.
    """
    if n_points <= limit:
        return np.arange(n_points)
    return np.unique(np.linspace(0, n_points - 1, max(int(limit), 2)).round().astype(int))


@functools.cache
def probability_cmap():
    """Return the colormap of p(class 1): negative colour → white → positive colour."""
    return LinearSegmentedColormap.from_list(
        "replay_probability", [class_color(0), "#FFFFFF", class_color(1)]
    )


def is_binary(outputs):
    """Whether outputs ``(..., n_outputs)`` come from a one-unit (binary) model."""
    return np.shape(outputs)[-1] == 1


def region_colors(outputs, *, alpha=REGION_ALPHA, cells=False):
    """Return the RGBA colours of decision regions from mesh outputs.

    Args:
        outputs: model outputs on the mesh, ``(n_y, n_x, n_outputs)``.
        alpha: strength of the colours over a white background (the
            result is opaque).
        cells: colour the ``(n_y - 1, n_x - 1)`` cells between mesh points
            (value = mean of the four corners) instead of the points.

    Returns:
        Array ``(n_y, n_x, 4)`` (or one less per side with ``cells``).
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if cells:
        outputs = 0.25 * (outputs[:-1, :-1] + outputs[1:, :-1]
                          + outputs[:-1, 1:] + outputs[1:, 1:])
    if is_binary(outputs):
        colors = probability_cmap()(np.clip(outputs[..., 0], 0.0, 1.0))
    else:
        palette = np.array([to_rgba(class_color(label))
                            for label in range(outputs.shape[-1])])
        colors = palette[outputs.argmax(axis=-1)]
    # Blend with white into opaque colours: translucent cells leave visible
    # seams where neighbours overlap, and bent meshes fold over themselves.
    colors[..., :3] = 1.0 - alpha * (1.0 - colors[..., :3])
    colors[..., 3] = 1.0
    return colors


def mesh_image(ax, mesh, *, zorder=0.5):
    """Draw the decision regions of a regular probe mesh as one image; return it.

    Each mesh point is the centre of a pixel, so the image reaches half a
    cell past the outer points; the axes are limited to the outer points.
    Set the colours of an epoch with ``image.set_data(region_colors(outputs))``.

    Args:
        ax: the axes.
        mesh: the probe mesh ``(n_y, n_x, 2)`` (``run.inputs("mesh")``).
        zorder: stacking order (below the samples and the grid).

    Returns:
        The ``AxesImage``.
    """
    x_values, y_values = mesh[0, :, 0], mesh[:, 0, 1]
    half_x = 0.5 * (x_values[-1] - x_values[0]) / max(len(x_values) - 1, 1)
    half_y = 0.5 * (y_values[-1] - y_values[0]) / max(len(y_values) - 1, 1)
    extent = (x_values[0] - half_x, x_values[-1] + half_x,
              y_values[0] - half_y, y_values[-1] + half_y)
    image = ax.imshow(np.ones((*mesh.shape[:2], 4)), origin="lower", extent=extent,
                      interpolation="bilinear", aspect="auto", zorder=zorder)
    ax.set_xlim(x_values[0], x_values[-1])
    ax.set_ylim(y_values[0], y_values[-1])
    return image


def boundary_segments(x, y, outputs, threshold=0.5):
    """Return the decision boundary (the ``p = threshold`` contour) as line segments.

    Args:
        x, y: coordinates of the mesh points, ``(n_y, n_x)`` each; they may
            be a bent (curvilinear) mesh, e.g. the mesh as a hidden layer
            maps it.
        outputs: model outputs on the mesh, ``(n_y, n_x, n_outputs)``.
        threshold: probability of the boundary (binary models).

    Returns:
        A list of ``(n, 2)`` arrays; empty for multiclass outputs or when the
        boundary lies outside the mesh.
    """
    if not is_binary(outputs):
        return []
    generator = contourpy.contour_generator(
        np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64),
        np.asarray(outputs, dtype=np.float64)[..., 0],
        line_type=contourpy.LineType.Separate,
    )
    return [line for line in generator.lines(threshold) if len(line) > 1]
