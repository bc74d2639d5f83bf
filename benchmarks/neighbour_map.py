"""M: the neighbour map keeps neighbours: kNN recall@10 >= 0.9x plain openTSNE's, in <= 1.5x
its time, on the same tokens in the same run.

Method: the default model's W_E (49,152 x 576), centred directions (what the app draws by
default). Ours: `fit_projection(ProjectionSpec("neighbors"))` into an empty cache folder, as
the app and `nokenviz map neighbors` call it. Baseline: `openTSNE.TSNE(metric="cosine")` at its
defaults on the same centred directions. Both scored by the app's own measure
(`score_projection`: recall@10 of the true cosine neighbours on the drawn map).
"""

from __future__ import annotations

import os
import time

import numpy as np

from benchmarks.empty_cache import empty_cache


def run() -> dict:
    with empty_cache():
        return _run()


def _run() -> dict:
    import openTSNE

    from nokenviz.core.maps.faithfulness import score_projection
    from nokenviz.core.maps.projections import ProjectionSpec, fit_projection
    from nokenviz.core.models.loading import load_model

    w_e = load_model("default").adapter.W_E.detach()
    start = time.perf_counter()
    ours = fit_projection(w_e, ProjectionSpec("neighbors"))
    ours_s = time.perf_counter() - start
    units = w_e.float().numpy()
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    centred = units - units.mean(axis=0)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    start = time.perf_counter()
    plain = openTSNE.TSNE(metric="cosine", n_jobs=os.cpu_count() or 1, random_state=0).fit(centred)
    plain_s = time.perf_counter() - start
    ours_recall = score_projection(w_e, ours.coords).mean
    plain_recall = score_projection(w_e, np.asarray(plain, dtype=np.float32)).mean
    measured = {
        "tokens": len(w_e),
        "neighbour_map_s": round(ours_s, 1),
        "neighbour_map_knn_recall_10": round(ours_recall, 4),
        "plain_opentsne_s": round(plain_s, 1),
        "plain_opentsne_knn_recall_10": round(plain_recall, 4),
        "recall_ratio": round(ours_recall / plain_recall, 3),
        "time_ratio": round(ours_s / plain_s, 3),
    }
    met = ours_recall >= 0.9 * plain_recall and ours_s <= 1.5 * plain_s
    target = {"recall_ratio_at_least": 0.9, "time_ratio_at_most": 1.5}
    return {"measured": measured, "target": target, "met": met}
