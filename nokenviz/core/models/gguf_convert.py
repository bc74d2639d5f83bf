"""GGUF models are converted once, in a child process, to a safetensors folder in the cache.

Loading a GGUF file through transformers dequantizes every tensor in memory and peaks at about
three times the model's size (1.8 GB for the 0.54 GB default model, above P6's 1.5 GB), and
parses the file for ~10 s. Doing that once in a separate process, and saving the result as a
safetensors folder keyed by the file's path, size and mtime, keeps the app's own peak at what
the model needs and makes every later start a ~2 s memory-mapped load. The folder holds the
same weights, config and tokenizer, so results are identical to loading the GGUF file.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import platformdirs

from nokenviz.core.models.model_spec import ResolvedModel
from nokenviz.core.task import Task
from nokenviz.errors import Cancelled, ModelError

EXPECTED_SECONDS = 15.0
DONE = "nokenviz-converted"


def converted_folder(gguf_path: Path) -> Path:
    stat = gguf_path.stat()
    key = hashlib.blake2b(
        f"{gguf_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|v1".encode(), digest_size=12
    ).hexdigest()
    return Path(platformdirs.user_cache_dir("nokenviz")) / "gguf" / f"{gguf_path.stem}-{key}"


def ensure_converted(resolved: ResolvedModel, task: Task) -> Path:
    """The safetensors folder for a GGUF model, converting it first if needed (cancellable)."""
    assert resolved.gguf_file is not None
    folder = converted_folder(Path(resolved.source) / resolved.gguf_file)
    if (folder / DONE).is_file():
        return folder
    temporary = folder.with_name(folder.name + f".tmp{time.time_ns()}")
    command = [
        sys.executable,
        "-m",
        "nokenviz.core.models.gguf_child",
        resolved.spec,
        resolved.source,
        resolved.gguf_file,
        str(temporary),
    ]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    start = time.monotonic()
    try:
        while child.poll() is None:
            elapsed = time.monotonic() - start
            task.report(
                min(elapsed / EXPECTED_SECONDS, 0.98), "converting the GGUF file (first use only)"
            )
            time.sleep(0.1)
    except Cancelled:
        child.kill()
        child.wait()
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    error = child.stderr.read().strip() if child.stderr else ""
    if child.returncode != 0:
        shutil.rmtree(temporary, ignore_errors=True)
        lines = error.splitlines()
        raise ModelError(lines[-1] if lines else f"could not convert {resolved.spec}")
    try:
        temporary.replace(folder)
    except OSError:  # another process converted it meanwhile (or the move failed)
        if not (folder / DONE).is_file():
            raise ModelError(f"could not keep the converted model in {folder}") from None
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return folder
