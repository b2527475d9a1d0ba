"""Scenes and writers: the five-panel figure, PNG / MP4 / GIF files read back."""

import io
import subprocess
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")

import imageio.v3 as iio  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from replay import OptionError, Run  # noqa: E402
from replay.scene import Scene  # noqa: E402
from replay.views import DecisionBoundary, FeatureSpace, LossHistogram  # noqa: E402
from replay.writers import FrameRenderer, ProgressBar, output_kind, save  # noqa: E402

# ffmpeg is started with fork+exec while JAX (loaded by the fixtures) runs threads.
pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")

SMALL = dict(figsize=(6.0, 3.0))
DPI = 50


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_part1_scene_has_five_panels_and_an_epoch_title(part1_run):
    scene = Scene.part1(part1_run, layer="hidden", title_prefix="sigmoid")
    figure = scene.plot(5)
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == ["Feature space of layer 'hidden'", "Negatives (class 0)",
                          "Positives (class 1)", "Loss and accuracy at each snapshot", "Per-sample losses"]
    assert len(figure.axes) == 6  # + the twin axes of the accuracy
    assert scene.title_text == "sigmoid \u2014 Epoch 5"
    assert all(view.epoch_ == 5 for view in scene.views)
    scene.plot(-1)
    assert scene.title_text.endswith("Epoch 12")
    # The feature space is the large panel on the left.
    feature = figure.axes[0].get_position()
    assert feature.height > 2 * figure.axes[1].get_position().height
    assert feature.x1 < figure.axes[1].get_position().x0


def test_scene_without_prefix_and_with_views_of_two_runs(part1_file):
    sigmoid, relu = Run(part1_file, "sigmoid"), Run(part1_file, "relu")
    scene = Scene(nrows=1, ncols=2, **SMALL)
    scene.add(FeatureSpace(sigmoid, "hidden"), (0, 0))
    scene.add(FeatureSpace(relu, "hidden"), (0, 1))
    scene.plot(3)
    assert scene.title_text == "Epoch 3"
    assert [view.epoch_ for view in scene.views] == [3, 3]
    with pytest.raises(OptionError, match="2 grid position"):
        Scene().add(__import__("replay.views").views.ProbabilityHistogram(sigmoid), (0, 0))


def test_showdown_puts_runs_side_by_side(part1_file):
    from replay.compare import ComparisonScene

    runs = [Run(part1_file, "sigmoid"), Run(part1_file, "relu")]
    figure = ComparisonScene.grid(runs, figsize=(6, 6)).plot(6)
    assert [ax.get_title() for ax in figure.axes] == [
        "sigmoid: feature space", "input space", "relu: feature space", "input space"]
    assert figure.axes[0].get_position().y0 > figure.axes[1].get_position().y1


def test_blitted_frames_equal_full_redraws(part1_run):
    frames = {}
    for blit in (True, False):
        scene = Scene.part1(part1_run, limits="fixed", **SMALL)  # every panel blit-safe
        renderer = FrameRenderer(scene, dpi=DPI, blit=blit)
        renderer.prepare(0)
        assert renderer.blit is blit
        frames[blit] = [renderer.render(epoch).copy() for epoch in (0, 4, 12)]
    for blitted, full in zip(frames[True], frames[False]):
        assert blitted.shape == full.shape == (150, 300, 4)
        difference = np.abs(blitted.astype(int) - full.astype(int)).max(axis=2)
        # Same picture; a stray pixel may differ where a tick meets a spine
        # (equal zorders are drawn in another order).
        assert np.count_nonzero(difference > 2) <= 3, "blitting must draw the same picture"


def test_mp4_has_the_expected_frames_and_size(part1_run, tmp_path):
    scene = Scene.part1(part1_run, **SMALL)
    stats = scene.save(tmp_path / "part1.mp4", epochs="0:13:3", fps=5, dpi=DPI,
                       progress=False)
    assert stats.frames == 5 and stats.size == (300, 150)
    frames = list(iio.imiter(tmp_path / "part1.mp4", plugin="FFMPEG"))
    assert len(frames) == 5
    assert frames[0].shape == (150, 300, 3)


def test_scene_draws_normally_after_a_render(part1_run, tmp_path):
    scene = Scene.part1(part1_run, **SMALL)
    scene.save(tmp_path / "first.gif", epochs="0:2", dpi=DPI, progress=False)
    # Blitting marks artists "animated" (left out of full draws); a render
    # must give them back, or a later savefig would miss the data.
    assert not [artist for artist in scene.figure_.findobj() if artist.get_animated()]
    scene.save(tmp_path / "after.png", epoch=4, dpi=DPI)
    feature_space = scene.views[0]
    assert feature_space.regions_.get_animated() is False


def test_scene_animate_for_notebooks(part1_run):
    animation = Scene.part1(part1_run, **SMALL).animate("0:2")
    assert "<script" in animation.to_jshtml()


def test_gif_has_the_expected_frames_and_size(part1_run, tmp_path):
    scene = Scene.part1(part1_run, **SMALL)
    scene.save(tmp_path / "part1.gif", epochs=range(0, 13, 2), fps=5, dpi=DPI,
               progress=False)
    frames = iio.imread(tmp_path / "part1.gif", index=None)
    assert frames.shape[:3] == (7, 150, 300)
    # Frames differ: the animation moves.
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).max() > 50


def test_png_of_one_epoch(part1_run, tmp_path):
    stats = Scene.part1(part1_run, **SMALL).save(tmp_path / "out" / "e4.png", epoch=4,
                                                 dpi=DPI)
    image = iio.imread(tmp_path / "out" / "e4.png")
    assert image.shape[:2] == (150, 300) and stats.size == (300, 150)
    assert stats.video_fps is None  # a still has no frame rate


def test_a_single_view_renders_to_video(part1_run, tmp_path):
    stats = save(LossHistogram(part1_run), tmp_path / "losses.gif", epochs="::4", dpi=40,
                 progress=False)
    assert len(iio.imread(tmp_path / "losses.gif", index=None)) == stats.frames == 4


def test_non_blittable_view_falls_back_to_full_redraws(part1_run, tmp_path):
    scene = Scene(nrows=1, ncols=2, **SMALL)
    scene.add(FeatureSpace(part1_run, "hidden", limits="epoch"), (0, 0))
    scene.add(DecisionBoundary(part1_run), (0, 1))
    assert not scene.blit_safe
    renderer = FrameRenderer(scene, dpi=DPI)
    renderer.prepare(0)
    assert not renderer.blit
    stats = scene.save(tmp_path / "epochs.mp4", epochs="0:4", dpi=DPI, progress=False)
    assert stats.frames == 4


def test_output_kind_and_option_errors(part1_run, tmp_path):
    assert output_kind("a/b.MP4") == "mp4" and output_kind("x.gif") == "gif"
    with pytest.raises(OptionError, match=r"\.avi"):
        output_kind("movie.avi")
    scene = Scene.part1(part1_run, **SMALL)
    with pytest.raises(OptionError, match="fps"):
        scene.save(tmp_path / "x.mp4", fps=0)
    with pytest.raises(OptionError, match="start:stop:step"):
        scene.save(tmp_path / "x.mp4", epochs="1:2:3:4")


def test_progress_bar_prints_to_a_log():
    stream = io.StringIO()
    bar = ProgressBar(20, label="x.mp4", stream=stream, delay=0.0)
    for done in range(1, 21):
        bar.update(done)
    bar.close()
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("x.mp4: 100%") and "20/20" in last
    assert "frames/s, rendered" in last and " fps" not in last  # not the video's rate


def test_progress_bar_waits_for_slow_renders():
    stream = io.StringIO()
    bar = ProgressBar(5, stream=stream, delay=60.0)
    bar.update(5)
    bar.close()
    assert stream.getvalue() == ""


def test_progress_is_silent_off_a_terminal_unless_asked(part1_run, tmp_path, capsys):
    from replay.render.progress import wants_progress

    assert wants_progress(None, io.StringIO()) is False
    assert wants_progress(True, io.StringIO()) is True and wants_progress(False) is False
    Scene.part1(part1_run, **SMALL).save(tmp_path / "quiet.gif", epochs="0:3", dpi=DPI)
    assert capsys.readouterr().err == ""  # pytest's stderr is not a terminal
    Scene.part1(part1_run, **SMALL).save(tmp_path / "loud.gif", epochs="0:3", dpi=DPI,
                                         progress=True)
    # The bar appears once a render takes a second; this one may be faster.
    assert "Traceback" not in capsys.readouterr().err


def test_rendering_never_imports_keras(part1_file, tmp_path):
    script = textwrap.dedent(f"""
        import sys
        import matplotlib
        matplotlib.use("Agg")
        import replay.views, replay.scene, replay.writers
        from replay import Run
        from replay.scene import Scene
        run = Run({str(part1_file)!r}, "relu")
        scene = Scene.part1(run, figsize=(4, 2))
        scene.save({str(tmp_path / "a.png")!r}, epoch=3, dpi=30)
        scene.save({str(tmp_path / "a.gif")!r}, epochs="0:3", dpi=30, progress=False)
        loaded = [name for name in ("keras", "jax", "tensorflow", "torch")
                  if name in sys.modules]
        print("loaded:", loaded)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout


# -- starting ffmpeg -------------------------------------------------------------


def test_mp4_render_with_jax_loaded_gives_no_fork_warning(part1_file, tmp_path):
    # A script that trains (JAX's threads running) and then renders: ffmpeg must be
    # started without Python code between fork and exec, so JAX's os.fork() hook
    # never runs and warns of no fork. The script first shows that such a warning
    # is seen when it happens (a Popen with a preexec_fn runs Python in the child).
    out = tmp_path / "jax.mp4"
    script = textwrap.dedent(f"""
        import subprocess
        import warnings
        warnings.simplefilter("always")
        import matplotlib
        matplotlib.use("Agg")
        import jax
        jax.numpy.zeros(1).block_until_ready()
        from replay import Run
        from replay.scene import Scene
        with warnings.catch_warnings(record=True) as control:
            warnings.simplefilter("always")
            subprocess.run(["true"], preexec_fn=lambda: None, check=True)
        print("control:", sum("os.fork()" in str(warning.message) for warning in control))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scene = Scene.part1(Run({str(part1_file)!r}, "relu"), figsize=(6, 3))
            stats = scene.save({str(out)!r}, epochs="0:13:3", fps=5, dpi=50, progress=False)
        for warning in caught:
            print("WARNING:", warning.category.__name__, warning.message)
        print("frames:", stats.frames, "size:", stats.size)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr
    control, _, render = result.stdout.partition("\n")
    assert control == "control: 1", "JAX's fork warning must show in the control, or this " \
                                    "test could not see one"
    assert "os.fork()" not in render + result.stderr
    assert "WARNING:" not in render
    assert "frames: 5 size: (300, 150)" in render
    frames = list(iio.imiter(out, plugin="FFMPEG"))
    assert len(frames) == 5 and frames[0].shape == (150, 300, 3)
    meta = iio.immeta(out, plugin="FFMPEG")
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert meta["fps"] == 5.0


@pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX sessions")
def test_ffmpeg_runs_in_its_own_session_out_of_reach_of_ctrl_c(tmp_path):
    import os

    from replay.writers import VideoEncoder

    with VideoEncoder(tmp_path / "a.gif", (40, 20), fps=2, kind="gif") as encoder:
        pid = encoder._process.pid
        # A session leader of its own: the terminal's SIGINT goes to Python only.
        assert os.getsid(pid) == pid != os.getsid(0)
        encoder.write(np.full((20, 40, 4), 255, dtype=np.uint8))
    frames = iio.imread(tmp_path / "a.gif", index=None)
    assert frames.shape[:3] == (1, 20, 40)


def test_ffmpeg_failure_is_a_replay_error_with_ffmpegs_message(tmp_path):
    from replay import EncodingError, ReplayError
    from replay.writers import VideoEncoder

    missing = tmp_path / "no such folder" / "x.mp4"
    frame = np.zeros((20, 40, 4), dtype=np.uint8)
    for frames in (1, 40):  # ffmpeg exits at the end, or while frames still come
        with pytest.raises(EncodingError, match=r"(?s)x\.mp4.*exit status.*"
                                                r"No such file or directory") as caught:
            with VideoEncoder(missing, (40, 20), fps=5) as encoder:
                for _ in range(frames):
                    encoder.write(frame)
        assert isinstance(caught.value, ReplayError)
    with pytest.raises(OptionError, match="quality must be a number from 1 to 10"):
        VideoEncoder(tmp_path / "x.mp4", (40, 20), quality=0)


def test_mp4s_use_deepreplays_crf_and_the_fast_preset_by_default(tmp_path):
    from replay.render.encoders import ffmpeg_command

    def setting(command, flag):
        return command[command.index(flag) + 1]

    default = ffmpeg_command(tmp_path / "a.mp4", (40, 20))
    assert setting(default, "-crf") == "23" and setting(default, "-preset") == "fast"
    assert setting(ffmpeg_command(tmp_path / "a.mp4", (40, 20), quality=6), "-crf") == "20"
