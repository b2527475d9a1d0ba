"""The explorer page: what ``explore`` writes, the CLI verb, and the page in headless Chromium."""

import base64
import io
import json
import os
import re

import h5py
import numpy as np
import pytest
import synthetic
from browser import FRAME_PNG, Browser, chromium_available, wait_for

from replay import Run, Runs
from replay.cli import main
from replay.errors import OptionError, RunFileError
from replay.render import Scene, explore
from replay.render.explorer.explore import NOTEBOOK_LIMIT_BYTES, ExplorerPage
from replay.render.explorer.page import template_pieces
from replay.render.explorer.summary import reached_epoch

#: Frames small enough to draw fast in tests (the part-1 scene: 600 x 300 pixels).
TEST_DPI = 50


def page_data(path):
    """The JSON the page's script reads."""
    text = path.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="replay-data">(.*?)</script>', text,
                      re.S)
    return json.loads(found.group(1))


def video_ids(path):
    return re.findall(r'<script type="application/octet-stream" id="video-(\d+)">',
                      path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def single_page(tmp_path_factory):
    """The page of the synthetic part-1 'sigmoid' run (12 epochs), and the run file."""
    folder = tmp_path_factory.mktemp("explore-one")
    run_file = synthetic.write_part1(folder / "part1.h5", "sigmoid", "sigmoid")
    page = explore(f"{run_file}:sigmoid", folder / "sigmoid.html", dpi=TEST_DPI)
    return page, run_file


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory):
    """Six runs in six files with hyperparameters: activation × seed, 8 epochs each."""
    folder = tmp_path_factory.mktemp("sweep")
    for activation in ("sigmoid", "relu"):
        for seed in (0, 1, 2):
            name = f"{activation}-s{seed}"
            path = folder / f"{name}.h5"
            synthetic.write_part1(path, name, activation, epochs=8, n_points=120,
                                  mesh_resolution=20, grid_points=40, seed=seed)
            with h5py.File(path, "a") as handle:
                handle[name].attrs["hparams"] = json.dumps(
                    {"activation": activation, "seed": seed})
    return folder


@pytest.fixture(scope="module")
def sweep_page(sweep_folder, tmp_path_factory):
    path = tmp_path_factory.mktemp("explore-sweep") / "sweep.html"
    return explore(sweep_folder, path, dpi=TEST_DPI, frames=5, processes=2)


# -- the page file ------------------------------------------------------------------------


def test_a_single_run_page_is_one_file_without_network_use(single_page):
    page, run_file = single_page
    text = page.path.read_text(encoding="utf-8")
    assert page.runs == 1 and page.framed == 1 and page.frames == 13
    assert "<title>sigmoid — replay explorer</title>" in text
    # No resource from elsewhere: no URL of a server, no external script or style sheet.
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text)
    assert not re.search(r"<(script|link|img|video)[^>]+(src|href)=\"(?!data:)", text)
    assert video_ids(page.path) == ["0"]
    video = re.search(r'id="video-0">([^<]*)</script>', text).group(1)
    assert base64.b64decode(video)[4:8] == b"ftyp"  # an MP4
    data = page_data(page.path)
    (run,) = data["runs"]
    assert run["video"]["frames"] == 13 and run["video"]["width"] == 600
    with Run(run_file, "sigmoid") as recorded:
        assert run["epochs"] == [float(epoch) for epoch in recorded.epochs]
        assert run["final"]["loss"] == pytest.approx(float(recorded.history["loss"][-1]))
        assert run["reached"] == reached_epoch(recorded.history, 1.0) == 8
        assert run["complete"] is True
    assert data["frames_note"] == "Frames for the run."


def test_the_page_is_built_from_the_package_files():
    pieces = template_pieces()
    assert len(pieces) == 7
    assert pieces[0].startswith("<!doctype html>")


def test_a_sweep_page_frames_the_best_runs_and_lists_them_all(sweep_page):
    data = page_data(sweep_page.path)
    assert sweep_page.runs == 6 and sweep_page.framed == 5
    assert data["hparams"] == {"activation": ["relu", "sigmoid"], "seed": [0, 1, 2]}
    losses = {run["label"]: run["final"]["loss"] for run in data["runs"]}
    framed = {run["label"] for run in data["runs"] if run["video"]}
    (unframed,) = set(losses) - framed
    assert losses[unframed] == max(losses.values())  # the worst (runs may tie)
    assert len(video_ids(sweep_page.path)) == 5
    assert "Frames for 5 of 6 runs: the best 5 by final loss (lowest first)" in data["frames_note"]


def test_frames_where_keeps_the_runs_with_those_hyperparameters(sweep_folder, tmp_path):
    page = explore(sweep_folder, tmp_path / "relu.html", dpi=TEST_DPI, frames=2,
                   frames_where={"activation": "relu"}, processes=1)
    data = page_data(page.path)
    framed = [run for run in data["runs"] if run["video"]]
    assert len(framed) == 2 and all(run["hparams"]["activation"] == "relu" for run in framed)
    assert "with activation=relu" in data["frames_note"]


def test_frames_where_that_selects_nothing_is_refused(sweep_folder, tmp_path, capsys):
    """Bug: `replay explore DIR --frames-where nothere=1` (a typo) or a value no run has
    wrote a page without a single picture, exit 0; both are now replay's one-line error."""
    from replay.cli import main

    out = tmp_path / "none.html"
    assert main(["explore", str(sweep_folder), "--frames-where", "activaton=relu",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "No run has the hyperparameter 'activaton'" in err and "activation" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["explore", str(sweep_folder), "--frames-where", "activation=elu",
                 "--out", str(out)]) == 2
    assert "No run has activation=elu, so no run would get frames" in \
        capsys.readouterr().err
    assert not out.exists()


def test_runs_come_from_a_collection_files_globs_and_runs(sweep_folder, part1_file, tmp_path):
    relu = Runs(sweep_folder).where(activation="relu")
    page = explore(relu, tmp_path / "relu.html", frames=0)
    assert [run["label"] for run in page_data(page.path)["runs"]] == ["relu-s0", "relu-s1",
                                                                        "relu-s2"]
    page = explore([str(sweep_folder / "sigmoid-s*.h5"), Run(part1_file, "relu")],
                   tmp_path / "mixed.html", frames=0)
    assert [run["label"] for run in page_data(page.path)["runs"]] == [
        "sigmoid-s0", "sigmoid-s1", "sigmoid-s2", "relu"]
    assert page.framed == 0 and video_ids(page.path) == []
    with pytest.raises(RunFileError, match="No such run file"):
        explore(str(sweep_folder / "missing.h5"), tmp_path / "none.html")


def test_bad_options_are_refused_before_drawing(part1_file, tmp_path):
    with pytest.raises(OptionError, match="frames must be"):
        explore(part1_file, tmp_path / "x.html", frames=-1)
    with pytest.raises(OptionError, match="No view 'nope'"):
        explore(part1_file, tmp_path / "x.html", view="nope")
    with pytest.raises(OptionError, match="frames_where"):
        explore(part1_file, tmp_path / "x.html", frames_where=["relu"])
    assert not (tmp_path / "x.html").exists()


def test_a_view_instead_of_the_scene(part1_file, tmp_path):
    page = explore(f"{part1_file}:relu", tmp_path / "boundary.html", view="decision-boundary",
                   dpi=TEST_DPI)
    data = page_data(page.path)
    assert data["picture"] == "the decision-boundary view"
    assert data["runs"][0]["video"]["frames"] == 13


def test_the_cli_writes_a_page_and_says_so(sweep_folder, tmp_path, capsys):
    out = tmp_path / "cli.html"
    status = main(["explore", str(sweep_folder / "sigmoid-*.h5"), "--out", str(out),
                   "--dpi", str(TEST_DPI), "--frames", "2", "--frames-where", "seed=1",
                   "--processes", "1"])
    assert status == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out} (3 runs, frames for 1, 9 frames,")
    data = page_data(out)
    assert [run["label"] for run in data["runs"] if run["video"]] == ["sigmoid-s1"]


def test_in_a_notebook_the_page_shows_inline_or_as_a_link(single_page, tmp_path):
    page, _ = single_page
    inline = page._repr_html_()
    assert inline.startswith("<iframe srcdoc=\"&lt;!doctype html&gt;")
    big = tmp_path / "big.html"
    big.write_bytes(b" " * (NOTEBOOK_LIMIT_BYTES + 1))
    linked = ExplorerPage(big, 1, 1, 1, 0.0)._repr_html_()
    assert "more than a notebook shows inline" in linked and big.as_uri() in linked


def test_explore_without_a_path_writes_a_temporary_page(part1_file):
    page = explore(f"{part1_file}:sigmoid", dpi=TEST_DPI)
    assert page.path.name == "explorer.html" and page.bytes > 0


# -- in a real browser ----------------------------------------------------------------------

#: CI sets REPLAY_REQUIRE_BROWSER=1: there a missing Chromium fails the tests instead of skipping them.
browser = pytest.mark.skipif(
    not chromium_available() and os.environ.get("REPLAY_REQUIRE_BROWSER") != "1",
    reason="needs /usr/bin/chromium, /usr/bin/chromedriver and selenium")


def shown_frame(driver):
    """The main video's frame on screen, as an RGB array."""
    from PIL import Image

    url = driver.execute_script(FRAME_PNG)
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)


def library_png(run_file, run, epoch, tmp_path):
    """The library's own PNG of snapshot ``epoch``, as an RGB array."""
    from PIL import Image

    with Run(run_file, run) as opened:
        out = tmp_path / f"{run}-{epoch}.png"
        Scene.default(opened).save(out, epoch=epoch, dpi=TEST_DPI)
    return np.asarray(Image.open(out).convert("RGB")).astype(np.int16)


def wait_shown(driver, run, epoch):
    """Wait until the page shows ``run`` at ``epoch`` and its frame is on screen."""
    wait_for(driver, f"document.body.dataset.run === {json.dumps(run)} && "
                     f"document.body.dataset.shownEpoch === '{epoch}' && "
                     f"document.getElementById('frame').dataset.snapshot === '{epoch}'")


@browser
@pytest.mark.browser
def test_the_slider_shows_the_librarys_picture_of_each_epoch(single_page, tmp_path):
    page, run_file = single_page
    with Browser() as window:
        driver = window.driver
        driver.get(page.path.as_uri())
        wait_for(driver, "window.replayExplorer && window.replayExplorer.timing.readyMs !== null")
        assert driver.title == "sigmoid — replay explorer"
        # The slider, moved as a user drags it.
        driver.execute_script("const s = document.getElementById('epoch-slider');"
                              "s.value = '3'; s.dispatchEvent(new Event('input'));")
        wait_shown(driver, "sigmoid", 3)
        assert driver.find_element("id", "epoch-output").text == "Epoch 3 of 12"
        assert driver.current_url.endswith("#run=sigmoid&epoch=3&runs=sigmoid&sort=final:loss"
                                           "&desc=0&curve=loss")
        frame = shown_frame(driver)
        expected = library_png(run_file, "sigmoid", 3, tmp_path)
        assert frame.shape == expected.shape
        error = np.abs(frame - expected).mean()
        assert error < 3.0, error  # H.264 at CRF 23 of the same pixels
        # Exactly epoch 3: its neighbours' pictures are further from what is shown.
        for other in (2, 4):
            assert np.abs(frame - library_png(run_file, "sigmoid", other, tmp_path)).mean() > error
        # The keyboard: the right arrow steps to epoch 4, End to the last epoch.
        driver.find_element("id", "epoch-slider").send_keys("\ue014")  # ArrowRight
        wait_shown(driver, "sigmoid", 4)
        driver.find_element("tag name", "body").send_keys("\ue010")  # End
        wait_shown(driver, "sigmoid", 12)
        assert np.abs(shown_frame(driver) - library_png(run_file, "sigmoid", 12, tmp_path)
                      ).mean() < 3.0
        assert window.console_errors() == []


@browser
@pytest.mark.browser
def test_a_sweep_page_switches_runs_follows_links_and_sorts(sweep_page):
    data = page_data(sweep_page.path)
    framed = {run["label"] for run in data["runs"] if run["video"]}
    # A seed whose two runs both have frames (five of the six runs have).
    seed = next(seed for seed in (0, 1, 2)
                if {f"relu-s{seed}", f"sigmoid-s{seed}"} <= framed)
    first, second = f"relu-s{seed}", f"sigmoid-s{seed}"
    third = sorted(framed - {first, second})[0]
    with Browser() as window:
        driver = window.driver
        driver.get(sweep_page.path.as_uri() + f"#run={first}&epoch=5")
        wait_shown(driver, first, 5)
        assert driver.find_element("id", "shown-run").text == first
        # Side by side: at least 4 pictures on the same epoch.
        wait_for(driver, "Array.from(document.querySelectorAll('.tile video')).every("
                         "v => v.dataset.snapshot === '5') && "
                         "document.querySelectorAll('.tile video').length >= 4")
        # A step moves every picture: the large one first, then those side by side.
        driver.find_element("id", "step-forward").click()
        wait_shown(driver, first, 6)
        wait_for(driver, "Array.from(document.querySelectorAll('.tile video')).every("
                         "v => v.dataset.snapshot === '6')")
        driver.find_element("id", "step-back").click()
        wait_shown(driver, first, 5)
        # A hyperparameter control picks the run with that value and the others kept.
        driver.execute_script("const s = document.getElementById('hparam-activation');"
                              "s.value = JSON.stringify('sigmoid');"
                              "s.dispatchEvent(new Event('change'));")
        wait_shown(driver, second, 5)
        assert f"run={second}&" in driver.current_url
        # The table sorts by a column, and back.
        header = driver.find_element("css selector", "th[data-key='final:loss'] button")
        labels = lambda: driver.execute_script(  # noqa: E731
            "return Array.from(document.querySelectorAll('#results tbody tr'))"
            ".map(r => r.dataset.label);")
        losses = {run["label"]: run["final"]["loss"] for run in data["runs"]}
        assert labels() == sorted(losses, key=losses.get)  # lowest first, by default
        header.click()
        assert labels() == sorted(losses, key=losses.get, reverse=True)
        assert driver.find_element("css selector", "th[data-key='final:loss']") \
            .get_attribute("aria-sort") == "descending"
        # A row of the table selects its run.
        driver.find_element("css selector", f"tr[data-label='{third}']").click()
        wait_shown(driver, third, 5)
        assert window.console_errors() == []


@browser
@pytest.mark.browser
def test_a_run_without_accuracy_is_not_said_to_miss_it(tmp_path):
    """Bug: the summary of a regression (or of a run recorded without metrics) read
    "accuracy 1 at: not reached", for a run that has no accuracy to reach."""
    run_file = synthetic.write_small_softmax(tmp_path / "small.h5", epochs=3)
    page = explore(f"{run_file}:small", tmp_path / "small.html", dpi=TEST_DPI)
    with Browser() as window:
        driver = window.driver
        driver.get(page.path.as_uri())
        wait_shown(driver, "small", 3)
        summary = driver.find_element("id", "summary-list").text
        assert "final loss" in summary
        assert "accuracy 1 at" not in summary and "not reached" not in summary
        assert window.console_errors() == []


@browser
@pytest.mark.browser
def test_a_searched_float_shows_four_significant_digits(tmp_path):
    """Bug: an Optuna log-uniform learning rate filled its table cell and its
    summary row with 17 digits (0.011482254155608743)."""
    run_file = synthetic.write_small_softmax(tmp_path / "small.h5", epochs=2)
    with h5py.File(run_file, "a") as handle:
        handle["small"].attrs["hparams"] = json.dumps(
            {"lr": 0.011482254155608743, "units": 6, "activation": "relu"})
    page = explore(f"{run_file}:small", tmp_path / "small.html", dpi=TEST_DPI)
    with Browser() as window:
        driver = window.driver
        driver.get(page.path.as_uri())
        wait_shown(driver, "small", 2)
        cell = driver.find_element("css selector", "#results tbody tr td:nth-child(3)")
        summary = driver.find_element("id", "summary-list").text
        assert "0.01148" in cell.text + summary
        assert "0.0114822" not in driver.find_element("tag name", "body").text
        assert "6" in summary and "relu" in summary  # integers and strings as they are
        assert window.console_errors() == []


def test_a_video_can_have_a_key_frame_every_n_frames(tmp_path):
    from replay.render.encoders import ffmpeg_command

    default = ffmpeg_command(tmp_path / "a.mp4", (40, 20))
    assert "-g" not in default
    command = ffmpeg_command(tmp_path / "a.mp4", (40, 20), keyframe_interval=20)
    assert command[command.index("-g") + 1] == "20"


@browser
@pytest.mark.browser
def test_the_notebook_display_works_inside_its_frame(single_page, tmp_path):
    page, _ = single_page
    notebook = tmp_path / "notebook.html"
    notebook.write_text("<!doctype html><html><head><title>notebook</title></head><body>"
                        f"{page._repr_html_()}</body></html>", encoding="utf-8")
    with Browser() as window:
        driver = window.driver
        driver.get(notebook.as_uri())
        driver.switch_to.frame(driver.find_element("tag name", "iframe"))
        wait_for(driver, "window.replayExplorer && window.replayExplorer.timing.readyMs !== null")
        driver.execute_script("window.replayExplorer.setState({epoch: 5})")
        wait_shown(driver, "sigmoid", 5)
        driver.switch_to.default_content()
        # An <iframe srcdoc> of a file has no address to write: no error for it.
        assert window.console_errors() == []


def test_an_objective_no_run_has_is_refused(part1_file, tmp_path):
    with pytest.raises(OptionError, match="No run has the metric 'val_auc'"):
        explore(part1_file, tmp_path / "x.html", objective="val_auc")


def test_a_run_before_any_epoch_gets_a_page(tmp_path):
    """Snapshot 0 alone (``Recorder.snapshot`` without ``fit``): no history to rank by."""
    run_file = synthetic.write_part1(tmp_path / "initial.h5", "initial", epochs=0)
    page = explore(run_file, tmp_path / "initial.html", dpi=TEST_DPI)
    (run,) = page_data(page.path)["runs"]
    assert run["video"]["frames"] == 1 and run["final"] == {} and run["reached"] is None
