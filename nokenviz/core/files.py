"""Writing files so that a failure never leaves a half-written one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from nokenviz.errors import NokenvizError


def _file_mode() -> int:
    """What a plain `open(path, "w")` would give (mkstemp's files are private, 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Let `write` fill a temporary file in the same folder, then rename it over `path`: an
    unwritable folder, a full disk or a failing writer leaves any existing file as it was."""
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as exc:
        raise NokenvizError(f"could not write {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.chmod(temporary, _file_mode())
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise NokenvizError(f"could not write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """UTF-8 text, written atomically (newlines as given)."""
    write_atomic(path, lambda file: file.write(text.encode("utf-8")))
