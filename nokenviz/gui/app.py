"""Start the desktop app: paint the window first, then load the model on the worker (P4)."""

from __future__ import annotations

import os
import sys


def run_app(
    model: str | None = None,
    scene: str | None = None,
    screenshot: str | None = None,
    exit_after_load: bool = False,
) -> int:
    os.environ.setdefault("TQDM_DISABLE", "1")
    from importlib import resources

    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from nokenviz.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("nokenviz")
    app.setOrganizationName("nokenviz")
    app.setWindowIcon(QIcon(str(resources.files("nokenviz.resources") / "nokenviz.png")))
    window = MainWindow()
    window.show()
    if screenshot or exit_after_load:
        _finish_when_drawn(window, screenshot)

    def start() -> None:  # a scene brings its own model unless --model names one
        if scene is None or not window.scenes.open(scene, model):
            window.load_model(model or "default")

    QTimer.singleShot(0, start)
    return app.exec()


def _finish_when_drawn(window: object, screenshot: str | None) -> None:
    """Save the window once the model, the sphere and the default trajectory are drawn, then
    quit; a failed load quits with status 1."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    pending = {"projection", "trace"}

    def done(part: str) -> None:
        pending.discard(part)
        if not pending:
            QTimer.singleShot(400, save_and_quit)

    def save_and_quit() -> None:
        code = 0
        if screenshot and not window.grab().save(screenshot):
            print(f"nokenviz: error: could not write {screenshot}", file=sys.stderr)
            code = 1
        window.close()
        QApplication.instance().exit(code)

    def failed(message: str) -> None:
        print(f"nokenviz: error: {message}", file=sys.stderr)
        window.close()
        QApplication.instance().exit(1)

    window.projection_ready.connect(lambda: done("projection"))
    window.trace_ready.connect(lambda: done("trace"))
    window.failed.connect(failed)
