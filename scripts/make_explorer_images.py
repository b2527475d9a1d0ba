"""The explorer page's pictures in ``docs/images/``: the part-1 runs' page in headless Chromium.

Writes the page of the three part-1 runs (``replay explore``), opens it at
``#run=sigmoid&epoch=40`` at 1280 and at 375 CSS pixels wide, and saves the
top of each: ``docs/images/explorer-desktop.png`` and
``docs/images/explorer-phone.png``.

Usage:
    python scripts/part1_activation_functions.py --out /tmp/p1
    python scripts/make_explorer_images.py /tmp/p1/part1.h5
"""

import argparse
import io
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the headless Chromium helper

#: (file name, window width, height of the top kept) in CSS pixels.
SHOTS = (("explorer-desktop.png", 1280, 1000), ("explorer-phone.png", 375, 1100))
MOMENT = "#run=sigmoid&epoch=40"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part1_file", type=Path, help="run file of the part-1 script")
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "images")
    args = parser.parse_args(argv)

    from browser import Browser, wait_for
    from PIL import Image

    from replay.render import explore

    with tempfile.TemporaryDirectory() as folder:
        page = explore(args.part1_file, Path(folder) / "part1.html",
                       title="Part 1: sigmoid, tanh, relu — replay explorer")
        for name, width, height in SHOTS:
            with Browser(width, height + 200) as window:
                driver = window.driver
                # Headless Chromium starts at least 500 pixels wide; a resize goes narrower.
                driver.set_window_size(width, height + 200)
                driver.get(page.path.as_uri() + MOMENT)
                wait_for(driver, "document.body.dataset.shownEpoch === '40' && "
                                 "Array.from(document.querySelectorAll('.tile video'))"
                                 ".every(v => v.dataset.snapshot === '40')", timeout=60)
                shot = Image.open(io.BytesIO(driver.get_screenshot_as_png()))
                if window.console_errors():
                    raise SystemExit(f"console errors: {window.console_errors()}")
            out = args.out / name
            # 256 colours: a screenshot of flat panels loses nothing visible and
            # the committed picture is about a third of its RGB size.
            shot.crop((0, 0, shot.width, min(shot.height, height))).convert("RGB").quantize(
                256, method=Image.Quantize.FASTOCTREE).save(out, optimize=True)
            print(f"wrote {out} ({shot.width} x {min(shot.height, height)} pixels, "
                  f"{out.stat().st_size // 1024} kB)")


if __name__ == "__main__":
    main()
