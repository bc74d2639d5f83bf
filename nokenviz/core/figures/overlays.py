"""What the marks on the sphere mean, in the app and in figures alike: one colour per role from
the Okabe-Ito colour-blind-safe palette, one name per role for the legend, and which tokens and
trajectory nodes get a label, best first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from nokenviz.core.maps.colouring import OKABE_ITO
from nokenviz.core.maps.regions import Region

Role = Literal[
    "selection",
    "anchors",
    "noken",
    "trajectory",
    "soft",
    "band",
    "mean",
    "nearest",
    "region",
    "moved",
    "density",
]
COLOURS: dict[Role, str] = {
    "selection": OKABE_ITO["black"],
    "anchors": OKABE_ITO["blue"],
    "noken": OKABE_ITO["purple"],
    "trajectory": OKABE_ITO["vermillion"],
    "soft": OKABE_ITO["green"],
    "band": OKABE_ITO["orange"],
    "mean": OKABE_ITO["yellow"],  # drawn with a black edge: yellow alone is faint on white
    "nearest": "#444444",  # a local view's nearest tokens: the point of the view, in grey ink
    "region": "#222222",  # a region's name: ink, like a map's place names
    "moved": OKABE_ITO["sky"],  # where tokens are in the compared model
    "density": "#333333",  # contour lines: ink, as a map's
}
NAMES: dict[Role, str] = {
    "selection": "selected token",
    "anchors": "composer anchor",
    "noken": "noken",
    "trajectory": "residual stream (layer 0 → last)",
    "soft": "soft-feedback input",
    "band": "tokens in the norm band",
    "mean": "mean direction",
    "nearest": "nearest tokens",
    "region": "region (dominant kind · script: central tokens)",
    "moved": "its place in the other model",
    "density": "densest 50 / 80 / 95% of the tokens shown",
}
NEAREST_LABELS = 12  # a local view labels this many of the tokens nearest its centre


@dataclass(frozen=True)
class Label:
    xy: np.ndarray
    text: str
    priority: float
    role: Role


def overlay_labels(
    coords: np.ndarray,
    shown: Sequence[str],
    selection: Sequence[int],
    anchors: Sequence[int],
    entries: Sequence[Any] = (),
    nodes: np.ndarray | None = None,
    nearest: Sequence[int] = (),
    moved: Sequence[int] = (),
) -> list[Label]:
    """Labels for the selection (latest first), the anchors, a local view's `nearest` tokens,
    the tokens drawn to their place in a compared model (`moved`) and the trajectory's nodes.

    A trajectory labels its first and last node and every layer whose logit-lens top-1 differs
    from the layer before (the layers where the readout changes); `entries` are the trace's lens
    entries, `nodes` their projected points.
    """
    labels = [
        Label(coords[i], shown[i], 100.0 - n, "selection")
        for n, i in enumerate(reversed(list(selection)))
    ]
    labels += [Label(coords[i], shown[i], 90.0, "anchors") for i in anchors if i not in selection]
    named = {*selection, *anchors}
    labels += [
        Label(coords[i], shown[i], 60.0 - n / 100, "nearest")
        for n, i in enumerate(nearest)
        if i not in named
    ]
    named |= set(nearest)
    labels += [
        Label(coords[i], shown[i], 55.0 - n / 100, "moved")
        for n, i in enumerate(moved)
        if i not in named
    ]
    if nodes is None or not len(entries):
        return labels
    last = len(entries) - 1
    previous = None
    for index, (entry, point) in enumerate(zip(entries, nodes, strict=True)):
        top = entry.top[0][0]
        if index in (0, last) or top != previous:
            priority = 80.0 if index == last else 70.0 if index == 0 else 50.0 + index / 1000
            labels.append(Label(point, f"L{entry.layer} {shown[top]}", priority, "trajectory"))
        previous = top
    return labels


SEAM = 2.0 * np.sqrt(2.0)  # a step longer than this on a world map wraps round its edge


def moved_pairs(
    coords: np.ndarray, moved: tuple[list[int], np.ndarray] | None, placed: np.ndarray
) -> np.ndarray | None:
    """Each token's place here (`coords[ids]`) joined to its place in the compared model
    (`placed`, its vectors placed by the same projection): [k, 2, 2]. Unlike a trajectory's
    steps, a long one is not taken to wrap round a world map's edge: it joins two marked
    places, however far apart (a token that moved across the map)."""
    if moved is None or not moved[0]:
        return None
    return np.stack([coords[moved[0]], placed], axis=1)


def segments(pairs: np.ndarray) -> np.ndarray:
    """Line segments ([k, 2, 2]) as one polyline whose NaN rows break it ([3k, 2]): one
    drawing call for them all, in a figure or on screen."""
    gaps = np.full((len(pairs), 1, 2), np.nan)
    return np.concatenate([pairs, gaps], axis=1).reshape(-1, 2)


def region_labels(
    coords: np.ndarray, regions: Sequence[Region], shown: Sequence[str]
) -> list[Label]:
    """A label per region on its central token, below the marks' labels in priority (largest
    regions first), so they fill the space the marks leave."""
    return [
        Label(coords[r.anchor], r.text(shown), 30.0 - n / 100, "region")
        for n, r in enumerate(regions)
    ]


def local_nearest(
    coords: np.ndarray, count: int = NEAREST_LABELS, within: float = 180.0, least: int = 0
) -> list[int]:
    """In a local view (the centre at the origin, distance = angle in degrees): at most
    `count` tokens within `within` degrees of the centre, and the `least` nearest however
    far; nearest first, the centre itself left out."""
    radius = np.hypot(coords[:, 0], coords[:, 1])
    order = [int(i) for i in np.argsort(radius, kind="stable")[: count + 1] if radius[i] > 1e-6]
    return [i for n, i in enumerate(order) if n < least or radius[i] <= within][:count]
