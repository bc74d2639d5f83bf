"""The composer's arithmetic: blend weights from a handle's position among anchor tokens
in the flat view, and the noken spec a composer state defines.

Requirements from the product: on an anchor the weights are exactly that anchor (one-hot);
on the segment between two neighbouring anchors they are exactly LERP(t); inside they vary
continuously. Mean value coordinates (Floater 2003) over the anchors ordered round their
centroid have all three properties. A handle outside the polygon is clamped to its boundary,
unless the user asks to extrapolate (a modifier key): then the same coordinates, which are
defined in the whole plane (Hormann & Floater 2006) and still reproduce the position, are used
as they are, negative weights included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nokenviz.errors import NokenvizError

if TYPE_CHECKING:  # the scene describes a composer; the arithmetic does not need it
    from nokenviz.core.scenes.scene import ComposerPart


_EPS = 1e-9


def relative_weights(texts: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """Weights typed as relative numbers (1, 1, 2, 0 is .25, .25, .5, 0), each 0 or more and
    not all 0, as shares of their sum; or one message naming the anchor (`names`) at fault."""
    typed = []
    for text, name in zip(texts, names, strict=True):
        try:
            value = float(text.strip())
        except ValueError:
            raise NokenvizError(f"the weight of {name} is not a number: {text.strip()!r}") from None
        if not np.isfinite(value) or value < 0:
            raise NokenvizError(
                f"the weight of {name} is {text.strip()}: weights are 0 or more (to go beyond "
                "the anchors, drag the handle with Shift held)"
            )
        typed.append(value)
    if not sum(typed) > 0:
        raise NokenvizError("the weights add up to 0: give an anchor a weight above 0")
    return np.asarray(typed) / sum(typed)


def blend_weights(handle: np.ndarray, anchors: np.ndarray, extrapolate: bool = False) -> np.ndarray:
    """Weights (summing to 1; >= 0 unless extrapolating) of `anchors` [n, 2] for a handle [2]."""
    handle = np.asarray(handle, dtype=np.float64)
    anchors = np.asarray(anchors, dtype=np.float64)
    n = len(anchors)
    if n == 0:
        raise ValueError("no anchors")
    if n == 1:
        return np.ones(1)
    if n == 2:
        t = _segment_t(handle, anchors[0], anchors[1], clamp=not extrapolate)
        return np.array([1.0 - t, t])
    order = polygon_order(anchors)
    polygon = anchors[order]
    if not extrapolate and not _inside(handle, polygon):
        handle = _closest_on_boundary(handle, polygon)
    weights = np.zeros(n)
    weights[order] = _mean_value(handle, polygon, signed=extrapolate)
    return weights


def polygon_order(anchors: np.ndarray) -> np.ndarray:
    """Anchor indices in counter-clockwise order round their centroid: the polygon drawn."""
    centre = anchors.mean(axis=0)
    return np.argsort(np.arctan2(anchors[:, 1] - centre[1], anchors[:, 0] - centre[0]))


def _segment_t(p: np.ndarray, a: np.ndarray, b: np.ndarray, clamp: bool = True) -> float:
    ab = b - a
    length2 = float(ab @ ab)
    if length2 < _EPS:
        return 0.0
    t = float((p - a) @ ab / length2)
    return min(max(t, 0.0), 1.0) if clamp else t


def _mean_value(p: np.ndarray, polygon: np.ndarray, signed: bool = False) -> np.ndarray:
    n = len(polygon)
    d = polygon - p
    r = np.linalg.norm(d, axis=1)
    on_vertex = np.flatnonzero(r < _EPS)
    if len(on_vertex):
        weights = np.zeros(n)
        weights[on_vertex[0]] = 1.0
        return weights
    for i in range(n):  # on an edge: exactly the LERP between its two ends
        j = (i + 1) % n
        cross = d[i, 0] * d[j, 1] - d[i, 1] * d[j, 0]
        if abs(cross) < _EPS * r[i] * r[j] and d[i] @ d[j] < 0:
            weights = np.zeros(n)
            t = r[i] / (r[i] + r[j])
            weights[i], weights[j] = 1.0 - t, t
            return weights
    angles = np.array([_angle(d[i], d[(i + 1) % n]) for i in range(n)])
    tan_half = np.tan(angles / 2.0)
    weights = (np.roll(tan_half, 1) + tan_half) / r
    if not signed:  # inside a convex polygon they are >= 0 anyway; rounding aside
        weights = np.maximum(weights, 0.0)
    return weights / weights.sum()


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    return float(np.arctan2(u[0] * v[1] - u[1] * v[0], u @ v))


def _inside(p: np.ndarray, polygon: np.ndarray) -> bool:
    """Point in polygon (or on its boundary) by the winding of the signed angles."""
    d = polygon - p
    if np.any(np.linalg.norm(d, axis=1) < _EPS):
        return True
    total = sum(_angle(d[i], d[(i + 1) % len(d)]) for i in range(len(d)))
    on_edge = any(abs(_angle(d[i], d[(i + 1) % len(d)])) > np.pi - 1e-9 for i in range(len(d)))
    return on_edge or abs(total) > np.pi


def _closest_on_boundary(p: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    best, best_distance = polygon[0], np.inf
    for i in range(len(polygon)):
        a, b = polygon[i], polygon[(i + 1) % len(polygon)]
        point = a + _segment_t(p, a, b) * (b - a)
        distance = float(np.linalg.norm(point - p))
        if distance < best_distance:
            best, best_distance = point, distance
    return best


def composer_spec(
    part: ComposerPart, typical_norm: float, selected: int | None = None
) -> dict[str, Any] | None:
    """The noken a composer state defines, as a noken spec (docs/nokens.md; token ids as
    "#id": two tokens may print alike); None when its kind needs a token and has none.

    `typical_norm` is the median W_E token norm (the "typical" norm option); `selected` is the
    token a neighbour-mean noken falls back on when there is no anchor.
    """
    if part.kind == "random":
        options: dict[str, Any] = {"seed": part.seed}
        if part.match_norm:
            options["norm"] = "match"
        spec: dict[str, Any] = {"random": options}
    elif part.kind == "neighbors":
        token = part.anchors[-1] if part.anchors else selected
        if token is None:
            return None
        spec = {"neighbors": f"#{token}", "k": part.k}
    elif not part.anchors:
        return None
    else:
        spec = _blend_spec(part)
    if part.norm == "typical":
        spec["norm"] = round(typical_norm, 6)
    elif part.norm == "custom":
        spec["norm"] = part.custom_norm
    return spec


def _blend_spec(part: ComposerPart) -> dict[str, Any]:
    if len(part.anchors) == 1:
        return {"id": part.anchors[0]}
    if len(part.anchors) == 2 and part.mode == "slerp":
        spec: dict[str, Any] = {
            "slerp": [f"#{t}" for t in part.anchors],
            "t": round(part.weights[1], 6),
        }
    else:
        spec = mix_spec(part.anchors, part.weights)
    if min(part.weights) < 0:
        spec["extrapolate"] = True
    return spec


def mix_spec(anchors: Sequence[int], weights: Sequence[float]) -> dict[str, Any]:
    """A mix spec over anchor ids."""
    return {"mix": {f"#{t}": round(float(w), 6) for t, w in zip(anchors, weights, strict=True)}}
