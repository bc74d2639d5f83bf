"""P5: PCA sphere of the default vocabulary <= 1 s; UMAP sphere first run <= 90 s (with
progress and cancel); cached reopen <= 1 s.

Method: the default model's W_E (49,152 x 576). PCA: median of 3 fits. UMAP: one first fit
into an empty cache folder, then one reopen from that cache, through `fit_projection` as the
app calls it; the number of progress reports shows progress flowed. Baseline in the same run:
plain umap-learn on the same unit directions with the same output metric and seed
(`umap.UMAP(output_metric="haversine", random_state=0).fit`), once. Also reported, without a
target: the time to measure the PCA map's kNN recall@10 on its token sample, which the app
runs after the map is drawn.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.empty_cache import empty_cache


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run() -> dict:
    with empty_cache():
        return _run()


def _run() -> dict:
    from nokenviz.core.maps.projections import ProjectionSpec, fit_projection
    from nokenviz.core.models.loading import load_model
    from nokenviz.core.task import Task

    w_e = load_model("default").adapter.W_E.detach().numpy()
    pca = statistics.median(
        _timed(lambda: fit_projection(w_e, ProjectionSpec("pca")))[0] for _ in range(3)
    )
    reports: list[float] = []
    task = Task(progress=lambda fraction, _message: reports.append(fraction))
    spec = ProjectionSpec("umap", seed=0)
    first, _ = _timed(lambda: fit_projection(w_e, spec, task))
    cached, _ = _timed(lambda: fit_projection(w_e, spec))
    from nokenviz.core.maps.faithfulness import score_projection

    fitted = fit_projection(w_e, ProjectionSpec("pca"))
    measure, score = _timed(lambda: score_projection(w_e, fitted.coords))
    import umap

    units = w_e / np.linalg.norm(w_e, axis=1, keepdims=True)
    plain, _ = _timed(lambda: umap.UMAP(output_metric="haversine", random_state=0).fit(units))
    measured = {
        "pca_s": round(pca, 3),
        "umap_first_s": round(first, 1),
        "umap_cached_s": round(cached, 3),
        "pca_knn_recall_10": round(score.mean, 4),
        "knn_recall_measure_s": round(measure, 2),  # after the map is drawn, not before
        "umap_progress_reports": len(reports),
        "plain_umap_learn_s": round(plain, 1),
        "speedup_vs_plain": round(plain / first, 2),
    }
    met = pca <= 1.0 and first <= 90.0 and cached <= 1.0 and len(reports) > 10
    target = {"pca_s_at_most": 1.0, "umap_first_s_at_most": 90.0, "umap_cached_s_at_most": 1.0}
    return {"measured": measured, "target": target, "met": met}
