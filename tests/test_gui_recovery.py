"""Crash recovery through the real window: an app killed with SIGKILL loses nothing it had
for a few seconds; the next start offers it back with a Restore button."""

from __future__ import annotations

import select
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from nokenviz.gui.recovery import crashed_session_path, last_session_path, sessions_folder
from nokenviz.gui.window import MainWindow

CHILD = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QTimer
    from nokenviz.gui.app import application
    from nokenviz.gui.window import MainWindow

    app = application()
    window = MainWindow()
    window.show()
    window.load_model(sys.argv[1])

    def work() -> None:
        s = window.session
        if s.fitted is None or s.running:
            QTimer.singleShot(100, work)
            return
        for token in (5, 9):
            window.controller.select([token])
            window.controller.add_anchor()
        window.generate_panel.prompt.setText("Crash {x} test")
        wait = window.autosave_timer.interval() + 1500
        QTimer.singleShot(wait, lambda: print("made", flush=True))

    QTimer.singleShot(100, work)
    app.exec()
    """
)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state folder of its own: no other window of this test run marks itself running."""
    folder = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder


def _crash_after_work(model: str, tmp_path: Path) -> None:
    """Run the app in a child process, let it make anchors and a prompt, then SIGKILL it."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), model], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], 120)  # a hung child fails, not hangs
        assert ready and child.stdout.readline().strip() == "made"
    finally:
        child.kill()  # SIGKILL: no close event, no save on close
        child.wait(timeout=30)


def _restore_button(window) -> QPushButton | None:
    return next((b for b in window.findChildren(QPushButton) if b.text() == "Restore"), None)


def test_a_crash_loses_nothing_and_the_next_start_offers_it(
    qtbot, qt_settings, state, tiny_dirs, tmp_path
) -> None:
    _crash_after_work(tiny_dirs["llama"], tmp_path)
    assert list(sessions_folder().glob("*.json"))  # the child's own file, left behind
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    assert window.recovery.crashed and crashed_session_path().exists()
    restore = _restore_button(window)
    assert restore is not None and restore.isVisible()
    qtbot.mouseClick(restore, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: window.session.vocab is not None and not window.session.running, timeout=60_000
    )
    assert list(window.session.composer.anchors) == [5, 9]
    assert window.generate_panel.prompt.text() == "Crash {x} test"
    assert not restore.isVisible()
    assert last_session_path().exists() and not crashed_session_path().exists()  # handled
    window.close()
    again = MainWindow()  # closed cleanly: nothing offered, the session kept as the last one
    qtbot.addWidget(again)
    assert not again.recovery.crashed and _restore_button(again) is None
    again.close()


def test_windows_open_together_keep_their_own_sessions(qtbot, qt_settings, state) -> None:
    first, second = MainWindow(), MainWindow()
    for window, prompt in ((first, "First {x}"), (second, "Second {x}")):
        qtbot.addWidget(window)
        window.generate_panel.prompt.setText(prompt)
    assert first.recovery.path != second.recovery.path
    assert not first.recovery.crashed and not second.recovery.crashed  # both alive: no crash
    for window, prompt in ((first, "First {x}"), (second, "Second {x}")):
        qtbot.waitUntil(
            window.recovery.path.exists, timeout=window.autosave_timer.interval() + 3000
        )
        assert prompt in window.recovery.path.read_text()
    third = MainWindow()  # while the others run: their files are not crashes
    qtbot.addWidget(third)
    assert not third.recovery.crashed
    for window in (first, second, third):
        window.close()


def test_an_untouched_session_is_not_saved(qtbot, qt_settings, state) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    qtbot.wait(window.autosave_timer.interval() + 500)
    assert not window.recovery.path.exists()
    window.close()
