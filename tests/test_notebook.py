"""Notebook display: views, scenes and comparisons as H.264 videos (or a PNG), runs as tables,
``to_html5_video`` / ``to_jshtml`` with the bundled ffmpeg, and the example notebook run end to end."""

import base64
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from replay.compare import ComparisonScene  # noqa: E402
from replay.render import Scene  # noqa: E402
from replay.render.notebook import CONTROLS_BAND, to_html, video_html  # noqa: E402
from replay.views import FeatureSpace, LossAndMetric  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(figsize=(6.0, 3.0))


def media(html, kind):
    """The bytes of the one ``data:`` URI of ``kind`` in ``html``."""
    found = re.findall(rf'src="data:{kind};base64,([A-Za-z0-9+/=]+)"', html)
    assert len(found) == 1, html[:200]
    return base64.b64decode(found[0])


def test_a_scene_displays_as_an_h264_video_of_every_snapshot(part1_run):
    scene = Scene.part1(part1_run, **SMALL)
    html = scene._repr_html_()
    assert "<video" in html and "autoplay" in html and "loop" in html
    video = media(html, "video/mp4")
    assert video[4:8] == b"ftyp" and b"avc1" in video[:4096]  # an MP4 holding H.264
    # Taken off pyplot's list: the inline backend does not show the figure again.
    assert scene.figure_.number not in plt.get_fignums()


def test_a_view_and_a_comparison_display_themselves(part1_run):
    assert media(FeatureSpace(part1_run, "hidden")._repr_html_(), "video/mp4")[4:8] == b"ftyp"
    curves = ComparisonScene.curves([part1_run], ["loss"])
    assert media(curves._repr_html_(), "video/mp4")[4:8] == b"ftyp"


def test_the_video_controls_lie_under_the_picture_not_on_it():
    html = video_html("AAAA", 1200, 600)
    video = re.search(r"<video[^>]*>", html).group(0)
    # The element is the picture plus a band, at any displayed width; the
    # picture is pinned to the top, so the controls drawn over the element's
    # bottom (Chromium: bar and shading, ~110 px) cover only the band.
    assert f"height:{600 + CONTROLS_BAND}px" in video
    assert f"calc(100cqw * 600 / 1200 + {CONTROLS_BAND}px)" in video
    assert "object-fit:contain" in video and "object-position:top" in video
    assert "container-type:inline-size" in html and "max-width:1200px" in html
    assert CONTROLS_BAND >= 110


def test_one_snapshot_displays_as_a_png(part1_run):
    html = to_html(LossAndMetric(part1_run), epochs=[3])
    assert html.startswith("<img")
    assert media(html, "image/png").startswith(b"\x89PNG\r\n\x1a\n")


def test_a_run_displays_as_a_table(part1_run):
    html = part1_run._repr_html_()
    assert html.startswith("<table>")
    for text in ("sigmoid", f"{part1_run.n_snapshots} (epochs 0 to", "complete",
                 "hidden: Dense, 2 units, sigmoid, hidden", "loss "):
        assert text in html


def test_the_run_table_and_replay_info_name_the_layers_alike(part1_file, part1_run, capsys):
    from replay.cli import main

    assert main(["info", str(part1_file), "--run", "sigmoid"]) == 0
    info = capsys.readouterr().out
    table = part1_run._repr_html_()
    for layer in part1_run.layers:
        assert re.search(rf"layer {layer.name} +{layer.class_name} .* {layer.role}\b", info)
        assert f"{layer.name}: {layer.class_name}" in table
        assert f"{layer.activation}, {layer.role}" in table
    assert {layer.role for layer in part1_run.layers} == {"hidden", "output"}


def test_animations_use_the_bundled_ffmpeg(part1_run, monkeypatch, tmp_path):
    # No ffmpeg on the PATH, matplotlib's default setting: to_html5_video still works.
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(matplotlib.rcParams, "animation.ffmpeg_path", "ffmpeg")
    animation = FeatureSpace(part1_run, "hidden").animate(epochs="0:4")
    video = animation.to_html5_video()
    assert video.startswith("<video") and "base64" in video
    frames = animation.to_jshtml()
    assert frames.count("data:image/png;base64") >= 4


def test_the_example_notebook_runs_and_shows_a_video(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / "examples" / "quickstart.ipynb", as_version=4)
    # A short training (the notebook reads it), the inline backend as in Jupyter.
    monkeypatch.setenv("REPLAY_EXAMPLE_EPOCHS", "12")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", [])]
    errors = [output for output in outputs if output.get("output_type") == "error"]
    assert not errors, errors
    html = [output["data"]["text/html"] for output in outputs if "text/html" in
            output.get("data", {})]
    tables = [text for text in html if text.startswith("<table>")]  # the run
    # The output layer is named as replay info and the views name it.
    assert tables and "output: Dense, 1 unit, sigmoid, output" in tables[0]
    videos = [text for text in html if "<video" in text]
    assert videos and media(videos[0], "video/mp4")[4:8] == b"ftyp"
    assert (tmp_path / "quickstart.h5").exists()
