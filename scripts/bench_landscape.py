"""Benchmark: what the loss landscape costs to compute and to animate.

- **CNN, Keras side**: the digits CNN of ``scripts/bench_scale.py``
  (Conv2D(8, 3, relu) → max pooling → Dense(2) → Dense(10, softmax)),
  trained 20 epochs on the first 1,000 of scikit-learn's 8 × 8 digits with
  a Recorder, then ``record_landscape(model, path, run, resolution=25)``:
  a 25 × 25 grid and the 61-point line evaluated by the model, the whole
  call (compilation included) timed once in this process;
- **render**: ``LossLandscape`` of the part-1 sigmoid run and the
  ``FeatureSpace`` of the same run, each saved as an MP4 of all 151
  snapshots at dpi 100 (frames per second of the whole ``save``; medians
  of ``--repeat`` alternating renders);
- **part 1, numpy** (the last line): ``compute_landscape`` of the part-1
  sigmoid net (150 epochs, 2,000 samples, 50 × 50 grid), the median of
  ``--repeat`` computations from the run file (no cache).

2 cores shared with others make the times noisy: the ranges are printed.

Usage:
    python scripts/bench_landscape.py [--repeat 5] [--run-file runs/part1.h5]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))


def spread(values):
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f} of {len(values)})"


def cnn_seconds(folder):
    """Train the digits CNN on 1,000 images with a Recorder; time record_landscape (25 × 25)."""
    import keras
    from bench_scale import digits_images

    from replay import Recorder
    from replay.record.landscape import record_landscape

    images, labels = digits_images()
    images, labels = images[:1000], labels[:1000]
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
        keras.layers.MaxPooling2D(), keras.layers.Flatten(),
        keras.layers.Dense(2, name="latent"),
        keras.layers.Dense(10, activation="softmax", name="output")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    path = Path(folder) / "cnn.h5"
    model.fit(images, labels, epochs=20, batch_size=32, verbose=0,
              callbacks=[Recorder(path, "cnn", images, labels)])
    start = time.perf_counter()
    landscape = record_landscape(model, path, "cnn", resolution=25)
    seconds = time.perf_counter() - start
    return seconds, landscape


def render_fps(run, folder, repeat):
    """Frames per second of the landscape's and the feature space's MP4s, alternating."""
    from replay.render import save
    from replay.views import FeatureSpace, LossLandscape

    run.landscape()  # computed once: the render is what is measured
    speeds = {"landscape": [], "feature space": []}
    for _ in range(repeat):
        for name, make in (("landscape", lambda: LossLandscape(run)),
                           ("feature space", lambda: FeatureSpace(run, layer="hidden"))):
            stats = save(make(), Path(folder) / "render.mp4", dpi=100, progress=False)
            speeds[name].append(stats.frames / stats.seconds)
    return speeds


def part1_seconds(path, repeat):
    """Seconds of compute_landscape on the part-1 sigmoid run (50 × 50), no cache."""
    from replay import Run
    from replay.landscape import compute_landscape

    seconds = []
    for _ in range(repeat):
        with Run(path, "sigmoid") as run:
            start = time.perf_counter()
            compute_landscape(run, resolution=50)
            seconds.append(time.perf_counter() - start)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--run-file", default="runs/part1.h5",
                        help="part-1 runs (recorded on first use)")
    args = parser.parse_args(argv)

    from part1_activation_functions import ensure_runs

    from replay import Run

    ensure_runs(args.run_file, ("sigmoid",))
    with tempfile.TemporaryDirectory() as folder:
        seconds, landscape = cnn_seconds(folder)
        print(f"CNN Keras side (record_landscape, 25x25 grid + 61-point line, 1,000 samples, "
              f"{landscape.layout.size} weights): {seconds:.1f} s")
        with Run(args.run_file, "sigmoid") as run:
            speeds = render_fps(run, folder, max(1, args.repeat // 2))
        print(f"render fps (MP4 of 151 frames, dpi 100): loss landscape "
              f"{spread(speeds['landscape'])}, feature space {spread(speeds['feature space'])}")
    seconds = part1_seconds(args.run_file, args.repeat)
    print(f"part-1 landscape (numpy, 2,000 samples, 151 snapshots, 50x50 grid): "
          f"{spread(seconds)} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
