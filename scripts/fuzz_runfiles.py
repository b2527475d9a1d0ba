"""Fuzz the reader: damaged copies of a valid run file, read the way users read them.

Writes a small valid run file (numpy only: a 2 → 2 → 1 net on 2-D inputs,
with probe points, gradients and history, 6 snapshots), then makes ``N``
damaged copies of it — truncations, byte and bit flips (biased to the
metadata at the start of the file), deleted and renamed members, attributes
of the wrong type or value, datasets of the wrong dtype, shape or length,
soft-link loops, and non-regular files (a FIFO, a folder) — and runs on
each, in a worker process with a time limit: ``Run`` and its reads,
``replay info`` and ``replay render`` to a PNG. Every operation must either
work or raise replay's own error (``ReplayError``).

A *foreign exception* is any other exception; a *hang* is a case that does
not answer within ``--timeout`` seconds (the worker is killed and
restarted); a *crash* is a worker that dies (e.g. a segfault in HDF5).

Usage:
    python scripts/fuzz_runfiles.py [--cases 1000] [--seed 0] [--timeout 2]

Last line: ``fuzz: foreign exceptions X, hangs Y, crashes Z of N``.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

#: What each case runs, in the worker (one line of output per case).
WORKER = r'''
import json, sys, traceback, io, contextlib
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from replay import Run, ReplayError
from replay.cli import main as cli

def operations(path, out):
    def opened():
        with Run(path) as run:
            for name in run.layer_names:
                run.weights(name, 0)
            for name in run.hidden_layers:
                run.activations(name, -1)
                run.preactivations(name, 0)
            run.outputs(-1); run.per_sample_loss(0); run.history; run.labels()
            run.series("outputs/train"); run.epochs; run.arrays()
            if "mesh" in run.sources:
                run.outputs(0, source="mesh")
    def info():
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            status = cli(["info", path, "--arrays"])
        if status not in (0, 2):
            raise RuntimeError(f"replay info exit status {status}")
    def render():
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            status = cli(["render", path, "--dpi", "20", "--out", out])
        plt.close("all")
        if status not in (0, 2):
            raise RuntimeError(f"replay render exit status {status}")
    return [("Run", opened), ("info", info), ("render", render)]

for line in sys.stdin:
    path, out = json.loads(line)
    results = []
    for name, operation in operations(path, out):
        try:
            operation()
            results.append([name, "ok", ""])
        except ReplayError as error:
            results.append([name, "replay", type(error).__name__])
        except BaseException as error:
            frame = traceback.extract_tb(error.__traceback__)[-1]
            where = f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}"
            results.append([name, "foreign", f"{type(error).__name__} at {where}: "
                                             f"{str(error)[:160]}"])
    print(json.dumps(results), flush=True)
'''


def write_valid_run(path, seed=0):
    """A small valid run file written with replay's own writer (numpy only)."""
    import numpy as np

    from replay.io import probes, schema
    from replay.io.runfile import open_file
    from replay.io.writer import RunWriter

    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(40, 2)).astype(np.float32)
    targets = (inputs[:, 0] > 0).astype(np.float32)[:, None]
    limits = probes.padded_limits(inputs)
    grid, mesh = probes.grid_lines(limits, 3, 12), probes.mesh(limits, 8)
    layers = [{"name": "hidden", "class_name": "Dense", "units": 2, "shape": [2],
               "activation": "tanh", "weights": ["kernel", "bias"], "hidden": True,
               "trainable_weights": ["kernel", "bias"], "preactivations": True},
              {"name": "output", "class_name": "Dense", "units": 1, "shape": [1],
               "activation": "sigmoid", "weights": ["kernel", "bias"], "hidden": False,
               "trainable_weights": ["kernel", "bias"], "preactivations": True}]
    with open_file(path, "a") as handle:
        writer = RunWriter.create(handle, "run", {
            "layers": layers, "loss": "binary_crossentropy", "task": "classification",
            "from_logits": False, "n_samples": 40, "n_outputs": 1, "created": "2026",
            "probe_limits": limits.tolist(), "batch_size": 8})
        writer.write_static(schema.inputs("train"), inputs)
        writer.write_static(schema.targets("train"), targets)
        writer.write_static(schema.inputs("grid"), grid)
        writer.write_static(schema.inputs("mesh"), mesh)
        kernel, bias = rng.normal(size=(2, 2)), np.zeros(2)
        out_kernel, out_bias = rng.normal(size=(2, 1)), np.zeros(1)
        for epoch in range(6):
            def forward(points, kernel=kernel, out_kernel=out_kernel):
                z = points @ kernel + bias
                hidden = np.tanh(z)
                return z, hidden, 1 / (1 + np.exp(-(hidden @ out_kernel + out_bias)))
            z, hidden, outputs = forward(inputs)
            arrays = {schema.weights("hidden", "kernel"): kernel,
                      schema.weights("hidden", "bias"): bias,
                      schema.weights("output", "kernel"): out_kernel,
                      schema.weights("output", "bias"): out_bias,
                      schema.gradients("hidden", "kernel"): kernel * 0.1,
                      schema.gradients("hidden", "bias"): bias * 0.1,
                      schema.gradients("output", "kernel"): out_kernel * 0.1,
                      schema.gradients("output", "bias"): out_bias * 0.1,
                      schema.outputs("train"): outputs,
                      schema.activations("train", "hidden"): hidden,
                      schema.preactivations("train", "hidden"): z,
                      schema.loss("train"): -np.log(np.where(targets[:, 0] > 0, outputs[:, 0],
                                                             1 - outputs[:, 0]))}
            for source, points in (("grid", grid), ("mesh", mesh)):
                _, hidden_p, outputs_p = forward(points.reshape(-1, 2))
                arrays[schema.activations(source, "hidden")] = hidden_p.reshape(
                    *points.shape[:-1], 2)
                arrays[schema.outputs(source)] = outputs_p.reshape(*points.shape[:-1], 1)
            history = None if epoch == 0 else (epoch, {"loss": float(arrays[schema.loss(
                "train")].mean()), "accuracy": 0.5 + 0.05 * epoch})
            writer.append_snapshot(float(epoch), epoch * 5, arrays, history)
            kernel = kernel * 1.1 + 0.05
            out_kernel = out_kernel * 1.05
        writer.set_attributes(complete=True)


def _members(path):
    import h5py

    names = []
    with h5py.File(path, "r") as handle:
        handle.visit(names.append)
    return names


#: Attribute values of the wrong type or value.
BAD_ATTRIBUTES = {
    "layers": ["[{", "[]", '[{"name": 3}]', '{"a": 1}', "null", 7, '[{"name": "hidden"}]',
               '[{"name": "x", "class_name": "Dense", "units": -2, "activation": "tanh"}]'],
    "schema_version": ["abc", -1, 99, 1.5, b"\xff"],
    "n_outputs": [-1, "two", 1e30], "loss": [5, ""], "task": ["?", 3],
    "from_logits": ["maybe"], "probe_limits": ["[[nan, 1], [0, 1]]", "[1, 2]", "x"],
    "complete": ["yes"], "batch_size": ["x", -5],
}


def mutate(valid, target, rng):
    """Write a damaged copy of ``valid`` to ``target``; return a short description."""
    import h5py
    import numpy as np

    kind = rng.choice(["truncate", "bytes", "bits", "delete", "rename", "attribute",
                       "attribute", "dataset", "dataset", "link", "special"])
    data = bytearray(valid.read_bytes())
    if kind == "truncate":
        cut = rng.randrange(0, len(data))
        target.write_bytes(bytes(data[:cut]))
        return f"truncate at {cut}"
    if kind in ("bytes", "bits"):
        count = rng.randint(1, 8)
        for _ in range(count):
            # Biased to the start: superblock, object headers, attributes.
            position = (rng.randrange(0, min(len(data), 8192)) if rng.random() < 0.6
                        else rng.randrange(0, len(data)))
            if kind == "bytes":
                data[position] = rng.randrange(256)
            else:
                data[position] ^= 1 << rng.randrange(8)
        target.write_bytes(bytes(data))
        return f"{count} {kind} flipped"
    if kind == "special":
        choice = rng.choice(["fifo", "folder"])
        if choice == "fifo" and hasattr(os, "mkfifo"):
            os.mkfifo(target)
        else:
            target.mkdir()
        return choice
    shutil.copyfile(valid, target)
    members = _members(target)
    with h5py.File(target, "a") as handle:
        run = handle["run"]
        if kind == "delete":
            name = rng.choice(members)
            if name in handle:
                del handle[name]
            return f"delete {name}"
        if kind == "rename":
            name = rng.choice(members)
            if name in handle and name != "run":
                handle.move(name, name + "_renamed")
            return f"rename {name}"
        if kind == "attribute":
            key = rng.choice(list(BAD_ATTRIBUTES))
            value = rng.choice(BAD_ATTRIBUTES[key])
            (handle if key == "schema_version" and rng.random() < 0.3 else run).attrs[key] = value
            return f"attribute {key}={value!r}"
        if kind == "link":
            name = rng.choice([m for m in members if "/" in m] or ["run/outputs"])
            if name in handle:
                del handle[name]
            handle[name] = h5py.SoftLink("/" + name)  # a link to itself
            return f"soft-link loop at {name}"
        # kind == "dataset": wrong dtype, shape or length
        datasets = [m for m in members if isinstance(handle.get(m), h5py.Dataset)]
        name = rng.choice(datasets)
        old = handle[name]
        change = rng.choice(["dtype", "shape", "longer", "shorter", "scalar"])
        if change == "dtype":
            new = np.array(["x"] * max(1, old.shape[0] if old.shape else 1), dtype="S3")
        elif change == "shape":
            new = np.zeros((old.shape[0] if old.shape else 1, 3, 5), dtype="float32")
        elif change == "longer":
            new = np.zeros((old.shape[0] * 7 + 3 if old.shape else 9,) + old.shape[1:], old.dtype)
        elif change == "shorter":
            new = np.zeros((max(0, (old.shape[0] if old.shape else 1) - 2),) + old.shape[1:],
                           old.dtype)
        else:
            new = np.float32(3.0)
        del handle[name]
        handle[name] = new
        return f"dataset {name}: {change}"


class Worker:
    """A Python process running the operations of each case, restarted after a hang."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.process = None

    def start(self):
        self.process = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, bufsize=1)
        # Warm up: imports and a first figure, outside any case's time limit.
        return self

    def run(self, path, out):
        """Return ``(status, results)``: ``"ok"``, ``"hang"`` or ``"crash"``."""
        import selectors

        if self.process is None or self.process.poll() is not None:
            self.start()
        self.process.stdin.write(json.dumps([str(path), str(out)]) + "\n")
        self.process.stdin.flush()
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=self.timeout):
            self.process.kill()
            self.process.wait()
            self.process = None
            return "hang", []
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            self.process = None
            return "crash", [f"exit status {code}"]
        return "ok", json.loads(line)

    def close(self):
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="seconds a case may take (after the worker's warm-up)")
    parser.add_argument("--show", type=int, default=15, help="distinct failures to print")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="replay-fuzz-"))
    valid = folder / "valid.h5"
    write_valid_run(valid)
    worker = Worker(args.timeout)
    worker.start()
    status, results = Worker(60).start().run(valid, folder / "valid.png")
    if status != "ok" or any(outcome != "ok" for _, outcome, _ in results):
        raise SystemExit(f"the valid file does not read cleanly: {status} {results}")
    # One untimed warm case, so that imports and the first figure do not count.
    worker.timeout = 60
    worker.run(valid, folder / "warm.png")
    worker.timeout = args.timeout
    foreign, hangs, crashes = 0, 0, 0
    failures = Counter()
    examples = {}
    start = time.perf_counter()
    for case in range(args.cases):
        target = folder / f"case{case}.h5"
        try:
            what = mutate(valid, target, rng)
        except Exception as error:  # a mutation h5py refused: try another
            what = f"(mutation failed: {error})"
            shutil.copyfile(valid, target)
        status, results = worker.run(target, folder / "case.png")
        if status == "hang":
            hangs += 1
            failures[("hang", what.split(" ")[0])] += 1
            examples.setdefault(("hang", what.split(" ")[0]), what)
        elif status == "crash":
            crashes += 1
            failures[("crash", what.split(" ")[0])] += 1
            examples.setdefault(("crash", what.split(" ")[0]), what)
        else:
            bad = [(name, detail) for name, outcome, detail in results if outcome == "foreign"]
            if bad:
                foreign += 1
                for name, detail in bad:
                    key = (name, detail.split(":")[0] + ":" + detail.split(":")[1]
                           if ":" in detail else detail)
                    failures[key] += 1
                    examples.setdefault(key, f"{what} -> {detail}")
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    worker.close()
    seconds = time.perf_counter() - start
    for key, count in failures.most_common(args.show):
        print(f"{count:5d}  {key[0]}: {examples[key]}")
    shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.cases} cases in {seconds:.0f} s")
    print(f"fuzz: foreign exceptions {foreign}, hangs {hangs}, crashes {crashes} of {args.cases}")
    return 1 if foreign or hangs or crashes else 0


if __name__ == "__main__":
    sys.exit(main())
