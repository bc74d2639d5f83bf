"""Comparing two vocabularies against independent constructions: a rotated copy is recovered
exactly, replaced rows rank first, widths may differ, tokenizers may differ in order and
coverage; and the command line on two saved checkpoints."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from nokenviz.core.maps.compare import compare_vocabularies, shared_ids
from nokenviz.errors import NokenvizError


def _vocabulary(count: int = 600, dims: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(30, dims))[rng.integers(0, 30, count)]
    return (centres + 0.4 * rng.normal(size=(count, dims))).astype(np.float32)


def _rotation(dims: int, seed: int = 1) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dims, dims)))
    return q.astype(np.float32)


PIECES = [f"tok{i}" for i in range(600)]


def test_a_rotated_copy_is_recovered_exactly() -> None:
    a = _vocabulary()
    b = 2.0 * a @ _rotation(32)
    found = compare_vocabularies(a, PIECES, b, PIECES)
    assert found.aligned and len(found.ids_a) == 600
    np.testing.assert_allclose(found.cosine, 1.0, atol=1e-4)
    np.testing.assert_allclose(found.overlap, 1.0)
    np.testing.assert_allclose(found.norm_ratio, 2.0, rtol=1e-4)
    assert found.mean_knn_overlap == pytest.approx(1.0)


def test_replaced_rows_rank_first_and_bf16_matrices_are_read_in_their_dtype() -> None:
    a = _vocabulary()
    b = a @ _rotation(32)
    replaced = [7, 123, 300, 451, 599]
    b[replaced] = np.random.default_rng(5).normal(size=(5, 32)).astype(np.float32) * 3
    found = compare_vocabularies(
        torch.from_numpy(a).bfloat16(), PIECES, torch.from_numpy(b), PIECES
    )
    assert sorted(found.ids_a[found.most_changed(5)].tolist()) == replaced
    untouched = np.setdiff1d(np.arange(600), replaced)
    assert found.cosine[untouched].min() > 0.98 and found.cosine[replaced].max() < 0.6


def test_models_of_different_widths_compare_neighbourhoods_only() -> None:
    a = _vocabulary()
    lift, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(48, 32)))
    b = a @ lift.T.astype(np.float32)  # an isometry into 48 dimensions: same neighbours
    found = compare_vocabularies(a, PIECES, b, PIECES)
    assert not found.aligned and "widths differ (32 and 48)" in found.note
    np.testing.assert_allclose(found.overlap, 1.0)


def test_tokens_are_matched_by_piece_across_tokenizers() -> None:
    a = _vocabulary()
    order = np.random.default_rng(3).permutation(600)[:500]  # B: another order, 100 missing
    b = a[order] @ _rotation(32)
    pieces_b = [PIECES[i] for i in order] + ["new0", "new1"]
    b = np.vstack([b, np.ones((2, 32), np.float32)])
    ids_a, ids_b = shared_ids(PIECES, pieces_b)
    assert len(ids_a) == 500 and all(
        PIECES[i] == pieces_b[j] for i, j in zip(ids_a, ids_b, strict=True)
    )
    found = compare_vocabularies(a, PIECES, b, pieces_b)
    assert found.tokens_a == 600 and found.tokens_b == 502
    np.testing.assert_allclose(found.cosine, 1.0, atol=1e-4)
    np.testing.assert_allclose(found.overlap, 1.0)
    with pytest.raises(NokenvizError, match="share 0 tokens"):
        shared_ids(PIECES, ["other"] * 600)


def test_a_tokenizer_with_every_token_in_another_order() -> None:
    a = _vocabulary()
    order = np.random.default_rng(6).permutation(600)
    b = a[order] @ _rotation(32)
    found = compare_vocabularies(a, PIECES, b, [PIECES[i] for i in order])
    np.testing.assert_allclose(found.cosine, 1.0, atol=1e-4)
    np.testing.assert_allclose(found.overlap, 1.0)
    ids, where = found.aligned_rows([5, 5, 7], b)  # where tokens 5 and 7 went
    assert ids == [5, 7] and where == pytest.approx(a[[5, 7]], abs=1e-4)


def test_large_vocabularies_measure_a_sample_and_the_movers(monkeypatch) -> None:
    from nokenviz.core.maps import compare

    monkeypatch.setattr(compare, "KNN_BUDGET", 600 * 32 * 100)  # 100 tokens' worth
    monkeypatch.setattr(compare, "MIN_MEASURED", 10)
    a = _vocabulary()
    b = a @ _rotation(32)
    b[42] = -b[42]
    found = compare_vocabularies(a, PIECES, b, PIECES)
    measured = np.flatnonzero(~np.isnan(found.overlap))
    assert len(found.sampled) == 50 and 50 < len(measured) <= 100
    assert 42 in measured and found.most_changed(1).tolist() == [42]


def rotated_copy(source: str, folder) -> str:
    """A checkpoint of `source` whose embedding is rotated, with token 10's row replaced."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(source)
    with torch.no_grad():
        weights = model.get_input_embeddings().weight
        rotation = torch.from_numpy(_rotation(weights.shape[1], seed=4))
        weights.copy_(weights @ rotation)
        weights[10] = torch.randn(weights.shape[1], generator=torch.Generator().manual_seed(0))
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return str(folder)


def test_compare_command_on_two_checkpoints(tiny_dirs, tmp_path) -> None:
    source = tiny_dirs["llama"]
    other = rotated_copy(source, tmp_path / "rotated")
    command = [sys.executable, "-m", "nokenviz", "compare", source, other, "--top", "3"]
    out = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["aligned"] and report["shared_tokens"] == report["tokens"][0]
    assert report["moved"][0]["id"] == 10 and len(report["moved"]) == 3
    assert set(report["moved"][0]) >= {"token", "id", "cosine", "knn_overlap", "norm_ratio"}
    text = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert text.returncode == 0 and "most changed first" in text.stdout
    bad = subprocess.run([*command[:4], source, str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1


def test_a_checkpoint_without_tokenizer_or_embedding_gets_one_line(tiny_dirs, tmp_path) -> None:
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM

    from nokenviz.core.models.checkpoint import read_matrix
    from nokenviz.errors import ModelError

    bare = tmp_path / "bare"
    AutoModelForCausalLM.from_pretrained(tiny_dirs["llama"]).save_pretrained(bare)
    with pytest.raises(ModelError, match="no tokenizer could be read") as info:
        read_matrix(str(bare))
    assert "\n" not in str(info.value)
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "config.json").write_text("{}")
    save_file({"layers.0.weight": torch.zeros(2, 2)}, str(odd / "model.safetensors"))
    with pytest.raises(ModelError, match="no embedding tensor found among 1 tensors"):
        read_matrix(str(odd))


def test_the_other_models_map_puts_each_token_where_b_has_it() -> None:
    from nokenviz.core.maps.projections import ProjectionSpec, fit_projection

    a = _vocabulary()
    projection = fit_projection(torch.from_numpy(a), ProjectionSpec(kind="pca"))
    turned = a @ _rotation(32)  # a rotated copy: every token where it was
    found = compare_vocabularies(a, PIECES, turned, PIECES)
    places = found.other_places(turned, projection.project, projection.coords)
    np.testing.assert_allclose(places, projection.coords, atol=1e-3)
    b = turned.copy()
    b[[7, 300]] = b[[107, 400]]  # two tokens now point where two others point
    found = compare_vocabularies(a, PIECES, b, PIECES)
    places = found.other_places(b, projection.project, projection.coords)
    moved = np.linalg.norm(places - projection.coords, axis=1)
    assert set(np.argsort(-moved)[:2]) == {7, 300} and np.median(moved) < 0.01
    np.testing.assert_allclose(places[[7, 300]], projection.coords[[107, 400]], atol=0.05)
    drawn = projection.other_map(places, "B")
    assert drawn.own_coords is projection.coords and drawn.describe().startswith("B's tokens")
    lifted = compare_vocabularies(a, PIECES, np.concatenate([a, a], axis=1), PIECES)
    with pytest.raises(NokenvizError, match="B cannot be drawn on A's map: widths differ"):
        lifted.other_places(a, projection.project, projection.coords)


def test_tokens_only_in_a_stay_at_their_own_place() -> None:
    from nokenviz.core.maps.projections import ProjectionSpec, fit_projection

    a = _vocabulary()
    b = a[:500] @ _rotation(32, seed=3)  # B lacks A's last hundred tokens
    found = compare_vocabularies(a, PIECES, b, PIECES[:500])
    projection = fit_projection(torch.from_numpy(a), ProjectionSpec(kind="pca"))
    places = found.other_places(b, projection.project, projection.coords)
    assert places.shape == (600, 2)
    np.testing.assert_array_equal(places[500:], projection.coords[500:])
    np.testing.assert_allclose(places[:500], projection.coords[:500], atol=1e-3)
