"""Typed results about the vocabulary as a whole: a map's coordinates, the tokens a query
selects, and what changed from one model to another. Like every result, each has `to_json()`
(the command line's `--json`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nokenviz.api.results import Json
from nokenviz.core.maps.compare import Comparison
from nokenviz.core.models.token_labels import token_json
from nokenviz.core.scenes.scene import MOVERS_DRAWN
from nokenviz.core.task import Task
from nokenviz.errors import NokenvizError

if TYPE_CHECKING:
    from nokenviz.core.maps.faithfulness import Faithfulness
    from nokenviz.core.maps.projections import Projection


@dataclass(frozen=True)
class Map:
    """Every token's drawn 2-D position ([vocab, 2] float32, token-id order)."""

    model: str
    kind: str
    title: str
    coords: np.ndarray
    recall_at_10: float  # share of a token's 10 nearest tokens nearest on the map (a sample)
    seconds: float

    def to_json(self) -> Json:
        return {
            "model": self.model,
            "kind": self.kind,
            "title": self.title,
            "tokens": len(self.coords),
            "recall_at_10": round(self.recall_at_10, 4),
            "seconds": round(self.seconds, 2),
        }


@dataclass(frozen=True)
class TokenMatch:
    token: str  # raw text
    id: int
    label: str
    norm: float  # of its W_E row
    kind: str
    case: str
    script: str

    def to_json(self) -> Json:
        entry = {**token_json(self.token, self.id, self.label), "norm": round(self.norm, 4)}
        return {**entry, "kind": self.kind, "case": self.case, "script": self.script}


@dataclass(frozen=True)
class TokenMatches:
    """The tokens a query selects (`nokenviz tokens`), in id order."""

    model: str
    query: str
    tokens: list[TokenMatch]

    def to_json(self) -> Json:
        return {
            "model": self.model,
            "query": self.query,
            "count": len(self.tokens),
            "tokens": [t.to_json() for t in self.tokens],
        }


@dataclass(frozen=True)
class MovedToken:
    token: str  # raw text (in A)
    id: int  # in A
    label: str
    cosine: float | None  # A's direction and B's aligned one (None: widths differ)
    knn_overlap: float  # Jaccard overlap of its 10 nearest shared tokens in A and in B
    norm_ratio: float  # B's norm / A's

    def to_json(self) -> Json:
        def number(value: float | None) -> float | None:  # JSON has no NaN: null
            return None if value is None or not np.isfinite(value) else round(value, 4)

        return {
            **token_json(self.token, self.id, self.label),
            "cosine": number(self.cosine),
            "knn_overlap": number(self.knn_overlap),
            "norm_ratio": number(self.norm_ratio),
        }


@dataclass(frozen=True)
class ModelComparison:
    """What changed from `model` (A) to `other` (B): the shared tokens, whether B could be
    aligned, the mean neighbour overlap and the tokens that changed most, most first. The
    per-token arrays are in `comparison` (core/maps/compare.py)."""

    model: str
    other: str
    matrix: str
    comparison: Comparison
    moved: list[MovedToken]
    other_rows: Any = field(default=None, repr=False)  # B's matrix (its own dtype), kept

    def places(self, tokens: Sequence[int]) -> tuple[list[int], np.ndarray]:
        """Where each of A's `tokens` is in B, rotated into A's space: the tokens that have a
        place there (shared, and the two widths equal), in order, and their vectors [k, d]."""
        if self.other_rows is None:
            return [], np.zeros((0, 0))
        return self.comparison.aligned_rows(tokens, self.other_rows)

    def lines(self, selected: Sequence[int], movers: bool) -> tuple[list[int], np.ndarray]:
        """What the map joins to its place in B: the last `selected` token and, with `movers`,
        up to `MOVERS_DRAWN` tokens whose direction moved most (`places`)."""
        tokens = list(selected[-1:])
        if movers:
            tokens += self.comparison.moved_most(MOVERS_DRAWN).tolist()
        return self.places(tokens)

    @property
    def other_name(self) -> str:
        """B as titles name it: its folder or file name."""
        return os.path.basename(self.other.rstrip("/\\")) or self.other

    def other_map(self, projection: Projection, task: Task | None = None) -> Projection:
        """B's map: `projection` (A's map) drawing each shared token where B has it (its
        aligned vector placed by A's projection), so the same region means the same place."""
        if self.other_rows is None:
            raise NokenvizError("B's map needs B's matrix, which this comparison does not hold")
        c = self.comparison
        places = c.other_places(self.other_rows, projection.project, projection.own_coords, task)
        return projection.other_map(places, self.other_name)

    def other_map_recall(self, drawn: Projection, task: Task | None = None) -> Faithfulness:
        """How well B's map (`other_map`) keeps B's own neighbours: the kNN recall@10 of the
        shared tokens' places, against their nearest tokens in B (a sample, as for any map)."""
        from nokenviz.core.maps.faithfulness import score_projection

        c = self.comparison
        rows = c.shared_rows(self.other_rows)
        return score_projection(rows, drawn.coords[c.ids_a], task)

    def to_json(self) -> Json:
        c = self.comparison
        return {
            "model": self.model,
            "other": self.other,
            "matrix": self.matrix,
            "tokens": [c.tokens_a, c.tokens_b],
            "shared_tokens": len(c.ids_a),
            "aligned": c.aligned,
            "alignment": c.note,
            "mean_knn_overlap": round(c.mean_knn_overlap, 4),
            "knn_overlap_over": len(c.sampled),
            "moved": [m.to_json() for m in self.moved],
        }
