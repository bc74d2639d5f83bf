"""Projections of directions, density binning, label placement and token search."""

from __future__ import annotations

import time

import numpy as np
import pytest

from nokenviz.core import umap_sphere
from nokenviz.core.density import bin_points, visible
from nokenviz.core.labels import place_labels
from nokenviz.core.projections import ProjectionSpec, fit_projection
from nokenviz.core.task import Task
from nokenviz.core.tokens import find_tokens
from nokenviz.errors import Cancelled, NokenvizError


@pytest.fixture(scope="module")
def anisotropic() -> np.ndarray:
    """Directions crowded around one common direction, like a real vocabulary's."""
    rng = np.random.default_rng(0)
    common = np.zeros(16, np.float32)
    common[0] = 3.0
    return (rng.normal(size=(2000, 16)) + common).astype(np.float32) * rng.uniform(1, 4, (2000, 1))


def test_pca_sphere_is_exact_and_equal_area_bounded(anisotropic) -> None:
    projection = fit_projection(anisotropic, ProjectionSpec("pca"))
    assert projection.coords.shape == (2000, 2)
    assert np.allclose(projection.project(anisotropic), projection.coords, atol=1e-5)
    # scaling a vector does not move it: the view shows directions
    assert np.allclose(projection.project(5 * anisotropic[:10]), projection.coords[:10], atol=1e-5)
    x, y = projection.coords.T
    assert np.all((x / (2 * np.sqrt(2))) ** 2 + (y / np.sqrt(2)) ** 2 <= 1 + 1e-5)  # Hammer ellipse


def test_centring_spreads_an_anisotropic_vocabulary(anisotropic) -> None:
    centred = fit_projection(anisotropic, ProjectionSpec("pca", centred=True))
    uncentred = fit_projection(anisotropic, ProjectionSpec("pca", centred=False))
    assert centred.mean_marker() is None
    marker = uncentred.mean_marker()
    spread = np.linalg.norm(uncentred.coords - marker, axis=1)
    assert np.median(spread) < 0.6 * np.median(
        np.linalg.norm(centred.coords - centred.coords.mean(0), axis=1)
    )


def test_token_plane_is_polar_with_true_norms(anisotropic) -> None:
    projection = fit_projection(anisotropic, ProjectionSpec("plane", plane_tokens=(3, 7)))
    a, b = projection.coords[3], projection.coords[7]
    assert a[1] == pytest.approx(0, abs=1e-5) and a[0] == pytest.approx(
        np.linalg.norm(anisotropic[3]), rel=1e-5
    )
    assert np.linalg.norm(b) == pytest.approx(np.linalg.norm(anisotropic[7]), rel=1e-5)
    assert b[1] > 0
    with pytest.raises(NokenvizError, match="same way"):
        fit_projection(
            np.stack([anisotropic[0], 2 * anisotropic[0]]),
            ProjectionSpec("plane", plane_tokens=(0, 1)),
        )


def test_umap_sphere_is_cached_and_cancellable(anisotropic) -> None:
    spec = ProjectionSpec("umap", n_neighbors=10, seed=1)
    first = fit_projection(anisotropic[:600], spec)
    assert np.allclose(np.linalg.norm(first._xyz, axis=1), 1.0, atol=1e-5)
    start = time.perf_counter()
    again = fit_projection(anisotropic[:600], spec)
    assert time.perf_counter() - start < 1.0
    assert np.array_equal(first.coords, again.coords)
    assert "approximate" in first.spec.describe()
    # new vectors are placed among neighbours; a vocabulary direction lands on its own point
    near = first.project(anisotropic[:5] * 1.01)
    assert np.all(np.linalg.norm(near - first.coords[:5], axis=1) < 0.05)

    task = Task()
    task.progress = lambda fraction, message: task.cancel() if "laying out" in message else None
    with pytest.raises(Cancelled):
        fit_projection(anisotropic[:700], spec, task)
    assert not list(umap_sphere.cache_dir().glob("*.tmp.npy"))


def test_density_binning_counts_and_means() -> None:
    xy = np.array([[0.1, 0.1], [0.2, 0.2], [0.9, 0.9], [5.0, 5.0]], np.float32)
    values = np.array([1.0, 3.0, 10.0, 99.0], np.float32)
    image = bin_points(xy, values, (0.0, 1.0), (0.0, 1.0), (2, 2))
    assert image.counts.tolist() == [[2, 0], [0, 1]]
    assert image.mean_value[0, 0] == 2.0 and image.mean_value[1, 1] == 10.0
    assert np.isnan(image.mean_value[0, 1])
    assert visible(xy, (0.0, 1.0), (0.0, 1.0)).tolist() == [0, 1, 2]


def test_labels_never_overlap_and_keep_priority() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 0, 30, 10]], float)
    assert place_labels(boxes, np.array([1.0, 2.0, 0.0])).tolist() == [False, True, True]


def test_find_tokens_orders_exact_before_loose_before_substring() -> None:
    tokens = ["cat", " cat", " Cat", "cats", " concatenate", "dog"]
    assert find_tokens(tokens, " cat") == [1, 0, 2, 3, 4]
    assert find_tokens(tokens, "#5") == [5]
    assert find_tokens(tokens, "#99") == []
