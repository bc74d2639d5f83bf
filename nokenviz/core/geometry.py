"""Token vectors as directions with a size: norms, unit directions and neighbours.

Cosine similarity is the angle between directions (what layer norm and the unembedding care
about); the dot product adds the norm and, against W_U, is the logit (seed 004).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

Metric = Literal["cosine", "dot"]
_BLOCK_ROWS = 4096


@dataclass(frozen=True)
class NormStats:
    """Summary of the norms of a matrix's rows, and how anisotropic its directions are."""

    mean: float
    median: float
    std: float
    min: float
    max: float
    p01: float
    p99: float
    mean_direction_norm: float  # |mean of unit rows|: 0 = isotropic, 1 = all one direction


@dataclass(frozen=True)
class Neighbour:
    id: int
    score: float


@dataclass(frozen=True)
class Neighbours:
    top: list[Neighbour]
    bottom: list[Neighbour]
    metric: Metric
    recall: float | None = None  # how many of them are also nearest on screen (kNN recall@10)


def row_norms(matrix: torch.Tensor) -> torch.Tensor:
    """Euclidean norm of every row, in float32."""
    return torch.linalg.vector_norm(matrix.detach().float(), dim=1)


def unit_rows(matrix: torch.Tensor) -> torch.Tensor:
    """Every row scaled to norm 1 (zero rows stay zero)."""
    return F.normalize(matrix.detach().float(), dim=1)


def norm_stats(matrix: torch.Tensor) -> NormStats:
    norms = row_norms(matrix).cpu().numpy()
    mean_dir = unit_rows(matrix).mean(dim=0)
    p01, p99 = np.percentile(norms, [1, 99])
    return NormStats(
        mean=float(norms.mean()),
        median=float(np.median(norms)),
        std=float(norms.std()),
        min=float(norms.min()),
        max=float(norms.max()),
        p01=float(p01),
        p99=float(p99),
        mean_direction_norm=float(torch.linalg.vector_norm(mean_dir)),
    )


@torch.inference_mode()
def neighbours(
    matrix: torch.Tensor,
    query: torch.Tensor,
    k: int = 10,
    metric: Metric = "cosine",
    exclude: tuple[int, ...] = (),
) -> Neighbours:
    """The k rows most and least similar to `query`; `exclude` ids are left out of `top`.

    Cosine uses `F.cosine_similarity`, the hand computation of seed 000, so results match it
    exactly. With `metric="dot"` against W_U, the scores are the logits of `query`.
    """
    matrix = matrix.detach().float()
    query = query.detach().float().to(matrix.device)
    if metric == "cosine":  # in blocks: one V x d temporary would add 113 MB to the app's peak
        blocks = matrix.split(_BLOCK_ROWS)
        scores = torch.cat([F.cosine_similarity(query.unsqueeze(0), b, dim=1) for b in blocks])
    else:
        scores = matrix @ query
    k = max(0, min(k, scores.numel() - len(exclude)))
    top_scores = scores.clone()
    if exclude:
        top_scores[list(exclude)] = -torch.inf
    top_v, top_i = torch.topk(top_scores, k)
    bottom_v, bottom_i = torch.topk(-scores, k)
    return Neighbours(
        top=[Neighbour(int(i), float(v)) for v, i in zip(top_v, top_i, strict=True)],
        bottom=[Neighbour(int(i), float(-v)) for v, i in zip(bottom_v, bottom_i, strict=True)],
        metric=metric,
    )
