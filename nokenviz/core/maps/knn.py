"""Exact nearest neighbours by cosine, in chunks: the graph that UMAP and t-SNE lay out.

Computed by chunked matrix products rather than an approximate index: on a vocabulary of
50k directions it is several times faster than Annoy or NN-descent on 2 cores, it is exact,
and cancel is checked between chunks.
"""

from __future__ import annotations

import numpy as np

from nokenviz.core.task import Task

_CHUNK = 2048


def exact_knn(units: np.ndarray, k: int, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest rows of each of the unit rows `units` by cosine distance ([n, k] ids and
    distances), the row itself first at distance 0. The rows are used as they are (no
    normalised copy: a 60k x 4096 vocabulary sample is 1 GB)."""
    import torch  # here: the window names these maps before torch is needed

    rows = torch.from_numpy(np.ascontiguousarray(units, dtype=np.float32))
    n = len(rows)
    k = min(k, n)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        task.report(start / n, f"nearest neighbours of {n:,} directions")
        similarity = rows[start : start + _CHUNK] @ rows.T
        own = torch.arange(len(similarity))
        similarity[own, start + own] = 2.0  # self first, at distance 0
        sims, nearest = torch.topk(similarity, k, dim=1)
        indices[start : start + _CHUNK] = nearest.numpy()
        distances[start : start + _CHUNK] = (1.0 - sims).clamp(0.0, 2.0).numpy()
    return indices, distances
