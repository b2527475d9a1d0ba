"""Make the small PNGs of run comparisons that the README and docs/compare.md show.

Trains the runs of experiments 1, 3, 4 and 5 into ``RUNS/part<N>.h5`` where
they are missing (the same runs as the ``scripts/part*`` scripts, about three
minutes in all here), then draws into ``docs/images/``, each PNG under 200 KB:

- ``compare_showdown.png``: the part-1 showdown at epoch 20;
- ``compare_curves.png``: part-1 loss and accuracy of sigmoid, tanh, relu;
- ``compare_blobs_errors.png``: experiment 3, error-sized points, 16 runs;
- ``compare_circles.png``: experiment 4, boundaries and curves;
- ``compare_digits.png``: experiment 5, validation accuracy and loss;
- ``activation_gallery.png``: the activation gallery.

Usage:
    python scripts/make_compare_images.py
    python scripts/make_compare_images.py --runs runs/compare --out docs/images
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
sys.path.insert(0, str(SCRIPTS))


def save_png(figure, path, dpi):
    """Save ``figure`` as an optimized PNG under ``MAX_BYTES``; return its size in bytes.

    An RGB PNG keeps every colour; when that is too large (smooth decision
    regions behind many points), the image gets a 256-colour palette that
    always holds the exact class, error and text colours, so the red rings
    of misclassified points survive the quantization.
    """
    from matplotlib.colors import to_rgb
    from PIL import Image

    from replay.views.style import CLASS_COLORS, ERROR_COLOR

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    image = Image.open(buffer).convert("RGB")
    image.save(path, optimize=True)
    if path.stat().st_size > MAX_BYTES:
        kept = [tuple(round(255 * channel) for channel in to_rgb(color))
                for color in (ERROR_COLOR, *CLASS_COLORS[:2], "#000000", "#FFFFFF", "#222222")]
        base = image.quantize(colors=256 - len(kept), method=Image.Quantize.FASTOCTREE,
                              dither=Image.Dither.NONE)
        palette = base.getpalette()[: 3 * (256 - len(kept))]
        for color in kept:
            palette += list(color)
        holder = Image.new("P", (1, 1))
        holder.putpalette(palette)
        image.quantize(palette=holder, dither=Image.Dither.NONE).save(path, optimize=True)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{path} is {size / 1024:.0f} KB, over {MAX_BYTES // 1024} KB")
    return size


def missing(path, names):
    """Return the names of ``names`` that are not complete runs of ``path``."""
    from replay import Run
    from replay.errors import ReplayError

    absent = []
    for name in names:
        try:
            with Run(path, name) as run:
                if run.complete:
                    continue
        except ReplayError:
            pass
        absent.append(name)
    return absent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/compare", help="folder of the run files")
    parser.add_argument("--out", default="docs/images", help="folder of the PNGs")
    args = parser.parse_args(argv)

    import matplotlib.pyplot as plt
    import part1_showdown
    import part3_activation_initializer_grid as part3
    import part4_circles_initializers as part4
    import part5_digits_activations as part5

    from replay.compare import ComparisonScene, open_runs
    from replay.gallery import activation_gallery

    runs_dir, out = Path(args.runs), Path(args.out)
    runs_dir.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)

    def write(scene_or_figure, name, *, dpi, epoch=-1):
        figure = scene_or_figure.plot(epoch) if hasattr(scene_or_figure, "plot") \
            else scene_or_figure
        size = save_png(figure, out / name, dpi)
        plt.close(figure)
        print(f"wrote {out / name} ({size / 1024:.0f} KB)")

    # Experiment 1.
    path = runs_dir / "part1.h5"
    part1_showdown.ensure_runs(path, part1_showdown.ACTIVATIONS, 150)
    runs = open_runs(part1_showdown.ACTIVATIONS, path=path)
    write(ComparisonScene.grid(runs, panel_size=(3.6, 3.4), title_prefix="Part 1 showdown"),
          "compare_showdown.png", dpi=70, epoch=20)
    write(ComparisonScene.curves(runs, ["loss", "accuracy"], panel_size=(4.2, 3.2),
                                 title_prefix="Part 1"), "compare_curves.png", dpi=70)

    # Experiment 3.
    path = runs_dir / "part3.h5"
    names = [f"{i}-{a}" for i in part3.INITIALIZERS for a in part3.ACTIVATIONS]
    for name in missing(path, names):
        initializer, activation = name.split("-", 1)
        print(f"training {name} into {path} ...", flush=True)
        part3.train(path, initializer, activation)
    labels = [name.replace("-", " + ").replace("leaky_relu", "leaky relu") for name in names]
    write(ComparisonScene.grid(open_runs(names, path=path), ["error-scatter"], labels=labels,
                               ncols=4, panel_size=(2.6, 2.5), title_prefix=part3.ERRORS_TITLE),
          "compare_blobs_errors.png", dpi=65)

    # Experiment 4.
    path = runs_dir / "part4.h5"
    for name in missing(path, part4.INITIALIZERS):
        print(f"training {name} into {path} ...", flush=True)
        part4.train(path, name)
    write(ComparisonScene.grid(open_runs(list(part4.INITIALIZERS), path=path),
                               ["decision-boundary", "loss-and-metric"],
                               labels=["zeros", "random normal \u00d7 10", "He"],
                               share_limits=False, panel_size=(3.8, 3.2),
                               title_prefix="Circles"),
          "compare_circles.png", dpi=65)

    # Experiment 5.
    path = runs_dir / "part5.h5"
    for name in missing(path, part5.ACTIVATIONS):
        print(f"training {name} into {path} ...", flush=True)
        part5.train(path, name)
    write(ComparisonScene.curves(open_runs(list(part5.ACTIVATIONS), path=path),
                                 ["val_accuracy", "val_loss"], labels=list(part5.LABELS),
                                 yscale={"val_accuracy": "logit"},  # 0.95 vs 0.98 apart
                                 panel_size=(4.2, 3.2), title_prefix="Digits 8\u00d78"),
          "compare_digits.png", dpi=70)
    write(activation_gallery(panel_size=(2.6, 2.2)), "activation_gallery.png", dpi=70)
    return 0


if __name__ == "__main__":
    sys.exit(main())
