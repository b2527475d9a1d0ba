"""Damaged run files: every read gives replay's own error, fast, never another exception.

The fuzzer (``scripts/fuzz_runfiles.py``) tries a thousand random damages;
these are the kinds it found before the reader was guarded, each fixed.
"""

import json
import shutil
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from replay import ReplayError, Run, RunFileError
from replay.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import fuzz_runfiles  # noqa: E402


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    path = tmp_path_factory.mktemp("valid") / "valid.h5"
    fuzz_runfiles.write_valid_run(path)
    return path


def damaged(valid, tmp_path, change):
    path = tmp_path / "damaged.h5"
    shutil.copyfile(valid, path)
    with h5py.File(path, "a") as handle:
        change(handle["run"], handle)
    return path


def read_everything(path):
    with Run(path) as run:
        for name in run.hidden_layers:
            run.activations(name, -1)
            run.preactivations(name, 0)
        run.outputs(-1)
        run.per_sample_loss(0)
        assert isinstance(run.history, dict)
        run.labels()
        run.series("outputs/train")
        run.outputs(0, source="mesh")


def replace(member, value):
    def change(run, handle):
        del run[member]
        run[member] = value
    return change


def set_attribute(key, value, root=False):
    def change(run, handle):
        (handle if root else run).attrs[key] = value
    return change


def self_link(member):
    def change(run, handle):
        del run[member]
        run[member] = h5py.SoftLink(f"/run/{member}")
    return change


@pytest.mark.parametrize("change, message", [
    (set_attribute("layers", "[{"), "damaged"),
    (set_attribute("layers", '[{"name": "hidden", "weichts": []}]'), "'layers' attribute"),
    (set_attribute("schema_version", "abc"), "not a version number"),
    (set_attribute("schema_version", b"\xff"), "not a version number"),
    (replace("snapshots/epoch", np.zeros((6, 2))), "snapshot index"),
    (replace("loss/train", np.zeros((3, 40), "float32")), "holds 3 rows for 6 snapshots"),
    (replace("outputs/mesh", np.zeros((6, 3, 5), "float32")), "should start with"),
    (replace("outputs/train", np.array([b"x"] * 6)), "where numbers belong"),
    (replace("targets/train", np.zeros(283, "float32")), "targets"),
    (replace("inputs/mesh", np.float32(3.0)), "inputs"),
    (replace("history/loss", np.zeros(3)), "History 'loss'"),
    (self_link("snapshots"), "damaged"),
    (self_link("outputs"), "damaged"),
])
def test_a_damaged_member_gives_a_run_file_error_naming_it(valid, tmp_path, change, message):
    path = damaged(valid, tmp_path, change)
    with pytest.raises(RunFileError, match=message):
        read_everything(path)


def test_a_damaged_shape_is_not_read_into_memory(valid, tmp_path):
    # Before: one changed byte made Run() take 24 s and 4.2 GB before an OSError.
    def huge(run, handle):
        del run["outputs/train"]
        run.create_dataset("outputs/train", shape=(6, 40, 10**9), dtype="float32",
                           chunks=(1, 1, 1024))
        run.attrs["n_outputs"] = 10**9  # the attributes agree: only the size gives it away
    path = damaged(valid, tmp_path, huge)
    start = time.perf_counter()
    with pytest.raises(RunFileError, match="far more than the file"):
        Run(path).outputs(0)
    assert time.perf_counter() - start < 5


def test_truncated_and_flipped_files_give_replay_errors(valid, tmp_path):
    import random

    rng = random.Random(4)
    data = valid.read_bytes()
    for trial in range(20):
        path = tmp_path / f"t{trial}.h5"
        if trial % 2:
            path.write_bytes(data[:rng.randrange(len(data))])
        else:
            flipped = bytearray(data)
            for _ in range(6):
                flipped[rng.randrange(min(len(data), 8192))] ^= 1 << rng.randrange(8)
            path.write_bytes(bytes(flipped))
        try:
            read_everything(path)
        except ReplayError:
            pass


def test_the_cli_answers_a_damaged_file_with_one_line(valid, tmp_path, capsys):
    path = damaged(valid, tmp_path, set_attribute("layers", "[{"))
    assert main(["info", str(path)]) == 2
    assert main(["render", str(path), "--out", str(tmp_path / "x.png")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("replay ") for line in errors)


@pytest.mark.parametrize("value", ["two", -1, 2.5])
def test_a_bad_n_outputs_attribute_is_not_trusted(valid, tmp_path, value):
    # Found by the fuzzer: the feature space read n_outputs with int().
    path = damaged(valid, tmp_path, set_attribute("n_outputs", value))
    with Run(path) as run:
        assert run.n_outputs is None
    assert main(["render", str(path), "--out", str(tmp_path / "x.png")]) == 0


# -- arrays whose shapes disagree with the run's attributes ---------------------------
# Before: a reshaped array was read as it was, and the views failed deep in numpy
# ("ValueError: cannot reshape array of size 80 into shape (40,2)", "TypeError: Input z
# must be 2D"), `replay render` included; weights and gradients of the wrong shape
# were even drawn.


def reshaped(member, shape_of):
    """A change that stores ``member`` again, its values resized to ``shape_of(shape)``."""
    def change(run, handle):
        values = run[member][()]
        shape = shape_of(values.shape)
        del run[member]
        run[member] = np.resize(values.reshape(-1), int(np.prod(shape))).reshape(shape)
    return change


def read(what):
    return {
        "activations": lambda run: run.activations("hidden", 0),
        "mesh activations": lambda run: run.activations("hidden", 0, source="mesh"),
        "outputs": lambda run: run.outputs(0),
        "mesh outputs": lambda run: run.outputs(0, source="mesh"),
        "loss": lambda run: run.per_sample_loss(0),
        "weights": lambda run: run.weights("hidden", 0),
        "gradients": lambda run: run.gradients("output", 0),
        "targets": lambda run: run.labels(),
    }[what]


#: (member, new shape from the old, what reads it, whether `replay render` reads it)
RESHAPES = [
    ("activations/train/hidden", lambda s: (*s[:2], 1), "activations", True),
    ("activations/train/hidden", lambda s: (*s, 1), "activations", True),
    ("activations/mesh/hidden", lambda s: (*s[:3], 3), "mesh activations", True),
    ("outputs/train", lambda s: s[:2], "outputs", True),
    ("outputs/train", lambda s: (*s[:2], 2), "outputs", True),
    ("outputs/mesh", lambda s: s[:3], "mesh outputs", True),
    ("outputs/mesh", lambda s: (*s, 1), "mesh outputs", True),
    ("loss/train", lambda s: (*s, 1), "loss", True),
    ("weights/hidden/kernel", lambda s: (s[0], 4), "weights", False),
    ("weights/hidden/kernel", lambda s: (s[0], 2, 3), "weights", False),
    ("weights/hidden/bias", lambda s: (s[0], 2, 1), "weights", False),
    ("gradients/output/kernel", lambda s: (s[0], 1, 2), "gradients", False),
    ("targets/train", lambda s: (s[0], 2), "targets", True),
    ("targets/train", lambda s: (*s, 1), "targets", True),
]


@pytest.mark.parametrize("member, shape_of, what, rendered", RESHAPES)
def test_an_array_reshaped_against_the_attributes_gives_a_run_file_error(
        valid, tmp_path, member, shape_of, what, rendered, capsys):
    path = damaged(valid, tmp_path, reshaped(member, shape_of))
    with Run(path) as run, pytest.raises(RunFileError, match="damaged") as caught:
        read(what)(run)
    assert repr(member) in str(caught.value) or "targets" in str(caught.value)
    if rendered:
        assert main(["render", str(path), "--epoch", "2", "--out",
                     str(tmp_path / "x.png")]) == 2
        errors = capsys.readouterr().err.strip().splitlines()
        assert len(errors) == 1 and "damaged" in errors[0], errors
        assert not (tmp_path / "x.png").exists()


def test_a_layer_shape_attribute_that_disagrees_with_the_activations(valid, tmp_path, capsys):
    def wider(run, handle):
        layers = json.loads(run.attrs["layers"])
        layers[0]["shape"] = [3]
        run.attrs["layers"] = json.dumps(layers)
    path = damaged(valid, tmp_path, wider)
    with Run(path) as run, pytest.raises(RunFileError, match=r"output shape \(3,\)"):
        run.activations("hidden", 0)
    assert main(["render", str(path), "--out", str(tmp_path / "x.png")]) == 2
    assert "damaged" in capsys.readouterr().err


def test_a_deepreplay_file_whose_inputs_do_not_fit_its_kernel(tmp_path):
    source = Path("/work/shared/fixtures/deepreplay/hyperparms_in_action.h5")
    if not source.is_file():
        pytest.skip(f"DeepReplay fixture {source} not present")
    path = tmp_path / "deepreplay.h5"
    shutil.copyfile(source, path)
    path.chmod(0o644)
    with h5py.File(path, "a") as handle:
        group = handle["part1_activation_functions"]
        inputs = group["inputs"][()]
        del group["inputs"]
        group["inputs"] = np.resize(inputs, (len(inputs), 3))
    with pytest.raises(RunFileError, match="kernel of layer"):
        Run(path).outputs(0)
