"""Crash recovery: what the user made survives a crash.

Each window saves its session a few seconds after each change (atomically) to a file of its
own in the user's state folder, `sessions/PID-START-N.json`, named for its process (id and
start time) and its window number. A clean close moves that file to `last-session.json`
(File > Open recent > Last session). A file whose process is gone is a session that never
closed: the next start moves it to `crashed-session.json` and offers it back (Restore); once
restored or dismissed it becomes the last session. Two windows, in one process or two, never
write the same file, and a session untouched since start is never written.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

SAME_START_S = 1.0  # process start times read again can differ by rounding of the boot time
_WINDOWS = itertools.count()  # window numbers in this process


def state_folder() -> Path:
    from platformdirs import user_state_path

    return user_state_path("nokenviz", appauthor=False)


def sessions_folder() -> Path:
    return state_folder() / "sessions"


def last_session_path() -> Path:
    """The session the previous run left: on close, or a crash's once handled."""
    return state_folder() / "last-session.json"


def crashed_session_path() -> Path:
    """The session of a run that never closed, until it is restored or dismissed."""
    return state_folder() / "crashed-session.json"


def _alive(name: str) -> bool:
    """The process a session file is named for still runs (the same process: its start time
    rules out a reused id)."""
    try:
        pid, started, _window = name.split("-")
        process = psutil.Process(int(pid))
        return abs(process.create_time() - int(started) / 1000) < SAME_START_S
    except (psutil.Error, ValueError):
        return False


@dataclass
class Recovery:
    """This window's autosave file, and whether a crashed session waits to be restored."""

    path: Path
    crashed: bool = False

    @classmethod
    def start(cls) -> Recovery:
        """Collect the sessions of runs that never closed (the newest is offered back) and
        name this window's own file."""
        started = int(psutil.Process().create_time() * 1000)
        own = sessions_folder() / f"{os.getpid()}-{started}-{next(_WINDOWS)}.json"
        try:
            orphans = [p for p in sessions_folder().glob("*.json") if not _alive(p.stem)]
            orphans.sort(key=lambda p: p.stat().st_mtime)
            for older in orphans[:-1]:
                older.unlink()
            if orphans:
                if crashed_session_path().exists():  # an earlier crash, never handled
                    os.replace(crashed_session_path(), last_session_path())
                os.replace(orphans[-1], crashed_session_path())
        except OSError as exc:
            print(f"nokenviz: could not look for a crashed session: {exc}")
        return cls(own, crashed=crashed_session_path().exists())

    def closed(self) -> None:
        """A clean close: this window's session is the last one."""
        try:
            if self.path.exists():
                os.replace(self.path, last_session_path())
        except OSError as exc:
            print(f"nokenviz: could not keep the session: {exc}")

    def handled(self) -> None:
        """The crashed session was restored or dismissed: it becomes the last session."""
        self.crashed = False
        try:
            if crashed_session_path().exists():
                os.replace(crashed_session_path(), last_session_path())
        except OSError as exc:
            print(f"nokenviz: could not keep the crashed session: {exc}")


def restore_bar(restore: Callable[[], object], recovery: Recovery) -> QWidget:
    """The status bar's offer after a crash: Restore opens the crashed session, Dismiss keeps
    it as the last one; either way the bar goes."""
    bar = QWidget()
    row = QHBoxLayout(bar)
    row.setContentsMargins(4, 0, 4, 0)
    row.addWidget(QLabel("The last session ended without closing (a crash?)."))
    restore_button = QPushButton(
        "Restore",
        toolTip="Open the session as it was a few seconds before the crash: model, anchors, "
        "prompts, settings",
    )
    dismiss = QPushButton("Dismiss", toolTip="Keep it under File > Open recent > Last session")
    restore_button.clicked.connect(restore)
    for button in (restore_button, dismiss):
        button.clicked.connect(bar.hide)
        button.clicked.connect(recovery.handled)
        row.addWidget(button)
    return bar
