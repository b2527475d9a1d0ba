"""The media table: the part-1 animation in each format and size preset, with bytes and render time.

Renders the five-panel part-1 figure of the 150-epoch sigmoid run (151
frames at 10 fps) as MP4 and GIF at the default size (dpi 100, 12 x 6 in)
and at each size preset (:data:`replay.render.PRESETS`), plus one PNG
still, and prints a Markdown table: format, preset, pixel size, bytes,
render time (the whole ``save`` call, setup included). Then, at the default
size, the GIF encoders side by side: Pillow with the defaults (one palette
of 96 colours, changed pixels only, runs within 8 levels kept), Pillow at
256 colours re-sending every change, ffmpeg's ``paletteuse`` with the same
96-colour palette, and ffmpeg with one palette per frame (what replay did
before).

2 shared cores: render times vary with the other jobs on the machine; the
bytes do not.

Usage:
    python scripts/bench_media.py --run-file runs/part1.h5   # records the run if missing
    python scripts/bench_media.py --quick                     # default size only
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

SCRIPTS = Path(__file__).resolve().parent
warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)


def ensure_sigmoid_run(path, epochs=150):
    """Record the part-1 sigmoid run into ``path`` unless a complete one is there."""
    from replay import Run
    from replay.errors import ReplayError

    try:
        with Run(path, "sigmoid") as run:
            if run.complete and run.n_snapshots == epochs + 1:
                return
    except ReplayError:
        pass
    sys.path.insert(0, str(SCRIPTS))
    from part1_activation_functions import train

    print(f"recording a {epochs}-epoch part-1 sigmoid run into {path} ...", flush=True)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    train(path, "sigmoid", epochs=epochs)


def megabytes(size):
    """Decimal megabytes (as file browsers and the issue count them)."""
    return f"{size / 1e6:.2f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def render(run, out, **options):
    """Save the five-panel figure; return ``(width x height, bytes, seconds)``."""
    from replay.scene import Scene

    start = time.perf_counter()
    stats = Scene.part1(run, title_prefix="sigmoid").save(out, progress=False, **options)
    seconds = time.perf_counter() - start
    return f"{stats.size[0]} x {stats.size[1]}", stats.bytes, seconds


def per_frame_palette_gif(run, out):
    """The GIF as replay wrote it before: ffmpeg, one palette per frame (bayer dithering)."""
    import imageio_ffmpeg

    from replay.render import FrameRenderer
    from replay.render.encoders import GIF_FILTER
    from replay.scene import Scene

    start = time.perf_counter()
    scene = Scene.part1(run, title_prefix="sigmoid")
    renderer = FrameRenderer(scene, dpi=100)
    epochs = scene.select_epochs(None)
    renderer.prepare(epochs[0])
    width, height = renderer.size
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo",
               "-pix_fmt", "rgba", "-s", f"{width}x{height}", "-r", "10", "-i", "-",
               "-filter_complex", GIF_FILTER, "-loop", "0", str(out)]
    ffmpeg = subprocess.Popen(command, stdin=subprocess.PIPE)
    for epoch in epochs:
        ffmpeg.stdin.write(renderer.render(epoch).tobytes())
    ffmpeg.stdin.close()
    ffmpeg.wait()
    renderer.finish()
    return f"{width} x {height}", Path(out).stat().st_size, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-file", default="runs/part1.h5",
                        help="run file with the 150-epoch part-1 'sigmoid' run (recorded "
                             "there if missing; default runs/part1.h5)")
    parser.add_argument("--quick", action="store_true", help="the default size only")
    args = parser.parse_args(argv)
    ensure_sigmoid_run(args.run_file)

    import matplotlib

    matplotlib.use("Agg")
    from replay import Run
    from replay.render import PRESETS

    presets = [None] if args.quick else [None, *PRESETS]
    rows = []
    with tempfile.TemporaryDirectory() as folder, Run(args.run_file, "sigmoid") as run:
        folder = Path(folder)
        for preset in presets:
            name = preset or "default (dpi 100)"
            for kind, label in (("mp4", "MP4 (H.264)"), ("gif", "GIF")):
                size, written, seconds = render(run, folder / f"{preset}.{kind}",
                                                preset=preset)
                rows.append((label, name, size, written, f"{seconds:.1f} s"))
                print(" | ".join(map(str, rows[-1])), file=sys.stderr, flush=True)
        size, written, seconds = render(run, folder / "still.png", epoch=60)
        rows.append(("PNG (epoch 60)", "default (dpi 100)", size, written, f"{seconds:.1f} s"))

        encoders = []
        for label, options in (
                ("Pillow, 96 colours, runs within 8 levels kept (default)", {}),
                ("Pillow, 256 colours, every change re-sent",
                 {"colors": 256, "tolerance": 0}),
                ("ffmpeg paletteuse, the same 96-colour palette", {"gif_encoder": "ffmpeg"})):
            size, written, seconds = render(run, folder / "encoder.gif", **options)
            encoders.append((label, size, written, f"{seconds:.1f} s"))
            print(" | ".join(map(str, encoders[-1])), file=sys.stderr, flush=True)
        size, written, seconds = per_frame_palette_gif(run, folder / "before.gif")
        encoders.append(("ffmpeg, one palette per frame (before)", size, written,
                         f"{seconds:.1f} s"))

    print("\nThe part-1 animation (151 frames at 10 fps), by format and size preset:\n")
    print("| format | preset | pixels | bytes | render time |")
    print("| --- | --- | --- | --- | --- |")
    for label, name, size, written, seconds in rows:
        print(f"| {label} | {name} | {size} | {megabytes(written)} | {seconds} |")
    print("\nThe same GIF at the default size (1200 x 600), by encoder:\n")
    print("| GIF encoder | pixels | bytes | render time |")
    print("| --- | --- | --- | --- |")
    for label, size, written, seconds in encoders:
        print(f"| {label} | {size} | {megabytes(written)} | {seconds} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
