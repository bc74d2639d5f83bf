"""`nokenviz.show(...)`: the app on a model the user already holds in Python.

In IPython or Jupyter with Qt's event loop running (`%gui qt`) the window opens beside the
kernel and `show` returns it at once, so the user keeps typing; in a plain script it runs the
event loop and returns when the window closes.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from nokenviz.api.model import Model
    from nokenviz.gui.window import MainWindow

WINDOWS: list[MainWindow] = []  # windows shown beside a kernel, kept alive until closed


def show(
    model: Model | PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase | None = None,
    *,
    block: bool | None = None,
) -> MainWindow:
    """Open the app on `model`: a `nokenviz.Model`, a served one (`nokenviz.connect`), or a
    transformers model with its `tokenizer` (not copied; put in eval mode). The window's model
    worker runs it: avoid running the same model from another thread while the window works.

    `block` None waits for the window to close unless an IPython Qt event loop runs."""
    from nokenviz.api.model import Model
    from nokenviz.api.remote_model import RemoteModel
    from nokenviz.gui.app import application
    from nokenviz.gui.window import MainWindow
    from nokenviz.state.work import REMOTE

    wrapped = model if isinstance(model, Model) else Model.from_transformers(model, tokenizer)
    app = application()
    window = MainWindow()
    window.show()
    if isinstance(wrapped, RemoteModel):  # the window's worker uses the same connection
        window.load_model(REMOTE + wrapped.connection.address)
    else:
        window.load_model(wrapped.loaded.resolved.spec, preloaded=wrapped.loaded)
    if block is None:
        block = not _kernel_runs_qt()
    if block:
        app.exec()
    else:
        WINDOWS.append(window)
        window.closed.connect(lambda: WINDOWS.remove(window) if window in WINDOWS else None)
    return window


def _kernel_runs_qt() -> bool:
    """True inside IPython with its Qt event loop integration on (`%gui qt`)."""
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    kernel = get_ipython() if callable(get_ipython) else None
    return str(getattr(kernel, "active_eventloop", "") or "").startswith("qt")
