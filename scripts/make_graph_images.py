"""Make the network-graph picture of the README and docs/views.md (a small PNG, under 200 KB).

``network_graph.png``: experiment 4's net (2 → Dense(10, relu) → Dense(5, relu)
→ Dense(1, sigmoid)) on the circles after 150 epochs, He initialisation on
the left; random normal × 10 on the right, with the findings of
``replay diagnose`` marked (a saturated output, frozen layers).

Usage:
    python scripts/make_graph_images.py --out docs/images
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parent))

DPI = 72


def record(path, initializer, epochs=150):
    from part4_circles_initializers import build_model, split_data

    from replay import Recorder

    (x_train, y_train), _ = split_data()
    recorder = Recorder(path, initializer, x_train, y_train, probes=False, overwrite=True)
    build_model(initializer).fit(x_train, y_train, epochs=epochs, batch_size=16, verbose=0,
                                 callbacks=[recorder])


def graph_figure(out, path):
    import matplotlib.pyplot as plt

    from replay import Run
    from replay.views import NetworkGraph

    figure, axes = plt.subplots(1, 2, figsize=(13.0, 6.2), layout="constrained")
    for ax, (name, label) in zip(axes, (("he", "He normal"), ("normal-x10", "random normal \u00d7 10"))):
        run = Run(path, name)
        findings = run.diagnose() if name != "he" else None
        view = NetworkGraph(run, findings=findings, ax=ax)
        view.title = f"{label}: epoch {run.epochs[-1]:g}" + (
            " (findings of replay diagnose in red)" if findings else "")
        view.plot(-1)
    figure.suptitle("Circles, experiment 4: weights (edges) and mean activations (nodes)")
    target = out / "network_graph.png"
    figure.savefig(target, dpi=DPI)
    plt.close(figure)
    print(f"wrote {target} ({target.stat().st_size // 1024} KB)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "graphs.h5"
        for initializer in ("he", "normal-x10"):
            record(path, initializer)
        graph_figure(out, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
