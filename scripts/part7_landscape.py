"""Experiment 7: the loss landscape and the optimiser's path, for experiments 1 and 4.

Li et al. (2018) draw the path of the weights over the loss on the plane of
the trajectory's two principal directions; Goodfellow et al. (2015) the
loss along the straight line from the initial to the final weights. Here
both come from the recorded snapshots, with numpy (no model needed):

- experiment 1's part-1 nets (sigmoid, tanh, relu; 150 epochs on the
  parabolas): one landscape each, since a different activation is a
  different loss surface. The runs are read from (or recorded into)
  ``OUT/part1.h5``, as ``scripts/part1_activation_functions.py`` records them;
- experiment 4's initializers on the circles (zeros, random normal × 10,
  He; 2 → 10 → 5 → 1 relu net): one model, so **one** landscape, the plane
  of their combined trajectories through He's final weights, one path per
  initializer. The runs are read from (or recorded into) ``OUT/part4.h5``,
  as ``scripts/part4_circles_initializers.py`` records them.

Writes into ``OUT``:

- ``part7_sigmoid.png``, ``part7_tanh.png``, ``part7_relu.png``: the
  landscape with the whole path, beside the loss along the line;
- ``part7_initializers.png``: the three initializers on one landscape, and
  their lines;
- ``part7_relu.mp4`` and ``part7_initializers.mp4`` (unless ``--no-video``):
  the paths moving over the landscapes, epoch by epoch.

Usage:
    python scripts/part7_landscape.py --out runs/part7
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

#: The part-1 activations, and the experiment-4 initializers with their labels
#: (He first: the plane goes through the final weights of the first run).
ACTIVATIONS = ("sigmoid", "tanh", "relu")
INITIALIZERS = {"he": "He", "zeros": "zeros", "normal-x10": "random normal \u00d7 10"}


def ensure_initializer_runs(path, epochs=150):
    """Record experiment 4's runs into ``path`` unless complete ones are there."""
    from part1_activation_functions import ensure_runs
    from part4_circles_initializers import train

    ensure_runs(path, INITIALIZERS, epochs, train=train, what="circles")


def landscape_scene(runs, *, labels=None, title_prefix=""):
    """The landscape (left) and the line (right) of one run or of runs of one model."""
    from replay.render import Scene
    from replay.views import LossLandscape, LossLine

    scene = Scene(nrows=1, ncols=2, figsize=(11.5, 4.8), width_ratios=(1.15, 1.0),
                  title_prefix=title_prefix)
    landscape = scene.add(LossLandscape(runs, labels=labels), (0, 0))
    scene.add(LossLine(runs, labels=labels, landscape=landscape.landscape_), (0, 1))
    return scene


def activation_scenes(path):
    """``{activation: scene}`` of the part-1 runs in ``path``."""
    from replay import Run

    return {name: landscape_scene(Run(path, name), title_prefix=f"part 1, {name}")
            for name in ACTIVATIONS}


def initializer_scene(path):
    """The experiment-4 initializers on one landscape."""
    from replay import Run

    runs = [Run(path, name) for name in INITIALIZERS]
    return landscape_scene(runs, labels=list(INITIALIZERS.values()),
                           title_prefix="circles, three initializers")


def describe(scene):
    """One line per run: explained variance, start and end loss, where the path went."""
    landscape = scene.views[0].landscape_
    lines = [f"  plane: {landscape.directions_kind}, explained variance "
             f"{', '.join(f'{100 * share:.1f}%' for share in landscape.explained_variance)}; "
             f"loss on the grid {landscape.surface.min():.3g} .. {landscape.surface.max():.3g}"]
    for name, path, loss in zip(landscape.runs, landscape.paths, landscape.path_loss):
        moved = float(((path[1:] - path[:-1]) ** 2).sum(axis=1).__pow__(0.5).sum())
        lines.append(f"  {name:>10}: loss {loss[0]:.3g} -> {loss[-1]:.3g}, path from "
                     f"({path[0, 0]:.2f}, {path[0, 1]:.2f}) to ({path[-1, 0]:.2f}, "
                     f"{path[-1, 1]:.2f}), length {moved:.2f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/part7", help="output folder")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--no-video", action="store_true", help="PNGs only")
    args = parser.parse_args(argv)

    from part1_activation_functions import ensure_runs

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    part1 = out / "part1.h5"
    part4 = out / "part4.h5"
    ensure_runs(part1, ACTIVATIONS, args.epochs)
    ensure_initializer_runs(part4, args.epochs)

    scenes = activation_scenes(part1)
    names = {"sigmoid": out / "part7_sigmoid.png", "tanh": out / "part7_tanh.png",
             "relu": out / "part7_relu.png"}
    for name, scene in scenes.items():
        start = time.perf_counter()
        stats = scene.save(names[name], epoch=-1)
        print(f"wrote {stats.path} ({time.perf_counter() - start:.1f} s)\n{describe(scene)}")
    combined = initializer_scene(part4)
    stats = combined.save(out / "part7_initializers.png", epoch=-1)
    print(f"wrote {stats.path}\n{describe(combined)}")
    if not args.no_video:
        for scene, target in ((activation_scenes(part1)["relu"], out / "part7_relu.mp4"),
                              (initializer_scene(part4), out / "part7_initializers.mp4")):
            stats = scene.save(target, fps=15, progress=False)
            print(f"wrote {stats.path} ({stats.frames} frames, {stats.seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
