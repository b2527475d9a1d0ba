"""The README's quick start runs as written, in a fresh interpreter."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start():
    """The first Python block under the README's "Quick start" heading."""
    text = README.read_text()
    section = text[text.index("## Quick start"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_quick_start_runs_verbatim_and_quietly(tmp_path):
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    result = subprocess.run([sys.executable, "-c", quick_start()], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(result.stdout) < 2000  # no progress bars flooding the output
    assert (tmp_path / "part1.h5").exists()
