#!/usr/bin/env bash
# Build the sdist and wheel, check them with twine, install the wheel (not
# editable) into a fresh virtual environment and record and render a small run
# from a folder outside the source tree: what a user who runs
# `pip install keras-replay[jax]` gets must work without the clone.
#
# Usage:
#     bash scripts/check_wheel.sh [WORK_DIR]
#
# WORK_DIR (default: a new temporary folder) receives dist/, the two virtual
# environments and the run. Last line: `wheel check: passed (...)`.
set -euo pipefail
SOURCE="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-$(mktemp -d)}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
export PIP_DISABLE_PIP_VERSION_CHECK=1 MPLBACKEND=Agg KERAS_BACKEND=jax
# The environment of the caller (an editable install, PYTHONPATH) must not
# leak into the fresh one.
unset PYTHONPATH

echo "== build sdist and wheel"
python3 -m venv --clear "$WORK/build-venv"
"$WORK/build-venv/bin/pip" install -q build twine
rm -rf "$WORK/dist"
# A copy without untracked files: the sdist must come from what git tracks.
git -C "$SOURCE" archive --format=tar HEAD | (mkdir -p "$WORK/source" && tar -x -C "$WORK/source")
"$WORK/build-venv/bin/python" -m build -q --outdir "$WORK/dist" "$WORK/source" >/dev/null
"$WORK/build-venv/bin/twine" check --strict "$WORK/dist"/*
WHEEL="$(ls "$WORK"/dist/*.whl)"

echo "== every data file of the package is in the wheel"
"$WORK/build-venv/bin/python" - "$WORK/source" "$WHEEL" <<'EOF'
import sys
import zipfile
from pathlib import Path

source, wheel = Path(sys.argv[1]), sys.argv[2]
names = set(zipfile.ZipFile(wheel).namelist())
files = [p.relative_to(source).as_posix() for p in (source / "replay").rglob("*")
         if p.is_file() and "__pycache__" not in p.parts]
missing = [name for name in files if name not in names]
if missing:
    sys.exit(f"not in {wheel}: {', '.join(missing)} (add them to [options.package_data])")
print(f"{len(files)} files of replay/ in the wheel")
EOF

echo "== install the wheel into a fresh virtual environment"
python3 -m venv --clear "$WORK/venv"  # --clear: a WORK_DIR used before gets a new one
# torch-free: the JAX extra is the README's default backend.
"$WORK/venv/bin/pip" install -q "$WHEEL[jax]"

echo "== record and render from outside the source tree"
OUTSIDE="$WORK/outside"
rm -rf "$OUTSIDE" && mkdir -p "$OUTSIDE"
cd "$OUTSIDE"
PY="$WORK/venv/bin/python"
REPLAY="$WORK/venv/bin/replay"
"$PY" - "$SOURCE" <<'EOF'
import sys
from pathlib import Path

import replay

source = Path(sys.argv[1]).resolve()
where = Path(replay.__file__).resolve()
if source in where.parents:
    sys.exit(f"replay imported from the source tree ({where}), not the installed wheel")
print(f"replay {replay.__version__} from {where.parent}")

import keras  # noqa: E402

from replay import Recorder  # noqa: E402
from replay.datasets import parabola  # noqa: E402

X, y = parabola(200)
model = keras.Sequential([
    keras.Input((2,)),
    keras.layers.Dense(2, activation="tanh", name="hidden"),
    keras.layers.Dense(1, activation="sigmoid", name="output"),
])
model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy", metrics=["accuracy"])
model.fit(X, y, epochs=5, batch_size=16, verbose=0,
          callbacks=[Recorder("small.h5", run="tanh", inputs=X, targets=y)])
EOF
"$REPLAY" --version
"$REPLAY" info small.h5
"$REPLAY" render small.h5 --run tanh --out small.png
"$REPLAY" render small.h5 --run tanh --dpi 40 --out small.gif
for picture in small.png small.gif; do
  test -s "$picture" || { echo "wheel check: $picture was not written" >&2; exit 1; }
done
echo "wheel check: passed ($(basename "$WHEEL"), $(stat -c %s small.png) B png, $(stat -c %s small.gif) B gif)"
