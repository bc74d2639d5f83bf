"""What changed between two models' vocabularies (base and fine-tune, two sizes, two
checkpoints) that share a tokenizer, or part of one.

- Tokens are matched by their tokenizer piece (the raw vocabulary entry, so byte pieces that
  all decode to U+FFFD stay distinct); the shared ones are compared.
- B is aligned to A by orthogonal Procrustes on the shared tokens' directions: the rotation R
  minimising ||B R - A|| (Schönemann's SVD solution), because a fine-tune or a retrain may turn
  the whole space without changing any token's place relative to the others. Past
  `ALIGN_SAMPLE` shared tokens R is fitted on a uniform sample of them (a d x d rotation is
  fixed by far fewer rows than a vocabulary has; the full product would cost as much as all
  the rest). Models of
  different widths cannot be rotated onto each other: then only neighbourhoods are compared.
- Per token: the cosine between A's direction and B's aligned direction; the Jaccard overlap of
  its 10 nearest shared tokens (cosine) in A and in B; the norm ratio B/A.

Neighbour overlap costs a product with every shared token per measured token, so past a budget
it is measured on a uniform sample (the mean is over that sample, and said so) plus the tokens
whose directions moved most (lowest cosine), where the most changed tokens are.
Memory: the matrices are read a block at a time in their own dtype; one model's unit directions
are held in float32 at a time, for the neighbour search.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from nokenviz.core.maps.geometry import Rows, as_rows, float_blocks
from nokenviz.core.task import Task
from nokenviz.errors import NokenvizError

KNN = 10
KNN_BUDGET = 2.5e11  # multiply-adds per model for the neighbour search (~10 s on 2 cores)
MIN_MEASURED = 512
ALIGN_SAMPLE = 16_384  # shared tokens the rotation is fitted on (plenty for d <= 4096)
_QUERY_BLOCK = 256
_PLACE_BLOCK = 512  # B's rows placed at once: a UMAP or neighbour map compares each with
# every fitted token ([512, sample] float32, as when it places any new vectors)
MOVED_BELOW = 0.9  # a token whose aligned cosine is below this has visibly moved (> 25°)


@dataclass
class Comparison:
    """Per shared token (index i): A's and B's ids, cosine after alignment (None when the
    widths differ), neighbour overlap (NaN where not measured) and norm ratio B/A."""

    ids_a: np.ndarray  # [n] int64
    ids_b: np.ndarray  # [n] int64
    cosine: np.ndarray | None  # [n] float32
    overlap: np.ndarray  # [n] float32, NaN where not measured
    norm_ratio: np.ndarray  # [n] float32
    tokens_a: int
    tokens_b: int
    sampled: np.ndarray  # indices (into the shared tokens) of the uniform sample
    note: str  # how the models were aligned, or why not
    rotation: np.ndarray | None = None  # [d, d]: B's rows @ rotation are in A's space

    @property
    def aligned(self) -> bool:
        return self.cosine is not None

    @property
    def mean_knn_overlap(self) -> float:
        return float(np.nanmean(self.overlap[self.sampled]))

    def aligned_rows(self, tokens: Sequence[int], b: Rows) -> tuple[list[int], np.ndarray]:
        """B's vectors for A's `tokens`, rotated into A's space: where the tokens went. Those
        that have a place (shared, and the widths equal), in order without repeats, and their
        vectors [k, d] (one product with the rotation for them all)."""
        wanted = list(dict.fromkeys(int(t) for t in tokens))
        at = np.minimum(np.searchsorted(self.ids_a, wanted), len(self.ids_a) - 1)
        shared = [i for i, t in zip(at, wanted, strict=True) if self.ids_a[i] == t]
        if self.rotation is None or not shared:
            return [], np.zeros((0, len(self.rotation) if self.rotation is not None else 0))
        rows = as_rows(b)[torch.from_numpy(self.ids_b[shared])].float().cpu().numpy()
        return [int(self.ids_a[i]) for i in shared], rows @ self.rotation

    def other_places(
        self,
        b: Rows,
        project: Callable[[np.ndarray], np.ndarray],
        own: np.ndarray,
        task: Task | None = None,
    ) -> np.ndarray:
        """B's map drawn by A's projection ([tokens_a, 2]): each shared token where its aligned
        vector in B is placed (`project`), the others of A at their own places (`own`). A block
        of rows at a time, so B is never copied whole in float32."""
        if self.rotation is None:
            raise NokenvizError(f"B cannot be drawn on A's map: {self.note}")
        task = task or Task(what="placing B's tokens")
        places = np.array(own, dtype=np.float32, copy=True)
        rows = as_rows(b)
        for start in range(0, len(self.ids_a), _PLACE_BLOCK):
            task.report(start / len(self.ids_a), "placing B's tokens on this map")
            stop = start + _PLACE_BLOCK
            block = rows[torch.from_numpy(self.ids_b[start:stop])].float().cpu().numpy()
            places[self.ids_a[start:stop]] = project(block @ self.rotation)
        return places

    def shared_rows(self, b: Rows) -> torch.Tensor:
        """B's rows of the shared tokens, in A's order (B itself, not a copy, when that is all
        of it in the same order)."""
        return _picked(as_rows(b), self.ids_b)

    def moved_most(self, count: int) -> np.ndarray:
        """A's ids of the (at most) `count` tokens whose direction moved most, of those that
        visibly moved (aligned cosine below `MOVED_BELOW`); none when the widths differ."""
        if self.cosine is None:
            return np.zeros(0, dtype=np.int64)
        order = np.argsort(self.cosine, kind="stable")[:count]
        return self.ids_a[order[self.cosine[order] < MOVED_BELOW]]

    def per_token(self) -> tuple[np.ndarray, str]:
        """A value per token of A ([tokens_a], NaN where not known) for colouring the map by
        change: the aligned cosine, or (widths differ) the measured neighbour overlap."""
        values = np.full(self.tokens_a, np.nan, dtype=np.float32)
        if self.cosine is not None:
            values[self.ids_a] = self.cosine
            return values, "cosine to the other model (aligned)"
        values[self.ids_a] = self.overlap
        return values, "overlap of the 10 nearest tokens with the other model"

    def most_changed(self, top: int) -> np.ndarray:
        """Indices of the `top` measured tokens that changed most: lowest neighbour overlap,
        then lowest cosine."""
        measured = np.flatnonzero(~np.isnan(self.overlap))
        cosine = self.cosine[measured] if self.cosine is not None else np.zeros(len(measured))
        order = np.lexsort((cosine, self.overlap[measured]))
        return measured[order[:top]]


def shared_ids(pieces_a: list[str], pieces_b: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The rows of A and of B holding the same (non-empty) piece, in A's id order."""
    where_b: dict[str, int] = {}
    for i, piece in enumerate(pieces_b):
        if piece:
            where_b.setdefault(piece, i)
    pairs = [(i, where_b[p]) for i, p in enumerate(pieces_a) if p and p in where_b]
    if len(pairs) <= KNN:
        raise NokenvizError(
            f"the two models share {len(pairs)} tokens; compare needs models with a common "
            "tokenizer (or a large common part of one)"
        )
    ids = np.array(pairs, dtype=np.int64)
    return ids[:, 0], ids[:, 1]


def compare_vocabularies(
    a: Rows,
    pieces_a: list[str],
    b: Rows,
    pieces_b: list[str],
    task: Task | None = None,
    seed: int = 0,
) -> Comparison:
    """Compare B's vocabulary with A's (`pieces_*`: each row's tokenizer piece)."""
    task = task or Task(what="the comparison")
    rows_a, rows_b = as_rows(a).detach().cpu(), as_rows(b).detach().cpu()  # B is read on CPU
    ids_a, ids_b = shared_ids(pieces_a, pieces_b)
    task.report(0.02, f"{len(ids_a):,} shared tokens: norms")
    norms_a, norms_b = _norms(rows_a, ids_a), _norms(rows_b, ids_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        norm_ratio = np.where(norms_a > 0, norms_b / norms_a, np.nan).astype(np.float32)
    cosine: np.ndarray | None = None
    rotation: torch.Tensor | None = None
    note = f"widths differ ({rows_a.shape[1]} and {rows_b.shape[1]}): "
    note += "neighbourhoods compared, directions not aligned"
    if rows_a.shape[1] == rows_b.shape[1]:
        task.report(0.08, "aligning B to A (orthogonal Procrustes)")
        fit = np.arange(len(ids_a))
        if len(fit) > ALIGN_SAMPLE:
            fit = np.sort(np.random.default_rng(seed).choice(len(fit), ALIGN_SAMPLE, replace=False))
        rotation = _procrustes(rows_a, ids_a[fit], rows_b, ids_b[fit])
        cosine = _aligned_cosines(rows_a, ids_a, rows_b, ids_b, rotation)
        note = "B aligned to A by orthogonal Procrustes on the shared tokens"
    sampled, measured = _queries(len(ids_a), rows_a.shape[1], cosine, seed)
    task.report(0.2, f"nearest tokens of {len(measured):,} tokens in A")
    near_a = _nearest(rows_a, ids_a, measured, task.scaled(0.2, 0.6))
    task.report(0.6, f"nearest tokens of {len(measured):,} tokens in B")
    near_b = _nearest(rows_b, ids_b, measured, task.scaled(0.6, 1.0))
    overlap = np.full(len(ids_a), np.nan, dtype=np.float32)
    overlap[measured] = _jaccard(near_a, near_b)
    task.report(1.0, "compared")
    rotated = None if rotation is None else rotation.numpy()
    return Comparison(
        ids_a, ids_b, cosine, overlap, norm_ratio, len(rows_a), len(rows_b), sampled, note, rotated
    )


def _picked(rows: torch.Tensor, ids: np.ndarray) -> torch.Tensor:
    """The rows `ids`, in that order (the matrix itself, not a copy, when that is all of it)."""
    if np.array_equal(ids, np.arange(len(rows))):
        return rows
    return rows[torch.from_numpy(ids)]


def _blocks(rows: torch.Tensor, ids: np.ndarray) -> Iterator[torch.Tensor]:
    """The rows `ids` as float32 unit directions, a block at a time."""
    for block in float_blocks(_picked(rows, ids)):
        yield torch.nn.functional.normalize(block, dim=1)


def _norms(rows: torch.Tensor, ids: np.ndarray) -> np.ndarray:
    picked = _picked(rows, ids)
    return np.concatenate([b.norm(dim=1).numpy() for b in float_blocks(picked)])


@torch.inference_mode()
def _procrustes(
    a: torch.Tensor, ids_a: np.ndarray, b: torch.Tensor, ids_b: np.ndarray
) -> torch.Tensor:
    """The rotation R [d, d] minimising ||B R - A|| over the shared directions: R = U V^T for
    the SVD U S V^T of B^T A."""
    cross = torch.zeros((b.shape[1], a.shape[1]), dtype=torch.float64)
    for block_a, block_b in zip(_blocks(a, ids_a), _blocks(b, ids_b), strict=True):
        cross += (block_b.T @ block_a).double()
    u, _, vt = torch.linalg.svd(cross)
    return (u @ vt).float()


@torch.inference_mode()
def _aligned_cosines(
    a: torch.Tensor, ids_a: np.ndarray, b: torch.Tensor, ids_b: np.ndarray, rotation: torch.Tensor
) -> np.ndarray:
    pairs = zip(_blocks(a, ids_a), _blocks(b, ids_b), strict=True)
    parts = [((block_b @ rotation) * block_a).sum(dim=1).numpy() for block_a, block_b in pairs]
    return np.concatenate(parts).astype(np.float32)


def _queries(
    count: int, dims: int, cosine: np.ndarray | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which tokens get their neighbour overlap measured: every one within the budget, else a
    uniform sample (the mean's) and the tokens least aligned (the likely movers)."""
    budget = int(max(KNN_BUDGET / max(count * dims, 1), MIN_MEASURED))
    if budget >= count:
        every = np.arange(count)
        return every, every
    half = budget // 2 if cosine is not None else budget
    sampled = np.sort(np.random.default_rng(seed).choice(count, half, replace=False))
    if cosine is None:
        return sampled, sampled
    movers = np.argsort(cosine, kind="stable")[: budget - half]
    return sampled, np.union1d(sampled, movers)


@torch.inference_mode()
def _nearest(rows: torch.Tensor, ids: np.ndarray, queries: np.ndarray, task: Task) -> np.ndarray:
    """The KNN nearest shared tokens (indices into `ids`, self excluded) of each query."""
    units = torch.empty((len(ids), rows.shape[1]))  # [n, d] float32, filled a block at a time
    start = 0
    for block in _blocks(rows, ids):
        units[start : start + len(block)] = block
        start += len(block)
    near = np.empty((len(queries), KNN), dtype=np.int64)
    for start in range(0, len(queries), _QUERY_BLOCK):
        task.report(start / len(queries), "nearest tokens")
        chunk = torch.from_numpy(queries[start : start + _QUERY_BLOCK])
        similarity = units[chunk] @ units.T
        similarity[torch.arange(len(chunk)), chunk] = -torch.inf
        near[start : start + len(chunk)] = torch.topk(similarity, KNN, dim=1).indices.numpy()
    return near


def _jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, |a ∩ b| / |a ∪ b| of two rows of KNN ids each."""
    common = (a[:, :, None] == b[:, None, :]).any(axis=2).sum(axis=1)
    return (common / (2 * KNN - common)).astype(np.float32)
