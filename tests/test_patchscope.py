"""Patchscopes readouts against a plain patch-and-greedy-decode written here, and on the real
default model, what it reads back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from nokenviz.core.generation.patchscope import (
    DEFAULT_TARGET,
    prepare_target,
    read_noken,
    read_trajectory,
    read_vector,
)
from nokenviz.core.nokens.prompts import prepare_prompt
from nokenviz.core.residual.lens import trace_prompt
from nokenviz.core.task import Task
from nokenviz.errors import Cancelled, NokenvizError, PromptError
from tests.test_injection import edit_hook, greedy

TINY_TARGET = "The cat -> cat; the dog -> dog; ? ->"


@torch.no_grad()
def plain_patchscope(
    loaded: Any, vector: torch.Tensor | None, layer: int, target: str, steps: int = 6
) -> tuple[list[int], str]:
    """The readout done by hand: tokenize the target, write the vector over the last token
    holding '?', decode greedily without a cache until ';' or a newline appears."""
    tokenizer = loaded.tokenizer
    ids = tokenizer.encode(target, add_special_tokens=True)
    spot = max(i for i, t in enumerate(ids) if "?" in tokenizer.decode([t]))
    embeds = loaded.model.get_input_embeddings()(torch.tensor([ids]))

    def stop(out: list[int]) -> bool:
        return any(s in tokenizer.decode(out) for s in (";", "\n"))

    eos = tokenizer.eos_token_id
    if vector is None:
        out = greedy(loaded.model, embeds, steps, eos, stop)
    elif layer == 0:
        embeds[0, spot] = vector
        out = greedy(loaded.model, embeds, steps, eos, stop)
    else:
        handle = edit_hook(loaded.adapter.layers[layer - 1], spot, vector, "replace")
        try:
            out = greedy(loaded.model, embeds, steps, eos, stop)
        finally:
            handle.remove()
    text = tokenizer.decode(out, skip_special_tokens=True)
    return out, text.split(";")[0].split("\n")[0].strip()


def random_states(loaded: Any, seed: int = 1) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(loaded.n_layers + 1, loaded.d_model, generator=generator) * 3).numpy()


def test_the_placeholder_is_the_token_over_the_last_question_mark(llama, smol) -> None:
    for loaded, target in ((llama, "a ? b ? ->"), (smol, DEFAULT_TARGET), (smol, "what?: ? ->")):
        found = prepare_target(loaded, target)
        ids = found.prepared.token_ids
        assert "?" in loaded.tokenizer.decode([ids[found.placeholder]])
        assert "?" not in loaded.tokenizer.decode(ids[found.placeholder + 1 :])
    with pytest.raises(PromptError, match="has no '\\?' placeholder; put a '\\?' where"):
        prepare_target(llama, "cat -> cat; dog ->")


@pytest.mark.parametrize("family", ["llama", "gemma", "gpt2"])
def test_readouts_match_a_plain_patchscope(tiny_models: dict, family: str) -> None:
    """Every layer, through the single read and the cached trajectory path alike; Gemma
    scales its inputs, GPT-2 has its own block and position embeddings."""
    tiny = tiny_models[family]
    states = random_states(tiny)
    trajectory = read_trajectory(tiny, states, target=TINY_TARGET)
    assert [r.layer for r in trajectory] == list(range(tiny.n_layers + 1))
    for layer, readout in enumerate(trajectory):
        vector = torch.from_numpy(states[layer])
        ids, text = plain_patchscope(tiny, vector, layer, TINY_TARGET)
        single = read_vector(tiny, vector, layer, target=TINY_TARGET)
        assert (readout.token_ids, readout.text) == (ids, text) == (single.token_ids, single.text)


def test_the_vector_changes_what_is_read(llama) -> None:
    """So the comparisons above are not between two unpatched runs (some tiny random models
    say the same whatever they get; this one does not)."""
    states = torch.from_numpy(random_states(llama))
    plain = plain_patchscope(llama, None, 0, TINY_TARGET)
    for layer in range(llama.n_layers):  # the last layer cannot change it (see below)
        readout = read_vector(llama, states[layer], layer, target=TINY_TARGET)
        assert (readout.token_ids, readout.text) != plain


@torch.no_grad()
@pytest.mark.parametrize("family", ["llama", "gemma"])
def test_a_noken_enters_like_a_token(tiny_models: dict, family: str) -> None:
    """A W_E row read as a noken == that token's embedding output (Gemma's scale included)."""
    tiny = tiny_models[family]
    (token,) = tiny.tokenizer.encode(" dog", add_special_tokens=False)
    embedded = tiny.model.get_input_embeddings()(torch.tensor([token]))[0]
    readout = read_noken(tiny, tiny.adapter.W_E[token].detach(), target=TINY_TARGET)
    assert (readout.token_ids, readout.text) == plain_patchscope(tiny, embedded, 0, TINY_TARGET)


def test_trajectory_reports_progress_and_cancels(llama) -> None:
    seen: list[float] = []
    task = Task(progress=lambda fraction, _message: seen.append(fraction))
    read_trajectory(llama, random_states(llama), target=TINY_TARGET, task=task)
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] == 1.0
    assert len(seen) == llama.n_layers + 2

    def cancel_at_second(fraction: float, _message: str) -> None:
        seen.append(fraction)
        if len(seen) == 2:
            task.cancel()

    seen.clear()
    task = Task(progress=cancel_at_second)
    with pytest.raises(Cancelled):
        read_trajectory(llama, random_states(llama), target=TINY_TARGET, task=task)
    assert len(seen) == 2  # stopped at the next layer


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: read_vector(m, torch.zeros(m.d_model), 3), r"layer 3 is out of range: .*0\.\.2"),
        (lambda m: read_vector(m, torch.zeros(7), 1), "needs 32 numbers for this model"),
        (lambda m: read_vector(m, torch.zeros(32), 1, target="no mark"), "no '\\?' placeholder"),
        (lambda m: read_noken(m, torch.zeros(32), max_new_tokens=0), "at least 1"),
        (lambda m: read_trajectory(m, np.zeros((2, 32))), r"shape \(3, 32\) for this model"),
        (lambda m: read_vector(m, torch.zeros(32), 1, max_new_tokens=200), "longer than"),
    ],
)
def test_bad_readouts(llama, call: Any, message: str) -> None:
    with pytest.raises(NokenvizError, match=message) as caught:
        call(llama)
    assert "\n" not in str(caught.value)


# --- the real default model ------------------------------------------------------------------


def test_common_words_read_back_as_themselves(smol) -> None:
    w_e = smol.adapter.W_E.detach()
    for word in (" cat", " dog", " house", " water", " king", " apple"):
        (token,) = smol.tokenizer.encode(word, add_special_tokens=False)
        assert read_noken(smol, w_e[token]).text == word.strip()


def test_a_traced_trajectory_read_layer_by_layer(smol) -> None:
    trace = trace_prompt(smol, prepare_prompt(smol, "The capital of France is Paris"))
    readouts = read_trajectory(smol, trace.raw)
    assert len(readouts) == smol.n_layers + 1 == 31
    assert readouts[0].text == "Paris"  # entry 0 is the embedding of ' Paris'
    layer = 8
    assert readouts[layer] == read_vector(smol, torch.from_numpy(trace.raw[layer]), layer)
    expected = plain_patchscope(smol, torch.from_numpy(trace.raw[layer]), layer, DEFAULT_TARGET)
    assert (readouts[layer].token_ids, readouts[layer].text) == expected
    # the last block's output feeds only its own position's final norm: nothing is read there
    plain_ids, plain_text = plain_patchscope(smol, None, 0, DEFAULT_TARGET)
    assert (readouts[-1].token_ids, readouts[-1].text) == (plain_ids, plain_text)
    assert plain_text != "Paris"
