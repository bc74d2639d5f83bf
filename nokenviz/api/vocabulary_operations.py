"""Operations on the vocabulary as a whole, from typed requests (the same wiring as
`operations.py`, for every caller): the map the app draws with its kNN recall, the tokens a
query selects, and what changed from this model to another checkpoint."""

from __future__ import annotations

import time
from typing import Literal

import numpy as np

from nokenviz.api.requests import CompareRequest, MapRequest
from nokenviz.api.vocabulary_results import (
    Map,
    ModelComparison,
    MovedToken,
    TokenMatch,
    TokenMatches,
)
from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.task import Task


def project(loaded: LoadedModel, request: MapRequest, task: Task | None = None) -> Map:
    """Every token's place on the map the app draws, and the map's kNN recall@10."""
    from nokenviz.core.maps.faithfulness import score_projection
    from nokenviz.core.maps.projections import ProjectionSpec, fit_projection

    task = task or Task(what="the map")
    matrix = loaded.adapter.matrix(request.matrix)
    started = time.perf_counter()
    spec = ProjectionSpec(kind=request.kind, centred=request.centred, exact=request.exact)
    fitted = fit_projection(matrix.detach(), spec, task.scaled(0.0, 0.9))
    seconds = time.perf_counter() - started
    score = score_projection(matrix.detach(), fitted.coords, task.scaled(0.9, 1.0))
    coords = np.asarray(fitted.coords, dtype=np.float32)
    return Map(loaded.resolved.spec, request.kind, fitted.describe(), coords, score.mean, seconds)


def tokens(loaded: LoadedModel, query: str) -> TokenMatches:
    """Every token `query` selects (`core/models/token_kinds.py` says the language)."""
    from nokenviz.core.maps.geometry import norms_and_mean
    from nokenviz.core.models.token_kinds import select

    kinds, names = loaded.token_kinds, loaded.token_strings
    norms, _ = norms_and_mean(loaded.adapter.W_E)
    found = select(query, names, kinds, norms)
    matches = [
        TokenMatch(
            names[i],
            int(i),
            loaded.token_labels[i],
            float(norms[i]),
            kinds.kinds[i],
            kinds.cases[i],
            kinds.scripts[i],
        )
        for i in found
    ]
    return TokenMatches(loaded.resolved.spec, query, matches)


def compare(
    loaded: LoadedModel, request: CompareRequest, task: Task | None = None
) -> ModelComparison:
    """What changed from this model to `request.other`, whose matrix is read from its
    checkpoint alone (`core/models/checkpoint.py`); tokens are matched by tokenizer piece."""
    from nokenviz.core.maps.compare import compare_vocabularies
    from nokenviz.core.models.checkpoint import read_matrix

    task = task or Task(what="the comparison")
    which: Literal["embed", "unembed"] = "unembed" if request.matrix == "W_U" else "embed"
    other = read_matrix(request.other, which, task.scaled(0.0, 0.2))
    mine = loaded.adapter.matrix(request.matrix).detach()
    found = compare_vocabularies(
        mine, loaded.token_pieces, other.matrix, other.pieces, task.scaled(0.2, 1.0)
    )
    texts, labels = loaded.token_strings, loaded.token_labels
    moved = []
    for i in found.most_changed(request.top):
        token = int(found.ids_a[i])
        cosine = None if found.cosine is None else float(found.cosine[i])
        moved.append(
            MovedToken(
                texts[token],
                token,
                labels[token],
                cosine,
                float(found.overlap[i]),
                float(found.norm_ratio[i]),
            )
        )
    return ModelComparison(
        loaded.resolved.spec, request.other, request.matrix, found, moved, other.matrix
    )
