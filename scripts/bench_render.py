"""Benchmark: render speed of the five-panel part-1 scene and of the 3-run showdown, GIF size, memory.

Records (or reuses) the 150-epoch part-1 runs (sigmoid, tanh and relu) and
measures the whole ``save`` call (setup included), alternating, ``--repeat``
times:

- the five-panel ``Scene.part1`` of sigmoid to H.264 at dpi 120 on a
  12 x 6 inch figure (1440 x 720 px);
- the showdown, ``ComparisonScene.grid`` of the three runs with the feature
  space over the input-space boundary, to H.264 at dpi 100 (1260 x 830 px,
  what ``replay compare FILE --runs sigmoid tanh relu --out showdown.mp4``
  renders).

Then it times the notebook display of the five-panel scene (``_repr_html_``:
seconds and bytes of HTML), writes the five-panel GIF at the default size (dpi 100, 1200 x 600
px) and prints its size, and renders a 150-epoch and a 1,000-epoch run in
fresh processes and prints the peak memory of each: streaming frames to
the encoder keeps it flat. Last, ``first png: X s (matplotlib floor Y s)``:
the whole process of ``replay render FILE --run sigmoid --epoch 60 --out
x.png`` against an empty figure of the same size saved as a PNG, medians of
``--png-repeat`` alternating runs.

The speeds are medians over the repeats, printed with their spread (2
shared cores: other jobs slow single runs down) as ``five-panel fps: X
(min-max of n)`` and ``showdown fps: Y (min-max of n)``. The **last line**
is, as before, ``render fps: X``: the five-panel median.

Usage:
    python scripts/bench_render.py                  # records into runs/ on first use
    python scripts/bench_render.py --run-file /tmp/media/part1.h5 --skip-memory
"""

import argparse
import os
import statistics
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


def ensure_part1_runs(path, epochs=150, names=("sigmoid", "tanh", "relu")):
    """Record the part-1 runs ``names`` into ``path`` unless complete ones are there."""
    sys.path.insert(0, str(SCRIPTS))
    from part1_activation_functions import ensure_runs

    ensure_runs(path, names, epochs)


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


def time_save(make_scene, out, **options):
    """Build a scene and save it; return ``(stats, wall seconds, CPU ms per frame of this process)``."""
    start = time.perf_counter()
    cpu_start = time.process_time()
    stats = make_scene().save(out, progress=False, **options)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return stats, seconds, 1000 * cpu / stats.frames


FLOOR_CHILD = """
import sys
from matplotlib.figure import Figure
figure = Figure(figsize=(12, 6), dpi=100)
figure.subplots(2, 3)
figure.savefig(sys.argv[1], dpi=100)
"""


def first_png(path, repeat):
    """Median whole-process seconds of ``replay render`` to a PNG, and of matplotlib's floor.

    The floor: an empty 2 x 3-axes 12 x 6 in figure saved as a PNG at the
    same dpi (100, the default of ``replay render``), the least a first
    picture of that size can cost in a fresh Python process. The two
    alternate, so both see the same load.
    """
    ours, floor = [], []
    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder) / "first.png")
        commands = ([sys.executable, "-m", "replay.cli", "render", str(path), "--run", "sigmoid",
                     "--epoch", "60", "--out", out],
                    [sys.executable, "-c", FLOOR_CHILD, out])
        for _ in range(repeat):
            for command, times in zip(commands, (ours, floor)):
                start = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True)
                times.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(floor)


def notebook_display(run):
    """Seconds and bytes of HTML of the five-panel scene shown in a notebook (151 frames)."""
    from replay.scene import Scene

    start = time.perf_counter()
    html = Scene.part1(run, title_prefix="sigmoid")._repr_html_()
    return time.perf_counter() - start, len(html)


def spread(values):
    """``"median (min-max of n)"`` of fps values."""
    values = sorted(values)
    return (f"{statistics.median(values):.1f} ({values[0]:.1f}-{values[-1]:.1f} of "
            f"{len(values)})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs", help="folder of the run files (default runs)")
    parser.add_argument("--run-file", help="a part-1 run file with runs sigmoid, tanh and "
                                           "relu (default: RUNS/bench_render.h5, recorded "
                                           "on first use)")
    parser.add_argument("--dpi", type=float, default=120, help="dpi of the five-panel scene")
    parser.add_argument("--repeat", type=int, default=3, help="alternating repeats (default 3)")
    parser.add_argument("--skip-memory", action="store_true",
                        help="skip the 150 vs 1,000 epoch memory comparison")
    parser.add_argument("--skip-gif", action="store_true", help="skip the GIF size")
    parser.add_argument("--png-repeat", type=int, default=5,
                        help="whole-process first-PNG timings, alternating with the floor "
                             "(default 5)")
    args = parser.parse_args(argv)
    folder = Path(args.runs)
    folder.mkdir(parents=True, exist_ok=True)
    part1_path = Path(args.run_file) if args.run_file else folder / "bench_render.h5"
    ensure_part1_runs(part1_path)

    import matplotlib

    matplotlib.use("Agg")
    from replay import Run
    from replay.compare import ComparisonScene
    from replay.scene import Scene

    five_panel, showdown = [], []
    with tempfile.TemporaryDirectory() as temporary, Run(part1_path, "sigmoid") as run:
        temporary = Path(temporary)
        for _ in range(args.repeat):
            stats, seconds, cpu = time_save(
                lambda: Scene.part1(run, title_prefix="sigmoid", figsize=(12, 6)),
                temporary / "part1_sigmoid.mp4", dpi=args.dpi, fps=10)
            five_panel.append(stats.frames / seconds)
            print(f"five-panel scene, {stats.frames} frames of {stats.size[0]}x{stats.size[1]} "
                  f"px (dpi {args.dpi:g}, 12x6 in): {seconds:.2f} s, {five_panel[-1]:.1f} fps, "
                  f"H.264 {stats.bytes / 1e6:.2f} MB, drawing process CPU {cpu:.1f} ms/frame, "
                  f"{os.cpu_count()} cores", flush=True)
            stats, seconds, cpu = time_save(
                lambda: ComparisonScene.grid(["sigmoid", "tanh", "relu"], path=part1_path),
                temporary / "showdown.mp4", fps=10)
            showdown.append(stats.frames / seconds)
            print(f"showdown, 3 runs x 2 views, {stats.frames} frames of {stats.size[0]}x"
                  f"{stats.size[1]} px (dpi 100): {seconds:.2f} s, {showdown[-1]:.1f} fps, "
                  f"H.264 {stats.bytes / 1e6:.2f} MB, drawing process CPU {cpu:.1f} ms/frame",
                  flush=True)
        seconds, size = notebook_display(run)
        print(f"notebook display of the five-panel scene ({run.n_snapshots} frames): "
              f"{seconds:.1f} s, {size / 1e6:.2f} MB of HTML (target 10 s, 3 MB)", flush=True)
        if not args.skip_gif:
            stats, seconds, _ = time_save(lambda: Scene.part1(run, title_prefix="sigmoid"),
                                          temporary / "part1_sigmoid.gif")
            print(f"five-panel GIF at the default size, {stats.frames} frames of "
                  f"{stats.size[0]}x{stats.size[1]} px: {stats.bytes / 1e6:.2f} MB "
                  f"(target 4 MB), {seconds:.1f} s")

    if not args.skip_memory:
        long_path = folder / "bench_render_long.h5"
        ensure_long_run(long_path)
        for path, name in ((part1_path, "sigmoid"), (long_path, LONG_RUN)):
            frames, peak, child_fps = peak_memory(path, name, args.dpi)
            print(f"peak memory rendering {frames - 1:>4} epochs ({frames} frames): "
                  f"{peak:.0f} MB ({child_fps:.1f} fps)")
    ours, floor = first_png(part1_path, args.png_repeat)
    print(f"first png: {ours:.2f} s (matplotlib floor {floor:.2f} s; ratio {ours / floor:.2f}, "
          "target 1.3)")
    print(f"five-panel fps: {spread(five_panel)}")
    print(f"showdown fps: {spread(showdown)}")
    print(f"render fps: {statistics.median(five_panel):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
