"""Projections of directions, density binning, label placement and token search."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from nokenviz.core.figures.labels import arrange_labels, mark_boxes
from nokenviz.core.maps.density import bin_points, visible
from nokenviz.core.maps.fit_cache import cache_dir
from nokenviz.core.maps.projections import ProjectionSpec, fit_projection
from nokenviz.core.models.tokens import find_tokens
from nokenviz.core.task import Task
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
    assert not list(cache_dir("umap").glob("*.tmp.npy"))


def test_density_binning_counts_and_means() -> None:
    xy = np.array([[0.1, 0.1], [0.2, 0.2], [0.9, 0.9], [5.0, 5.0]], np.float32)
    values = np.array([1.0, 3.0, 10.0, 99.0], np.float32)
    image = bin_points(xy, values, (0.0, 1.0), (0.0, 1.0), (2, 2))
    assert image.counts.tolist() == [[2, 0], [0, 1]]
    assert image.mean_value[0, 0] == 2.0 and image.mean_value[1, 1] == 10.0
    assert np.isnan(image.mean_value[0, 1])
    assert visible(xy, (0.0, 1.0), (0.0, 1.0)).tolist() == [0, 1, 2]


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def test_labels_never_overlap_each_other_or_the_marks() -> None:
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 200, (60, 2))
    sizes = np.tile([40.0, 12.0], (60, 1))
    marks = mark_boxes(rng.uniform(0, 200, (30, 2)), 4)
    boxes = arrange_labels(
        points, sizes, rng.uniform(size=60), marks, gap=5, bounds=(0, 0, 240, 240)
    )
    shown = boxes[~np.isnan(boxes[:, 0])]
    assert 10 < len(shown) < 60  # crowded: some are left out, many are placed
    for i, box in enumerate(shown):
        assert all(not _overlap(box, other) for other in shown[i + 1 :])
        assert all(not _overlap(box, mark) for mark in marks)
        assert box[0] >= 0 and box[2] <= 240 and box[1] >= 0 and box[3] <= 240


def test_a_label_moves_round_its_point_before_it_is_dropped() -> None:
    points = np.array([[50.0, 50.0], [50.0, 50.0]])
    sizes = np.array([[20.0, 10.0], [20.0, 10.0]])
    boxes = arrange_labels(points, sizes, np.array([2.0, 1.0]), gap=3)
    assert boxes[0].tolist() == [53, 53, 73, 63]  # the better one right-above
    assert boxes[1].tolist() == [53, 37, 73, 47]  # the other right-below, not dropped
    # a mark right-above the point pushes the first label to another corner
    blocked = arrange_labels(points[:1], sizes[:1], np.ones(1), mark_boxes([[60.0, 58.0]], 4), 3)
    assert blocked[0].tolist() == [53, 37, 73, 47]
    # the frame: a label that would leave it goes left instead
    edge = arrange_labels(np.array([[95.0, 50.0]]), sizes[:1], np.ones(1), bounds=(0, 0, 100, 100))
    assert edge[0][2] <= 100 and edge[0][0] < 95


def test_find_tokens_orders_exact_before_loose_before_substring() -> None:
    tokens = ["cat", " cat", " Cat", "cats", " concatenate", "dog"]
    assert find_tokens(tokens, " cat") == [1, 0, 2, 3, 4]
    assert find_tokens(tokens, "#5") == [5]
    assert find_tokens(tokens, "#99") == []


def test_local_view_keeps_the_centres_neighbours_nearest(anisotropic) -> None:
    from nokenviz.core.maps.faithfulness import score_projection, token_recall

    centre = 7
    projection = fit_projection(
        anisotropic, ProjectionSpec("local", centre=centre, centre_name="x")
    )
    coords = projection.coords
    assert np.allclose(coords[centre], 0.0, atol=0.05)
    units = anisotropic / np.linalg.norm(anisotropic, axis=1, keepdims=True)
    angle = np.degrees(np.arccos(np.clip(units @ units[centre], -1, 1)))
    radius = np.hypot(coords[:, 0], coords[:, 1])
    assert np.allclose(radius, angle, atol=1e-2)  # the radius is the exact angle to the centre
    by_cosine = np.argsort(-(units @ units[centre]))[1:21]
    on_screen = np.argsort(radius)[1:21]
    assert set(by_cosine) == set(on_screen)  # the 20 nearest tokens are the 20 closest points
    assert token_recall(anisotropic, coords, centre) == 1.0
    assert np.allclose(projection.project(anisotropic[:50]), coords[:50], atol=1e-3)
    assert projection.shape == "local" and projection.mean_marker() is None
    score = score_projection(anisotropic, coords)
    assert 0.0 <= score.mean <= 1.0 and score.sampled == len(anisotropic)


def test_local_view_centred_on_a_vector_and_bad_centres(anisotropic) -> None:
    noken = anisotropic[:5].mean(axis=0)
    spec = ProjectionSpec("local", centre_name="the noken")
    projection = fit_projection(anisotropic, spec, centre=noken)
    assert np.allclose(projection.project(noken), 0.0, atol=0.05)  # degrees (float32 arccos)
    assert "the noken" in spec.describe() and "angle" in spec.describe()
    with pytest.raises(NokenvizError, match="needs a centre"):
        fit_projection(anisotropic, ProjectionSpec("local"))
    with pytest.raises(NokenvizError, match="zero vector"):
        fit_projection(anisotropic, spec, centre=np.zeros(16, np.float32))
    with pytest.raises(NokenvizError, match="16-vector"):
        fit_projection(anisotropic, spec, centre=np.ones(8, np.float32))


def test_a_bfloat16_tensor_projects_as_its_float32_values_in_any_blocking(
    anisotropic, monkeypatch
) -> None:
    """The model's own bf16 weights are read a float32 block at a time (never copied whole);
    the map does not depend on the blocks' size."""
    import torch

    from nokenviz.core.maps import geometry

    weights = torch.from_numpy(anisotropic).bfloat16()
    values = weights.float().numpy()
    specs = [
        ProjectionSpec("pca"),
        ProjectionSpec("pca", centred=False),
        ProjectionSpec("plane", plane_tokens=(3, 7)),
        ProjectionSpec("local", centre=7, centre_name="x"),
    ]
    whole = [fit_projection(values, spec).coords for spec in specs]
    monkeypatch.setattr(geometry, "_BLOCK_ELEMENTS", 16)  # 1024-row blocks: two of them
    assert len(list(geometry.float_blocks(weights))) == 2
    for spec, expected in zip(specs, whole, strict=True):
        np.testing.assert_allclose(fit_projection(weights, spec).coords, expected, atol=2e-4)


def test_a_large_vocabulary_gets_a_stratified_umap_sample_and_says_so(
    anisotropic, monkeypatch
) -> None:
    from nokenviz.core.maps import projections
    from nokenviz.core.maps.faithfulness import score_projection

    monkeypatch.setattr(projections, "UMAP_SAMPLE", 500)
    sampled = fit_projection(anisotropic, ProjectionSpec("umap", n_neighbors=10))
    assert sampled.sampled and len(sampled._fitted) == 500
    assert "approximate: fitted on 500 of 2,000 tokens (stratified by norm)" in sampled.describe()
    norms = np.linalg.norm(anisotropic, axis=1)
    ids = projections.stratified_sample(norms, 500, seed=0)
    deciles = np.searchsorted(np.sort(norms)[199::200][:-1], norms[ids], side="left")
    assert np.bincount(deciles, minlength=10).tolist() == [50] * 10  # every tenth by norm
    # the fitted tokens keep their own place; new vectors land where their tokens are
    placed = sampled.project(anisotropic[ids[:5]] * 1.01)
    assert np.all(np.linalg.norm(placed - sampled.coords[ids[:5]], axis=1) < 0.05)
    # on a vocabulary with neighbourhoods (40 clusters), the sample with the placed tokens keeps
    # them as well as an exact fit does
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(40, 16))[rng.integers(0, 40, 2000)]
    clustered = (centres + 0.25 * rng.normal(size=(2000, 16))).astype(np.float32)
    spec = ProjectionSpec("umap", n_neighbors=10, seed=3)
    sampled = fit_projection(clustered, spec)
    exact = fit_projection(clustered, replace(spec, exact=True))
    assert sampled.sampled and not exact.sampled and "fitted on" not in exact.describe()
    recall_sampled = score_projection(clustered, sampled.coords).mean
    recall_exact = score_projection(clustered, exact.coords).mean
    assert recall_sampled >= 0.8 * recall_exact > 0.15, (recall_sampled, recall_exact)


def _clustered(seed: int, count: int = 2000, dims: int = 48) -> np.ndarray:
    """Directions in 40 tight groups spread over many dimensions: neighbourhoods that three or
    64 principal axes cannot all keep."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, dims))[rng.integers(0, 40, count)]
    return (centres + 0.3 * rng.normal(size=(count, dims))).astype(np.float32)


def test_the_neighbour_map_keeps_more_neighbours_than_the_spheres_flat_and_cached(
    monkeypatch,
) -> None:
    from nokenviz.core.maps import tsne_map
    from nokenviz.core.maps.faithfulness import score_projection

    vectors = _clustered(4)
    spec = ProjectionSpec("neighbors", seed=1)
    fitted = fit_projection(vectors, spec)
    assert fitted.shape == "flat" and fitted.coords.shape == (2000, 2)
    assert "neighbour map" in fitted.describe() and "approximate" in fitted.describe()
    recall = score_projection(vectors, fitted.coords).mean
    pca = score_projection(vectors, fit_projection(vectors, ProjectionSpec("pca")).coords).mean
    assert recall > 0.4 and recall > 2 * pca, (recall, pca)
    start = time.perf_counter()
    monkeypatch.setattr(tsne_map, "_fit", None)  # a hit hashes the directions, fits nothing
    again = fit_projection(vectors, spec)
    assert time.perf_counter() - start < 1.0 and np.array_equal(again.coords, fitted.coords)
    # a vocabulary direction (scaled) lands on its own point, within a small part of the map
    span = np.ptp(fitted.coords, axis=0).max()
    placed = fitted.project(vectors[:5] * 2.0)
    assert np.all(np.linalg.norm(placed - fitted.coords[:5], axis=1) < 0.01 * span)


def test_the_neighbour_map_is_cancellable_and_samples_a_large_vocabulary(monkeypatch) -> None:
    from nokenviz.core.maps import projections
    from nokenviz.core.maps.faithfulness import score_projection

    vectors = _clustered(5)
    task = Task()
    messages: list[str] = []

    def progress(fraction: float, message: str) -> None:
        messages.append(message)
        if "laying out" in message:
            task.cancel()

    task.progress = progress
    with pytest.raises(Cancelled):
        fit_projection(vectors, ProjectionSpec("neighbors", seed=2), task)
    assert any("nearest neighbours" in m for m in messages)
    assert not list(cache_dir("tsne").glob("*.tmp.npy"))

    monkeypatch.setattr(projections, "UMAP_SAMPLE", 800)
    sampled = fit_projection(vectors, ProjectionSpec("neighbors", seed=2))
    assert sampled.sampled and len(sampled._fitted) == 800
    assert "dimension, approximate: fitted on 800 of 2,000 tokens" in sampled.describe()
    exact = fit_projection(vectors, ProjectionSpec("neighbors", seed=2, exact=True))
    recall_sampled = score_projection(vectors, sampled.coords).mean
    recall_exact = score_projection(vectors, exact.coords).mean
    assert recall_exact > 0.3 and recall_sampled >= 0.5 * recall_exact, (
        recall_sampled,
        recall_exact,
    )
