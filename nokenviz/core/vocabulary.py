"""A plain-array snapshot of a model's vocabulary geometry, handed from the model worker to
the views (which never touch the model itself)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nokenviz.core.geometry import NormStats, norm_stats
from nokenviz.core.loading import LoadedModel


@dataclass
class Vocabulary:
    tokens: list[str]  # each row's decoded text (search, generated text)
    labels: list[str]  # how each row is shown (core/token_labels.py)
    matrices: dict[str, np.ndarray]  # "W_E", plus "W_U" when the model is untied
    norms: dict[str, np.ndarray]
    stats: dict[str, NormStats]
    info: dict[str, Any]


def vocabulary(loaded: LoadedModel) -> Vocabulary:
    adapter = loaded.adapter
    sources = {"W_E": adapter.W_E}
    if adapter.W_U is not None and not adapter.tied:
        sources["W_U"] = adapter.W_U
    matrices = {name: w.detach().float().cpu().numpy() for name, w in sources.items()}
    return Vocabulary(
        tokens=loaded.token_strings,
        labels=loaded.token_labels,
        matrices=matrices,
        norms={name: np.linalg.norm(m, axis=1) for name, m in matrices.items()},
        stats={name: norm_stats(w) for name, w in sources.items()},
        info=loaded.info(),
    )
