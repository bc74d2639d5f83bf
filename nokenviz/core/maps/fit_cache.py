"""An on-disk cache of slow fits (UMAP spheres, neighbour maps), keyed by their input's content.

A fit is a pure function of its points and its settings, so the key is a hash of both: the
same vocabulary opened again (or by another window) is drawn at once, and a changed model or
setting never gets a stale layout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import platformdirs

from nokenviz.core.task import Task


def cache_dir(kind: str) -> Path:
    """Where fits of `kind` ("umap", "tsne") are kept."""
    return Path(platformdirs.user_cache_dir("nokenviz")) / kind


def cached_fit(
    kind: str,
    what: str,
    points: Iterable[np.ndarray],
    settings: str,
    fit: Callable[[], np.ndarray],
    task: Task,
) -> np.ndarray:
    """`fit()`'s array for these `points` (blocks of rows, in order: a large input is hashed a
    block at a time and need not be whole in memory on a hit) and `settings`, from the cache
    when it holds it (`what` names the fit in the progress message)."""
    key = hashlib.blake2b(digest_size=16)
    for block in points:
        key.update(np.ascontiguousarray(block).tobytes())
    key.update(settings.encode())
    path = cache_dir(kind) / f"{key.hexdigest()}.npy"
    if path.is_file():
        task.report(1.0, f"{what} from the cache")
        return np.load(path)
    result = fit()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.npy")
    np.save(temporary, result)
    temporary.replace(path)  # atomic: a cancelled or crashed write never leaves a bad cache
    return result
