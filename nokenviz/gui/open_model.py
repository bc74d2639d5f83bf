"""The File menu's ways to a model: a folder, a GGUF file, a hub id, or a served model."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QMessageBox

from nokenviz.remote.client import TOKEN_VARIABLE
from nokenviz.state.work import REMOTE

if TYPE_CHECKING:
    from nokenviz.gui.window import MainWindow


def folder(window: MainWindow) -> None:
    path = QFileDialog.getExistingDirectory(window, "Open a Hugging Face model folder")
    if path:
        window.load_model(path)


def gguf(window: MainWindow) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Open a GGUF model", "", "GGUF models (*.gguf)")
    if path:
        window.load_model(path)


def hub_id(window: MainWindow) -> None:
    spec, ok = QInputDialog.getText(
        window, "Open a hub model", "Hub id (from the local cache when offline):"
    )
    if ok and spec.strip():
        window.load_model(spec.strip())


def served(window: MainWindow) -> None:
    """A model served by `nokenviz serve` (through the ssh tunnel it printed), and its token
    (NOKENVIZ_TOKEN's, if set, filled in). Also the way back after a lost link."""
    spec = window.session.model_spec
    last = spec.removeprefix(REMOTE) if spec.startswith(REMOTE) else "127.0.0.1:10001"
    address, ok = QInputDialog.getText(
        window,
        "Connect to a served model",
        "Address that `nokenviz serve` printed (host:port, e.g. the ssh tunnel's end):",
        text=last,
    )
    if not ok or not address.strip():
        return
    hidden, known = QLineEdit.EchoMode.Password, os.environ.get(TOKEN_VARIABLE, "")
    token, ok = QInputDialog.getText(window, "Connect", "The server's token:", hidden, known)
    if not ok or not token.strip():
        return
    os.environ[TOKEN_VARIABLE] = token.strip()  # asked each time: a mistyped one is mended
    window.load_model(REMOTE + address.strip().removeprefix(REMOTE))


def offer_reconnect(window: MainWindow, box: QMessageBox, message: str) -> None:
    """A lost served model's message gets a Reconnect button: the same address and token again
    (what the user made stays, as for any reload of the same model)."""
    spec = window.session.model_spec
    if spec.startswith(REMOTE) and "connect again" in message:
        button = box.addButton("Reconnect", QMessageBox.ButtonRole.AcceptRole)
        button.setToolTip(f"Connect to {spec.removeprefix(REMOTE)} again")
        button.clicked.connect(lambda: window.load_model(spec))


ACTIONS: list[tuple[str, Callable[[MainWindow], None], QKeySequence.StandardKey | str | None]] = [
    ("Open model &folder…", folder, QKeySequence.StandardKey.Open),
    ("Open &GGUF file…", gguf, None),
    ("Open &hub model id…", hub_id, None),
    ("&Connect to a served model…", served, "Ctrl+Shift+K"),
]
