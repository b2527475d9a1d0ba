"""Make the loss-landscape PNGs that docs/landscape.md shows.

Reads (or records, as ``scripts/part7_landscape.py`` does) the part-1 runs
and experiment 4's initializer runs in ``RUNS``, then draws into
``docs/images/`` at dpi 72, each PNG under 200 KB:

- ``landscape_sigmoid.png``, ``landscape_tanh.png``, ``landscape_relu.png``:
  one landscape each, beside the loss along the straight line;
- ``landscape_initializers.png``: zeros, random normal × 10 and He on one
  landscape.

Usage:
    python scripts/make_landscape_images.py
    python scripts/make_landscape_images.py --runs runs/part7 --out docs/images
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))
#: Largest size allowed for a docs image.
MAX_BYTES = 200 * 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/part7", help="folder of part1.h5 and part4.h5")
    parser.add_argument("--out", default=str(SCRIPTS.parent / "docs" / "images"))
    parser.add_argument("--dpi", type=float, default=72)
    args = parser.parse_args(argv)

    from part1_activation_functions import ensure_runs
    from part7_landscape import (
        ACTIVATIONS,
        activation_scenes,
        ensure_initializer_runs,
        initializer_scene,
    )

    runs, out = Path(args.runs), Path(args.out)
    runs.mkdir(parents=True, exist_ok=True)
    ensure_runs(runs / "part1.h5", ACTIVATIONS)
    ensure_initializer_runs(runs / "part4.h5")
    pictures = {f"landscape_{name}.png": scene
                for name, scene in activation_scenes(runs / "part1.h5").items()}
    pictures["landscape_initializers.png"] = initializer_scene(runs / "part4.h5")
    for name, scene in pictures.items():
        stats = scene.save(out / name, epoch=-1, dpi=args.dpi)
        size = stats.path.stat().st_size
        if size > MAX_BYTES:
            raise SystemExit(f"{stats.path} is {size // 1024} kB; keep docs images under "
                             f"{MAX_BYTES // 1024} kB (lower --dpi)")
        print(f"wrote {stats.path} ({size // 1024} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
