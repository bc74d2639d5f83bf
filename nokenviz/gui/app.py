"""Start the desktop app: paint the window first, then load the model on the worker (P4)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from nokenviz.core.models.model_spec import LoadOptions
from nokenviz.errors import NokenvizError

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from nokenviz.gui.window import MainWindow


def application() -> QApplication:
    """The process's QApplication (made once), named and with the app's icon."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    from importlib import resources

    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    if not isinstance(existing, QApplication):
        check_display()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("nokenviz")
    app.setOrganizationName("nokenviz")
    app.setWindowIcon(QIcon(str(resources.files("nokenviz.resources") / "nokenviz.png")))
    return app


HEADLESS_ADVICE = (
    "draw figures with `nokenviz render SCENE --out FILE`, script it with `import nokenviz`, "
    "or set QT_QPA_PLATFORM=offscreen to run the window unseen"
)


def check_display() -> None:
    """One clear line where Qt would abort the process: on Linux, no display to open a window
    on, or the X11 plugin's system library missing."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform not in ("", "xcb"):
        return
    if os.environ.get("WAYLAND_DISPLAY") and not platform:
        return
    if not os.environ.get("DISPLAY"):
        raise NokenvizError(f"no display found (DISPLAY is not set): {HEADLESS_ADVICE}")
    import ctypes

    try:
        ctypes.CDLL("libxcb-cursor.so.0")
    except OSError:
        raise NokenvizError(
            "the window needs the system library libxcb-cursor0 (Debian/Ubuntu: "
            f"sudo apt-get install libxcb-cursor0); meanwhile {HEADLESS_ADVICE}"
        ) from None


def run_app(
    model: str | None = None,
    scene: str | None = None,
    screenshot: str | None = None,
    exit_after_load: bool = False,
    options: LoadOptions | None = None,
) -> int:
    from PySide6.QtCore import QTimer

    from nokenviz.gui.window import MainWindow

    app = application()
    window = MainWindow(options)
    window.show()
    if screenshot or exit_after_load:
        _finish_when_drawn(window, screenshot)

    def start() -> None:  # a scene brings its own model unless --model names one
        if scene is None or not window.scenes.open(scene, model):
            window.load_model(model or "default")

    QTimer.singleShot(0, start)
    return app.exec()


def _finish_when_drawn(window: MainWindow, screenshot: str | None) -> None:
    """Once a model is loaded and everything asked of it is drawn (nothing left running),
    save the window, print what was loaded and quit with 0; a failure before that quits with
    1 and its message."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from nokenviz.gui.status_line import model_summary

    session = window.session
    finished: list[int] = []

    def changed(parts: frozenset[str]) -> None:
        if finished:
            return
        if "error" in parts and session.error:
            finished.append(1)
            print(f"nokenviz: error: {session.error}", file=sys.stderr)
            QTimer.singleShot(0, lambda: quit_with(1))
        elif session.fitted is not None and not session.running:
            finished.append(0)
            QTimer.singleShot(400, save_and_quit)

    def save_and_quit() -> None:
        code = 0
        print(f"nokenviz: loaded {model_summary(session)}")
        if screenshot and not window.grab().save(screenshot):
            print(f"nokenviz: error: could not write {screenshot}", file=sys.stderr)
            code = 1
        quit_with(code)

    def quit_with(code: int) -> None:
        # Both static: they act on the running application.
        QApplication.setQuitOnLastWindowClosed(False)  # its quit would replace our exit code with 0
        window.close()
        QApplication.exit(code)

    window.controller.listen(changed)
