"""Density contours of a drawn map: where its points (every token, or a filter's matches)
gather, as the lines that enclose the densest half, 80% and 95% of them.

A scatter of tens of thousands of points hides its density (a dense patch and a sparse one
look alike once both are covered); the highest-density regions' outlines show it, and, drawn
for a filter's matches, where a kind of token lives. The points are binned on a grid,
smoothed with a Gaussian at least half as wide as the spacing n points would have spread
evenly over the map (a few hundred points get outlines of where they gather, not a ring round
each; tens of thousands keep their detail), and each line is the
density level above which that share of the points lies. The lines come as polylines in the
map's coordinates, so the app and the figures draw the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SHARES = (0.5, 0.8, 0.95)  # each line encloses the densest this share of the points
GRID = 128  # cells along the map's longer side
SMOOTHING_CELLS = 1.5  # the Gaussian's standard deviation, at least
SPACING_SHARE = 0.5  # ... and at least this share of n points' even spacing (GRID / sqrt(n))
MIN_POINTS = 20  # fewer points have no density worth outlining


@dataclass(frozen=True)
class Contours:
    """One polyline per share ([n, 2], NaN rows between its separate pieces)."""

    shares: tuple[float, ...]
    lines: tuple[np.ndarray, ...]


def density_contours(coords: np.ndarray, ids: np.ndarray | None = None) -> Contours | None:
    """The contours of the points `coords[ids]` (every point when `ids` is None), laid over
    the whole map's extent; None when there are too few points to outline."""
    import contourpy
    from scipy.ndimage import gaussian_filter

    points = coords if ids is None else coords[ids]
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) < MIN_POINTS:
        return None
    (x0, y0), (x1, y1) = np.nanmin(coords, axis=0), np.nanmax(coords, axis=0)
    pad = 0.05 * max(x1 - x0, y1 - y0)
    cell = (max(x1 - x0, y1 - y0) + 2 * pad) / GRID
    x_edges = np.arange(x0 - pad, x1 + pad + cell, cell)
    y_edges = np.arange(y0 - pad, y1 + pad + cell, cell)
    counts, _, _ = np.histogram2d(points[:, 0], points[:, 1], bins=(x_edges, y_edges))
    width = max(SMOOTHING_CELLS, SPACING_SHARE * GRID / np.sqrt(len(points)))
    density = gaussian_filter(counts.T, width)  # rows: y, columns: x
    levels = _levels(density, SHARES)
    centres_x = (x_edges[:-1] + x_edges[1:]) / 2
    centres_y = (y_edges[:-1] + y_edges[1:]) / 2
    lines = contourpy.contour_generator(centres_x, centres_y, density, line_type="ChunkCombinedNan")
    return Contours(SHARES, tuple(_polyline(lines.lines(level)) for level in levels))


def _levels(density: np.ndarray, shares: tuple[float, ...]) -> list[float]:
    """For each share, the density above which that share of the total lies."""
    values = np.sort(density.ravel())[::-1]
    enclosed = np.cumsum(values) / values.sum()
    at = np.minimum(np.searchsorted(enclosed, np.asarray(shares)), len(values) - 1)
    return [float(v) for v in values[at]]


def _polyline(chunks: Any) -> np.ndarray:
    """contourpy's NaN-separated chunks (`ChunkCombinedNan`) as one [n, 2] polyline."""
    pieces = [c for c in chunks[0] if c is not None]
    return np.concatenate(pieces) if pieces else np.zeros((0, 2))
