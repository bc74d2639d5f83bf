"""Blend weights from a handle among anchors: one-hot on anchors, LERP on edges, continuous."""

from __future__ import annotations

import numpy as np
import pytest

from nokenviz.core.nokens.composer import blend_weights

SQUARE = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]])
TRIANGLE = np.array([[0.0, 0.0], [4.0, 0.0], [1.0, 3.0]])


@pytest.mark.parametrize("anchors", [SQUARE, TRIANGLE, SQUARE[:2]])
def test_on_an_anchor_the_weights_are_one_hot(anchors) -> None:
    for i, anchor in enumerate(anchors):
        assert blend_weights(anchor, anchors).tolist() == np.eye(len(anchors))[i].tolist()


def test_on_an_edge_the_weights_are_lerp() -> None:
    for t in (0.1, 0.25, 0.5, 0.9):
        point = (1 - t) * TRIANGLE[0] + t * TRIANGLE[1]
        assert blend_weights(point, TRIANGLE) == pytest.approx([1 - t, t, 0.0], abs=1e-12)
    assert blend_weights(np.array([1.0, 5.0]), SQUARE[:2]) == pytest.approx([0.5, 0.5])


def test_inside_the_weights_reproduce_the_position() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        point = rng.uniform(0.05, 1.95, size=2)
        weights = blend_weights(point, SQUARE)
        assert np.all(weights >= 0) and weights.sum() == pytest.approx(1.0)
        assert weights @ SQUARE == pytest.approx(point, abs=1e-9)  # linear precision


def test_weights_change_continuously_and_clamp_outside() -> None:
    path = [np.array([x, 1.0]) for x in np.linspace(0.01, 1.99, 200)]
    weights = np.array([blend_weights(p, SQUARE) for p in path])
    assert np.abs(np.diff(weights, axis=0)).max() < 0.05
    outside = blend_weights(np.array([3.0, 1.0]), SQUARE)
    assert outside == pytest.approx(blend_weights(np.array([2.0, 1.0]), SQUARE), abs=1e-12)


def test_extrapolating_keeps_linear_precision_outside() -> None:
    for point in (np.array([4.5, 1.0]), np.array([-1.0, 2.5]), np.array([5.0, 5.0])):
        for anchors in (SQUARE, TRIANGLE):
            weights = blend_weights(point, anchors, extrapolate=True)
            assert weights.sum() == pytest.approx(1.0) and weights.min() < 0
            assert weights @ anchors == pytest.approx(point, abs=1e-9)
    on_line = blend_weights(np.array([3.0, 0.0]), SQUARE[:2], extrapolate=True)
    assert on_line == pytest.approx([-0.5, 1.5])  # LERP with t = 1.5
    inside = np.array([0.7, 1.2])
    assert blend_weights(inside, SQUARE, extrapolate=True) == pytest.approx(
        blend_weights(inside, SQUARE), abs=1e-12
    )
