"""Labels that never pile up: greedy placement by priority in screen space."""

from __future__ import annotations

import numpy as np


def place_labels(boxes: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """Which labels to show: highest priority first, skipping any that overlaps one shown.

    `boxes` is [n, 4] (x0, y0, x1, y1) in pixels. Quadratic in the labels shown, which is fine
    for the few hundred a view ever labels.
    """
    shown = np.zeros(len(boxes), dtype=bool)
    kept: list[np.ndarray] = []
    for index in np.argsort(-priority, kind="stable"):
        box = boxes[index]
        if kept:
            others = np.asarray(kept)
            overlap = (
                (box[0] < others[:, 2])
                & (others[:, 0] < box[2])
                & (box[1] < others[:, 3])
                & (others[:, 1] < box[3])
            )
            if overlap.any():
                continue
        kept.append(box)
        shown[index] = True
    return shown
