"""The pictures of the visual regression tests: one small fixed run, every view and scene.

Shared by ``tests/test_visual.py`` (renders each case and compares it with
its committed reference) and ``scripts/make_visual_references.py`` (the only
writer of the references). A case is a name (``view-<view name>``,
``scene-<preset>``, ``compare-<preset>``) and a function ``runs -> figure``;
:func:`cases` lists one per registered view (:data:`replay.views.VIEWS`, so a
view registered later gets a case, and a failing test until its reference is
made) and one per preset scene.

The runs are deterministic and need no Keras: the part-1 nets 'sigmoid' and
'relu' written by ``synthetic.write_part1`` (numpy forward passes through
:class:`replay.io.writer.RunWriter`), and a small regression net built with
:meth:`replay.Run.from_arrays`.
"""

import contextlib
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

#: Where the committed reference images live.
REFERENCES = Path(__file__).parent / "visual" / "references"
#: The resolution of every picture: small files, still every artist drawn.
DPI = 40
#: Snapshot drawn in every case: the middle of the 6-snapshot runs (no state is
#: trivial there: the boundary is moving, errors and losses are mixed).
EPOCH = 3
#: The views drawn on the regression run (the others draw the classification run).
REGRESSION_VIEWS = ("prediction-scatter", "residual-histogram")

#: The file beside the references naming the library versions that drew them.
VERSIONS_FILE = "VERSIONS.txt"

#: What the pictures must not depend on: the style, the font and its hinting.
RC = {
    "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs everywhere
    "text.hinting": "none",          # no font-version-dependent hinting of the glyphs
    "text.antialiased": True,
    "lines.antialiased": True,
    "patch.antialiased": True,
    "savefig.facecolor": "white",
    "figure.max_open_warning": 0,
    "svg.hashsalt": "replay",
}


@contextlib.contextmanager
def pinned_style():
    """Matplotlib's default style with :data:`RC` on top, for as long as the block runs."""
    with matplotlib.rc_context():
        matplotlib.style.use("default")
        matplotlib.rcParams.update(RC)
        yield


def versions():
    """Return one line naming what decides the pixels: matplotlib, FreeType, numpy, Pillow."""
    import numpy
    import PIL
    from matplotlib import ft2font

    return (f"matplotlib {matplotlib.__version__}, FreeType {ft2font.__freetype_version__}, "
            f"numpy {numpy.__version__}, Pillow {PIL.__version__}")


def write_classification_runs(path):
    """Write the part-1 runs 'sigmoid' and 'relu' (5 epochs, 120 samples) to ``path``."""
    import synthetic

    for activation in ("sigmoid", "relu"):
        synthetic.write_part1(path, activation, activation, epochs=5, n_points=60,
                              mesh_resolution=30, grid_points=40)
    return path


def regression_run(epochs=5, n_samples=80):
    """A 1 → Dense(3, tanh) → Dense(1, linear) net fitting a sine, trained by numpy full-batch GD.

    Returns:
        A :class:`replay.Run` (in memory, loss ``"mse"``), ``epochs + 1`` snapshots.
    """
    from replay import Run

    rng = np.random.default_rng(7)
    inputs = np.linspace(-2.0, 2.0, n_samples, dtype=np.float64)[:, None]
    targets = np.sin(1.5 * inputs) + 0.1 * rng.normal(size=inputs.shape)
    kernel1, bias1 = rng.normal(0, 1.0, (1, 3)), np.zeros(3)
    kernel2, bias2 = rng.normal(0, 0.5, (3, 1)), np.zeros(1)
    keep = {"z": [], "a": [], "out": [], "k1": [], "b1": [], "k2": [], "b2": []}
    for _ in range(epochs + 1):
        z = inputs @ kernel1 + bias1
        a = np.tanh(z)
        out = a @ kernel2 + bias2
        for key, value in zip(keep, (z, a, out, kernel1, bias1, kernel2, bias2)):
            keep[key].append(value.copy())
        delta = 2.0 * (out - targets) / n_samples  # d mean-squared-error / d out
        grad_k2, grad_b2 = a.T @ delta, delta.sum(0)
        delta_hidden = (delta @ kernel2.T) * (1.0 - a ** 2)
        grad_k1, grad_b1 = inputs.T @ delta_hidden, delta_hidden.sum(0)
        for weight, gradient in ((kernel1, grad_k1), (bias1, grad_b1), (kernel2, grad_k2),
                                 (bias2, grad_b2)):
            weight -= 0.3 * gradient
    stack = {key: np.stack(values).astype(np.float32) for key, values in keep.items()}
    return Run.from_arrays(
        inputs=inputs.astype(np.float32), targets=targets.astype(np.float32),
        activations={"hidden": stack["a"]}, preactivations={"hidden": stack["z"]},
        outputs=stack["out"],
        weights={"hidden": {"kernel": stack["k1"], "bias": stack["b1"]},
                 "output": {"kernel": stack["k2"], "bias": stack["b2"]}},
        loss="mse", activation_names={"hidden": "tanh", "output": "linear"},
        name="sine")


def open_runs(path):
    """Return ``{"sigmoid", "relu", "regression"}`` runs, writing the file at ``path`` if needed."""
    from replay import Run

    path = Path(path)
    if not path.exists():
        write_classification_runs(path)
    seeds = write_seed_runs(path.with_name(f"{path.stem}_seeds.h5"))
    return {"sigmoid": Run(path, "sigmoid"), "relu": Run(path, "relu"),
            "regression": regression_run(),
            **{name: Run(seeds, name) for name in SEED_RUNS}}


#: Runs of one model (the tanh part-1 net) from different seeds: one loss landscape.
SEED_RUNS = ("seed-1", "seed-2", "seed-3")


def write_seed_runs(path):
    """Write the tanh part-1 runs of :data:`SEED_RUNS` (5 epochs, 60 samples) unless there."""
    import synthetic

    if not path.exists():
        for name in SEED_RUNS:
            synthetic.write_part1(path, name, "tanh", epochs=5, n_points=30,
                                  mesh_resolution=10, grid_points=10,
                                  seed=int(name.split("-")[1]))
    return path


def _view_case(name):
    def draw(runs):
        from replay.views import VIEWS

        run = runs["regression" if name in REGRESSION_VIEWS else "sigmoid"]
        view = VIEWS[name].build(run)
        return view.plot(EPOCH)
    return draw


def _scenes():
    from replay.compare import ComparisonScene
    from replay.scene import Scene
    from replay.views import LossLandscape

    return {
        "scene-part1": lambda runs: Scene.part1(runs["sigmoid"]).plot(EPOCH),
        "scene-part2": lambda runs: Scene.part2(runs["relu"]).plot(EPOCH),
        "scene-default": lambda runs: Scene.default(runs["relu"]).plot(EPOCH),
        "scene-regression": lambda runs: Scene.default(runs["regression"]).plot(EPOCH),
        "compare-grid": lambda runs: ComparisonScene.grid(
            [runs["sigmoid"], runs["relu"]]).plot(EPOCH),
        "compare-curves": lambda runs: ComparisonScene.curves(
            [runs["sigmoid"], runs["relu"]]).plot(EPOCH),
        "compare-landscape": lambda runs: LossLandscape(
            [runs[name] for name in SEED_RUNS], resolution=20).plot(EPOCH),
    }


def cases():
    """Return ``{case name: runs -> figure}``: every registered view, then every preset scene."""
    from replay.views.registry import view_names

    drawn = {f"view-{name}": _view_case(name) for name in view_names()}
    drawn.update(_scenes())
    return drawn


def render(case, runs, path):
    """Draw ``case`` (a function of :func:`cases`) into the PNG ``path`` at :data:`DPI`."""
    with pinned_style():
        figure = case(runs)
        try:
            figure.savefig(path, dpi=DPI, metadata={"Software": None})
        finally:
            plt.close(figure)
    return path
