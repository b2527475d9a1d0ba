"""Kill a recorded training at random moments; check what the run file keeps.

Each trial starts a training process (the part-1 net on 400 parabola points,
30 epochs, batch 16, a default ``Recorder``) that prints every finished
epoch's loss, waits a random time after ``fit`` started (inside the first
epoch too), then sends one of: SIGKILL, SIGTERM or SIGINT to the trainer, or
SIGKILL to its writer child. Once the trainer has ended and the writer child
has let go of the file, the trial checks:

- *readable*: the run opens and every snapshot's arrays read; its epochs are
  contiguous (0, 1, 2, ...); its history equals the losses the trainer
  printed, epoch by epoch; ``complete`` is False unless training finished;
- *snapshot 0 kept*: the run holds the state before training: snapshot 0,
  or at least its weights (``Run.initial_weights``: the recorder writes
  them before the first batch, and the rest of snapshot 0 once Keras'
  first training step is done); counted over all trials, with those that
  kept the weights only, and over those killed once the first epoch ended
  (the recorder promises the whole snapshot 0 on disk by then);
- *snapshots lost*: epochs the trainer finished (printed) that the file lacks.

Promised (README, "Files that survive a crash"): every snapshot the writer
child was handed is kept; at most ``Recorder.max_pending`` (4) handed to the
writer thread but not yet to the child can be lost when the trainer is
killed; killing the writer child ends the training with a RecordingError.

Usage:
    python scripts/kill_trials.py [--trials 24] [--seed 0]

Last line: ``kill trials: readable A of N, snapshot 0 kept B of N (W as its weights only;
D of E killed after the first epoch), max snapshots lost C``.
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAINER = r'''
import os, sys
os.environ.setdefault("KERAS_BACKEND", "jax")
import keras, numpy as np
from replay import Recorder
from replay.datasets import parabola
inputs, targets = parabola(200)
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="sigmoid"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(keras.optimizers.SGD(0.05), "binary_crossentropy")
class Tell(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        print("started", flush=True)
    def on_epoch_end(self, epoch, logs=None):
        print("epoch", epoch + 1, repr(float(logs["loss"])), flush=True)
recorder = Recorder(sys.argv[1], "run", inputs, targets)
model.fit(inputs, targets, epochs=30, batch_size=16, verbose=0, callbacks=[recorder, Tell()])
print("finished", flush=True)
'''

SIGNALS = ("SIGKILL", "SIGTERM", "SIGINT", "writer SIGKILL")


def children(pid):
    """Pids of the direct children of ``pid`` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def check(path, printed, finished):
    """Return ``(readable, snapshot 0 kept, snapshots lost, problem)`` of one trial.

    Snapshot 0 kept is ``"whole"``, ``"weights"`` (its weights only) or ``False``.
    """
    import numpy as np

    from replay import Run
    from replay.errors import ReplayError

    try:
        with Run(path) as run:
            n = run.n_snapshots
            epochs = run.epochs
            for epoch in range(n):
                run.outputs(epoch)
                run.activations(run.hidden_layers[0], epoch)
                run.per_sample_loss(epoch)
            initial = {layer: run.initial_weights(layer) for layer in run.layer_names} \
                if run.has_initial_weights else {}
            if n:
                for layer, values in initial.items():
                    for name, value in values.items():
                        if not np.array_equal(value, run.weights(layer, 0)[name]):
                            raise AssertionError(f"initial weight {name!r} of {layer!r} is "
                                                 "not snapshot 0's")
            history = run.history
            complete = run.complete
    except (ReplayError, AssertionError) as error:
        return False, False, None, f"unreadable: {error}"
    problems = []
    if not np.array_equal(epochs, np.arange(n)):
        problems.append(f"epochs not contiguous: {epochs}")
    losses = history.get("loss", np.zeros(0))
    common = min(len(losses), len(printed))
    if not np.allclose(losses[:common], printed[:common], rtol=1e-6):
        problems.append("history differs from the printed losses")
    if complete and not finished:
        problems.append("marked complete though training did not finish")
    lost = max(0, len(printed) - max(n - 1, 0))  # epochs printed beyond snapshot 0
    kept = "whole" if n >= 1 else "weights" if initial else False
    return not problems, kept, lost, "; ".join(problems)


def trial(folder, index, rng):
    from replay.io import runfile

    path = folder / f"trial{index}.h5"
    how = rng.choice(SIGNALS)
    trainer = subprocess.Popen([sys.executable, "-c", TRAINER, str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = trainer.stdout.readline()
    if not line.startswith("started"):
        trainer.wait()
        return how, False, (False, False, None, "the trainer did not start")
    time.sleep(rng.uniform(0.0, 4.0))
    if how == "writer SIGKILL":
        for child in children(trainer.pid):
            os.kill(child, signal.SIGKILL)
    else:
        trainer.send_signal(getattr(signal, how))
    try:
        output, _ = trainer.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        trainer.kill()
        return how, False, (False, False, None, "the trainer did not exit within 120 s")
    lines = output.splitlines()
    # A signal can cut the trainer's last print short ("epoch 7" without its loss).
    printed = [float(line.split()[2]) for line in lines
               if line.startswith("epoch") and len(line.split()) == 3]
    finished = any(line.startswith("finished") for line in lines)
    # "epoch 1" is printed after the recorder's on_epoch_end, which waits for snapshot 0.
    promised = any(line.startswith("epoch") for line in lines)
    # Once the writer child let go: opened before (in SWMR mode), the file
    # would show only the snapshots written so far, not what the child keeps.
    if not runfile.wait_for_writers(path, 60):
        return how, promised, (False, False, None, "the file stayed locked")
    return how, promised, check(path, printed, finished)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="replay-kill-"))
    readable = kept = weights_only = kept_promised = promised_trials = 0
    most_lost = 0
    for index in range(args.trials):
        how, promised, (ok, zero, lost, problem) = trial(folder, index, rng)
        readable += ok
        kept += bool(zero)
        weights_only += zero == "weights"
        promised_trials += promised
        kept_promised += zero == "whole" and promised
        most_lost = max(most_lost, lost or 0)
        print(f"trial {index:2d} {how:<15} readable={ok} snapshot0={zero} lost={lost}"
              + ("" if promised else "  (killed in the first epoch)")
              + (f"  {problem}" if problem else ""), flush=True)
    print(f"kill trials: readable {readable} of {args.trials}, snapshot 0 kept {kept} of "
          f"{args.trials} ({weights_only} as its weights only; {kept_promised} of "
          f"{promised_trials} killed after the first epoch), max snapshots lost {most_lost}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
