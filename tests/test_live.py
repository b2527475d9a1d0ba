"""Reading a run while another process records it (SWMR), following it, `replay watch`."""

import hashlib
import os
import subprocess
import sys
import textwrap
import threading
import time

import h5py
import numpy as np
import pytest

from replay import FileBusyError, Run, RunNotFoundError
from replay.cli import main
from replay.io import runfile, superblock

pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")

#: A recorded fit slowed by a callback, so that a reader can look in while it trains.
TRAINER = textwrap.dedent("""
    import os, sys, time
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras, numpy as np
    from replay import Recorder
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2)).astype("float32"); y = (X[:, 0] > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)),
                              keras.layers.Dense(2, activation="tanh", name="hidden"),
                              keras.layers.Dense(1, activation="sigmoid", name="output")])
    model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy", metrics=["accuracy"])
    class Slow(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print("epoch", epoch + 1, flush=True)
            time.sleep(float(sys.argv[3]))
    model.fit(X, y, epochs=int(sys.argv[2]), batch_size=16, verbose=0,
              validation_data=(X[:16], y[:16]),
              callbacks=[Recorder(sys.argv[1], "live", X, y, writer=sys.argv[4]), Slow()])
    print("finished", flush=True)
""")


def _start_trainer(path, epochs=10, pause=0.6, writer="process"):
    return subprocess.Popen([sys.executable, "-c", TRAINER, str(path), str(epochs), str(pause),
                             writer], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for_snapshots(path, count, trainer, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert trainer.poll() is None, trainer.stderr.read()
        try:
            with Run(path, "live") as run:
                if run.n_snapshots >= count:
                    return
        except (RunNotFoundError, FileBusyError, FileNotFoundError):
            pass
        except Exception as error:  # noqa: BLE001 - the file may not exist yet
            if os.path.exists(path):
                raise AssertionError(f"reading the live file failed: {error}") from error
        time.sleep(0.1)
    raise AssertionError("the trainer wrote no snapshots in time")


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_a_run_is_read_and_rendered_while_it_is_recorded(tmp_path, writer, capsys):
    path = tmp_path / "live.h5"
    trainer = _start_trainer(path, writer=writer)
    try:
        _wait_for_snapshots(path, 3, trainer)
        assert main(["info", str(path)]) == 0  # replay info, while it trains
        described = capsys.readouterr().out
        assert "run 'live':" in described and "INCOMPLETE" in described
        live = {}
        with Run(path, "live") as run:
            assert not run.complete
            assert trainer.poll() is None  # still training while we read
            n = run.n_snapshots
            assert 3 <= n < 11
            for index in range(n):
                live[index] = (run.weights("hidden", index)["kernel"],
                               run.activations("hidden", index), run.outputs(index))
            history = dict(run.history)
            assert len(history["loss"]) in (n - 1, n)
            # A completed snapshot renders while training goes on.
            from replay.render import Scene

            stats = Scene.default(run).save(tmp_path / "live.png", epoch=n - 1)
            assert stats.size[0] > 0 and (tmp_path / "live.png").stat().st_size > 10_000
            # It follows the rest of the run, then ends with the run.
            followed = list(run.follow(interval=0.1, start=n))
            assert followed == list(range(n, 11))
            assert run.complete and run.n_snapshots == 11
            assert len(run.history["loss"]) == 10
        assert trainer.wait(timeout=120) == 0
        with Run(path, "live") as after:
            assert after.complete
            for index, (kernel, activations, outputs) in live.items():
                np.testing.assert_array_equal(after.weights("hidden", index)["kernel"], kernel)
                np.testing.assert_array_equal(after.activations("hidden", index), activations)
                np.testing.assert_array_equal(after.outputs(index), outputs)
            for key, values in history.items():
                np.testing.assert_array_equal(after.history[key][:len(values)], values)
    finally:
        trainer.kill()
        trainer.wait()


def test_replay_watch_rewrites_a_png_after_every_snapshot_and_ends_with_the_run(
        tmp_path, capsys):
    path, out = tmp_path / "watched.h5", tmp_path / "frame.png"
    trainer = _start_trainer(path, epochs=6, pause=0.6)
    pictures, stop = {}, threading.Event()

    def look():  # what a viewer of the PNG sees meanwhile: always a whole picture
        import matplotlib.image as mpimg

        while not stop.is_set():
            if out.exists():
                data = out.read_bytes()
                pictures[hashlib.sha1(data).hexdigest()] = mpimg.imread(out).shape
            time.sleep(0.05)

    looker = threading.Thread(target=look)
    looker.start()
    try:
        code = main(["watch", str(path), "--run", "live", "--out", str(out),
                     "--interval", "0.2", "--wait", "120"])
    finally:
        stop.set()
        looker.join()
        trainer.kill()
        trainer.wait()
    printed = capsys.readouterr().out.splitlines()
    assert code == 0
    drawn = [int(line.split("snapshot ")[1].split(",")[0]) for line in printed
             if line.startswith("wrote")]
    assert len(drawn) >= 2 and drawn == sorted(drawn) and drawn[-1] == 6
    assert printed[-1].startswith("run 'live': 7 snapshots, complete")
    assert len(pictures) >= 2  # the PNG changed while training ran
    assert all(shape[2] in (3, 4) for shape in pictures.values())
    with Run(path, "live") as run:
        assert run.complete


def test_a_run_is_never_seen_without_a_writer_while_its_writer_child_starts(tmp_path,
                                                                          monkeypatch):
    # A watcher that saw the new run, but no writer, for 3 polls ended at
    # once (CI, under load: "0 snapshots, stopped without completing"):
    # the trainer had closed the file and its child had not yet opened it.
    import keras
    from conftest import part1_model

    from replay import Recorder
    from replay.datasets import parabola
    from replay.io import writer_process

    monkeypatch.setattr(writer_process, "_IDLE", [])  # a fresh child, slow to start
    monkeypatch.setattr(writer_process, "_CHILD_START",
                        "import time; time.sleep(1.5)\n" + writer_process._CHILD_START)
    path = tmp_path / "handover.h5"
    seen = []

    class LookIn(keras.callbacks.Callback):  # what a follower in another process sees
        def on_train_begin(self, logs=None):
            seen.append(("train begin", runfile.writer_alive(path)))

        def on_train_batch_begin(self, batch, logs=None):
            seen.append((f"batch {batch}", runfile.writer_alive(path)))

    inputs, targets = parabola(60)
    recorder = Recorder(path, "run", inputs, targets, mesh_resolution=10, grid_points=20)
    try:
        part1_model().fit(inputs, targets, epochs=2, batch_size=16, verbose=0,
                          callbacks=[recorder, LookIn()])
    finally:
        for _, process in writer_process._IDLE:
            writer_process._end(process)
    assert seen[0] == ("train begin", True), seen
    assert all(alive for _, alive in seen), seen
    assert not runfile.writer_alive(path)  # the hand-over lock went with the recording
    with Run(path, "run") as run:
        assert run.complete and run.n_snapshots == 3


def test_waiting_for_writers_ends_when_the_writer_lets_go(tmp_path):
    path = tmp_path / "held.h5"
    with runfile.open_file(path, "a"):  # HDF5's own lock: a writer out of SWMR mode
        assert not runfile.wait_for_writers(path, 0.2)
    lock = runfile.WriterLock(path)  # a writer in SWMR mode, or one handing over
    lock.acquire()
    assert not runfile.wait_for_writers(path, 0.2)
    threading.Timer(0.3, lock.release).start()
    started = time.monotonic()
    assert runfile.wait_for_writers(path, 30)
    assert 0.2 < time.monotonic() - started < 10
    assert runfile.wait_for_writers(tmp_path / "absent.h5", 0)  # nothing holds it


def test_replay_watch_names_a_run_that_does_not_appear(tmp_path, capsys):
    from conftest import record_part1

    path = tmp_path / "other.h5"
    record_part1(path, run="sigmoid", epochs=1)
    code = main(["watch", str(path), "--run", "missing", "--out", str(tmp_path / "x.png"),
                 "--wait", "0.3"])
    error = capsys.readouterr().err
    assert code == 2
    assert "No run 'missing'" in error and "'sigmoid'" in error and "Waited 0.3 s" in error
    assert not (tmp_path / "x.png").exists()


def test_follow_on_a_complete_run_yields_every_snapshot_and_ends(part1_file):
    with Run(part1_file, "sigmoid") as run:
        assert list(run.follow(interval=0.01)) == list(range(run.n_snapshots))
        assert list(run.follow(interval=0.01, start=-2)) == [run.n_snapshots - 2,
                                                            run.n_snapshots - 1]
        assert run.refresh() == 0 and run.complete


KILLED_WRITER = textwrap.dedent("""
    import os, sys, h5py, numpy as np
    from replay.io.runfile import LIBVER, WriterLock
    with h5py.File(sys.argv[1], "w", libver=LIBVER) as f:
        f.attrs["format"] = "replay run file"
    f = h5py.File(sys.argv[1], "a", libver=LIBVER)
    f.create_dataset("x", data=np.arange(6.0), maxshape=(None,), chunks=(4,))
    if sys.argv[2] == "swmr":
        lock = WriterLock(sys.argv[1]); lock.acquire()
        f.swmr_mode = True
    f["x"].resize((8,)); f["x"][6:] = [6.0, 7.0]; f.flush()
    os._exit(0)  # killed: the file stays marked open for writing
""")


@pytest.mark.parametrize("mode", ["swmr", "plain"])
def test_the_marks_of_a_killed_writer_are_cleared_by_the_next_reader_and_writer(tmp_path,
                                                                              mode):
    path = tmp_path / "killed.h5"
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path), mode], check=True)
    with pytest.raises(OSError, match="already open for write"):
        h5py.File(path, "r")  # what HDF5 alone says
    assert not runfile.writer_alive(path)
    with runfile.open_file(path) as handle:
        np.testing.assert_array_equal(handle["x"][()], np.arange(8.0))
    with runfile.open_file(path, "a") as handle:  # and a recorder may write again
        handle["y"] = [1.0]
    with h5py.File(path, "r") as handle:
        assert handle["y"][0] == 1.0


def test_the_superblock_checksum_is_hdf5s(tmp_path):
    path = tmp_path / "sum.h5"
    with h5py.File(path, "w", libver=runfile.LIBVER) as handle:
        handle["x"] = [1]
    head = path.read_bytes()[:48]
    assert head[8] == 3  # superblock version 3: SWMR possible
    assert superblock.lookup3(head[:44]) == int.from_bytes(head[44:48], "little")
    assert not superblock.clear_write_marks(path)  # a closed file has no marks


def test_files_in_the_format_before_swmr_still_record_and_read(tmp_path):
    from conftest import record_part1

    new, old = tmp_path / "new.h5", tmp_path / "old.h5"
    record_part1(new, run="sigmoid", epochs=2)
    with h5py.File(new, "r") as source, h5py.File(old, "w") as target:  # superblock 0
        for key, value in source.attrs.items():
            target.attrs[key] = value
        source.copy(source["sigmoid"], target, name="sigmoid")
    assert open(old, "rb").read(9)[8] == 0
    record_part1(old, run="tanh", activation="tanh", epochs=2)  # recorded as before
    for name in ("sigmoid", "tanh"):
        with Run(old, name) as run:
            assert run.complete and run.n_snapshots == 3
    with h5py.File(old, "r") as handle:  # plain HDF5 reads it after the recording
        assert handle.id.get_create_plist().get_version()[0] == 0
