"""Crash recovery: what the user made survives a crash.

The window saves its session a few seconds after each change (atomically, to `autosave.json`
in the user's state folder) and marks itself running (`running.json`: its process id and start
time). At the next start, the last run's session becomes `last-session.json` (File > Open
recent > Last session); if the last run never closed (its mark is still there and its process
is gone), the window offers that session back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from nokenviz.core.files import write_text_atomic


def state_folder() -> Path:
    from platformdirs import user_state_path

    return user_state_path("nokenviz", appauthor=False)


def autosave_path() -> Path:
    """The running session, saved a few seconds after each change."""
    return state_folder() / "autosave.json"


def last_session_path() -> Path:
    """The session the previous run left, on close or at a crash."""
    return state_folder() / "last-session.json"


def _mark_path() -> Path:
    return state_folder() / "running.json"


def _this_process() -> dict[str, float]:
    return {"pid": os.getpid(), "started": psutil.Process().create_time()}


def _alive(mark: dict[str, float]) -> bool:
    """The marked process still runs (the same one: its start time rules out a reused id)."""
    try:
        return psutil.Process(int(mark["pid"])).create_time() == mark["started"]
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


@dataclass
class Recovery:
    """This run's mark and what the previous run left behind."""

    crashed: bool = False  # the previous run ended without closing its window

    @classmethod
    def start(cls) -> Recovery:
        """Take over from the previous run: keep its session as the last one and mark this
        run as running. Another window still open (in this or another process) keeps its
        own autosave and mark."""
        folder, mark_file = state_folder(), _mark_path()
        try:
            mark = json.loads(mark_file.read_text())
        except (OSError, ValueError):
            mark = None
        if mark is not None and _alive(mark):
            return cls()
        crashed = mark is not None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if autosave_path().exists():
                os.replace(autosave_path(), last_session_path())
            write_text_atomic(mark_file, json.dumps(_this_process()))
        except OSError as exc:
            print(f"nokenviz: crash recovery is off: {exc}")
            return cls()
        return cls(crashed=crashed and last_session_path().exists())

    @staticmethod
    def closed() -> None:
        """A clean exit: the mark goes, so the next start offers nothing back."""
        try:
            mark = json.loads(_mark_path().read_text())
            if mark.get("pid") == os.getpid():
                _mark_path().unlink()
        except (OSError, ValueError):
            pass
