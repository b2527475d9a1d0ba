"""Write the reference images of the visual regression tests (``tests/test_visual.py``).

The only writer of ``tests/visual/references/*.png``. Run it after a change
that is meant to change what a view or a scene draws (or after adding a
view), look at every image it lists, and commit them with the change::

    python scripts/make_visual_references.py            # every case
    python scripts/make_visual_references.py view-feature-space scene-part1

It draws each case of ``tests/visual_cases.py`` (every registered view and
preset scene, on a small fixed run built with numpy; no Keras) exactly as
the test does, removes references that no longer have a case, and prints
one line per image and, last, the total size.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))
sys.path.insert(1, str(TESTS.parent))

import visual_cases  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="case names (default: all), e.g. scene-part1")
    parser.add_argument("--into", default=str(visual_cases.REFERENCES),
                        help="folder of the references (default: tests/visual/references)")
    args = parser.parse_args(argv)
    references = Path(args.into)
    cases = visual_cases.cases()
    unknown = sorted(set(args.cases) - set(cases))
    if unknown:
        parser.error(f"no case {', '.join(unknown)}; the cases are: {', '.join(cases)}")
    references.mkdir(parents=True, exist_ok=True)
    if not args.cases:
        for path in references.glob("*.png"):
            if path.stem not in cases:
                path.unlink()
                print(f"removed {path} (no such case any more)")
    with tempfile.TemporaryDirectory() as folder:
        runs = visual_cases.open_runs(Path(folder) / "runs.h5")
        for name in args.cases or cases:
            path = visual_cases.render(cases[name], runs, references / f"{name}.png")
            print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    (references / visual_cases.VERSIONS_FILE).write_text(
        f"Drawn with {visual_cases.versions()}.\n")
    total = sum(path.stat().st_size for path in references.glob("*.png"))
    print(f"references: {total / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
