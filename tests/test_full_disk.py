"""A full disk while recording: a RecordingError naming the file, a readable run, no crash.

The disk fills for real: the trainer (and its writer child, which inherits
the limit) runs under ``RLIMIT_FSIZE``, with SIGXFSZ ignored, so writes
past the limit fail with EFBIG as they would with ENOSPC.
"""

import subprocess
import sys
import textwrap

import pytest

from replay import Run

TRAINER = textwrap.dedent("""
    import os, resource, signal, sys, time
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = int(sys.argv[3])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras, numpy as np
    from replay import Recorder, ReplayError
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 2)).astype("float32"); y = (X[:, 0] > 0).astype("float32")
    model = keras.Sequential([keras.Input((2,)),
                              keras.layers.Dense(8, activation="tanh", name="hidden"),
                              keras.layers.Dense(1, activation="sigmoid", name="output")])
    model.compile("sgd", "binary_crossentropy")
    class Tell(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print("epoch", epoch + 1, flush=True)
            time.sleep(0.05)  # as long as the writer takes: it fails as training goes on
    try:
        model.fit(X, y, epochs=40, batch_size=500, verbose=0,
                  callbacks=[Recorder(sys.argv[1], "run", X, y, writer=sys.argv[2],
                                      compression=None), Tell()])
        print("no error", flush=True)
    except ReplayError as error:
        print("error", type(error).__name__, " ".join(str(error).split()), flush=True)
""")


def _record_on_a_full_disk(path, writer, limit):
    done = subprocess.run([sys.executable, "-c", TRAINER, str(path), writer, str(limit)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]  # no segfault, no abort
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_a_disk_that_fills_during_training_fails_the_fit_clearly_and_keeps_the_run(
        tmp_path, writer):
    path = tmp_path / "full.h5"
    lines = _record_on_a_full_disk(path, writer, 500_000)
    error = lines[-1]
    assert error.startswith("error RecordingError Writing run 'run' of ")
    assert str(path) in error and "File too large" in error and "free some disk" in error
    trained = sum(line.startswith("epoch") for line in lines)
    assert 0 < trained < 40  # it failed during training, at a snapshot
    assert path.stat().st_size == 500_000
    with Run(path, "run") as run:  # every snapshot written before the disk filled
        assert not run.complete
        assert 2 <= run.n_snapshots <= trained + 1
        for index in range(run.n_snapshots):
            assert run.weights("hidden", index)["kernel"].shape == (2, 8)
            assert run.activations("hidden", index).shape == (2000, 8)
        assert list(run.epochs) == list(range(run.n_snapshots))


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_a_disk_full_before_training_leaves_no_empty_file(tmp_path, writer):
    path = tmp_path / "full.h5"
    lines = _record_on_a_full_disk(path, writer, 2_000)
    assert lines[-1].startswith("error RecordingError Writing run 'run' of ")
    assert str(path) in lines[-1] and "free some disk" in lines[-1]
    assert not any(line.startswith("epoch") for line in lines)
    assert not path.exists()
