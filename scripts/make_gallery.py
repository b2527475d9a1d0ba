"""Make the contact sheet of every view and scene: ``docs/images/gallery.png``.

One row per registered view (:data:`replay.views.VIEWS`) and per preset
scene (``Scene.part1``, ``Scene.part2``, ``Scene.default`` of a
classification and of a regression run, ``ComparisonScene.grid`` and
``ComparisonScene.curves``), one column per epoch: the state before
training (snapshot 0) and the last snapshot (a middle column added half the
bytes and little to see). A look at the whole
project's pictures at once, e.g. before and after a change of style.

The runs are real recordings, made here when missing or incomplete:

- ``RUNS/part1.h5``: the 150-epoch part-1 runs sigmoid, tanh and relu
  (``part1_activation_functions.ensure_runs``, about 30 s);
- ``RUNS/models.h5``: the ``regression`` run of
  ``make_model_images.record_regression`` (80 epochs, about 15 s).

The classification views draw the relu run; the regression views the
regression run.

Usage:
    python scripts/make_gallery.py [--runs runs] [--out docs/images/gallery.png]

Prints one line per row and, last, ``wrote PATH (W x H pixels, N kB)``.
"""

import argparse
import io
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
#: The views drawn on the regression run (every other view draws the relu run).
REGRESSION_VIEWS = ("prediction-scatter", "residual-histogram")
#: One cell of the sheet, in pixels: every picture is drawn to fit it (a small
#: sheet for the README: readable, about 180 kB).
CELL = (480, 255)
LABEL_WIDTH = 190
HEADER_HEIGHT = 34
GAP = 6


def ensure_regression_run(path):
    """Record the ``regression`` run of ``make_model_images`` into ``path`` unless it is complete."""
    from replay import Run
    from replay.errors import ReplayError

    try:
        with Run(path, "regression") as run:
            if run.complete:
                return
    except ReplayError:
        pass
    sys.path.insert(0, str(SCRIPTS))
    from make_model_images import record_regression

    print(f"recording the regression run into {path} ...", flush=True)
    record_regression(path)


def rows(part1, regression):
    """Return ``[(label, draw)]``: ``draw(epoch)`` returns a figure of that snapshot."""
    from replay.compare import ComparisonScene
    from replay.scene import Scene
    from replay.views import VIEWS

    def view(name):
        run = regression if name in REGRESSION_VIEWS else part1["relu"]
        return lambda epoch: VIEWS[name].build(run).plot(epoch)

    entries = [(f"view\n{name}", view(name)) for name in sorted(VIEWS)]
    runs = [part1[name] for name in ("sigmoid", "tanh", "relu")]
    entries += [
        ("Scene.part1\n(sigmoid)", lambda epoch: Scene.part1(part1["sigmoid"]).plot(epoch)),
        ("Scene.part2\n(tanh)", lambda epoch: Scene.part2(part1["tanh"]).plot(epoch)),
        ("Scene.default\n(relu)", lambda epoch: Scene.default(part1["relu"]).plot(epoch)),
        ("Scene.default\n(regression)", lambda epoch: Scene.default(regression).plot(epoch)),
        ("ComparisonScene\n.grid", lambda epoch: ComparisonScene.grid(runs).plot(epoch)),
        ("ComparisonScene\n.curves", lambda epoch: ComparisonScene.curves(runs).plot(epoch)),
    ]
    return entries


def picture(figure):
    """Return the figure as a PIL image that fits :data:`CELL`, drawn at the dpi that fits it."""
    import matplotlib.pyplot as plt
    from PIL import Image

    width, height = figure.get_size_inches()
    dpi = min(CELL[0] / width, CELL[1] / height)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    plt.close(figure)
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB")
    image.thumbnail(CELL)  # savefig may round a pixel up
    return image


def contact_sheet(cells, labels, headers):
    """Paste ``cells`` (rows of PIL images) on one white sheet with row labels and column headers."""
    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    font_path = font_manager.findfont("DejaVu Sans")
    font = ImageFont.truetype(font_path, 15)
    bold = ImageFont.truetype(font_manager.findfont(
        font_manager.FontProperties(family="DejaVu Sans", weight="bold")), 17)
    n_columns = len(headers)
    width = LABEL_WIDTH + n_columns * (CELL[0] + GAP)
    height = HEADER_HEIGHT + len(cells) * (CELL[1] + GAP)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    for column, header in enumerate(headers):
        x = LABEL_WIDTH + column * (CELL[0] + GAP) + CELL[0] // 2
        draw.text((x, HEADER_HEIGHT // 2), header, fill="black", font=bold, anchor="mm")
    for row, (images, label) in enumerate(zip(cells, labels)):
        top = HEADER_HEIGHT + row * (CELL[1] + GAP)
        draw.multiline_text((10, top + CELL[1] // 2), label, fill="black", font=font,
                            anchor="lm", spacing=4)
        if row:
            draw.line([(0, top - GAP // 2), (width, top - GAP // 2)], fill=(200, 200, 200))
        for column, image in enumerate(images):
            left = LABEL_WIDTH + column * (CELL[0] + GAP)
            sheet.paste(image, (left + (CELL[0] - image.width) // 2,
                                top + (CELL[1] - image.height) // 2))
    return sheet


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs", help="folder of the run files (default: runs)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "images" / "gallery.png"),
                        help="the contact sheet (default: docs/images/gallery.png)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(SCRIPTS))
    from part1_activation_functions import ACTIVATIONS, ensure_runs

    from replay import Run

    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    ensure_runs(runs / "part1.h5", ACTIVATIONS, 150)
    ensure_regression_run(runs / "models.h5")
    part1 = {name: Run(runs / "part1.h5", name) for name in ("sigmoid", "tanh", "relu")}
    regression = Run(runs / "models.h5", "regression")

    # The epochs of the columns: before training and the last snapshot. The part-1
    # runs and the regression run differ in length, so each row picks its own.
    def epochs(n_snapshots):
        return [0, n_snapshots - 1]

    cells, labels = [], []
    for label, draw in rows(part1, regression):
        n = regression.n_snapshots if "regression" in label or any(
            name in label for name in REGRESSION_VIEWS) else part1["relu"].n_snapshots
        cells.append([picture(draw(epoch)) for epoch in epochs(n)])
        labels.append(label)
        print(f"{label.replace(chr(10), ' ')}: epochs {epochs(n)}", flush=True)
    headers = ["before training (snapshot 0)", "last snapshot"]
    sheet = contact_sheet(cells, labels, headers)
    # 256 colours: the sheet is flat colours and anti-aliased text, a palette keeps it
    # readable at a fraction of the bytes of RGB.
    sheet = sheet.quantize(colors=256, method=2, dither=0)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    print(f"wrote {out} ({sheet.width} x {sheet.height} pixels, {out.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
