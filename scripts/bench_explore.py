"""Benchmark of the explorer page: writing time, page size, and the page in headless Chromium.

Prints one figure per line, the page size of the sweep last:

1. one part-1 run (five panels, 151 snapshots): ``replay explore`` as a
   whole process (wall time, page bytes);
2. 27 part-1-sized runs (the three part-1 runs copied nine times each, with
   hyperparameters activation × seed × learning rate): ``replay explore DIR``
   (wall time on the CPUs there are, page bytes);
3. in Chromium, for each page: time from navigation to the first frame on
   screen, and the time a slider step takes to show its frame (median, max);
4. with ``--encodings``: bytes per frame of the part-1 frames as WebP,
   JPEG and PNG stills against the page's H.264 video.

Usage:
    python scripts/part1_activation_functions.py --out /tmp/p1
    python scripts/bench_explore.py /tmp/p1/part1.h5 --work /tmp/bench_explore
"""

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the headless Chromium helper

STEPS = 30


def write_page(sources, out, *extra):
    """Run ``replay explore`` in a new process; return ``(wall s, CPU s, bytes)``.

    The CPU time (user + system, the process and its workers) does not
    depend on what else runs on the machine; the wall time does.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "replay.cli", "explore", *map(str, sources),
                    "--out", str(out), *extra], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stat().st_size


def copy_sweep(part1_file, folder, copies=9):
    """27 run files: each part-1 run copied ``copies`` times, with hyperparameters."""
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(part1_file, "r") as source:
        names = list(source)
        for name in names:
            for copy in range(copies):
                seed, rate = copy % 3, (0.01, 0.05, 0.1)[copy // 3]
                label = f"{name}-s{seed}-lr{rate}"
                with h5py.File(folder / f"{label}.h5", "w") as target:
                    target.attrs.update(source.attrs)  # what marks a run file
                    source.copy(source[name], target, name=label)
                    target[label].attrs["hparams"] = json.dumps(
                        {"activation": name, "seed": seed, "learning_rate": rate})
    return folder


def browser_figures(page):
    """Milliseconds of ``page`` in headless Chromium.

    Returns:
        ``(file read, controls working, first frame, median step, max step)``:
        the first three since navigation, the steps from the click to the
        frame on screen.
    """
    from browser import Browser, wait_for

    with Browser() as window:
        driver = window.driver
        driver.get(page.as_uri() + "#epoch=0")
        wait_for(driver, "window.replayExplorer && window.replayExplorer.timing.readyMs !== null",
                 timeout=60)
        timing = driver.execute_script("return window.replayExplorer.timing")
        loaded = driver.execute_script(
            "return performance.getEntriesByType('navigation')[0].responseEnd")
        for step in range(1, STEPS + 1):
            driver.execute_script("document.getElementById('step-forward').click()")
            wait_for(driver, f"document.getElementById('frame').dataset.snapshot === '{step}'")
        steps = driver.execute_script("return window.replayExplorer.timing.steps")
        errors = window.console_errors()
    if errors:
        raise SystemExit(f"console errors in {page}: {errors}")
    return (loaded, timing["interactiveMs"], timing["readyMs"], statistics.median(steps),
            max(steps))


def exactness_figures(page, part1_file, run, epochs=(10, 75, 150)):
    """Mean absolute difference (levels of 255) between the frame shown and the library's PNGs.

    Returns ``[(epoch, against its own PNG, against the nearest neighbour's), ...]``.
    """
    import base64
    import tempfile

    from browser import FRAME_PNG, Browser, wait_for
    from PIL import Image

    from replay import Run
    from replay.render import Scene

    def pixels(data):
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)

    figures = []
    with Browser() as window, tempfile.TemporaryDirectory() as folder, \
            Run(part1_file, run) as opened:
        driver = window.driver
        driver.get(page.as_uri())
        wait_for(driver, "window.replayExplorer && window.replayExplorer.timing.readyMs !== null",
                 timeout=60)
        for epoch in epochs:
            driver.execute_script(f"window.replayExplorer.setState({{epoch: {epoch}}})")
            wait_for(driver, f"document.getElementById('frame').dataset.snapshot === '{epoch}'")
            shown = pixels(base64.b64decode(driver.execute_script(FRAME_PNG).split(",", 1)[1]))
            errors = []
            for other in (epoch, epoch - 1):
                out = Path(folder) / f"{other}.png"
                Scene.default(opened).save(out, epoch=other, dpi=100)
                errors.append(np.abs(shown - pixels(out.read_bytes())).mean())
            figures.append((epoch, *errors))
    return figures


def encoding_figures(part1_file, run, video_bytes, frames, samples=16):
    """Print the bytes per frame of still images against the video."""
    from PIL import Image

    from replay import Run
    from replay.render import FrameRenderer, Scene

    with Run(part1_file, run) as opened:
        scene = Scene.default(opened)
        renderer = FrameRenderer(scene, dpi=100)
        renderer.prepare(0)
        indices = np.linspace(0, opened.n_snapshots - 1, samples).astype(int)
        drawn = [renderer.render(index)[..., :3].copy() for index in indices]
        renderer.finish()
    print(f"H.264 video (page): {video_bytes / frames / 1e3:.1f} KB per frame")
    for name, options in (("WebP q80", {"format": "WEBP", "quality": 80}),
                          ("WebP lossless", {"format": "WEBP", "lossless": True}),
                          ("JPEG q85", {"format": "JPEG", "quality": 85}),
                          ("PNG", {"format": "PNG"})):
        sizes = []
        for pixels in drawn:
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, **options)
            sizes.append(buffer.tell())
        print(f"{name} stills: {np.mean(sizes) / 1e3:.1f} KB per frame "
              f"({np.mean(sizes) * frames * 4 / 3 / 2**20:.1f} MB of base64 for {frames} frames)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part1_file", type=Path, help="run file of the part-1 script")
    parser.add_argument("--run", default="sigmoid", help="the single run (default sigmoid)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_explore"))
    parser.add_argument("--encodings", action="store_true", help="also compare still images")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium figures")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)

    single = args.work / "single.html"
    seconds, cpu, size = write_page([f"{args.part1_file}:{args.run}"], single)
    print(f"one part-1 run, 151 snapshots: written in {seconds:.1f} s (whole process; "
          f"{cpu:.1f} s CPU; load average {os.getloadavg()[0]:.1f}), page {size / 2**20:.2f} MB")
    sweep_folder = copy_sweep(args.part1_file, args.work / "sweep")
    sweep = args.work / "sweep.html"
    sweep_seconds, sweep_cpu, sweep_size = write_page([sweep_folder], sweep)
    print(f"27 part-1 runs: written in {sweep_seconds:.1f} s on {os.cpu_count()} CPUs "
          f"(whole process; {sweep_cpu:.1f} s CPU; load average {os.getloadavg()[0]:.1f}), "
          f"page {sweep_size / 2**20:.2f} MB")
    if not args.no_browser:
        for name, page in (("one run", single), ("27 runs", sweep)):
            loaded, interactive, ready, median, worst = browser_figures(page)
            print(f"{name} in Chromium: file read {loaded:.0f} ms after navigation, controls "
                  f"working at {interactive:.0f} ms, first frame at {ready:.0f} ms; a step "
                  f"shows its frame in {median:.0f} ms median, {worst:.0f} ms max "
                  f"({STEPS} steps)")
        for epoch, own, neighbour in exactness_figures(single, args.part1_file, args.run):
            print(f"frame shown at epoch {epoch} against the library's PNG: mean difference "
                  f"{own:.2f} levels of 255 (against epoch {epoch - 1}'s: {neighbour:.2f})")
    if args.encodings:
        text = single.read_text(encoding="utf-8")
        start = text.index('id="video-0">') + len('id="video-0">')
        video_bytes = (text.index("</script>", start) - start) * 3 // 4
        encoding_figures(args.part1_file, args.run, video_bytes, 151)
    print(f"page size: one run {size / 2**20:.2f} MB, 27 runs {sweep_size / 2**20:.2f} MB")


if __name__ == "__main__":
    main()
