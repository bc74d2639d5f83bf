"""Density contours: each line encloses the share of the points it names, drawn for a
filter's matches as for every token, and none for too few points."""

from __future__ import annotations

import numpy as np
from matplotlib.path import Path

from nokenviz.core.maps.contours import MIN_POINTS, SHARES, density_contours


def _inside(line: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Which points lie inside the closed pieces of a NaN-separated polyline (even-odd)."""
    inside = np.zeros(len(points), dtype=bool)
    for piece in np.split(line, np.flatnonzero(np.isnan(line[:, 0]))):
        piece = piece[~np.isnan(piece[:, 0])]
        if len(piece) > 2:
            inside ^= Path(piece).contains_points(points)
    return inside


def test_each_line_encloses_its_share_of_the_points() -> None:
    rng = np.random.default_rng(0)
    points = np.vstack([rng.normal(0, 1, (6000, 2)), rng.normal((7, 1), 0.6, (3000, 2))])
    found = density_contours(points)
    assert found is not None and found.shares == SHARES
    for share, line in zip(found.shares, found.lines, strict=True):
        assert abs(_inside(line, points).mean() - share) < 0.05, share
    # two clusters: the densest half lies in both, as two closed pieces
    assert np.isnan(found.lines[0][:, 0]).sum() + 1 >= 2


def test_a_filters_matches_get_their_own_lines() -> None:
    rng = np.random.default_rng(1)
    points = np.vstack([rng.normal(0, 1, (4000, 2)), rng.normal((8, 0), 0.5, (500, 2))])
    matches = np.arange(4000, 4500)  # the small cluster alone
    found = density_contours(points, matches)
    assert found is not None
    inner = _inside(found.lines[0], points)
    assert inner[matches].mean() > 0.4 and inner[:4000].mean() < 0.01
    assert density_contours(points, matches[: MIN_POINTS - 1]) is None


def test_a_few_hundred_points_get_outlines_not_a_ring_each() -> None:
    rng = np.random.default_rng(2)
    centres = np.array([[-2.0, 0.0], [0.0, 1.0], [2.0, -0.5]])
    points = np.vstack([rng.normal(c, 0.3, (50, 2)) for c in centres])
    found = density_contours(points)
    assert found is not None
    pieces = np.isnan(found.lines[-1][:, 0]).sum() + 1  # the 95% line
    assert pieces <= 6, pieces
    assert abs(_inside(found.lines[-1], points).mean() - 0.95) < 0.06
