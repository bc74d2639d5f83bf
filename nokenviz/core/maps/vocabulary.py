"""A snapshot of a model's vocabulary geometry, handed from the model worker to the views.

The matrices are the model's own weight tensors, not copies: a 256k x 2304 vocabulary is
1.2 GB in bfloat16 and would be 2.4 GB more as a float32 copy. Views only read them (a row for
the inspector, blocks for projections and kNN recall), which CPU and CUDA tensors allow from
several threads; on MPS the views get a CPU copy in the weights' dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nokenviz.core.maps.geometry import NormStats, Rows, as_rows, norms_and_mean, summarise_norms
from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.models.token_kinds import TokenKinds
from nokenviz.core.task import Task


@dataclass
class Vocabulary:
    tokens: list[str]  # each row's decoded text (search, generated text)
    labels: list[str]  # how each row is shown (core/models/token_labels.py)
    matrices: dict[str, Rows]  # "W_E", plus "W_U" when untied: [V, d], the weights themselves
    norms: dict[str, np.ndarray]  # float32 [V]
    stats: dict[str, NormStats]
    info: dict[str, Any]
    kinds: TokenKinds | None = None  # each row's kind, case, script and length

    def describe(self, token: int) -> str:
        """What kind of token a row is, in a few words: "word start · lower · Cyrillic ·
        7 characters" ('' when not classified)."""
        if self.kinds is None or token >= len(self.kinds.kinds):
            return ""
        row = self.kinds.row(token)
        words = [row["kind"], row["case"], row["script"], f"{row['length']} characters"]
        return " · ".join(str(w) for w in words if w and w != "Common")

    def row(self, matrix: str, token: int) -> np.ndarray:
        """One token's vector in float32."""
        return as_rows(self.matrices[matrix])[token].float().cpu().numpy()


def vocabulary(loaded: LoadedModel, task: Task | None = None) -> Vocabulary:
    """The snapshot, in steps of a few seconds at most at 256k tokens, each reported to `task`
    (which may cancel between them)."""
    task = task or Task(what="the vocabulary")
    adapter = loaded.adapter
    matrices: dict[str, Rows] = {"W_E": _shareable(adapter.W_E)}
    if adapter.W_U is not None and not adapter.tied:
        matrices["W_U"] = _shareable(adapter.W_U)
    measured = {}
    for step, (name, matrix) in enumerate(matrices.items()):
        task.report(0.5 * step / len(matrices), f"norms of {len(matrix):,} token vectors")
        measured[name] = norms_and_mean(matrix)
    task.report(0.5, f"decoding {loaded.vocab_size:,} tokens")
    tokens = loaded.token_strings
    task.report(0.75, f"labelling {loaded.vocab_size:,} tokens")
    labels = loaded.token_labels
    task.report(0.9, f"classifying {loaded.vocab_size:,} tokens")
    kinds = loaded.token_kinds
    task.report(1.0, "vocabulary ready")
    return Vocabulary(
        tokens=tokens,
        labels=labels,
        matrices=matrices,
        norms={name: norms for name, (norms, _) in measured.items()},
        stats={name: summarise_norms(*m) for name, m in measured.items()},
        info=loaded.info(),
        kinds=kinds,
    )


def _shareable(weights: torch.Tensor) -> torch.Tensor:
    """The weights for the views' threads: themselves on CPU and CUDA; on MPS, where tensor work
    from two threads at once can abort the process, a CPU copy in their own dtype."""
    weights = weights.detach()
    return weights.cpu() if weights.device.type == "mps" else weights
