"""A snapshot of a model's vocabulary geometry, handed from the model worker to the views.

The matrices are the model's own weight tensors, not copies: a 256k x 2304 vocabulary is
1.2 GB in bfloat16 and would be 2.4 GB more as a float32 copy. Views only read them (a row for
the inspector, blocks for projections and kNN recall), so sharing them across threads is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nokenviz.core.geometry import NormStats, Rows, as_rows, norms_and_mean, summarise_norms
from nokenviz.core.loading import LoadedModel


@dataclass
class Vocabulary:
    tokens: list[str]  # each row's decoded text (search, generated text)
    labels: list[str]  # how each row is shown (core/token_labels.py)
    matrices: dict[str, Rows]  # "W_E", plus "W_U" when untied: [V, d], the weights themselves
    norms: dict[str, np.ndarray]  # float32 [V]
    stats: dict[str, NormStats]
    info: dict[str, Any]

    def row(self, matrix: str, token: int) -> np.ndarray:
        """One token's vector in float32."""
        return as_rows(self.matrices[matrix])[token].float().cpu().numpy()


def vocabulary(loaded: LoadedModel) -> Vocabulary:
    adapter = loaded.adapter
    matrices = {"W_E": adapter.W_E.detach()}
    if adapter.W_U is not None and not adapter.tied:
        matrices["W_U"] = adapter.W_U.detach()
    measured = {name: norms_and_mean(m) for name, m in matrices.items()}
    return Vocabulary(
        tokens=loaded.token_strings,
        labels=loaded.token_labels,
        matrices=matrices,
        norms={name: norms for name, (norms, _) in measured.items()},
        stats={name: summarise_norms(*m) for name, m in measured.items()},
        info=loaded.info(),
    )
