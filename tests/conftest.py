"""Shared fixtures: tiny models of each family (built once per run) and the real default model."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the network

import tempfile

import pytest

from tests.tiny_models import FAMILIES, build_encoder_dir, build_model_dir

# Caches (UMAP layouts, the converted default model: 0.5 GB) and state (the autosaved session)
# go to throw-away folders, removed when the run ends. (Read when used, not at import.)
_CACHE = tempfile.TemporaryDirectory(prefix="nokenviz-test-cache-")
_STATE = tempfile.TemporaryDirectory(prefix="nokenviz-test-state-")
os.environ["XDG_CACHE_HOME"], os.environ["XDG_STATE_HOME"] = _CACHE.name, _STATE.name


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tiny")
    return {family: str(build_model_dir(family, root / family)) for family in FAMILIES}


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny BERT: not a causal LM."""
    return str(build_encoder_dir(tmp_path_factory.mktemp("bert")))


@pytest.fixture(scope="session")
def small_vocab_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny llama whose vocabulary is smaller than the other tiny models'."""
    return str(build_model_dir("llama", tmp_path_factory.mktemp("small"), vocab_size=300))


@pytest.fixture(scope="session")
def tiny_models(tiny_dirs: dict[str, str]) -> dict:
    from nokenviz.core.models.loading import load_model

    return {family: load_model(path) for family, path in tiny_dirs.items()}


@pytest.fixture(params=sorted(FAMILIES))
def tiny(request: pytest.FixtureRequest, tiny_models: dict):
    """One loaded tiny model per family."""
    return tiny_models[request.param]


@pytest.fixture(scope="session")
def llama(tiny_models: dict):
    return tiny_models["llama"]


@pytest.fixture(scope="session")
def smol():
    """The real default model (SmolLM2-135M-Instruct), loaded once per pytest run."""
    from nokenviz.core.models.loading import load_model

    return load_model("default")


@pytest.fixture
def qt_settings(tmp_path, qapp):
    """QSettings in a temporary folder, so tests never touch the user's settings."""
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    return tmp_path


@pytest.fixture
def window(qtbot, qt_settings):
    """The app's main window, shown, with settings in a temporary folder."""
    from nokenviz.gui.window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


@pytest.fixture
def loaded(qtbot, window, tiny_dirs):
    """A window with the tiny llama loaded, projected and its default prompt traced."""
    signals = [window.model_ready, window.projection_ready, window.trace_ready]
    with qtbot.waitSignals(signals, timeout=60_000):
        window.load_model(tiny_dirs["llama"])
    return window
