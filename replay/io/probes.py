"""Probe points over a 2-D input range: grid lines and a mesh.

The recorder pushes these through the model at every snapshot, so a replay
can draw the input grid bent by a hidden layer and colour decision regions
without having the model. Their shapes are part of the run file
(``inputs/grid``, ``inputs/mesh``); the replay side builds the same points
for DeepReplay files and :meth:`replay.Run.from_arrays`.
"""

import numpy as np

from replay.errors import OptionError


def padded_limits(inputs, padding=0.1):
    """Return ``(x_min, x_max), (y_min, y_max)`` of 2-D inputs, padded.

    Args:
        inputs: array of shape ``(n_samples, 2)``.
        padding: fraction of each range added on both sides.

    Returns:
        Array of shape ``(2, 2)``: one ``(low, high)`` row per input dimension.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    if inputs.ndim != 2 or inputs.shape[1] != 2:
        raise OptionError(
            f"Probe points need 2-D inputs of shape (n_samples, 2). Got {inputs.shape}."
        )
    low, high = inputs.min(axis=0), inputs.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return np.stack([low - padding * span, high + padding * span], axis=1)


def grid_lines(limits, n_lines=11, n_points=500):
    """Return points on ``n_lines`` vertical and ``n_lines`` horizontal lines.

    Args:
        limits: array ``(2, 2)`` of ``(low, high)`` per dimension.
        n_lines: lines per direction.
        n_points: points per line.

    Returns:
        Array of shape ``(2 * n_lines, n_points, 2)``: the vertical lines
        (constant x) first, then the horizontal lines (constant y).
    """
    if n_lines < 2 or n_points < 2:
        raise OptionError(
            f"grid_lines needs n_lines >= 2 and n_points >= 2. "
            f"Got n_lines={n_lines}, n_points={n_points}."
        )
    (x_low, x_high), (y_low, y_high) = np.asarray(limits, dtype=np.float64)
    x_levels = np.linspace(x_low, x_high, n_lines)
    y_levels = np.linspace(y_low, y_high, n_lines)
    along_x = np.linspace(x_low, x_high, n_points)
    along_y = np.linspace(y_low, y_high, n_points)
    vertical = np.stack(
        [np.repeat(x_levels[:, None], n_points, axis=1),
         np.repeat(along_y[None, :], n_lines, axis=0)], axis=-1)
    horizontal = np.stack(
        [np.repeat(along_x[None, :], n_lines, axis=0),
         np.repeat(y_levels[:, None], n_points, axis=1)], axis=-1)
    return np.concatenate([vertical, horizontal]).astype(np.float32)


def mesh(limits, resolution=100):
    """Return a regular mesh of points over ``limits``.

    Args:
        limits: array ``(2, 2)`` of ``(low, high)`` per dimension.
        resolution: points per side (an int) or ``(n_y, n_x)``.

    Returns:
        Array of shape ``(n_y, n_x, 2)``; ``[..., 0]`` is x, ``[..., 1]`` is y.
    """
    n_y, n_x = (resolution, resolution) if np.isscalar(resolution) else resolution
    if n_x < 2 or n_y < 2:
        raise OptionError(f"mesh resolution must be at least 2. Got {resolution!r}.")
    (x_low, x_high), (y_low, y_high) = np.asarray(limits, dtype=np.float64)
    xx, yy = np.meshgrid(np.linspace(x_low, x_high, int(n_x)),
                         np.linspace(y_low, y_high, int(n_y)))
    return np.stack([xx, yy], axis=-1).astype(np.float32)
