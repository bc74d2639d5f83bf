"""Typed user settings over QSettings, with every default in one place (MNELAB style)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings

from nokenviz.core.maps.map_kinds import MAP_KINDS
from nokenviz.core.scenes.scene import ProjectionPart, TracePart
from nokenviz.state.session import Session

_DEFAULTS: dict[str, Any] = {
    "recent_models": [],
    "recent_scenes": [],
    "prompt": "The sun rises in the",
    "projection": "pca",
    "centred": True,
}
MAX_RECENT = 8


def _settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "nokenviz", "nokenviz")


def read(key: str) -> Any:
    default = _DEFAULTS[key]
    value = _settings().value(key, default)
    if isinstance(default, bool):
        return value in (True, "true", "1", 1)
    if isinstance(default, list):
        return (
            [str(v) for v in value] if isinstance(value, list) else ([str(value)] if value else [])
        )
    return type(default)(value)


def write(key: str, value: Any) -> None:
    _settings().setValue(key, value)


def remember_model(spec: str) -> list[str]:
    recent = [spec, *(m for m in read("recent_models") if m != spec)][:MAX_RECENT]
    write("recent_models", recent)
    return recent


def initial_session() -> Session:
    """A new session with the user's last prompt and global projection (a token plane or a
    local view is about tokens of the last model: the app starts on the PCA sphere instead)."""
    kind = read("projection")
    return Session(
        projection=ProjectionPart(
            kind=kind if kind in MAP_KINDS else "pca", centred=read("centred")
        ),
        trace_settings=TracePart(prompt=read("prompt")),
    )
