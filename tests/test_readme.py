"""The README: its quick start runs as written, twice, and its links and pictures exist."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: The README is a landing page; depth goes to docs/.
MAX_LINES = 200
#: The animation on the first screen must load fast.
MAX_GIF_BYTES = 2 * 1024 * 1024


def quick_start():
    """The first Python block under the README's "Quick start" heading."""
    text = README.read_text()
    section = text[text.index("## Quick start"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def local_links(text):
    """Targets of the Markdown links and images that point into the repository."""
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [target.split("#")[0] for target in targets
            if not re.match(r"[a-z]+://", target) and not target.startswith("#")]


@pytest.mark.slow
def test_the_quick_start_runs_verbatim_twice_and_draws_its_picture(tmp_path):
    from PIL import Image

    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    for attempt in (1, 2):
        result = subprocess.run([sys.executable, "-c", quick_start()], cwd=tmp_path,
                                capture_output=True, text=True, timeout=600, env=environment)
        assert result.returncode == 0, f"run {attempt}: {result.stderr[-3000:]}"
        assert "Traceback" not in result.stderr, f"run {attempt}: {result.stderr[-3000:]}"
        assert len(result.stdout) < 2000  # no progress bars flooding the output
        picture = tmp_path / "quickstart.png"
        # It says where the picture is, and the picture is there.
        assert str(picture) in result.stdout
        assert (tmp_path / "quickstart.h5").exists()
        with Image.open(picture) as image:
            assert image.format == "PNG"
            width, height = image.size
            assert width > 600 and height > 300
            # A drawn figure, not a blank canvas.
            colours = image.convert("RGB").getcolors(maxcolors=width * height)
            assert len(colours) > 50
        picture.unlink()


def test_the_readme_is_a_landing_page():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines; move depth to docs/"


def test_the_first_picture_is_the_animation_and_small():
    text = README.read_text()
    first_screen = "\n".join(text.splitlines()[:12])
    first = re.search(r"!\[[^\]]*\]\(([^)]+)\)", first_screen)
    assert first is not None, "no picture on the README's first screen"
    animation = ROOT / first.group(1)
    assert animation.suffix == ".gif"
    assert 0 < animation.stat().st_size <= MAX_GIF_BYTES


def test_every_local_link_and_picture_of_the_readme_exists():
    missing = [target for target in local_links(README.read_text())
               if not (ROOT / target).exists()]
    assert missing == []


def test_the_readme_links_the_articles():
    text = README.read_text()
    assert "towardsdatascience.com/hyper-parameters-in-action-a524bf5bf1c" in text
    assert "towardsdatascience.com/hyper-parameters-in-action-part-ii-weight-initializers" in text
