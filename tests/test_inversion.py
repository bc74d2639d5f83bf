"""Noken inversion: KLs checked against plain transformers, the search's guarantees (never worse
than its start, a token noken found exactly), cancel, the gradient's scale, and bad input."""

from __future__ import annotations

import pytest
import torch

from nokenviz.core.models.loading import load_model
from nokenviz.core.nokens.inversion import WIDEST, Inversion, _Search, invert_noken
from nokenviz.core.nokens.prompts import prepare_prompt, special_prefix
from nokenviz.core.nokens.specs import parse_noken
from nokenviz.core.task import Task
from nokenviz.errors import ModelError, NokenvizError, PromptError

MIX = {"mix": {" White": 0.5, " Black": 0.5}}


def ids_of(loaded, text: str) -> list[int]:
    return loaded.tokenizer.encode(text, add_special_tokens=False)


def token_id(loaded, text: str) -> int:
    (found,) = ids_of(loaded, text)
    return found


def last_log_probs(loaded, **inputs: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        logits = loaded.model(**inputs, use_cache=False).logits[0, -1].float()
    return torch.log_softmax(logits, dim=-1)


def kl(p_log: torch.Tensor, q_log: torch.Tensor) -> float:
    return float((p_log.exp() * (p_log - q_log)).sum())


def embed(loaded, ids: list[int]) -> torch.Tensor:
    """What the model itself makes of `ids`: its input embedding module."""
    with torch.no_grad():
        return loaded.model.get_input_embeddings()(torch.tensor(ids))


def mix_prompt_log_probs(loaded) -> torch.Tensor:
    """Log-probabilities after "The {y} and {x} whippets are", y = ' Black', x = the mix, built from
    the embedding module alone: it is linear in its rows, so the mix's input is the mix of the
    two tokens' inputs (whatever scale the family applies)."""
    white, black = token_id(loaded, " White"), token_id(loaded, " Black")
    pieces = [
        embed(loaded, special_prefix(loaded.tokenizer) + ids_of(loaded, "The ")),
        embed(loaded, [black]),
        embed(loaded, ids_of(loaded, " and ")),
        embed(loaded, [white, black]).mean(dim=0, keepdim=True),
        embed(loaded, ids_of(loaded, " whippets are")),
    ]
    return last_log_probs(loaded, inputs_embeds=torch.cat(pieces)[None])


def hard_prompt_log_probs(loaded, found: list[int]) -> torch.Tensor:
    ids = (
        special_prefix(loaded.tokenizer)
        + ids_of(loaded, "The ")
        + [token_id(loaded, " Black")]
        + ids_of(loaded, " and ")
        + found
        + ids_of(loaded, " whippets are")
    )
    return last_log_probs(loaded, input_ids=torch.tensor([ids]))


def invert_mix(loaded, **kwargs) -> Inversion:
    nokens = {"x": parse_noken(MIX), "y": parse_noken({"token": " Black"})}
    return invert_noken(loaded, "The {y} and {x} whippets are", nokens, "x", **kwargs)


def test_kl_is_that_of_the_hard_prompt_run_by_transformers(tiny):
    """Every family: the KL reported is the one plain `model(input_ids=...)` gives for the tokens
    found (with the other slot's noken kept), and the search never ends worse than it began."""
    result = invert_mix(tiny, length=2, candidates=8, max_steps=3)
    expected = kl(mix_prompt_log_probs(tiny), hard_prompt_log_probs(tiny, result.token_ids))
    assert result.kl == pytest.approx(expected, abs=1e-4)
    assert result.kl <= result.start_kl
    assert len(result.token_ids) == 2
    assert not set(result.token_ids) & set(tiny.tokenizer.all_special_ids)
    assert result.labels == [tiny.token_labels[i] for i in result.token_ids]
    assert result.text == tiny.tokenizer.decode(result.token_ids)
    assert result.evaluated > result.steps and not result.cancelled


def test_search_improves_on_its_start(llama):
    """The tiny llama's mix at length 3 starts from its nearest tokens and gets closer: the
    gradient proposals contain real improvements, and every step counts its evaluations."""
    result = invert_mix(llama, length=3, candidates=16, max_steps=4)
    assert result.kl < result.start_kl - 1e-3
    assert 1 <= result.steps <= 4
    # 4 x 4 x 4 starting rows of the 4 nearest tokens, then 3 positions x at most the widest
    # candidate list a step (16, doubled after a step without a gain)
    assert 64 < result.evaluated <= 64 + result.steps * 3 * WIDEST
    expected = kl(mix_prompt_log_probs(llama), hard_prompt_log_probs(llama, result.token_ids))
    assert result.kl == pytest.approx(expected, abs=1e-4)
    document = result.to_json()
    assert set(document) == {
        "tokens", "token_ids", "labels", "text", "kl", "start_kl", "steps", "evaluated",
        "seconds", "cancelled",
    }  # fmt: skip
    assert [t["id"] for t in document["tokens"]] == result.token_ids
    assert [t["token"] for t in document["tokens"]] == [
        llama.token_strings[i] for i in result.token_ids
    ]


def test_token_noken_inverts_to_its_token(llama):
    white = token_id(llama, " White")
    result = invert_noken(
        llama, "The {x} whippets are", {"x": parse_noken({"token": " White"})}, "x", length=1
    )
    assert result.token_ids == [white]
    assert result.kl == pytest.approx(0.0, abs=1e-6)
    assert result.steps == 0  # nothing left to improve


def test_token_noken_inverts_to_its_token_on_the_default_model(smol):
    cat = token_id(smol, " cat")
    result = invert_noken(
        smol, "My {x} likes to", {"x": parse_noken({"token": " cat"})}, "x", length=1
    )
    assert result.token_ids == [cat] and result.text == " cat"
    assert result.kl == pytest.approx(0.0, abs=1e-6)


def test_cancel_returns_the_best_so_far(llama):
    """Cancelled at the first progress report: one step done, its best kept, no exception."""
    messages: list[str] = []
    task = Task()

    def progress(_fraction: float, message: str) -> None:
        messages.append(message)
        task.cancel()

    task.progress = progress
    result = invert_mix(llama, length=3, candidates=16, max_steps=10, task=task)
    assert result.cancelled and result.steps == 1
    assert messages == [f"step 1/10: KL {result.kl:.3f}"]
    assert result.kl <= result.start_kl
    expected = kl(mix_prompt_log_probs(llama), hard_prompt_log_probs(llama, result.token_ids))
    assert result.kl == pytest.approx(expected, abs=1e-4)


def test_cancelled_before_the_first_step_returns_the_start(llama):
    task = Task()
    task.cancel()
    result = invert_mix(llama, length=2, task=task)
    assert result.cancelled and result.steps == 0 and result.kl == result.start_kl


def test_time_limit_stops_the_search(llama):
    result = invert_mix(llama, length=2, time_limit=1e-9)
    assert result.steps == 0 and not result.cancelled and result.kl == result.start_kl


@pytest.mark.parametrize("family", ["llama", "gemma"])
def test_swap_scores_are_the_kl_gradient_in_w_e_units(tiny_models, family):
    """The first-order change of the KL when the slot's vector moves towards token v is the
    score difference; checked by central finite differences of plain forward passes (Gemma
    scales its inputs by sqrt(d_model): a gradient taken in the wrong units would be off)."""
    loaded = tiny_models[family]
    nokens = {"x": parse_noken(MIX)}
    prepared = prepare_prompt(loaded, "The {x} whippets are", nokens)
    search = _Search(loaded, prepared, prepared.slot_positions["x"][0], length=1)
    current = token_id(loaded, " White")
    scores = search._swap_scores(torch.tensor([current]))[0]
    target = last_log_probs(loaded, inputs_embeds=prepared.embeds)
    w_e = loaded.model.get_input_embeddings().weight.detach().float()
    scale = float(embed(loaded, [current])[0].norm() / w_e[current].norm())

    def kl_at(vector: torch.Tensor) -> float:
        inputs = torch.cat(
            [
                embed(loaded, special_prefix(loaded.tokenizer) + ids_of(loaded, "The ")),
                (vector * scale)[None],
                embed(loaded, ids_of(loaded, " whippets are")),
            ]
        )
        return kl(target, last_log_probs(loaded, inputs_embeds=inputs[None]))

    step = 1e-2
    for other in ids_of(loaded, " cat dogs fire"):
        direction = w_e[other] - w_e[current]
        slope = kl_at(w_e[current] + step * direction) - kl_at(w_e[current] - step * direction)
        slope /= 2 * step
        assert float(scores[other] - scores[current]) == pytest.approx(slope, rel=0.05, abs=1e-3)


@pytest.mark.parametrize("length", [0, 4])
def test_length_out_of_range(llama, length):
    with pytest.raises(NokenvizError, match="1 to 3 tokens long, not"):
        invert_mix(llama, length=length)


def test_missing_slot(llama):
    with pytest.raises(PromptError, match=r"no \{z\} slot to invert \(its slots: \{y\}, \{x\}\)"):
        invert_noken(
            llama,
            "The {y} and {x} whippets are",
            {"x": parse_noken(MIX), "y": parse_noken(MIX)},
            "z",
        )


def test_slot_used_twice(llama):
    with pytest.raises(PromptError, match=r"appears 2 times.*not supported"):
        invert_noken(llama, "{x} and {x} are", {"x": parse_noken(MIX)}, "x")


def test_prompt_too_long_for_the_context(llama):
    """The tiny models' context is 64: a prompt of 63 positions fits as a noken prompt but not
    with three hard tokens in its slot."""
    nokens = {"x": parse_noken(MIX)}
    prompt = "{x}" + " cat" * 62
    assert prepare_prompt(llama, prompt, nokens).length == 63
    with pytest.raises(PromptError, match="65 tokens, longer than the model's context of 64"):
        invert_noken(llama, prompt, nokens, "x", length=3)


def test_bad_search_settings(llama):
    with pytest.raises(NokenvizError, match="candidates per position must be at least 1"):
        invert_mix(llama, candidates=0)
    with pytest.raises(NokenvizError, match="time limit must be a positive"):
        invert_mix(llama, time_limit=0)


def test_not_a_causal_model(encoder_dir):
    with pytest.raises(ModelError, match="not a causal LM: noken inversion is disabled"):
        invert_noken(load_model(encoder_dir), "{x} are", {"x": parse_noken(MIX)}, "x")


def test_a_search_that_runs_out_of_tokens_ends_with_the_best_found(small_vocab_dir) -> None:
    """A 300-token vocabulary: widening the candidates reaches every token, then it stops."""
    loaded = load_model(small_vocab_dir)
    nokens = {"x": parse_noken('{"random": {"seed": 5}}')}
    found = invert_noken(loaded, "{x} sat", nokens, "x", length=1, time_limit=60)
    assert not found.cancelled and found.kl <= found.start_kl
    assert found.evaluated <= loaded.vocab_size
