"""Make the README's animation and the small PNGs of the views it and docs/ show.

Records the 150-epoch part-1 sigmoid run into ``runs/part1.h5`` on first use
(the same run as ``scripts/part1_activation_functions.py``), then renders the
five-panel animation ``docs/images/part1_sigmoid.gif`` (README preset, at most
2 MB: the README's first screen) and draws the five-panel scene and each view
alone into ``docs/images/``, each PNG well under 200 KB.

Usage:
    python scripts/make_readme_images.py
    python scripts/make_readme_images.py --runs runs --out docs/images --epoch 60
"""

import argparse
import io
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

SCRIPTS = Path(__file__).resolve().parent
#: Largest size allowed for a README image.
MAX_BYTES = 200 * 1024
#: Largest size allowed for the README's animation (it loads on the first screen).
MAX_GIF_BYTES = 2 * 1024 * 1024


def ensure_run(path, name="sigmoid", epochs=150):
    """Record the part-1 run ``name`` into ``path`` unless a complete one is there."""
    sys.path.insert(0, str(SCRIPTS))
    from part1_activation_functions import ensure_runs

    ensure_runs(path, (name,), epochs)


def save_small_png(figure, path, dpi):
    """Save ``figure`` as an optimized RGB PNG; return its size in bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    # A palette would merge the few red (misclassified) pixels into another
    # colour; an optimized RGB PNG keeps every colour and stays small.
    Image.open(buffer).convert("RGB").save(path, optimize=True)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{path} is {size / 1024:.0f} KB, over {MAX_BYTES // 1024} KB")
    return size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs", help="folder of the run file (default runs)")
    parser.add_argument("--out", default="docs/images", help="output folder")
    parser.add_argument("--epoch", type=int, default=60, help="epoch shown (default 60)")
    parser.add_argument("--dpi", type=float, default=80)
    parser.add_argument("--epochs", default="0:150:2",
                        help="snapshots of the animation (default 0:150:2, ends on 150)")
    parser.add_argument("--no-gif", action="store_true", help="only the PNGs")
    args = parser.parse_args(argv)
    run_path = Path(args.runs) / "part1.h5"
    run_path.parent.mkdir(parents=True, exist_ok=True)
    ensure_run(run_path)

    from replay import Run
    from replay.render import Scene
    from replay.views import (
        DecisionBoundary,
        FeatureSpace,
        LossAndMetric,
        LossHistogram,
        ProbabilityHistogram,
    )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with Run(run_path, "sigmoid") as run:
        pictures = {
            "part1_sigmoid.png": Scene.part1(run, title_prefix="sigmoid").plot(args.epoch),
            "feature_space.png": FeatureSpace(run, "hidden").plot(args.epoch),
            "decision_boundary.png": DecisionBoundary(run).plot(args.epoch),
            "probability_histogram.png": ProbabilityHistogram(run).plot(args.epoch),
            "loss_histogram.png": LossHistogram(run).plot(args.epoch),
            "loss_and_metric.png": LossAndMetric(run).plot(args.epoch),
        }
        save_pictures(pictures, out, args.dpi)
        if not args.no_gif:
            save_animation(Scene.part1(run, title_prefix="sigmoid"), out / "part1_sigmoid.gif",
                           args.epochs)
    return 0


def save_animation(scene, path, epochs):
    """Render ``scene`` as the README's GIF at ``path``; fail above :data:`MAX_GIF_BYTES`."""
    from replay.render import save

    save(scene, path, epochs=epochs, fps=10, preset="readme", hold_last=2, progress=False)
    size = path.stat().st_size
    if size > MAX_GIF_BYTES:
        raise SystemExit(f"{path} is {size / 2**20:.2f} MB, over {MAX_GIF_BYTES / 2**20:.0f} MB: "
                         "pass a sparser --epochs")
    print(f"wrote {path} ({size / 2**20:.2f} MB)")


def save_pictures(pictures, out, dpi):
    """Save ``{file name: figure}`` as small PNGs into ``out``, closing each figure."""
    import matplotlib.pyplot as plt

    for name, figure in pictures.items():
        size = save_small_png(figure, out / name, dpi)
        print(f"wrote {out / name} ({size / 1024:.0f} KB)")
        plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
