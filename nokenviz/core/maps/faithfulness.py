"""How far to trust a point's place on a 2-D projection: kNN recall of its true neighbours.

A projection of a [V, d] vocabulary onto the screen must throw most of the geometry away, and
the reader cannot see which tokens it kept. For a token i, kNN recall@k is the fraction of its
k true nearest neighbours (cosine of the rows of the matrix, i itself left out) that are also
among its k nearest neighbours on screen (Euclidean distance of the coords). 1.0 means the
neighbourhood around the point is what it looks like; near k / V means it is as good as random.
The mean over tokens is the projection's score ("neighbourhood preservation").

Everything is computed in blocks of query rows against all V rows, so memory stays at a few
[block, V] arrays even for V = 256,000, d = 2304; a V x V matrix is never built.

Conventions, so that no NaN ever reaches the view:
- a zero row has no direction, so it is nobody's true neighbour and nobody's screen neighbour
  (the measure is over the tokens that have a direction), and its own recall is 0.0; the
  `faithfulness` mean leaves such tokens out;
- ties (equal cosines, points at the same screen spot) are broken arbitrarily by `torch.topk`;
- if fewer than k other tokens have a direction, k shrinks to that number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nokenviz.core.maps.geometry import Rows, as_rows, float_blocks, row_norms
from nokenviz.core.task import Task

BLOCK_ROWS = 64  # query rows per block: a few 64 x V float32 arrays, 65 MB each at V = 256,000


@dataclass(frozen=True)
class Faithfulness:
    """The projection's score: mean kNN recall@k over `sampled` of `vocab_size` tokens."""

    k: int
    sampled: int
    vocab_size: int
    mean: float

    def describe(self, local: bool = False) -> str:
        """One line for a title, saying whether the score is from a sample or from all; a local
        view adds that its centre's neighbourhood is exact (that is what it is for)."""
        if self.sampled >= self.vocab_size:
            scope = f"all {self.vocab_size:,} tokens"
        else:
            scope = f"{self.sampled:,} of {self.vocab_size:,} tokens"
        line = f"kNN recall@{self.k} {self.mean:.3f} ({scope})"
        return f"{line}; 1.000 for the centre (radius = angle)" if local else line


def sample_ids(vocab_size: int, n: int = 2000, seed: int = 0) -> np.ndarray:
    """A sorted fixed-seed sample of `n` distinct ids, so the same projection always scores the
    same and two projections of one model are compared on the same tokens (all ids if few)."""
    if vocab_size < 0 or n < 1:
        raise ValueError(f"need vocab_size >= 0 and n >= 1, got {vocab_size} and {n}")
    if vocab_size <= n:
        return np.arange(vocab_size, dtype=np.int64)
    chosen = np.random.default_rng(seed).choice(vocab_size, size=n, replace=False)
    return np.sort(chosen).astype(np.int64)


def _check(matrix: torch.Tensor, coords: np.ndarray, ids: np.ndarray, k: int) -> None:
    """Fail early with a clear message on shapes that would give a silently wrong score."""
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be [V, d], got shape {matrix.shape}")
    if coords.shape != (matrix.shape[0], 2):
        raise ValueError(f"coords must be [{matrix.shape[0]}, 2], got shape {coords.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if ids.size and (ids.min() < 0 or ids.max() >= matrix.shape[0]):
        raise ValueError(f"ids must lie in [0, {matrix.shape[0]})")


def _top_true(
    matrix: torch.Tensor,
    inv_norms: torch.Tensor,
    dead_ids: torch.Tensor,
    block: torch.Tensor,
    k: int,
) -> torch.Tensor:
    """Ids of the k rows of highest cosine with each query row of `block`.

    Cosine is (q @ M.T) / (|q| |m|); |q| is the same along a query's row, so it cannot change
    the ranking and is skipped. Zero rows get -inf so they are never chosen. A bfloat16 matrix
    is converted to float32 a block of rows at a time, never whole.
    """
    query = matrix[block].float()
    scores = torch.cat([query @ rows.T for rows in float_blocks(matrix)], dim=1)
    scores *= inv_norms
    scores[:, dead_ids] = -torch.inf
    scores[torch.arange(len(block), device=block.device), block] = -torch.inf
    return torch.topk(scores, k, dim=1, sorted=False).indices


def _top_screen(
    coords: torch.Tensor, dead_ids: torch.Tensor, block: torch.Tensor, k: int
) -> torch.Tensor:
    """Ids of the k points nearest on screen to each query point of `block`.

    Squared distance is summed per axis from exact differences (not |a|^2 - 2ab + |b|^2, which
    loses the small distances that matter most to float32 cancellation).
    """
    query = coords[block]
    dist = (coords[:, 0] - query[:, :1]).square_()
    dist += (coords[:, 1] - query[:, 1:]).square_()
    dist[:, dead_ids] = torch.inf
    dist[torch.arange(len(block), device=block.device), block] = torch.inf
    return torch.topk(dist, k, dim=1, largest=False, sorted=False).indices


def _overlap(true_ids: torch.Tensor, screen_ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Per row, how many of `screen_ids` are in `true_ids`, via a [block, V] mask: O(k) per row
    where comparing every pair would be O(k^2)."""
    mask = torch.zeros((len(true_ids), vocab_size), dtype=torch.bool, device=true_ids.device)
    mask.scatter_(1, true_ids, True)
    return mask.gather(1, screen_ids).sum(dim=1)


def knn_recall(
    matrix: Rows,
    coords: np.ndarray,
    ids: np.ndarray,
    k: int = 10,
    task: Task | None = None,
    *,
    norms: np.ndarray | None = None,
) -> np.ndarray:
    """kNN recall@k of each token in `ids`, as float32 [len(ids)] in the order of `ids`.

    Blockwise (BLOCK_ROWS queries against all V rows) so memory stays bounded; `task` is told
    the progress between blocks and raises `Cancelled` there. `norms` (from `row_norms`) saves
    a pass over the matrix when the caller already has them. See the module docstring for
    zero rows and ties.
    """
    return _recall(matrix, coords, ids, k, task, norms)[0]


@torch.inference_mode()
def _recall(
    matrix: Rows,
    coords: np.ndarray,
    ids: np.ndarray,
    k: int,
    task: Task | None,
    norms_np: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """`knn_recall`, plus which of `ids` have a direction (so the mean can leave the rest out)
    and the k used (fewer when the vocabulary has fewer other directions)."""
    mat, coords_np = as_rows(matrix), np.asarray(coords)
    ids_np = np.asarray(ids, dtype=np.int64).reshape(-1)
    _check(mat, coords_np, ids_np, k)
    xy = as_rows(coords_np.astype(np.float32, copy=False)).to(mat.device)
    if norms_np is None:
        norms = row_norms(mat)
    elif np.shape(norms_np) == (mat.shape[0],):
        norms = as_rows(np.asarray(norms_np, dtype=np.float32)).to(mat.device)
    else:
        raise ValueError(f"norms must be [{mat.shape[0]}], got shape {np.shape(norms_np)}")
    dead = norms == 0
    inv_norms = torch.where(dead, torch.zeros_like(norms), 1.0 / norms)
    dead_ids = torch.nonzero(dead).flatten()
    k = min(k, len(norms) - len(dead_ids) - 1)
    recall = np.zeros(len(ids_np), dtype=np.float32)
    query_ids = torch.from_numpy(ids_np).to(mat.device)
    for start in range(0, len(ids_np), BLOCK_ROWS):
        if task is not None:
            task.report(start / len(ids_np), f"kNN recall: {start:,} of {len(ids_np):,} tokens")
        if k < 1:
            break
        block = query_ids[start : start + BLOCK_ROWS]
        true_ids = _top_true(mat, inv_norms, dead_ids, block, k)
        screen_ids = _top_screen(xy, dead_ids, block, k)
        hits = _overlap(true_ids, screen_ids, mat.shape[0]).float() / k
        recall[start : start + len(block)] = torch.where(dead[block], 0.0, hits).cpu().numpy()
    if task is not None:
        task.report(1.0, f"kNN recall: {len(ids_np):,} tokens")
    return recall, ~dead[query_ids].cpu().numpy(), max(k, 0)


def token_recall(
    matrix: Rows,
    coords: np.ndarray,
    token: int,
    k: int = 10,
    *,
    norms: np.ndarray | None = None,
) -> float:
    """kNN recall@k of one token, for the inspector: one matrix-vector product (plus one pass
    for the norms unless `norms` is given), and by construction the same number `knn_recall`
    gives that token."""
    ids = np.array([token], dtype=np.int64)
    return float(knn_recall(matrix, coords, ids, k, norms=norms)[0])


def faithfulness(
    matrix: Rows,
    coords: np.ndarray,
    k: int = 10,
    n: int = 2000,
    seed: int = 0,
    task: Task | None = None,
) -> tuple[Faithfulness, np.ndarray, np.ndarray]:
    """The projection's score over a fixed sample of `n` tokens (all if the vocabulary is small),
    with the sampled ids and their recalls so the view can colour or list the worst ones.

    The mean leaves out zero rows (no direction, so no neighbourhood to keep); it is 0.0 when
    no sampled token has a direction.
    """
    vocab_size = int(matrix.shape[0])
    ids = sample_ids(vocab_size, n, seed)
    values, alive, used_k = _recall(matrix, coords, ids, k, task)
    mean = float(values[alive].mean()) if alive.any() else 0.0
    score = Faithfulness(k=used_k, sampled=len(ids), vocab_size=vocab_size, mean=mean)
    return score, ids, values


def sample_size(vocab_size: int, d: int, budget: float = 3e10) -> int:
    """How many tokens to score so one measurement costs about `budget` multiply-adds (a second
    or two on a laptop CPU): 1,059 for a 49k x 576 vocabulary, 2,000 at most for small ones,
    300 at 256k x 2304."""
    return int(np.clip(budget / max(vocab_size * d, 1), 300, 2000))


def score_projection(
    matrix: Rows, coords: np.ndarray, task: Task | None = None, k: int = 10
) -> Faithfulness:
    """The projection's kNN recall@k over a fixed sample sized to the vocabulary."""
    rows, d = matrix.shape
    return faithfulness(matrix, coords, k, sample_size(rows, d), task=task)[0]
