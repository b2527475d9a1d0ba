"""Decision regions and boundaries, shared by the feature space and the input space.

The colours come from the model's recorded outputs on the probe mesh. A
binary model (one sigmoid output) gets one of two region styles:

- ``"probability"`` (the default): each point is tinted with the colour of
  the class it is predicted as, stronger the surer the model is; at
  p = 0.5 the tint is still :data:`~replay.views.style.REGION_MIN_ALPHA`, so
  both regions stay visible right up to the boundary;
- ``"hard"``: DeepReplay's hard cut, one flat colour per predicted class.

A multiclass model colours each point by its predicted class. The
boundary is the ``p = 0.5`` contour of the mesh outputs, interpolated
within the mesh cells (marching squares), so it is smooth, not a staircase.
"""

import functools

import contourpy
import numpy as np
from matplotlib.colors import LinearSegmentedColormap, to_rgba
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.path import Path
from matplotlib.transforms import Affine2D, Bbox
from PIL import Image

from replay.errors import OptionError
from replay.views.style import (
    BOUNDARY_COLOR,
    LEGEND_SIZE,
    REGION_ALPHA,
    REGION_MIN_ALPHA,
    class_color,
)

#: The region styles of a binary model (see the module docstring).
REGION_STYLES = ("probability", "hard")
#: Entries of the probability lookup table (as a colormap's N).
TABLE_SIZE = 256

__all__ = ["BOUNDARY_COLOR", "REGION_ALPHA", "REGION_STYLES", "boundary_segments",
           "check_region_style", "filled_regions", "mesh_image", "region_colors",
           "region_legend", "region_table", "run_is_binary", "thinned_indices"]


def check_region_style(regions):
    """Return the region style of a ``regions`` option: ``True`` → ``"probability"``,
    ``False``/``None`` → ``None``; raise :class:`OptionError` for anything else."""
    if regions is True:
        return "probability"
    if regions is False or regions is None:
        return None
    if regions in REGION_STYLES:
        return regions
    raise OptionError(f"regions must be True, False, 'probability' or 'hard'. Got {regions!r}.")


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
    """Return the colormap of p(class 1): negative colour → white → positive colour.

    For colour keys; the regions themselves use :func:`region_colors`.
    """
    return LinearSegmentedColormap.from_list(
        "replay_probability", [class_color(0), "#FFFFFF", class_color(1)]
    )


def run_is_binary(run):
    """Whether ``run``'s model has one output unit, from its attributes when they say
    (no snapshot read: a run that recomputes its outputs would run a forward pass)."""
    n_outputs = run.n_outputs
    if n_outputs is not None:
        return n_outputs == 1
    return run.outputs(0).shape[-1] == 1


def is_binary(outputs):
    """Whether outputs ``(..., n_outputs)`` come from a one-unit (binary) model."""
    return np.shape(outputs)[-1] == 1


def region_colors(outputs, *, alpha=REGION_ALPHA, cells=False, style="probability"):
    """Return the opaque RGBA colours of decision regions from mesh outputs.

    Args:
        outputs: model outputs on the mesh, ``(n_y, n_x, n_outputs)``.
        alpha: strength of the colours over a white background (the
            result is opaque).
        cells: colour the ``(n_y - 1, n_x - 1)`` cells between mesh points
            (value = mean of the four corners) instead of the points.
        style: ``"probability"`` or ``"hard"`` (binary models; see the
            module docstring).

    Returns:
        Array ``(n_y, n_x, 4)`` (or one less per side with ``cells``).
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if cells:
        outputs = 0.25 * (outputs[:-1, :-1] + outputs[1:, :-1]
                          + outputs[:-1, 1:] + outputs[1:, 1:])
    if is_binary(outputs):
        # A lookup into a table already blended with white: the same colours
        # every frame, without re-blending every point.
        table = region_table(alpha, style)
        levels = TABLE_SIZE
        position = np.clip(outputs[..., 0], 0.0, 1.0) * levels
        position[position == levels] = levels - 1
        bad = np.isnan(position)
        index = np.where(bad, 0, position).astype(int)
        index[bad] = levels  # the last entry: white
        return table.take(index, axis=0)
    palette = np.array([to_rgba(class_color(label))
                        for label in range(outputs.shape[-1])])
    colors = palette[outputs.argmax(axis=-1)]
    return blend_with_white(colors, alpha)


def blend_with_white(colors, alpha):
    """Blend RGBA ``colors`` with white into opaque colours (in place; returned).

    ``alpha`` is one strength or one per colour. Translucent cells would
    leave visible seams where neighbours overlap, and bent meshes fold over
    themselves.
    """
    alpha = np.asarray(alpha, dtype=np.float64)[..., None] if np.ndim(alpha) else alpha
    colors[..., :3] = 1.0 - alpha * (1.0 - colors[..., :3])
    colors[..., 3] = 1.0
    return colors


@functools.lru_cache(maxsize=8)
def region_table(alpha, style="probability"):
    """The :data:`TABLE_SIZE` region colours of p(class 1) from 0 to 1, then white
    (for NaN); opaque, read only.

    ``"probability"``: the predicted class's colour at a strength from
    :data:`REGION_MIN_ALPHA` (p = 0.5) to ``alpha`` (p = 0 or 1);
    ``"hard"``: the predicted class's colour at ``alpha``.
    """
    if style not in REGION_STYLES:
        raise OptionError(f"region style must be one of {', '.join(REGION_STYLES)}. "
                          f"Got {style!r}.")
    probability = (np.arange(TABLE_SIZE) + 0.5) / TABLE_SIZE
    positive = probability > 0.5
    colors = np.array([to_rgba(class_color(int(p))) for p in positive])
    if style == "hard":
        strength = np.full(TABLE_SIZE, float(alpha))
    else:
        sureness = np.abs(probability - 0.5) * 2.0
        strength = REGION_MIN_ALPHA + (alpha - REGION_MIN_ALPHA) * sureness
    table = np.vstack([blend_with_white(colors, strength), [1.0, 1.0, 1.0, 1.0]])
    table.flags.writeable = False
    return table


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
    image = RegionImage(ax, origin="lower", interpolation="bilinear", zorder=zorder)
    image.set_data(np.ones((*mesh.shape[:2], 4)))
    image.set_clip_path(ax.patch)  # as imshow does: the layout ignores the overhang
    image.set_extent(extent)
    ax.add_image(image)
    ax.set_xlim(x_values[0], x_values[-1])
    ax.set_ylim(y_values[0], y_values[-1])
    return image


class RegionImage(AxesImage):
    """The ``AxesImage`` of :func:`mesh_image`: opaque colours, resampled by Pillow.

    Matplotlib resamples an RGBA image in float64 through Agg, then converts
    it to bytes: about 8 ms per frame for one 330 x 300 pixel panel, the
    largest cost of a comparison grid. When the image is opaque, enlarged
    ``bilinear`` and covers its whole clip box (as the decision regions do,
    reaching half a cell past the axes), Pillow's bilinear resize of its
    8-bit colours gives the same pixels to within one level of rounding in
    a fraction of the time. Anything else goes through matplotlib.
    """

    def _make_image(self, A, in_bbox, out_bbox, clip_bbox, magnification=1.0,
                    unsampled=False, round_to_pixel_border=True):
        fast = self._fast_resample(A, in_bbox, out_bbox, clip_bbox, magnification,
                                   unsampled, round_to_pixel_border)
        if fast is not None:
            return fast
        return super()._make_image(A, in_bbox, out_bbox, clip_bbox, magnification,
                                   unsampled=unsampled,
                                   round_to_pixel_border=round_to_pixel_border)

    def _fast_resample(self, A, in_bbox, out_bbox, clip_bbox, magnification, unsampled,
                       round_to_pixel_border):
        """Pillow's resize on the same pixel grid as ``AxesImage._make_image``, or ``None``."""
        if (unsampled or not round_to_pixel_border or self.origin != "lower"
                or self.get_interpolation() != "bilinear" or self.get_alpha() is not None
                or np.ndim(A) != 3 or A.shape[2] != 4 or np.ma.is_masked(A)
                or not np.all(A[..., 3] == 1)):
            return None
        clipped = Bbox.intersection(out_bbox, clip_bbox)
        if clipped is None or not (out_bbox.x0 <= clipped.x0 and out_bbox.y0 <= clipped.y0
                                   and clipped.x1 <= out_bbox.x1 and clipped.y1 <= out_bbox.y1):
            return None
        # The output grid of AxesImage._make_image: the clipped box rounded to pixels.
        x0, y0, x1, y1 = clipped.extents * magnification
        grid = Bbox.from_extents([np.floor(x0 + 0.5), np.ceil(y0 - 0.5 - 1e-8),
                                  np.floor(x1 + 0.5 + 1e-8), np.ceil(y1 - 0.5)])
        width, height = int(grid.width), int(grid.height)
        if width <= 0 or height <= 0:
            return None
        transform = (Affine2D().scale(in_bbox.width / A.shape[1], in_bbox.height / A.shape[0])
                     .translate(in_bbox.x0, in_bbox.y0) + self.get_transform()
                     + Affine2D().scale(magnification).translate(-grid.x0, -grid.y0))
        if not transform.is_affine:
            return None
        (scale_x, shear_x, shift_x), (shear_y, scale_y, shift_y), _ = transform.get_matrix()
        if shear_x or shear_y or scale_x < 1 or scale_y < 1:
            return None  # rotated, flipped or shrunk: Agg's filtering differs
        box = (-shift_x / scale_x, -shift_y / scale_y,
               (width - shift_x) / scale_x, (height - shift_y) / scale_y)
        if box[0] < 0 or box[1] < 0 or box[2] > A.shape[1] or box[3] > A.shape[0]:
            return None
        # Bytes truncated as matplotlib truncates its float result; the padding
        # byte of RGBX stays 255 (opaque) through the resize.
        source = np.full((*A.shape[:2], 4), 255, dtype=np.uint8)
        source[..., :3] = np.asarray(A[..., :3]) * 255
        resized = Image.fromarray(source, "RGBX").resize((width, height),
                                                          Image.Resampling.BILINEAR, box=box)
        output = np.frombuffer(bytearray(resized.tobytes()), dtype=np.uint8)
        output = output.reshape(height, width, 4)
        return output, grid.x0 / magnification, grid.y0 / magnification, transform


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


def region_legend(ax, classes, *, binary, style="probability", regions=True, boundary=True,
                  point_size=2.5):
    """Draw the key of a regions panel below the axes; return the ``Legend``.

    Entries: one marker per class, the boundary line (binary models) and,
    with regions, what the shading means. The legend sits below the x label,
    outside the data (the layout makes room for it), and is drawn once.

    Args:
        ax: the axes.
        classes: the class labels shown.
        binary: whether the model has one sigmoid output (a p = 0.5 boundary).
        style: the region style (``"probability"`` or ``"hard"``).
        regions: whether the panel shades regions.
        boundary: whether the panel draws the boundary line.
        point_size: the samples' marker size, in points.
    """
    def dot(label):
        return Line2D([], [], linestyle="none", marker="o",
                      markersize=max(point_size * 2.0, 5.0), markeredgewidth=0,
                      color=class_color(label), label=f"class {label}")

    def patch(face, label):
        return Patch(facecolor=face, edgecolor="#BBBBBB", linewidth=0.5, label=label)

    if binary and len(classes) <= 2:
        # Two columns, read across: class 0 | class 1, predicted 0 | predicted 1,
        # boundary | pale = unsure (a legend fills its columns top to bottom).
        table = region_table(REGION_ALPHA, style)
        left = [dot(classes[0])] if len(classes) else []
        right = [dot(classes[1])] if len(classes) > 1 else []
        if regions:
            left.append(patch(table[0], "predicted 0"))
            right.append(patch(table[-2], "predicted 1"))
        if boundary:
            left.append(Line2D([], [], color=BOUNDARY_COLOR, linewidth=1.5,
                               label="boundary p = 0.5"))
        if regions and style == "probability":
            unsure = table[TABLE_SIZE // 2 - 1]
            right.append(patch(unsure, "pale: p near 0.5"))
        while len(right) < len(left):
            right.append(Line2D([], [], linestyle="none", label=" "))
        handles, ncol = left + right, 2
    else:
        handles = [dot(label) for label in classes]
        if regions:
            handles.append(patch("#EEEEEE", "shade: predicted class"))
        ncol = min(len(handles), 5)
    # Below the tick labels and the x label, whatever the axes' size: the
    # gap is in font sizes (3.4 legend font sizes, about 27 points).
    return ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                     ncol=ncol, fontsize=LEGEND_SIZE, frameon=False, handlelength=1.4,
                     columnspacing=1.2, handletextpad=0.4, borderaxespad=3.4)


#: The probability levels of the filled regions of a binary model: nested
#: regions ``p < level`` (class 0 side) and ``p >= level`` (class 1 side), each
#: drawn over the last, coloured like the band just inside its level.
SURENESS_LEVELS = (0.5, 0.4, 0.3, 0.2, 0.1)


def filled_regions(x, y, outputs, *, style="probability", alpha=REGION_ALPHA):
    """Return the decision regions of a binary model as filled contours: ``(paths, colors)``.

    The regions are the contours of the mesh outputs (interpolated within the
    mesh cells, so their edges are smooth on any bent mesh), nested: first
    everything on the class 0 side (p < 0.5), then p < 0.4 over it, and so
    on; then the class 1 side the same way. Drawn in order, each band shows
    how sure the model is; ``style="hard"`` keeps only the two sides
    (DeepReplay's hard cut). Nested regions overlap their neighbours, so no
    seam shows between bands.

    Args:
        x, y: coordinates of the mesh points, ``(n_y, n_x)`` each (a bent
            mesh, e.g. the mesh as a hidden layer maps it).
        outputs: the binary model's outputs on the mesh, ``(n_y, n_x, 1)``.
        style: ``"probability"`` or ``"hard"``.
        alpha: strength of the strongest colour over white.

    Returns:
        A list of ``matplotlib.path.Path`` and an ``(n_paths, 4)`` array of
        their opaque colours, in drawing order.
    """
    table = region_table(alpha, style)
    levels = SURENESS_LEVELS if style == "probability" else SURENESS_LEVELS[:1]
    generator = contourpy.contour_generator(
        np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64),
        np.asarray(outputs, dtype=np.float64)[..., 0], fill_type=contourpy.FillType.OuterCode)
    paths, colors = [], []
    step = levels[0] - levels[1] if len(levels) > 1 else 0.5
    for side in (0, 1):
        for level in levels:
            # The band just inside this level: p in [level - step, level) on the
            # class 0 side, [1 - level, 1 - level + step) on the class 1 side.
            inner = level - 0.5 * step if side == 0 else 1.0 - level + 0.5 * step
            lower, upper = (-np.inf, level) if side == 0 else (1.0 - level, np.inf)
            points, codes = generator.filled(lower, upper)
            color = table[min(int(np.clip(inner, 0.0, 1.0) * TABLE_SIZE), TABLE_SIZE - 1)]
            for vertices, kinds in zip(points, codes):
                if len(vertices) > 2:
                    paths.append(Path(vertices, kinds))
                    colors.append(color)
    return paths, np.array(colors).reshape(-1, 4)
