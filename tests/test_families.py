"""Every supported family: adapter parts, logit lens, attention and generation from embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nokenviz.core.generation.generate import generate
from nokenviz.core.generation.settings import DecodingSettings
from nokenviz.core.nokens.prompts import prepare_prompt, prepare_token_ids
from nokenviz.core.nokens.specs import parse_noken
from nokenviz.core.residual.lens import attention, lens_space, logit_lens, residual_stream

PROMPT = "The sun rises in the"


def test_adapter_finds_the_parts(tiny) -> None:
    config = tiny.model.config
    adapter = tiny.adapter
    assert adapter.n_layers == 2
    assert adapter.W_E.shape == (tiny.vocab_size, 32)
    assert adapter.W_U.shape == (tiny.vocab_size, 32)
    assert adapter.final_norm is not None
    assert adapter.tied == bool(getattr(config, "tie_word_embeddings", False))


def test_lens_last_entry_is_the_models_prediction(tiny) -> None:
    prepared = prepare_prompt(tiny, PROMPT)
    stream = residual_stream(tiny, prepared)
    assert stream.raw.shape == (tiny.n_layers + 1, prepared.length, tiny.d_model)
    entries = logit_lens(tiny, stream, -1, k=3)
    assert len(entries) == tiny.n_layers + 1
    with torch.no_grad():
        ids = torch.tensor([[i for i in prepared.token_ids]])
        expected = int(tiny.model(ids).logits[0, -1].argmax())
    assert entries[-1].top[0][0] == expected
    assert entries[-1].final_rank == 0
    if tiny.arch not in ("gpt2", "opt"):  # these add learned position vectors to entry 0
        token_row = tiny.adapter.W_E[prepared.token_ids[-1]].detach()
        scale = 32**0.5 if tiny.arch == "gemma" else 1.0  # Gemma scales embeddings by sqrt(d)
        assert entries[0].norm == pytest.approx(scale * float(token_row.norm()), rel=1e-4)
    # The last raw entry is the final norm's input: unembedding it by hand gives the model's logits.
    lens_last = lens_space(tiny, stream, -1)[-1]
    logits = tiny.adapter.unembed(lens_last).detach()
    assert torch.allclose(logits, stream.final_logits[-1], atol=1e-4)


def test_attention_rows_are_distributions(tiny) -> None:
    prepared = prepare_prompt(tiny, PROMPT)
    before = tiny.model.config._attn_implementation
    weights = attention(tiny, prepared)
    assert tiny.model.config._attn_implementation == before  # fused attention restored
    heads = tiny.model.config.num_attention_heads
    assert weights.shape == (2, heads, prepared.length, prepared.length)
    assert np.allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    assert np.allclose(np.triu(weights[0, 0], k=1), 0.0)  # causal: no looking ahead


@pytest.mark.parametrize("prompt", [PROMPT, "The"])
def test_generation_from_embeddings_equals_generation_from_ids(tiny, prompt: str) -> None:
    prepared = prepare_prompt(tiny, prompt)
    settings = DecodingSettings(max_new_tokens=8)
    ours = generate(tiny, prepared, settings)
    ids = torch.tensor([prepared.token_ids])
    with torch.no_grad():
        reference = tiny.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=8,
            pad_token_id=tiny.tokenizer.eos_token_id,
        )
    assert ours.token_ids == reference[0, ids.shape[1] :].tolist()
    assert len(ours.token_ids) >= 1


def test_baseline_from_ids_equals_prompt_without_slots(llama) -> None:
    ids = llama.tokenizer.encode(PROMPT)
    assert torch.equal(prepare_token_ids(llama, ids).embeds, prepare_prompt(llama, PROMPT).embeds)


def test_a_token_noken_is_exactly_that_token(tiny) -> None:
    """A noken defined in W_E units enters the model as the token would (Gemma's scale too)."""
    with_slot = prepare_prompt(tiny, "{x} sun rises", {"x": parse_noken({"token": "The"})})
    plain = prepare_prompt(tiny, "The sun rises")
    assert with_slot.labels[0] == "{x}"
    assert torch.allclose(with_slot.embeds, plain.embeds)
