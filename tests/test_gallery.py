"""``scripts/make_gallery.py``: the contact sheet of every view and scene (no recording here)."""

import sys
from pathlib import Path

import numpy as np
import pytest
import visual_cases
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import make_gallery  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Small part-1 runs sigmoid, tanh and relu (numpy, no Keras), and the regression run."""
    import synthetic

    path = tmp_path_factory.mktemp("gallery") / "runs.h5"
    for activation in ("sigmoid", "tanh", "relu"):
        synthetic.write_part1(path, activation, activation, epochs=4, n_points=40,
                              mesh_resolution=20, grid_points=30)
    from replay import Run

    return {**{name: Run(path, name) for name in ("sigmoid", "tanh", "relu")},
            "regression": visual_cases.regression_run()}


def gallery_rows(runs):
    return make_gallery.rows(runs, runs["regression"])


def test_a_row_per_registered_view_and_per_preset_scene(runs):
    from replay.views import VIEWS

    labels = [label for label, _ in gallery_rows(runs)]
    assert labels[:len(VIEWS)] == [f"view\n{name}" for name in sorted(VIEWS)]
    assert [label.split("\n")[0] for label in labels[len(VIEWS):]] == [
        "Scene.part1", "Scene.part2", "Scene.default", "Scene.default", "ComparisonScene",
        "ComparisonScene"]


def test_every_row_draws_a_picture_that_fits_its_cell(runs):
    for label, draw in gallery_rows(runs):
        image = make_gallery.picture(draw(-1))
        assert image.width <= make_gallery.CELL[0] and image.height <= make_gallery.CELL[1]
        assert max(image.size) >= min(make_gallery.CELL) - 2, label  # scaled up to fit
        assert np.asarray(image).std() > 10, f"{label}: a blank picture"


def test_the_sheet_places_each_picture_in_its_row_and_column():
    width, height = make_gallery.CELL
    colours = [[(255, 0, 0), (0, 255, 0)], [(0, 0, 255), (250, 200, 0)]]
    cells = [[Image.new("RGB", (width, height), colour) for colour in row] for row in colours]
    sheet = make_gallery.contact_sheet(cells, ["a", "b\nc"], ["first", "second"])
    gap, left, top = make_gallery.GAP, make_gallery.LABEL_WIDTH, make_gallery.HEADER_HEIGHT
    assert sheet.size == (left + 2 * (width + gap), top + 2 * (height + gap))
    for row, row_colours in enumerate(colours):
        for column, colour in enumerate(row_colours):
            centre = (left + column * (width + gap) + width // 2,
                      top + row * (height + gap) + height // 2)
            assert sheet.getpixel(centre) == colour
