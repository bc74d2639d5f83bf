"""`nokenviz.show` on a model built in memory (no path): the app opens on it, as it is."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer

import nokenviz as nv
from nokenviz.gui import show as show_module
from tests.tiny_models import build_model


def test_show_opens_the_app_on_a_model_held_in_python(qtbot, qt_settings) -> None:
    hf_model, tokenizer = build_model("llama", seed=3)
    window = nv.show(hf_model, tokenizer, block=False)
    qtbot.addWidget(window)
    with qtbot.waitSignals([window.model_ready, window.projection_ready], timeout=60_000):
        pass
    worker_model = window.model_worker.runner.state["model"]
    assert worker_model.model is hf_model  # the user's object, not a copy
    assert window.session.vocab is not None
    assert len(window.session.vocab.tokens) == hf_model.config.vocab_size
    assert window.session.model_spec == "in-memory:LlamaForCausalLM"
    assert window in show_module.WINDOWS  # kept alive beside a kernel
    window.close()
    assert window not in show_module.WINDOWS  # and let go once closed


def test_show_blocks_until_the_window_closes_in_a_script(qtbot, qt_settings) -> None:
    hf_model, tokenizer = build_model("gpt2", seed=4)
    model = nv.Model.from_transformers(hf_model, tokenizer, name="edited")

    def close_when_ready() -> None:
        from PySide6.QtWidgets import QApplication

        for widget in QApplication.topLevelWidgets():
            if getattr(widget, "session", None) is not None and widget.session.fitted is not None:
                widget.close()
                return
        QTimer.singleShot(100, close_when_ready)

    QTimer.singleShot(100, close_when_ready)
    window = nv.show(model)  # no IPython Qt loop here: runs until closed
    assert window.session.model_spec == "in-memory:edited"
    assert window.session.fitted is not None and not window.isVisible()


def test_show_returns_at_once_beside_an_ipython_qt_loop(qtbot, qt_settings, monkeypatch) -> None:
    """In IPython after `%gui qt` the kernel runs Qt's loop: `show` must not block it."""
    from types import SimpleNamespace

    kernel = SimpleNamespace(active_eventloop="qt6")
    monkeypatch.setitem(sys.modules, "IPython", SimpleNamespace(get_ipython=lambda: kernel))
    hf_model, tokenizer = build_model("gpt2", seed=6)
    window = nv.show(hf_model, tokenizer)  # no block=: decided by the kernel
    qtbot.addWidget(window)
    assert window.isVisible() and window in show_module.WINDOWS
    with qtbot.waitSignal(window.model_ready, timeout=60_000):
        pass
    window.close()
