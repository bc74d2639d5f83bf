"""UMAP onto the 2-sphere, with progress, cancel and an on-disk cache.

Two choices made here rather than taking umap-learn's defaults whole, both for P5 (first run
<= 90 s on 2 cores, cancellable):
- the points are the directions on their top principal axes (`projections.Reducer`); their k
  nearest neighbours are computed exactly (`knn.exact_knn`) and handed to UMAP as
  `precomputed_knn`; this is faster than NN-descent, and cancel is checked between chunks;
- umap-learn has no callback; its epoch loop iterates `umap.layouts.tqdm(range(n_epochs))`, so
  for the duration of our fit that name is bound to a generator that reports progress and
  raises `Cancelled` between epochs (raising from tqdm's own output would leave tqdm's global
  write lock held).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from nokenviz.core.maps.fit_cache import cached_fit
from nokenviz.core.maps.knn import exact_knn
from nokenviz.core.task import Task

UMAP_SAMPLE = 60_000  # larger vocabularies are fitted on a sample this size unless asked
N_EPOCHS = 120  # umap's default for > 10k points is 200; the sphere settles well before


def umap_sphere(points: np.ndarray, seed: int, n_neighbors: int, task: Task) -> np.ndarray:
    """Reduced directions [n, k] -> points on the unit 2-sphere [n, 3], cached by content."""
    settings = f"seed={seed};k={n_neighbors};epochs={N_EPOCHS};v2"
    fit = lambda: _fit(points, seed, n_neighbors, task)  # noqa: E731
    return cached_fit("umap", "UMAP sphere", [points], settings, fit, task)


def umap_seconds(count: int, dims: int, exact: bool = True) -> float:
    """About how long a first UMAP of `count` tokens of `dims` dimensions takes on 2 cores: the
    passes over the vocabulary, exact nearest neighbours (count²) and the layout (count) of the
    fitted tokens, and placing the others. Fitted to runs on a 2-core AMD EPYC: exact fits of
    20,000 and 60,000 points (34 and 92 s) and sampled fits of 128k-256k tokens (105-143 s)."""
    fitted = count if exact else min(count, UMAP_SAMPLE)
    layout = 5.0 + 2.6e-9 * fitted**2 + 1.3e-3 * fitted
    return layout + 1.9e-4 * (count - fitted) + 2.5e-8 * count * dims


def _fit(points: np.ndarray, seed: int, n_neighbors: int, task: Task) -> np.ndarray:
    task.report(0.02, "UMAP: nearest neighbours")
    indices, distances = exact_knn(points, n_neighbors, task.scaled(0.05, 0.3))
    task.report(0.3, "UMAP: importing umap-learn")
    import umap  # imported here: numba compiles on first use and takes seconds

    task.report(0.32, "UMAP: laying out the sphere")
    mapper = umap.UMAP(
        n_neighbors=n_neighbors,
        n_epochs=N_EPOCHS,
        metric="cosine",
        output_metric="haversine",
        random_state=seed,
        precomputed_knn=(indices, distances, None),
    )
    with warnings.catch_warnings(), _epoch_progress(task, 0.35, 0.99):
        warnings.simplefilter("ignore", UserWarning)  # "n_jobs overridden by random_state"
        embedding = mapper.fit_transform(points)
    theta, phi = embedding[:, 0], embedding[:, 1]  # polar angle and azimuth (umap's convention)
    xyz = np.stack(
        [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=1
    )
    task.report(1.0, "UMAP: done")
    return xyz.astype(np.float32)


@contextmanager
def _epoch_progress(task: Task, low: float, high: float) -> Iterator[None]:
    """Bind umap's epoch-loop `tqdm` to a generator that reports and checks cancel per epoch."""
    import umap.layouts as layouts

    def epochs(iterable: Any, **_tqdm_options: Any) -> Iterator[Any]:
        total = max(len(iterable), 1)
        for done, item in enumerate(iterable):
            task.report(low + (high - low) * done / total, "UMAP: laying out the sphere")
            yield item

    original = layouts.tqdm
    layouts.tqdm = epochs
    try:
        yield
    finally:
        layouts.tqdm = original
