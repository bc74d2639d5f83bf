"""The live noken preview: cached-prefix results equal a full forward pass."""

from __future__ import annotations

import pytest
import torch

from nokenviz.core.nokens.preview import NokenPreview, span_of
from nokenviz.core.nokens.prompts import prepare_prompt
from nokenviz.core.nokens.specs import build_noken, parse_noken
from nokenviz.errors import PromptError


def _full_next_token_probs(model, prompt: str, spec: str) -> torch.Tensor:
    prepared = prepare_prompt(model, prompt, {"x": parse_noken(spec)})
    with torch.no_grad():
        return torch.softmax(model.model(inputs_embeds=prepared.embeds).logits[0, -1], dim=-1)


@pytest.mark.parametrize(
    "prompt", ["The cat sat on {x} mat, the dog", "{x} cat sat", "The cat {x}"]
)
def test_preview_equals_a_full_forward_pass(tiny, prompt: str) -> None:
    preview = NokenPreview(tiny, prompt, "x")
    for spec in (
        '{"token": " the"}',
        '{"lerp": ["White", "Black"], "t": 0.3}',
        '{"token": " dog"}',
    ):
        vector = build_noken(parse_noken(spec), tiny.adapter.W_E, tiny.tokenizer)
        shown = preview(vector, k=5)
        full = _full_next_token_probs(tiny, prompt, spec)
        values, ids = torch.topk(full, 5)
        assert [i for i, _ in shown.next_tokens] == ids.tolist()
        assert [p for _, p in shown.next_tokens] == pytest.approx(values.tolist(), abs=1e-5)
    assert preview.cache.get_seq_length() == preview.prefix_length  # cropped back every time


def test_preview_nearest_tokens_by_cosine(llama) -> None:
    preview = NokenPreview(llama, "The {x}", "x")
    cat = llama.tokenizer.encode(" cat", add_special_tokens=False)[0]
    shown = preview(llama.adapter.W_E[cat].detach())
    assert shown.nearest[0].id == cat and shown.nearest[0].score == pytest.approx(1.0, abs=1e-5)


def test_preview_needs_the_slot(llama) -> None:
    with pytest.raises(PromptError, match=r"the prompt has no \{x\} slot"):
        NokenPreview(llama, "The cat", "x")


@pytest.mark.parametrize(
    "spec",
    [
        '{"lerp": [" cat", " dog"], "t": 0.3}',
        '{"slerp": [" cat", " dog"], "t": 0.8, "norm": 2.0}',
        '{"mix": {" cat": 0.2, " dog": 0.5, " the": 0.3}}',
        '{"random": {"seed": 4}}',
    ],
)
def test_nearest_tokens_through_the_anchors_equal_the_full_search(llama, spec: str) -> None:
    """The composer passes the anchors' ids (`span_of`); the cosines must not change."""
    preview = NokenPreview(llama, "The {x}", "x")
    parsed = parse_noken(spec)
    vector = build_noken(parsed, llama.adapter.W_E, llama.tokenizer)
    fast = preview(vector, k=20, span=span_of(parsed, llama)).nearest
    full = preview(vector, k=20).nearest
    assert [n.id for n in fast] == [n.id for n in full]
    assert [n.score for n in fast] == pytest.approx([n.score for n in full], abs=1e-5)


def test_a_vector_off_the_span_falls_back_to_the_full_search(llama) -> None:
    preview = NokenPreview(llama, "The {x}", "x")
    cat, dog = (llama.tokenizer.encode(t, add_special_tokens=False)[0] for t in (" cat", " dog"))
    the = llama.tokenizer.encode(" the", add_special_tokens=False)[0]
    vector = llama.adapter.W_E[the].detach().float()  # not a combination of cat and dog
    shown = preview(vector, k=3, span=(cat, dog))
    assert shown.nearest[0].id == the and shown.nearest[0].score == pytest.approx(1.0, abs=1e-5)
