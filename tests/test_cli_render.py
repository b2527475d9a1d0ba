"""The ``replay render`` command."""

import re

import imageio.v3 as iio
import numpy as np
import pytest

from replay.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")


def test_render_png_of_one_epoch(part1_file, tmp_path, capsys):
    out = tmp_path / "relu.png"
    status = main(["render", str(part1_file), "--run", "relu", "--epoch", "4",
                   "--dpi", "40", "--out", str(out)])
    assert status == 0
    assert iio.imread(out).shape[:2] == (240, 480)
    assert "epoch 4" in capsys.readouterr().out


def test_render_gif_with_epoch_range(part1_file, tmp_path, capsys):
    out = tmp_path / "relu.gif"
    status = main(["render", str(part1_file), "--run", "relu", "--epochs", "0:12:3",
                   "--fps", "5", "--dpi", "30", "--figsize", "8x4", "--quiet",
                   "--out", str(out)])
    assert status == 0
    frames = iio.imread(out, index=None)
    # 0, 3, 6, 9 and the final snapshot 12: the stop names it, so it is shown
    assert frames.shape[:3] == (5, 120, 240)
    out = capsys.readouterr().out
    assert "5 frames" in out
    # the video's frame rate and the render's speed, each named for what it is
    assert "5 fps video" in out and re.search(r"rendered in [\d.]+ s at [\d.]+ frames/s", out)


def test_render_limits_reach_the_feature_space(part1_file, tmp_path):
    # The synthetic relu run starts in a corner: auto grows, fixed (the default) does not.
    pictures = {}
    for limits in ("auto", "fixed", "grow"):
        out = tmp_path / f"{limits}.png"
        assert main(["render", str(part1_file), "--run", "relu", "--epoch", "0", "--dpi", "30",
                     "--limits", limits, "--out", str(out)]) == 0
        pictures[limits] = iio.imread(out)
    assert np.array_equal(pictures["auto"], pictures["grow"])
    default = tmp_path / "default.png"
    assert main(["render", str(part1_file), "--run", "relu", "--epoch", "0", "--dpi", "30",
                 "--out", str(default)]) == 0
    assert np.array_equal(iio.imread(default), pictures["fixed"])
    assert not np.array_equal(pictures["auto"], pictures["fixed"])
    with pytest.raises(SystemExit):
        main(["render", str(part1_file), "--run", "relu", "--limits", "tight",
              "--out", str(tmp_path / "x.png")])


def test_render_mp4(part1_file, tmp_path):
    out = tmp_path / "sigmoid.mp4"
    status = main(["render", str(part1_file), "--run", "sigmoid", "--epochs", "::6",
                   "--dpi", "20", "--quiet", "--out", str(out), "--title-prefix", "S"])
    assert status == 0
    assert len(list(iio.imiter(out, plugin="FFMPEG"))) == 3


def test_render_gif_of_a_run_keras_recorded(recorded_part1_file, tmp_path, capsys):
    # The other renders read synthetic runs (tests/synthetic.py); this one, a real recording.
    out = tmp_path / "recorded.gif"
    status = main(["render", str(recorded_part1_file), "--run", "sigmoid", "--epochs", "0:13:4",
                   "--dpi", "20", "--quiet", "--out", str(out)])
    assert status == 0
    frames = iio.imread(out, index=None)
    assert frames.shape[:3] == (4, 120, 240)
    assert not np.array_equal(frames[0], frames[-1])
    assert "4 frames" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, message", [
    (["--out", "x.avi"], "extensions .mp4"),
    (["--out", "x.mp4", "--epoch", "3"], "--epochs start:stop:step"),
    (["--out", "x.png", "--layer", "output"], "hidden layers: hidden"),
    (["--out", "x.png", "--epoch", "40"], "out of range"),
    (["--out", "x.mp4", "--epochs", "a:b"], "start:stop:step"),
])
def test_render_errors_are_one_line_messages(part1_file, tmp_path, capsys, arguments,
                                            message):
    arguments = [(str(tmp_path / arg) if arg.startswith("x.") else arg) for arg in arguments]
    status = main(["render", str(part1_file), "--run", "relu", *arguments])
    assert status == 2
    error = capsys.readouterr().err
    assert error.startswith("replay render: error:") and message in error


def test_render_needs_a_run_name_when_the_file_has_several(part1_file, tmp_path, capsys):
    assert main(["render", str(part1_file), "--out", str(tmp_path / "x.png")]) == 2
    assert "sigmoid" in capsys.readouterr().err


def test_render_png_defaults_to_the_last_epoch(part1_file, tmp_path, capsys):
    status = main(["render", str(part1_file), "--run", "relu", "--dpi", "20",
                   "--out", str(tmp_path / "last.png")])
    assert status == 0
    assert "(epoch 12," in capsys.readouterr().out


@pytest.mark.parametrize("arguments, message", [
    (["--out", "x.gif", "--epochs", "::0"],
     "--epochs '::0': the step cannot be 0. Use a positive step, e.g. ::2"),
    (["--out", "x.png", "--epoch", "-500"],
     "--epoch -500 is out of range: run 'relu' holds snapshots 0..12 (negative values "
     "count from the end, down to -13)."),
    (["--out", "x.png", "--epoch", "13"], "--epoch 13 is out of range: run 'relu' holds"),
    (["--out", "x.gif", "--epochs", "200:300"],
     "--epochs 200:300 selects no snapshot: run 'relu' holds snapshots 0..12."),
    (["--out", "x.png", "--epochs", "0:5"],
     "--epochs 0:5 selects the frames of an .mp4 or .gif, but the output is a .png "
     "(one epoch): use --epoch N instead."),
    (["--out", "x.mp4", "--epoch", "3"],
     "--epoch picks one epoch for a .png; for an .mp4 use --epochs start:stop:step."),
])
def test_render_epoch_mistakes_echo_the_value_and_the_valid_range(
        part1_file, tmp_path, capsys, arguments, message):
    arguments = [(str(tmp_path / arg) if arg.startswith("x.") else arg) for arg in arguments]
    status = main(["render", str(part1_file), "--run", "relu", *arguments])
    assert status == 2
    error = capsys.readouterr().err
    assert error.startswith(f"replay render: error: {message}") and error.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_render_takes_file_colon_run_like_compare_and_table(part1_file, tmp_path, capsys):
    """Bug: `replay render FILE:RUN` (the spelling compare, table and explore take) said
    "No such run file: 'part1.h5:relu'"."""
    out = tmp_path / "relu.png"
    assert main(["render", f"{part1_file}:relu", "--epoch", "3", "--out", str(out),
                 "--dpi", "30"]) == 0
    assert "wrote" in capsys.readouterr().out and out.exists()
    assert main(["render", f"{part1_file}:nope", "--out", str(out)]) == 2
    assert "No run 'nope'" in capsys.readouterr().err
