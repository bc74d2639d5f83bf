"""Writing files so that a failure never leaves a half-written one (DESIGN.md section 7)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nokenviz.errors import NokenvizError


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write to a temporary file in the same folder, then rename it over `path`: an unwritable
    folder or a full disk leaves any existing file as it was."""
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as exc:
        raise NokenvizError(f"could not write {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise NokenvizError(f"could not write {target}: {exc.strerror or exc}") from exc
