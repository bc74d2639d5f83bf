"""Labels that never pile up: greedy placement by priority in screen space.

Each label may sit at any of the four corners of its point (right-above first, the way people
annotate), then above, below, right or left of it; it takes the first place that overlaps
neither a label already placed nor a mark (trajectory node, anchor, noken), and is left out
when none is free. Best first, so the labels a reader needs most are the ones that stay.
"""

from __future__ import annotations

import numpy as np

# (x, y) sides, y up: 1 right/above, -1 left/below, 0 centred on the point
PLACES = ((1, 1), (1, -1), (-1, 1), (-1, -1), (0, 1), (0, -1), (1, 0), (-1, 0))


def arrange_labels(
    points: np.ndarray,
    sizes: np.ndarray,
    priority: np.ndarray,
    obstacles: np.ndarray | None = None,
    gap: float = 3.0,
    bounds: tuple[float, float, float, float] | None = None,
    reach: tuple[float, ...] = (1.0,),
) -> np.ndarray:
    """Where each label goes: [n, 4] boxes (x0, y0, x1, y1), NaN for labels left out.

    `points` [n, 2] and `sizes` [n, 2] (width, height) are in pixels with y growing upwards;
    `obstacles` [m, 4] are boxes of marks no label may cover; `gap` keeps a label clear of its
    own point; a label must fit inside `bounds` (x0, y0, x1, y1) when given. `reach` lists
    the distances (in gaps) to try, nearest first: a figure offers farther places, drawn with a
    leader line, so that a crowded label moves out rather than being left out. Quadratic in the
    labels shown, fine for the few hundred a view ever labels.
    """
    boxes = np.full((len(points), 4), np.nan)
    taken = [np.zeros((0, 4)) if obstacles is None else np.asarray(obstacles, float).reshape(-1, 4)]
    for index in np.argsort(-np.asarray(priority), kind="stable"):
        (x, y), (width, height) = points[index], sizes[index]
        for box in _places(x, y, width, height, [gap * r for r in reach]):
            if bounds is not None and not _inside(box, bounds):
                continue
            if not _overlaps(box, np.vstack(taken)):
                boxes[index] = box
                taken.append(box[None])
                break
    return boxes


def _places(x: float, y: float, width: float, height: float, gaps: list[float]) -> list:
    """Candidate boxes round a point, in order of preference."""
    boxes = []
    for gap in gaps:
        for sx, sy in PLACES:
            x0 = x + gap if sx > 0 else x - gap - width if sx < 0 else x - width / 2
            y0 = y + gap if sy > 0 else y - gap - height if sy < 0 else y - height / 2
            boxes.append(np.array([x0, y0, x0 + width, y0 + height]))
    return boxes


def _overlaps(box: np.ndarray, others: np.ndarray) -> bool:
    return bool(
        (
            (box[0] < others[:, 2])
            & (others[:, 0] < box[2])
            & (box[1] < others[:, 3])
            & (others[:, 1] < box[3])
        ).any()
    )


def _inside(box: np.ndarray, bounds: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = bounds
    return x0 <= box[0] and box[2] <= x1 and y0 <= box[1] and box[3] <= y1


def leader_end(point: np.ndarray, box: np.ndarray, gap: float) -> np.ndarray | None:
    """Where a leader line from `point` meets its label's `box`, for a label placed farther
    than next to its point (None: the label sits beside it, no line needed)."""
    nearest = np.clip(point, box[:2], box[2:])
    return nearest if np.hypot(*(nearest - point)) > 1.5 * gap else None


def mark_boxes(points: np.ndarray, radius: float) -> np.ndarray:
    """Square boxes of `radius` pixels round marks, as obstacles for `arrange_labels`."""
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    return np.hstack([points - radius, points + radius])
