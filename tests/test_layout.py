"""The layout of replay's figures: one constrained-layout pass where once is enough."""

import matplotlib

matplotlib.use("Agg")

import matplotlib._constrained_layout as constrained  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.layout_engine import ConstrainedLayoutEngine  # noqa: E402

from replay.render import Scene  # noqa: E402
from replay.render.save import save_png  # noqa: E402
from replay.views.base import new_figure  # noqa: E402


@pytest.fixture
def passes(monkeypatch):
    """Count the measuring passes of constrained layouts."""
    calls = []
    measure = constrained.make_layout_margins

    def counted(*args, **kwargs):
        calls.append(1)
        return measure(*args, **kwargs)

    monkeypatch.setattr(constrained, "make_layout_margins", counted)
    return calls


def positions(figure):
    return np.array([ax.get_position().bounds for ax in figure.axes])


def laid_out_twice(figure, engine):
    """Positions in pixels after matplotlib's own two-pass layout."""
    ConstrainedLayoutEngine(**engine.get()).execute(figure)
    width, height = figure.canvas.get_width_height()
    return positions(figure) * [width, height, width, height]


def test_one_pass_when_the_ticks_stay_where_matplotlib_puts_them(passes):
    figure = new_figure((6, 4))
    for index in range(4):
        ax = figure.add_subplot(2, 2, index + 1)
        ax.plot([0, 1000], [0, 0.5])
        ax.set_xticks([0, 500, 1000])
        ax.set_yticks([0, 0.25, 0.5])
        ax.set_title(f"panel {index}")
        ax.set_ylabel("value")
    figure.suptitle("Epoch 3")
    engine = figure.get_layout_engine()
    engine.execute(figure)
    assert len(passes) == 1
    width, height = figure.canvas.get_width_height()
    ours = positions(figure) * [width, height, width, height]
    # Within a pixel of matplotlib's two-pass layout (text boxes snap to
    # whole pixels: the second pass moves an edge by half a pixel here).
    np.testing.assert_allclose(ours, laid_out_twice(figure, engine), atol=1.0)


def test_part1_scene_gets_the_second_pass_when_its_tick_labels_change(part1_run, passes):
    # 12 epochs: the first pass turns the epoch axis's "0.0" to "10.0" into
    # "0" to "12" (a longer axis, other ticks), so the second pass runs.
    figure = Scene.part1(part1_run).plot(3)
    engine = figure.get_layout_engine()
    engine.execute(figure)
    assert len(passes) == 1 + 2
    width, height = figure.canvas.get_width_height()
    ours = positions(figure) * [width, height, width, height]
    np.testing.assert_allclose(ours, laid_out_twice(figure, engine), atol=1e-6)


def test_second_pass_when_the_first_moves_ticks_or_a_colorbar_needs_it(passes):
    figure = new_figure((3, 2))
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1])
    image = ax.imshow(np.eye(3), aspect="auto")
    figure.colorbar(image, ax=ax)
    figure.get_layout_engine().execute(figure)
    assert len(passes) == 2


def test_png_is_drawn_once_and_the_engine_comes_back(part1_run, tmp_path, monkeypatch):
    figure = Scene.part1(part1_run).plot(3)
    engine = figure.get_layout_engine()
    draws = []
    draw = type(figure).draw

    def counted(self, renderer):
        draws.append(1)
        return draw(self, renderer)

    monkeypatch.setattr(type(figure), "draw", counted)
    save_png(figure, tmp_path / "a.png", 50)
    assert len(draws) == 1
    assert figure.get_layout_engine() is engine
    assert (tmp_path / "a.png").stat().st_size > 1000


def test_figures_with_the_engine_pickle(part1_run):
    import pickle

    figure = Scene.part1(part1_run).plot(3)
    copy = pickle.loads(pickle.dumps(figure))
    assert type(copy.get_layout_engine()) is type(figure.get_layout_engine())
    assert len(copy.axes) == len(figure.axes)
