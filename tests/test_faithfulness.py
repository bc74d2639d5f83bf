"""kNN recall of a projection (nokenviz.core.maps.faithfulness) against a brute-force reference.

The timing tests at the real models' shapes take tens of seconds, so they only run with
NOKENVIZ_TIMING=1 (and `-s` to see what they print); they print timings and assert results.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nokenviz.core.maps.faithfulness import (
    Faithfulness,
    faithfulness,
    knn_recall,
    sample_ids,
    token_recall,
)
from nokenviz.core.maps.geometry import row_norms
from nokenviz.core.task import Task
from nokenviz.errors import Cancelled


def brute_force_recall(matrix: np.ndarray, coords: np.ndarray, k: int) -> np.ndarray:
    """The definition, with full V x V matrices in float64: only fine for a small V."""
    m = matrix.astype(np.float64)
    norms = np.linalg.norm(m, axis=1)
    alive = norms > 0
    units = np.where(alive[:, None], m / np.where(alive, norms, 1.0)[:, None], 0.0)
    cosine = units @ units.T
    cosine[:, ~alive] = -np.inf
    np.fill_diagonal(cosine, -np.inf)
    c = coords.astype(np.float64)
    dist = ((c[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
    dist[:, ~alive] = np.inf
    np.fill_diagonal(dist, np.inf)
    true = np.argsort(-cosine, axis=1)[:, :k]
    screen = np.argsort(dist, axis=1)[:, :k]
    hits = [len(set(t) & set(s)) for t, s in zip(true, screen, strict=True)]
    return np.where(alive, np.array(hits) / k, 0.0)


def random_case(vocab: int = 300, dim: int = 16, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A noisy circle in `dim` dims and a noisy view of it: recalls spread over 0..1 (no ties)."""
    rng = np.random.default_rng(seed)
    angles = rng.uniform(0, 2 * np.pi, vocab)
    matrix = (0.03 * rng.standard_normal((vocab, dim))).astype(np.float32)
    matrix[:, 0] += np.cos(angles)
    matrix[:, 1] += np.sin(angles)
    coords = (matrix[:, :2] + 0.03 * rng.standard_normal((vocab, 2))).astype(np.float32)
    return matrix, coords


def circle_case(vocab: int = 300, dim: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Rows on the unit circle of a 2-D subspace: angle order is screen-distance order."""
    angles = np.random.default_rng(2).uniform(0, 2 * np.pi, vocab)
    matrix = np.zeros((vocab, dim), dtype=np.float32)
    matrix[:, 0], matrix[:, 1] = np.cos(angles), np.sin(angles)
    return matrix, matrix[:, :2].copy()


@pytest.mark.parametrize("k", [1, 5, 10, 37])
def test_matches_brute_force(k: int) -> None:
    matrix, coords = random_case()
    ids = np.arange(len(matrix))  # 300 ids: two blocks, the second one partial
    got = knn_recall(matrix, coords, ids, k)
    expected = brute_force_recall(matrix, coords, k)
    assert got.dtype == np.float32 and got.shape == (300,)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert 0.05 < got.mean() < 0.99  # the case is neither trivially perfect nor trivially bad


def test_values_follow_the_order_of_ids() -> None:
    matrix, coords = random_case()
    expected = brute_force_recall(matrix, coords, 10)
    ids = np.array([299, 3, 150, 3, 0])
    np.testing.assert_allclose(knn_recall(matrix, coords, ids, 10), expected[ids], atol=1e-6)


def test_cosine_not_euclidean_in_the_matrix() -> None:
    """Scaling rows changes Euclidean neighbours but not cosine ones, so recall must not move."""
    matrix, coords = random_case()
    scales = np.random.default_rng(3).uniform(0.1, 10.0, len(matrix)).astype(np.float32)
    ids = np.arange(len(matrix))
    np.testing.assert_allclose(
        knn_recall(matrix * scales[:, None], coords, ids, 10),
        knn_recall(matrix, coords, ids, 10),
        atol=1e-6,
    )


@pytest.mark.parametrize("k", [1, 10, 50])
def test_faithful_projection_scores_one(k: int) -> None:
    matrix, coords = circle_case()
    recall = knn_recall(matrix, 5.0 * coords + 1.0, np.arange(len(matrix)), k)
    np.testing.assert_array_equal(recall, np.ones(len(matrix), dtype=np.float32))


def test_shuffled_projection_scores_near_chance() -> None:
    matrix, coords = circle_case()
    shuffled = coords[np.random.default_rng(4).permutation(len(coords))]
    recall = knn_recall(matrix, shuffled, np.arange(len(matrix)), 10)
    assert recall.mean() < 0.1  # chance is k / (V - 1) = 0.033; a faithful one scores 1.0


def test_sample_is_deterministic_sorted_and_distinct() -> None:
    a, b = sample_ids(49_152, 2000, seed=0), sample_ids(49_152, 2000, seed=0)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 2000 and len(np.unique(a)) == 2000
    assert np.all(np.diff(a) > 0) and a[0] >= 0 and a[-1] < 49_152
    assert not np.array_equal(a, sample_ids(49_152, 2000, seed=1))
    np.testing.assert_array_equal(sample_ids(300, 2000), np.arange(300))
    np.testing.assert_array_equal(sample_ids(2000, 2000), np.arange(2000))


def test_describe() -> None:
    sampled = Faithfulness(k=10, sampled=2000, vocab_size=49_152, mean=0.2345)
    assert sampled.describe() == "kNN recall@10 0.234 (2,000 of 49,152 tokens)"
    everything = Faithfulness(k=5, sampled=300, vocab_size=300, mean=1.0)
    assert everything.describe() == "kNN recall@5 1.000 (all 300 tokens)"


def test_faithfulness_samples_and_averages() -> None:
    matrix, coords = random_case(vocab=1000)
    score, ids, values = faithfulness(matrix, coords, k=10, n=200, seed=7)
    np.testing.assert_array_equal(ids, sample_ids(1000, 200, seed=7))
    np.testing.assert_allclose(values, brute_force_recall(matrix, coords, 10)[ids], atol=1e-6)
    assert score == Faithfulness(k=10, sampled=200, vocab_size=1000, mean=score.mean)
    assert score.mean == pytest.approx(float(values.mean()), abs=1e-6)
    assert score.describe().endswith("(200 of 1,000 tokens)")
    everything, all_ids, _ = faithfulness(matrix[:300], coords[:300], k=10)
    assert len(all_ids) == 300 and everything.describe().endswith("(all 300 tokens)")


def test_zero_rows_give_no_nan_and_are_nobodys_neighbour() -> None:
    matrix, coords = random_case()
    dead = [0, 5, 17]
    matrix[dead] = 0.0
    coords[dead] = coords[[1, 6, 18]]  # right on top of live tokens: must not steal their slots
    recall = knn_recall(matrix, coords, np.arange(len(matrix)), 10)
    assert not np.isnan(recall).any()
    assert np.all(recall[dead] == 0.0)
    np.testing.assert_allclose(recall, brute_force_recall(matrix, coords, 10), atol=1e-6)
    score, ids, values = faithfulness(matrix, coords, k=10)
    live = np.setdiff1d(ids, dead)
    assert score.mean == pytest.approx(float(values[live].mean()), abs=1e-6)


def test_all_zero_matrix_scores_zero_without_nan() -> None:
    matrix = np.zeros((50, 4), dtype=np.float32)
    coords = np.random.default_rng(5).standard_normal((50, 2)).astype(np.float32)
    score, _, values = faithfulness(matrix, coords, k=10)
    assert not np.isnan(values).any() and np.all(values == 0.0)
    assert score.mean == 0.0


def test_k_shrinks_to_the_vocabulary() -> None:
    matrix, coords = circle_case(vocab=6)
    recall = knn_recall(matrix, coords, np.arange(6), k=10)  # only 5 other tokens
    np.testing.assert_array_equal(recall, np.ones(6, dtype=np.float32))
    score, _, _ = faithfulness(matrix, coords, k=10)
    assert score.k == 5 and score.describe().startswith("kNN recall@5 1.000")
    assert score.describe(local=True).endswith("; 1.000 for the centre (radius = angle)")


def test_a_bfloat16_weight_tensor_is_measured_as_its_float32_values() -> None:
    """A bf16 model's W_E is passed as is (converted a block at a time, never copied whole)."""
    matrix, coords = random_case()
    weights = torch.from_numpy(matrix).bfloat16()
    ids = np.arange(len(matrix))
    expected = brute_force_recall(weights.float().numpy(), coords, 10)
    np.testing.assert_allclose(knn_recall(weights, coords, ids, 10), expected, atol=1e-6)


def test_read_only_inputs_are_left_alone() -> None:
    """Memory-mapped embeddings are read-only: the measure must neither write nor fail."""
    matrix, coords = random_case()
    expected = brute_force_recall(matrix, coords, 10)
    before = matrix.copy()
    matrix.setflags(write=False)
    coords.setflags(write=False)
    np.testing.assert_allclose(knn_recall(matrix, coords, np.arange(300)), expected, atol=1e-6)
    np.testing.assert_array_equal(matrix, before)


def test_token_recall_equals_knn_recall_entry() -> None:
    matrix, coords = random_case()
    everyone = knn_recall(matrix, coords, np.arange(len(matrix)), 10)
    tokens = [*range(20), 299]
    assert len(set(everyone[tokens].tolist())) > 1  # so a constant answer could not pass
    for token in tokens:
        assert token_recall(matrix, coords, token, 10) == pytest.approx(float(everyone[token]))
    norms = row_norms(matrix).numpy()
    np.testing.assert_allclose(norms, np.linalg.norm(matrix, axis=1), rtol=1e-5)
    for token in tokens:
        cached = token_recall(matrix, coords, token, 10, norms=norms)
        assert cached == pytest.approx(float(everyone[token]))


def test_progress_is_reported_and_cancel_stops() -> None:
    matrix, coords = random_case()
    seen: list[float] = []
    knn_recall(matrix, coords, np.arange(300), 10, Task(lambda f, _m: seen.append(f)))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 3
    task = Task()
    task.cancel()
    with pytest.raises(Cancelled):
        knn_recall(matrix, coords, np.arange(300), 10, task)
    with pytest.raises(Cancelled):
        faithfulness(matrix, coords, task=task)


def test_cancel_between_blocks() -> None:
    matrix, coords = random_case(vocab=1000)
    task = Task()

    def progress(fraction: float, _message: str) -> None:
        if fraction > 0:
            task.cancel()  # the next block's report must raise

    task.progress = progress
    with pytest.raises(Cancelled):
        knn_recall(matrix, coords, np.arange(1000), 10, task)


def test_bad_shapes_are_refused() -> None:
    matrix, coords = random_case()
    with pytest.raises(ValueError):
        knn_recall(matrix, coords[:10], np.arange(3))
    with pytest.raises(ValueError):
        knn_recall(matrix, coords, np.array([300]))
    with pytest.raises(ValueError):
        knn_recall(matrix, coords, np.arange(3), k=0)
    with pytest.raises(ValueError):
        knn_recall(matrix, coords, np.arange(3), norms=np.ones(299, dtype=np.float32))
