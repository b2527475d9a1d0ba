"""Media that travel: GIF palettes, loops and held frames, sizes for destinations, fast grids."""

import matplotlib

matplotlib.use("Agg")

import imageio.v3 as iio  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from replay import OptionError, Run  # noqa: E402
from replay.cli import main  # noqa: E402
from replay.compare import ComparisonScene  # noqa: E402
from replay.render import PRESETS, FrameRenderer, GifWriter, Scene, save  # noqa: E402
from replay.render import gif as gifs  # noqa: E402
from replay.render.renderer import Overlay  # noqa: E402
from replay.views import DecisionBoundary, regions  # noqa: E402

# ffmpeg is started with fork+exec while JAX (loaded by the fixtures) runs threads.
pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")

SMALL = dict(figsize=(6.0, 3.0))
DPI = 50


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def gif_frames(path):
    """``(frames RGB, durations ms, info of the first frame)`` of a GIF, composited."""
    image = Image.open(path)
    info = dict(image.info)
    frames, durations = [], []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(np.asarray(image.convert("RGB")))
        durations.append(image.info["duration"])
    return np.stack(frames), durations, info


def rendered_frames(source, epochs, dpi=DPI):
    renderer = FrameRenderer(source, dpi=dpi)
    renderer.prepare(epochs[0])
    frames = [renderer.render(epoch)[..., :3].copy() for epoch in epochs]
    renderer.finish()
    return np.stack(frames)


# -- GIF ------------------------------------------------------------------------------


def test_gif_has_one_global_palette_loops_forever_and_holds_its_last_frame(part1_run,
                                                                           tmp_path):
    out = tmp_path / "part1.gif"
    stats = Scene.part1(part1_run, **SMALL).save(out, epochs="0:13:2", fps=5, dpi=DPI,
                                                 hold_last=1.5, progress=False)
    frames, durations, info = gif_frames(out)
    assert stats.frames == len(frames) == 7
    assert frames.shape[1:3] == (150, 300)
    assert info["loop"] == 0  # NETSCAPE extension: forever
    assert durations[:-1] == [200] * 6
    assert durations[-1] == 200 + 1500  # its own 0.2 s, then held 1.5 s
    image = Image.open(out)
    assert len(image.getpalette()) // 3 <= 256
    # Frames after the first are rectangles of what changed, not whole frames.
    image.seek(3)
    assert image.tile[0][1] != (0, 0, 300, 150) or image.info.get("transparency") is not None


def test_gif_frames_match_the_drawn_frames_and_the_last_is_exact(part1_run, tmp_path):
    epochs = list(range(0, 13, 3))
    scene = Scene.part1(part1_run, **SMALL)
    scene.save(tmp_path / "part1.gif", epochs=epochs, dpi=DPI, progress=False)
    decoded, _, _ = gif_frames(tmp_path / "part1.gif")
    drawn = rendered_frames(Scene.part1(part1_run, **SMALL), epochs)
    error = np.abs(decoded.astype(int) - drawn.astype(int)).max(axis=3)
    # A palette of 96 colours: text edges may be off, the picture is not.
    assert np.mean(error <= 8) > 0.97
    assert np.median(error) <= 2
    # The final state is shown exactly as the palette allows: no pixel kept
    # from an earlier frame by the tolerance.
    palette = gifs.palette_from_frames(list(drawn), 96)
    assert np.mean(error[-1] <= 12) > 0.98 and palette.colors.shape[1] == 3


@pytest.mark.parametrize("loop, netscape", [(0, 0), (1, None), (3, 2)])
def test_gif_loop_counts(part1_run, tmp_path, loop, netscape):
    out = tmp_path / f"loop{loop}.gif"
    save(Scene.part1(part1_run, **SMALL), out, epochs="0:3", dpi=30, loop=loop,
         progress=False)
    assert Image.open(out).info.get("loop") == netscape


def test_gif_with_ffmpeg_paletteuse_and_one_palette(part1_run, tmp_path):
    out = tmp_path / "ffmpeg.gif"
    stats = save(Scene.part1(part1_run, **SMALL), out, epochs="0:13:4", dpi=DPI, fps=10,
                 hold_last=1, loop=1, gif_encoder="ffmpeg", progress=False)
    frames, durations, info = gif_frames(out)
    assert len(frames) == stats.frames == 4
    assert durations[-1] == 1100
    assert "loop" not in info


def test_gif_writer_writes_still_frames_as_one_transparent_pixel(tmp_path):
    frame = np.zeros((40, 60, 4), dtype=np.uint8)
    frame[..., 3] = 255
    frame[10:20, 10:30, :3] = (200, 30, 30)
    palette = gifs.palette_from_frames([frame], 16)
    out = tmp_path / "still.gif"
    with GifWriter(out, (60, 40), palette, fps=4, hold_last=0.5) as writer:
        for _ in range(5):
            writer.write(frame)
    assert writer.delays == [25, 25, 25, 25, 75]
    image = Image.open(out)
    assert image.n_frames == 5
    image.seek(2)
    assert image.tile[0][1][2:] == (1, 1) or image.size == (60, 40)
    decoded, durations, _ = gif_frames(out)
    assert (decoded == frame[..., :3]).all()
    assert durations == [250, 250, 250, 250, 750]


def test_gif_palette_keeps_frequent_colours_exact():
    rng = np.random.default_rng(0)
    frame = np.full((64, 64, 4), 255, dtype=np.uint8)
    frame[:, 32:, :3] = rng.integers(0, 255, size=(64, 32, 3))  # noise: many colours
    frame[:8, :8, :3] = (31, 119, 180)
    palette = gifs.palette_from_frames([frame], 32)
    assert len(palette.colors) <= 32
    colours = {tuple(colour) for colour in palette.colors}
    assert (255, 255, 255) in colours and (31, 119, 180) in colours
    indices = palette.indices(frame)
    assert (palette.colors[indices[:8, :8]] == (31, 119, 180)).all()
    assert (palette.colors[indices[:, 8:32]] == 255).all()


def test_gif_tolerance_keeps_runs_close_enough_and_redraws_the_others():
    palette = gifs.GifPalette(np.array([[0, 0, 0], [100, 100, 100], [104, 104, 104],
                                        [255, 255, 255]], dtype=np.uint8), bits=7)
    shown = np.full((2, 20), 1, dtype=np.uint8)
    frame = np.zeros((2, 20, 4), dtype=np.uint8)
    frame[..., :3] = 100
    frame[0, 2:6, :3] = 104        # drift of 4 levels: kept as shown
    frame[1, 2:6, :3] = 255        # a real change: redrawn
    packed = gifs.packed_pixels(frame)
    indices = palette.table[palette.packed_cells(packed)]
    block, offset, new_shown = gifs.changed_block(indices, shown, palette.transparent,
                                                  packed=packed, colors=palette.colors,
                                                  tolerance=8)
    assert offset == (2, 1) and block.shape == (1, 4)
    assert (block == 3).all()
    assert (new_shown[0] == 1).all() and (new_shown[1, 2:6] == 3).all()


def test_gif_frame_rate_is_limited_keeping_the_duration(part1_run, tmp_path):
    out = tmp_path / "fast.gif"
    stats = save(Scene.part1(part1_run, **SMALL), out, fps=100, dpi=30, progress=False)
    _, durations, _ = gif_frames(out)
    assert stats.frames == 7  # 13 snapshots, every 2nd (and the last) at 50 fps
    assert durations[0] == 20
    # the video's rate (after merging frames) and the render's speed are told apart
    assert stats.video_fps == 50
    assert stats.render_rate == stats.fps == stats.frames / stats.seconds
    with pytest.raises(OptionError, match="at most 50"):
        GifWriter(tmp_path / "x.gif", (10, 10), gifs.GifPalette([[0, 0, 0]]), fps=60)


def test_mp4_holds_its_last_frame(part1_run, tmp_path):
    out = tmp_path / "held.mp4"
    stats = save(Scene.part1(part1_run, **SMALL), out, epochs="0:13:4", fps=10, dpi=DPI,
                 hold_last=0.5, progress=False)
    frames = list(iio.imiter(out, plugin="FFMPEG"))
    assert stats.frames == 4 and len(frames) == 4 + 5
    # The repeats show the last epoch (H.264 only refines it).
    assert np.abs(frames[-1].astype(int) - frames[3].astype(int)).mean() < 1


def test_media_options_that_do_not_apply_are_refused(part1_run, tmp_path):
    scene = Scene.part1(part1_run, **SMALL)
    with pytest.raises(OptionError, match="only applies to a .gif"):
        scene.save(tmp_path / "a.mp4", loop=2, progress=False)
    with pytest.raises(OptionError, match="hold_last applies to animations"):
        scene.save(tmp_path / "a.png", hold_last=1)
    with pytest.raises(OptionError, match="colors must be an integer"):
        scene.save(tmp_path / "a.gif", colors=1, progress=False)
    with pytest.raises(OptionError, match="Give one of dpi, width and preset"):
        scene.save(tmp_path / "a.png", dpi=80, width=400)
    with pytest.raises(OptionError, match="Unknown size preset 'poster'"):
        scene.save(tmp_path / "a.png", preset="poster")


# -- sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_give_their_documented_pixel_size(part1_run, tmp_path, name):
    preset = PRESETS[name]
    stats = Scene.part1(part1_run).save(tmp_path / f"{name}.png", epoch=3, preset=name)
    image = iio.imread(tmp_path / f"{name}.png")
    # The part-1 figure is 2:1, so the height is half the width.
    assert image.shape[:2] == (preset.width // 2, preset.width)
    assert stats.size == (preset.width, preset.width // 2)


def test_width_picks_the_dpi_for_stills_and_animations(part1_run, tmp_path):
    Scene.part1(part1_run).save(tmp_path / "w.png", epoch=2, width=500)
    assert iio.imread(tmp_path / "w.png").shape[:2] == (250, 500)
    stats = Scene.part1(part1_run, **SMALL).save(tmp_path / "w.mp4", epochs="0:3",
                                                 width=320, progress=False)
    assert stats.size == (320, 160)
    assert next(iter(iio.imiter(tmp_path / "w.mp4", plugin="FFMPEG"))).shape[:2] == (160, 320)


def test_cli_width_preset_hold_and_loop(part1_file, tmp_path, capsys):
    out = tmp_path / "readme.gif"
    status = main(["render", str(part1_file), "--run", "sigmoid", "--epochs", "0:13:6",
                   "--preset", "phone", "--hold-last", "2", "--loop", "1", "--colors", "64",
                   "--quiet", "--out", str(out)])
    assert status == 0
    frames, durations, info = gif_frames(out)
    assert frames.shape[1:3] == (540, 1080)
    assert durations[-1] == 100 + 2000 and "loop" not in info
    assert "1080x540 pixels" in capsys.readouterr().out
    status = main(["compare", str(part1_file), "--epoch", "3", "--width", "600",
                   "--out", str(tmp_path / "grid.png")])
    assert status == 0
    assert iio.imread(tmp_path / "grid.png").shape[1] == 600


@pytest.mark.parametrize("arguments, message", [
    (["--dpi", "80", "--width", "400"], "--dpi and --width each set the size"),
    (["--loop", "2"], "--loop only applies to a .gif"),
    (["--preset", "poster"], "invalid choice"),
])
def test_cli_refuses_media_options_that_clash(part1_file, tmp_path, capsys, arguments,
                                              message):
    out = tmp_path / "x.mp4"
    try:
        status = main(["render", str(part1_file), "--run", "sigmoid", "--quiet",
                       "--out", str(out), *arguments])
    except SystemExit as exit:  # argparse's own errors
        status = exit.code
    assert status == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_hold_last_for_a_png(part1_file, tmp_path, capsys):
    status = main(["render", str(part1_file), "--run", "sigmoid", "--hold-last", "1",
                   "--out", str(tmp_path / "x.png")])
    assert status == 2
    assert "--hold-last holds the last frame" in capsys.readouterr().err


# -- fast comparison grids ------------------------------------------------------------------


def test_comparison_grid_blitted_equals_a_full_redraw(part1_file):
    frames = {}
    for blit in (True, False):
        runs = [Run(part1_file, "sigmoid"), Run(part1_file, "relu")]
        scene = ComparisonScene.grid(runs, panel_size=(3.0, 2.8), limits="fixed")
        renderer = FrameRenderer(scene, dpi=60, blit=blit)
        renderer.prepare(0)
        assert renderer.blit is blit
        frames[blit] = [renderer.render(epoch).copy() for epoch in (0, 5, 12)]
        height = frames[blit][0].shape[0]
        spines = [(height - box.y1, box.x0) for box in
                  (axes.get_window_extent() for axes in scene.figure_.axes)]
        renderer.finish()
    for blitted, full in zip(frames[True], frames[False]):
        difference = np.abs(blitted.astype(int) - full.astype(int)).max(axis=2)
        # The static samples, grid and spines over the regions are composited
        # from layers drawn once: a level or two of rounding where many
        # antialiased edges overlap, nothing a viewer can see; and, as for
        # any blitted scene, a stray pixel where a tick meets a spine (the
        # ticks stay in the background): one pixel per tick, on the spine.
        assert np.count_nonzero(difference > 2) <= 0.001 * difference.size
        rows, columns = np.nonzero(difference > 8)
        on_a_spine = [any(abs(column - left) <= 1.5 or abs(row - top) <= 1.5
                          for top, left in spines) for row, column in zip(rows, columns)]
        assert all(on_a_spine), list(zip(rows, columns))
        assert len(rows) <= 20  # one pixel per tick at most (the 2-D panels tick 7 + 7)


def test_static_artists_over_changing_ones_become_overlays(part1_file):
    scene = ComparisonScene.grid([Run(part1_file, "sigmoid")], views="decision-boundary")
    renderer = FrameRenderer(scene, dpi=60)
    renderer.prepare(0)
    overlays = [step for step in renderer._steps if isinstance(step, Overlay)]
    drawn = [step for step in renderer._steps if not isinstance(step, Overlay)]
    # Grid lines between the regions and the boundary; samples and spines above.
    assert len(overlays) == 2
    assert {type(artist).__name__ for artist in drawn} == {"RegionImage", "LineCollection",
                                                           "Annotation"}
    renderer.finish()


def test_region_image_resamples_like_matplotlib(part1_run, monkeypatch):
    def draw(fast):
        view = DecisionBoundary(part1_run)
        figure = view.plot(6)
        figure.set_dpi(80)
        if not fast:
            monkeypatch.setattr(regions.RegionImage, "_fast_resample",
                                lambda self, *args: None)
        figure.canvas.draw()
        monkeypatch.undo()
        return np.asarray(figure.canvas.buffer_rgba())[..., :3].astype(int)

    fast, slow = draw(True), draw(False)
    assert fast.shape == slow.shape
    assert np.abs(fast - slow).max() <= 1
