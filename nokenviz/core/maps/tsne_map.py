"""The neighbour map: t-SNE (openTSNE) of the full-dimensional directions, drawn flat.

Why a map of its own: a sphere from 3 principal axes, or UMAP on 64 of them, keeps few of a
token's true nearest tokens (most neighbours are lost in the reduction before any layout
starts). This map starts from the exact cosine neighbours in every dimension and lays them out
with openTSNE's FFT-accelerated t-SNE at its default settings (perplexity 30, PCA start,
early exaggeration then the plain optimisation).

What is done here rather than by openTSNE itself:
- the 90 nearest neighbours come from `knn.exact_knn` (exact, cancellable, and faster than
  openTSNE's Annoy index on a 50k vocabulary), handed over as `PrecomputedNeighbors`;
- progress and cancel go through openTSNE's callbacks: every `_EVERY` iterations the task
  reports and raises `Cancelled` when asked, which leaves the optimiser's loop at once;
- the layout is cached on disk by content, like the UMAP sphere.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import numpy as np

from nokenviz.core.maps.fit_cache import cached_fit
from nokenviz.core.maps.knn import exact_knn
from nokenviz.core.maps.umap_sphere import UMAP_SAMPLE
from nokenviz.core.task import Task

PERPLEXITY = 30
EARLY_ITERATIONS, ITERATIONS = 250, 500  # openTSNE's defaults
_EVERY = 10  # iterations between progress reports (and cancel checks)


def tsne_map(
    directions: Callable[[], Iterator[np.ndarray]], start: np.ndarray, seed: int, task: Task
) -> np.ndarray:
    """Unit directions [n, d] (made by `directions()`, a block of rows at a time) -> flat t-SNE
    coordinates [n, 2] (float32), cached by content: on a hit the directions are only hashed,
    block by block, never held whole. `start` [n, 2] is where the layout begins (the
    directions' top two principal coordinates, as openTSNE's own PCA start)."""
    settings = f"seed={seed};perplexity={PERPLEXITY};v2"
    fit = lambda: _fit(np.concatenate(list(directions())), start, seed, task)  # noqa: E731
    return cached_fit("tsne", "neighbour map", directions(), settings, fit, task)


def tsne_seconds(count: int, dims: int, exact: bool = True) -> float:
    """About how long a first neighbour map of `count` tokens of `dims` dimensions takes on 2
    cores: exact neighbours (count² · dims), the layout (about linear in the fitted tokens) and
    placing the others. Fitted to a run on a 2-core AMD EPYC: 49,152 x 576 in 206 s (42 s of
    neighbours, 160 s of layout)."""
    fitted = count if exact else min(count, UMAP_SAMPLE)
    return 3.0e-11 * fitted**2 * dims + 3.3e-3 * fitted + 1.9e-4 * (count - fitted)


def _fit(points: np.ndarray, start: np.ndarray, seed: int, task: Task) -> np.ndarray:
    from openTSNE import TSNE, affinity, initialization
    from openTSNE.nearest_neighbors import PrecomputedNeighbors

    k = min(3 * PERPLEXITY, len(points) - 1)
    indices, distances = exact_knn(points, k + 1, task.scaled(0.0, 0.3))
    task.report(0.3, "neighbour map: affinities")
    threads = os.cpu_count() or 1
    neighbours = PrecomputedNeighbors(indices[:, 1:], distances[:, 1:])  # without the row itself
    affinities = affinity.PerplexityBasedNN(
        perplexity=min(PERPLEXITY, max(1.0, k / 3)), knn_index=neighbours, n_jobs=threads
    )
    start = initialization.rescale(np.asarray(start, dtype=np.float64))
    tsne = TSNE(
        n_jobs=threads,
        random_state=seed,
        callbacks=_Progress(task.scaled(0.32, 1.0)),
        callbacks_every_iters=_EVERY,
        early_exaggeration_iter=EARLY_ITERATIONS,
        n_iter=ITERATIONS,
    )
    embedding = tsne.fit(affinities=affinities, initialization=start)
    task.report(1.0, "neighbour map: done")
    return np.asarray(embedding, dtype=np.float32)


class _Progress:
    """openTSNE's callback: both stages (early exaggeration, then the plain optimisation) as one
    bar; `task.report` raises `Cancelled` when asked, which leaves openTSNE's loop at once."""

    def __init__(self, task: Task) -> None:
        self.task, self.stages = task, 0

    def optimization_about_to_start(self) -> None:  # openTSNE calls this before each stage
        self.stages += 1

    def __call__(self, iteration: int, _error: float, _embedding: np.ndarray) -> bool:
        done = iteration + (EARLY_ITERATIONS if self.stages > 1 else 0)
        self.task.report(done / (EARLY_ITERATIONS + ITERATIONS), "neighbour map: laying out")
        return False  # never stop early
