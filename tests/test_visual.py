"""Visual regression tests: every view and preset scene against a committed reference image.

Each case of ``visual_cases.py`` (every registered view, every preset scene,
on a small fixed run that needs no Keras) is drawn at dpi
:data:`visual_cases.DPI` with the style, font and hinting pinned, and
compared with ``tests/visual/references/<case>.png`` by the RMS of the
pixel differences, as ``matplotlib.testing.compare.compare_images`` does.
On a mismatch the actual image and a diff image stay in a temporary
folder named in the failure message.

The references are written only by ``python scripts/make_visual_references.py``
(see docs/architecture.md, "Visual regression tests"): run it after a
change that is *meant* to change pictures, look at the new images, commit them.
"""

import shutil

import pytest
import visual_cases
from matplotlib.testing.compare import compare_images

#: RMS tolerance in grey levels (0–255). Re-rendering on this machine gives 0.0;
#: recolouring 2 misclassified dots of the error scatter gives 1.62.
TOLERANCE = 0.5
REGENERATE = "python scripts/make_visual_references.py"

pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return visual_cases.open_runs(tmp_path_factory.mktemp("visual") / "runs.h5")


@pytest.mark.parametrize("name", list(visual_cases.cases()))
def test_picture_matches_its_reference(name, runs, tmp_path):
    reference = visual_cases.REFERENCES / f"{name}.png"
    if not reference.exists():
        pytest.fail(f"No reference image for {name!r} ({reference}). If {name!r} is new, "
                    f"run `{REGENERATE}`, look at the image and commit it.")
    actual = visual_cases.render(visual_cases.cases()[name], runs, tmp_path / f"{name}.png")
    expected = tmp_path / f"{name}-expected.png"
    shutil.copyfile(reference, expected)
    result = compare_images(str(expected), str(actual), tol=TOLERANCE, in_decorator=True)
    if result is not None:
        size = result.get("expected_size")
        detail = (f"RMS {result['rms']:.2f} > tolerance {TOLERANCE}" if "rms" in result
                  else f"size {result.get('actual_size')} != reference {size}")
        recorded = visual_cases.REFERENCES / visual_cases.VERSIONS_FILE
        drawn_with = recorded.read_text().strip() if recorded.exists() else "(unknown)"
        pytest.fail(f"{name!r} differs from its reference: {detail}.\n"
                    f"  references: {drawn_with}\n  this run:   drawn with "
                    f"{visual_cases.versions()}.\n"
                    f"  actual:    {actual}\n  expected:  {expected}\n"
                    f"  diff:      {result.get('diff', '(sizes differ: none)')}\n"
                    f"If the change is meant, run `{REGENERATE}`, look at the new images "
                    "and commit them.")


def test_every_reference_belongs_to_a_case():
    """A reference of a view or scene that no longer exists is an error, not a silent file."""
    stale = sorted(path.stem for path in visual_cases.REFERENCES.glob("*.png")
                   if path.stem not in visual_cases.cases())
    assert not stale, f"References without a case: {stale}; run `{REGENERATE}`."


def test_cases_cover_every_registered_view_and_preset():
    from replay.views import VIEWS

    names = set(visual_cases.cases())
    assert {f"view-{name}" for name in VIEWS} <= names
    assert {"scene-part1", "scene-part2", "scene-default", "scene-regression",
            "compare-grid", "compare-curves"} <= names


def test_references_stay_small():
    total = sum(path.stat().st_size for path in visual_cases.REFERENCES.glob("*.png"))
    assert 0 < total < 600_000, f"{total} bytes of reference images"


def test_the_script_writes_references_the_test_accepts(tmp_path, runs):
    """``make_visual_references.py`` writes exactly what the comparison then accepts."""
    import sys

    scripts = visual_cases.REFERENCES.parents[2] / "scripts"
    sys.path.insert(0, str(scripts))
    try:
        import make_visual_references
    finally:
        sys.path.remove(str(scripts))
    (tmp_path / "view-gone.png").write_bytes(b"stale")  # a case that no longer exists
    assert make_visual_references.main(["--into", str(tmp_path)]) == 0
    written = sorted(path.stem for path in tmp_path.glob("*.png"))
    assert written == sorted(visual_cases.cases())
    assert "matplotlib" in (tmp_path / visual_cases.VERSIONS_FILE).read_text()
    actual = visual_cases.render(visual_cases.cases()["scene-part1"], runs,
                                 tmp_path / "again.png")
    assert compare_images(str(tmp_path / "scene-part1.png"), str(actual), tol=0) is None
