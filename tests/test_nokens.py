"""The noken spec (docs/nokens.md): validation messages and the vectors it builds."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from nokenviz.core.nokens.specs import build_noken, parse_noken, slerp, typical_norm
from nokenviz.errors import NokenSpecError


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ('{"tokn": " cat"}', "needs exactly one of"),
        ('{"token": " cat", "mix": {" a": 1}}', "needs exactly one of"),
        ('{"token": " cat", "colour": 3}', "unknown key 'colour'"),
        ('{"mix": {" cat": -0.5, " dog": 1.5}}', "must be >= 0; ' cat' has -0.5"),
        ('{"mix": {" cat": 0, " dog": 0}}', "all zero"),
        ('{"mix": {" cat": NaN}}', "finite number"),
        ('{"mix": {}}', "non-empty object"),
        ('{"mix": {" cat": 1}, "extrapolate": 1}', "must be true or false"),
        ('{"mix": {" cat": -1, " dog": 0.5}, "extrapolate": true}', "sum to a positive"),
        ('{"lerp": [" White", " Black"], "t": 1.5}', "between 0 and 1, not 1.5"),
        ('{"lerp": [" White", " Black"]}', "needs 't'"),
        ('{"slerp": [" White"], "t": 0.5}', "list of two tokens"),
        ('{"random": {"seed": -1}}', "integer >= 0"),
        ('{"random": {"seed": 1, "norm": 3}}', '"norm": "match"'),
        ('{"neighbors": " question", "k": 0}', "integer >= 1"),
        ('{"token": " cat", "norm": -2}', "positive"),
        ('{"vector": [1, "a"]}', "must be a number"),
        ('{"token": " cat"', "not valid JSON"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_bad_specs_get_one_clear_message(spec: str, message: str) -> None:
    with pytest.raises(NokenSpecError, match=message.replace("(", r"\(")) as info:
        parse_noken(spec)
    assert "\n" not in str(info.value)


def test_mix_weights_are_normalised_and_round_trip() -> None:
    spec = parse_noken('{"mix": {" cat": 1, " dog": 3}}')
    assert spec.weights == (0.25, 0.75)
    assert parse_noken(spec.to_json()) == spec
    assert spec.baseline_token() == " dog"


@pytest.mark.parametrize(
    "spec, token",
    [
        ('{"mix": {" cat": 0.5, " dog": 0.5}}', " cat"),
        ('{"lerp": [" cat", " dog"], "t": 0.5}', " cat"),
        ('{"slerp": [" cat", " dog"], "t": 0.51}', " dog"),
        ('{"lerp": [" cat", " dog"], "t": 0.49}', " cat"),
    ],
)
def test_a_baseline_tie_goes_to_the_first_token(spec: str, token: str) -> None:
    assert parse_noken(spec).baseline_token() == token


def test_extrapolation_is_asked_for_and_goes_beyond_the_anchors(llama) -> None:
    w = llama.adapter.W_E.detach().float()
    a, b = (llama.tokenizer.encode(t, add_special_tokens=False)[0] for t in ("White", "Black"))

    def build(spec: str) -> torch.Tensor:
        return build_noken(parse_noken(spec), llama.adapter.W_E, llama.tokenizer)

    beyond = build('{"lerp": ["White", "Black"], "t": 1.5, "extrapolate": true}')
    assert torch.allclose(beyond, 1.5 * w[b] - 0.5 * w[a], atol=1e-6)
    mix = build('{"mix": {"White": -0.5, "Black": 1.5}, "extrapolate": true}')
    assert torch.allclose(mix, beyond, atol=1e-6)
    assert parse_noken('{"slerp": ["White", "Black"], "t": -0.2, "extrapolate": true}').t == -0.2


def test_vectors_against_a_model(llama) -> None:
    w = llama.adapter.W_E.detach().float()
    tok = llama.tokenizer
    a, b = (
        tok.encode("White", add_special_tokens=False)[0],
        tok.encode("Black", add_special_tokens=False)[0],
    )

    def build(spec: str) -> torch.Tensor:
        return build_noken(parse_noken(spec), llama.adapter.W_E, tok)

    assert torch.equal(build('{"token": "White"}'), w[a])
    assert torch.equal(build(f'{{"id": {b}}}'), w[b])
    assert torch.allclose(build('{"mix": {"White": 0.5, "Black": 0.5}}'), 0.5 * w[a] + 0.5 * w[b])
    assert torch.allclose(build('{"lerp": ["White", "Black"], "t": 0.3}'), 0.7 * w[a] + 0.3 * w[b])
    assert torch.allclose(build('{"slerp": ["White", "Black"], "t": 0}'), w[a], atol=1e-5)
    assert torch.allclose(build('{"slerp": ["White", "Black"], "t": 1}'), w[b], atol=1e-5)
    torch.manual_seed(3)
    assert torch.equal(build('{"random": {"seed": 3}}'), torch.randn(w.shape[1]))
    matched = build('{"random": {"seed": 3, "norm": "match"}}')
    assert float(matched.norm()) == pytest.approx(typical_norm(w), rel=1e-5)
    assert float(build('{"token": "White", "norm": 3.2}').norm()) == pytest.approx(3.2, rel=1e-5)
    sims = F.cosine_similarity(w[a][None], w, dim=1)
    sims[a] = -math.inf
    top3 = torch.topk(sims, 3).indices
    assert torch.allclose(build('{"neighbors": "White", "k": 3}'), w[top3].mean(dim=0))


def test_slerp_keeps_to_the_great_circle() -> None:
    a, b = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 4.0])
    mid = slerp(a, b, 0.5)
    # halfway round the quarter circle, norm halfway between 2 and 4
    assert torch.allclose(mid, torch.tensor([3.0, 3.0]) / math.sqrt(2))
    third = slerp(a, b, 1 / 3)
    assert float(F.cosine_similarity(third, a, dim=0)) == pytest.approx(math.cos(math.pi / 6))


def test_model_dependent_errors(llama) -> None:
    tok, w = llama.tokenizer, llama.adapter.W_E
    with pytest.raises(NokenSpecError, match=r"' elephants' is \d tokens, not one: ' '"):
        build_noken(parse_noken('{"token": " elephants"}'), w, tok)
    with pytest.raises(NokenSpecError, match="outside the vocabulary"):
        build_noken(parse_noken('{"id": 999999}'), w, tok)
    with pytest.raises(NokenSpecError, match="needs 32 numbers for this model, not 2"):
        build_noken(parse_noken('{"vector": [1, 2]}'), w, tok)
    with pytest.raises(NokenSpecError, match="zero vector"):
        build_noken(parse_noken({"vector": [0.0] * 32, "norm": 1}), w, tok)


def test_the_british_spelling_of_neighbours_is_a_key_too() -> None:
    from nokenviz.core.generation.transforms import parse_transform

    assert parse_noken('{"neighbours": " cat", "k": 3}').kind == "neighbors"
    assert parse_transform('{"neighbours": 5}').kind == "neighbors"
