"""The served model's vocabulary snapshot (its W_E/W_U in the weights' dtype, norms, texts,
labels and kinds), fetched once and kept on this machine's disk under the model's identity, so
a second connection draws the sphere without moving the matrices again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import platformdirs
import torch

from nokenviz.core.files import write_atomic
from nokenviz.core.maps.geometry import Rows
from nokenviz.core.maps.vocabulary import Vocabulary
from nokenviz.core.task import Task
from nokenviz.remote.client import Connection
from nokenviz.version import __version__


def cache_path(identity: str) -> Path:
    """One file per served model and nokenviz version (the snapshot's fields may change)."""
    folder = Path(platformdirs.user_cache_dir("nokenviz")) / "remote"
    return folder / f"{identity}-{__version__}.pt"


def remote_vocabulary(connection: Connection, task: Task) -> Vocabulary:
    """The snapshot from the disk cache, else from the server (then cached)."""
    path = cache_path(connection.served["identity"])
    if path.exists():
        task.report(0.5, "vocabulary from this machine's cache")
        # Written by this machine (below), never by the network: unpickling it is safe.
        vocab: Vocabulary = torch.load(path, weights_only=False)
    else:
        task.report(0.0, f"fetching the vocabulary from {connection.address}")
        vocab = connection.run(_snapshot, task)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(str(path), lambda file: torch.save(vocab, file))
    connection.round_trip = min(connection.latency() for _ in range(3))
    vocab.info.update(remote=connection.where, remote_address=connection.address)
    return vocab


def _snapshot(state: dict[str, Any], task: Task) -> Vocabulary:
    """Run on the server: the snapshot with its matrices on the CPU (a CUDA tensor would not
    unpickle on a machine without one)."""
    from dataclasses import replace

    from nokenviz.core.maps.geometry import as_rows
    from nokenviz.core.maps.vocabulary import vocabulary

    vocab = vocabulary(state["model"], task)
    matrices: dict[str, Rows] = {
        name: as_rows(m).detach().cpu() for name, m in vocab.matrices.items()
    }
    return replace(vocab, matrices=matrices)
