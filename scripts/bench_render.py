"""Benchmark: render the five-panel part-1 scene to MP4, and its peak memory.

Records (or reuses) a 150-epoch part-1 sigmoid run, renders
``Scene.part1`` to H.264 at dpi 120 on a 12 x 6 inch figure, and prints the
frames per second of the whole ``Scene.save`` call (setup included). Then it
renders a 150-epoch and a 1,000-epoch run in fresh processes and prints the
peak memory of each: streaming frames to the encoder keeps it flat.

The **last line** is ``render fps: X``.

Usage:
    python scripts/bench_render.py                  # records into runs/ on first use
    python scripts/bench_render.py --skip-memory    # only the fps
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
# ffmpeg and the memory probes start with fork+exec after JAX (which trains
# the runs) has started threads; exec makes that safe.
warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
#: Run name and epochs of the long run used for the memory check.
LONG_RUN, LONG_EPOCHS = "long", 1000


def ensure_part1_run(path, epochs=150):
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
    train(path, "sigmoid", epochs=epochs)


def ensure_long_run(path, epochs=LONG_EPOCHS):
    """Record a cheap ``epochs``-epoch run (the part-1 net, 200 points, one batch per epoch)."""
    from replay import Recorder, Run
    from replay.datasets import parabola
    from replay.errors import ReplayError

    try:
        with Run(path, LONG_RUN) as run:
            if run.complete and run.n_snapshots == epochs + 1:
                return
    except ReplayError:
        pass
    sys.path.insert(0, str(SCRIPTS))
    from part1_activation_functions import build_model

    print(f"recording a {epochs}-epoch run into {path} ...", flush=True)
    inputs, targets = parabola(100)
    model = build_model("sigmoid")
    recorder = Recorder(path, LONG_RUN, inputs, targets, overwrite=True)
    model.fit(inputs, targets, epochs=epochs, batch_size=len(inputs), verbose=0,
              callbacks=[recorder])


# VmHWM is the peak resident memory of this process image; ru_maxrss would
# also count the parent's memory, copied at fork before exec.
MEMORY_CHILD = """
import sys
import matplotlib
matplotlib.use("Agg")
from replay import Run
from replay.scene import Scene
path, name, out, dpi = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
with Run(path, name) as run:
    stats = Scene.part1(run).save(out, dpi=dpi, progress=False)
status = open("/proc/self/status").read()
peak = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(f"{stats.frames} {peak:.1f} {stats.fps:.1f}")
"""


def peak_memory(path, run, dpi):
    """Render ``run`` in a fresh process; return ``(frames, peak MB, fps)``."""
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(path), run,
             str(Path(folder) / "memory.mp4"), str(dpi)],
            capture_output=True, text=True, check=True)
    frames, peak, fps = result.stdout.split()
    return int(frames), float(peak), float(fps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs", help="folder of the run files (default runs)")
    parser.add_argument("--dpi", type=float, default=120)
    parser.add_argument("--skip-memory", action="store_true",
                        help="skip the 150 vs 1,000 epoch memory comparison")
    args = parser.parse_args(argv)
    folder = Path(args.runs)
    folder.mkdir(parents=True, exist_ok=True)
    part1_path = folder / "bench_render.h5"
    ensure_part1_run(part1_path)

    import matplotlib

    matplotlib.use("Agg")
    from replay import Run
    from replay.scene import Scene

    with tempfile.TemporaryDirectory() as temporary, Run(part1_path, "sigmoid") as run:
        out = Path(temporary) / "part1_sigmoid.mp4"
        start = time.perf_counter()
        cpu_start = time.process_time()
        stats = Scene.part1(run, title_prefix="sigmoid", figsize=(12, 6)).save(
            out, dpi=args.dpi, fps=10, progress=False)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        size_mb = out.stat().st_size / 2**20
    fps = stats.frames / seconds
    print(f"five-panel scene, {stats.frames} frames of {stats.size[0]}x{stats.size[1]} px "
          f"(dpi {args.dpi:g}, 12x6 in): {seconds:.2f} s, H.264 {size_mb:.1f} MB, "
          f"drawing process CPU {1000 * cpu / stats.frames:.1f} ms/frame, "
          f"{os.cpu_count()} cores")

    if not args.skip_memory:
        long_path = folder / "bench_render_long.h5"
        ensure_long_run(long_path)
        for path, name in ((part1_path, "sigmoid"), (long_path, LONG_RUN)):
            frames, peak, child_fps = peak_memory(path, name, args.dpi)
            print(f"peak memory rendering {frames - 1:>4} epochs ({frames} frames): "
                  f"{peak:.0f} MB ({child_fps:.1f} fps)")
    print(f"render fps: {fps:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
