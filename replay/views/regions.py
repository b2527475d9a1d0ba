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
from matplotlib.image import AxesImage
from matplotlib.transforms import Affine2D, Bbox
from PIL import Image

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
        # The colormap's own lookup (as Colormap.__call__ indexes it), into
        # its table already blended with white: the same colours, without
        # re-blending every cell of every frame.
        table = blended_probability_table(alpha)
        levels = len(table) - 3  # the colormap's N; then under, over, bad
        position = np.clip(outputs[..., 0], 0.0, 1.0) * levels
        position[position == levels] = levels - 1
        bad = np.isnan(position)
        index = np.where(bad, 0, position).astype(int)
        index[bad] = levels + 2
        return table.take(index, axis=0)
    palette = np.array([to_rgba(class_color(label))
                        for label in range(outputs.shape[-1])])
    colors = palette[outputs.argmax(axis=-1)]
    return blend_with_white(colors, alpha)


def blend_with_white(colors, alpha):
    """Blend RGBA ``colors`` with white into opaque colours (in place; returned).

    Translucent cells would leave visible seams where neighbours overlap, and
    bent meshes fold over themselves.
    """
    colors[..., :3] = 1.0 - alpha * (1.0 - colors[..., :3])
    colors[..., 3] = 1.0
    return colors


@functools.lru_cache(maxsize=8)
def blended_probability_table(alpha):
    """The lookup table of :func:`probability_cmap` (with its under, over and bad
    entries) blended with white at ``alpha``; read only."""
    cmap = probability_cmap()
    cmap._ensure_inited()  # builds cmap._lut: N colours, then under, over, bad
    table = blend_with_white(np.array(cmap._lut, dtype=np.float64), alpha)
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
