"""Small data sets of the experiments, generated with numpy (no downloads).

:func:`blobs_mod2`, the articles' blobs, is drawn by scikit-learn (imported
when called, so ``import replay`` does not need it).

Each function returns ``(inputs, targets)`` as float32 arrays, ``targets`` of
shape ``(N, 1)`` with 0/1 labels, shuffled with a fixed seed.
"""

import numpy as np

from replay.errors import OptionError


def _shuffled(inputs, targets, seed):
    order = np.random.default_rng(seed).permutation(len(inputs))
    return (inputs[order].astype(np.float32),
            targets[order].reshape(-1, 1).astype(np.float32))


def parabola(n_points=1000, *, gap=0.5, seed=13):
    """Two parabolas of ``n_points`` each (the part-1 data of the articles).

    ``x1`` evenly spaced in [-1, 1]; negatives on ``x2 = x1**2``, positives on
    ``x2 = x1**2 - gap``.

    Returns:
        ``(inputs (2 * n_points, 2), targets (2 * n_points, 1))``.
    """
    if n_points < 2:
        raise OptionError(f"n_points must be at least 2. Got {n_points}.")
    x1 = np.linspace(-1.0, 1.0, n_points)
    negatives = np.stack([x1, x1 ** 2], axis=1)
    positives = np.stack([x1, x1 ** 2 - gap], axis=1)
    inputs = np.concatenate([negatives, positives])
    targets = np.concatenate([np.zeros(n_points), np.ones(n_points)])
    return _shuffled(inputs, targets, seed)


def ball(n_points=1000, *, n_dims=10, radius=None, seed=42):
    """Points uniform in an ``n_dims``-dimensional ball (the part-2 data).

    The label is 1 when ``|sum of coordinates|`` exceeds half the radius
    (``radius`` defaults to ``sqrt(n_dims)``).
    """
    radius = np.sqrt(n_dims) if radius is None else radius
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(n_points, n_dims))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = radius * rng.uniform(size=(n_points, 1)) ** (1.0 / n_dims)
    inputs = directions * radii
    targets = (np.abs(inputs.sum(axis=1)) > radius / 2).astype(np.float32)
    return _shuffled(inputs, targets, seed)


def blobs_mod2(n_points=1000, *, centers=4, seed=0):
    """The articles' blobs: scikit-learn's ``make_blobs``, label = blob index mod 2.

    ``make_blobs(n_samples=n_points, centers=centers, n_features=2,
    random_state=seed)``: Gaussian blobs (standard deviation 1) whose
    centres are drawn in [-10, 10]², so blobs of the two labels can lie
    close together or overlap, and a 2-unit hidden layer has to find a
    non-linear boundary (experiment 3). Needs scikit-learn (in the
    ``[jax]``, ``[torch]``, ``[tensorflow]`` and ``[dev]`` extras);
    :func:`square_blobs_mod2` is an easier variant made with numpy alone.

    Raises:
        OptionError: scikit-learn is not installed.
    """
    try:
        from sklearn.datasets import make_blobs
    except ImportError:
        raise OptionError(
            "replay.datasets.blobs_mod2 draws the articles' blobs with scikit-learn's "
            "make_blobs; pip install scikit-learn (or keras-replay[jax]), or use "
            "square_blobs_mod2, made with numpy alone.") from None
    inputs, blob = make_blobs(n_samples=n_points, centers=centers, n_features=2,
                              random_state=seed)
    return _shuffled(inputs, blob % 2, seed)


def square_blobs_mod2(n_points=1000, *, n_blobs=4, spread=0.35, seed=7):
    """Gaussian blobs on the corners of a square; label = blob index mod 2 (numpy only).

    With four blobs this is an XOR-like problem: diagonal corners share a
    label. Well separated: any non-zero initialization of a 2-unit hidden
    layer solves it (see :func:`blobs_mod2` for the articles' harder data).
    """
    rng = np.random.default_rng(seed)
    angles = np.pi / 4 + 2 * np.pi * np.arange(n_blobs) / n_blobs
    centres = 1.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    blob = rng.integers(0, n_blobs, size=n_points)
    inputs = centres[blob] + spread * rng.normal(size=(n_points, 2))
    return _shuffled(inputs, blob % 2, seed)


def circles(n_points=400, *, noise=0.05, factor=0.5, seed=1):
    """Two concentric circles (inner = 1) with Gaussian noise."""
    rng = np.random.default_rng(seed)
    n_outer = n_points // 2
    n_inner = n_points - n_outer
    angles = rng.uniform(0, 2 * np.pi, size=n_points)
    radius = np.concatenate([np.ones(n_outer), np.full(n_inner, factor)])
    inputs = radius[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    inputs += noise * rng.normal(size=inputs.shape)
    targets = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])
    return _shuffled(inputs, targets, seed)


def moons(n_points=400, *, noise=0.1, seed=3):
    """Two interleaving half circles."""
    rng = np.random.default_rng(seed)
    n_upper = n_points // 2
    n_lower = n_points - n_upper
    upper = np.linspace(0, np.pi, n_upper)
    lower = np.linspace(0, np.pi, n_lower)
    inputs = np.concatenate([
        np.stack([np.cos(upper), np.sin(upper)], axis=1),
        np.stack([1 - np.cos(lower), 0.5 - np.sin(lower)], axis=1),
    ])
    inputs += noise * rng.normal(size=inputs.shape)
    targets = np.concatenate([np.zeros(n_upper), np.ones(n_lower)])
    return _shuffled(inputs, targets, seed)
