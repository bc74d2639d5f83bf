"""Token vectors as directions with a size: norms, unit directions and neighbours.

Cosine similarity is the angle between directions (what layer norm and the unembedding care
about); the dot product adds the norm and, against W_U, is the logit.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

Metric = Literal["cosine", "dot"]
_BLOCK_ELEMENTS = 2**23  # float32 elements per block: 32 MB, a few temporaries of it at once


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


Rows = np.ndarray | torch.Tensor  # a [V, d] matrix: float32 array, or a model's own weights


def as_rows(matrix: Rows) -> torch.Tensor:
    """The matrix as a tensor without copying it: the model's weights stay in their own dtype
    (a float32 copy of a 256k x 2304 bfloat16 matrix would add 2.4 GB)."""
    if isinstance(matrix, torch.Tensor):
        return matrix.detach()
    with warnings.catch_warnings():  # read-only arrays (memory maps): never written to
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(np.asarray(matrix))


def float_blocks(matrix: Rows, rows: int | None = None) -> Iterator[torch.Tensor]:
    """The rows in float32 blocks (of about 32 MB unless `rows` is given): what every pass
    over a vocabulary computes on, so no V x d float32 temporary is ever made."""
    matrix = as_rows(matrix)
    for block in matrix.split(rows or max(1024, _BLOCK_ELEMENTS // max(matrix.shape[1], 1))):
        yield block.float()


def row_norms(matrix: Rows) -> torch.Tensor:
    """Euclidean norm of every row, in float32 (a block at a time)."""
    return torch.cat([torch.linalg.vector_norm(b, dim=1) for b in float_blocks(matrix)])


@torch.inference_mode()
def norms_and_mean(matrix: Rows) -> tuple[np.ndarray, np.ndarray]:
    """One pass over the rows: their norms (float32 [V]) and their mean direction (the mean of
    the unit rows, float32 [d]; zero rows count as zero)."""
    norms: list[torch.Tensor] = []
    direction_sum = torch.zeros(())
    for block in float_blocks(matrix):
        block_norms = torch.linalg.vector_norm(block, dim=1)
        norms.append(block_norms)
        direction_sum = direction_sum + (1.0 / block_norms.clamp_min(1e-12)) @ block
    mean_direction = direction_sum / max(sum(len(n) for n in norms), 1)
    return torch.cat(norms).cpu().numpy(), mean_direction.cpu().numpy()


def summarise_norms(norms: np.ndarray, mean_direction: np.ndarray) -> NormStats:
    p01, p99 = np.percentile(norms, [1, 99])
    return NormStats(
        mean=float(norms.mean()),
        median=float(np.median(norms)),
        std=float(norms.std()),
        min=float(norms.min()),
        max=float(norms.max()),
        p01=float(p01),
        p99=float(p99),
        mean_direction_norm=float(np.linalg.norm(mean_direction)),
    )


def norm_stats(matrix: Rows) -> NormStats:
    return summarise_norms(*norms_and_mean(matrix))


@torch.inference_mode()
def neighbours(
    matrix: torch.Tensor,
    query: torch.Tensor,
    k: int = 10,
    metric: Metric = "cosine",
    exclude: tuple[int, ...] = (),
) -> Neighbours:
    """The k rows most and least similar to `query`; `exclude` ids are left out of `top`.

    Cosine uses `F.cosine_similarity`, the usual hand computation, so results match it
    exactly. With `metric="dot"` against W_U, the scores are the logits of `query`.
    """
    query = query.detach().float().to(as_rows(matrix).device)
    if metric == "cosine":  # in float32 blocks: no V x d temporary, whatever the model's dtype
        blocks = float_blocks(matrix)
        scores = torch.cat([F.cosine_similarity(query.unsqueeze(0), b, dim=1) for b in blocks])
    else:
        scores = torch.cat([b @ query for b in float_blocks(matrix)])
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
