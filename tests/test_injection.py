"""Injection at layer L: parsing, and the model's numbers against hooks written here."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import torch

from nokenviz.core.generation.injection import (
    Injection,
    InjectionSpec,
    _PositionHook,
    injected,
    parse_injection,
    resolve_injections,
)
from nokenviz.core.nokens.prompts import prepare_prompt, prepare_token_ids
from nokenviz.core.nokens.specs import parse_noken
from nokenviz.core.residual.lens import residual_stream
from nokenviz.errors import NokenvizError

PROMPT = "The cat sat on the mat"


def edit_hook(
    module: torch.nn.Module, position: int, vector: torch.Tensor, mode: str
) -> torch.utils.hooks.RemovableHandle:
    """The test's own change of one output row of a block, on every pass (use without a cache)."""

    def hook(_module: Any, _args: Any, output: Any) -> Any:
        hidden = output[0] if isinstance(output, tuple) else output
        hidden = hidden.clone()
        base = hidden[0, position] if mode == "add" else torch.zeros_like(hidden[0, position])
        hidden[0, position] = base + vector.to(hidden.dtype)
        return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

    return module.register_forward_hook(hook, prepend=True)  # before transformers' recorders


@torch.no_grad()
def greedy(
    model: Any, embeds: torch.Tensor, steps: int, eos: int | None, stop: Callable = lambda _: False
) -> list[int]:
    """Greedy decoding without a KV cache: every step runs the whole sequence again."""
    ids: list[int] = []
    embedding = model.get_input_embeddings()
    for _ in range(steps):
        extra = embedding(torch.tensor([ids], dtype=torch.long)) if ids else embeds[:, :0]
        logits = model(inputs_embeds=torch.cat([embeds, extra], dim=1), use_cache=False).logits
        ids.append(int(logits[0, -1].argmax()))
        if ids[-1] == eos or stop(ids):
            break
    return ids


def position_hooks(module: torch.nn.Module) -> list[Any]:
    """The injection hooks on a block (transformers keeps hooks of its own there)."""
    return [h for h in module._forward_hooks.values() if isinstance(h, _PositionHook)]


@torch.no_grad()
def logits_of(model: Any, embeds: torch.Tensor) -> torch.Tensor:
    return model(inputs_embeds=embeds, use_cache=False).logits[0].float()


def raw_vector(loaded: Any, seed: int) -> tuple[torch.Tensor, dict]:
    """A vector of the model's size and the raw-vector spec that names it (input scale 1)."""
    vector = torch.randn(loaded.d_model, generator=torch.Generator().manual_seed(seed)) * 3
    return vector, {"vector": vector.tolist()}


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "layer", "position", "spec", "mode"),
    [
        (
            '12:-1:{"direction": [" love", " hate"], "scale": 4}:add',
            12,
            -1,
            {"direction": [" love", " hate"], "scale": 4},
            "add",
        ),
        (
            '0:1:{"mix": {" cat": 0.5, " dog": 0.5}}:replace',
            0,
            1,
            {"mix": {" cat": 0.5, " dog": 0.5}},
            "replace",
        ),
        ('3:2:{"direction": [":", ";"]}', 3, 2, {"direction": [":", ";"]}, "add"),
        ('0:4:{"token": ":"}', 0, 4, {"token": ":"}, "replace"),
        (' 2 : -3 : {"token": " cat"} : add ', 2, -3, {"token": " cat"}, "add"),
    ],
)
def test_parse_and_round_trip(text: str, layer: int, position: int, spec: dict, mode: str) -> None:
    parsed = parse_injection(text)
    assert (parsed.layer, parsed.position, parsed.spec, parsed.mode) == (
        layer,
        position,
        spec,
        mode,
    )
    assert parse_injection(parsed.to_text()) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("12", r"an injection is written LAYER:POSITION:SPEC\[:add\|replace\]"),
        ('x:1:{"token": " cat"}', "the layer in .* must be an integer: an injection is written"),
        ('1:{"token": " cat"}', "the position in .* must be an integer"),
        ('1:0:{"token": " cat"', "is not valid JSON .*LAYER:POSITION:SPEC"),
        ('1:0:{"token": " cat"}:swap', "unknown injection mode 'swap'; use add or replace"),
        ('-1:0:{"token": " cat"}', "layer must be an integer >= 0, not -1"),
        ("1:0:[1, 2]", "an injection spec is a JSON object"),
        ('1:0:{"direction": [" a"]}', "'direction' takes a list of two tokens"),
        ('1:0:{"direction": [" a", " b"], "scale": "big"}', "'scale' must be a finite number"),
        ('1:0:{"direction": [" a", " b"], "t": 1}', "unknown key 't' in a 'direction' spec"),
        ('1:0:{"token": " cat", "t": 1}', "unknown key 't' in a 'token' noken"),
    ],
)
def test_malformed_text(text: str, message: str) -> None:
    with pytest.raises(NokenvizError, match=message) as caught:
        parse_injection(text)
    assert "\n" not in str(caught.value)


def test_a_long_spec_is_quoted_short() -> None:
    text = "1:x:" + json.dumps({"vector": [0.125] * 600})
    with pytest.raises(NokenvizError, match="the position in '1:x:.{50,60}…' must be an integer"):
        parse_injection(text)


# --- layer 0 is a noken ----------------------------------------------------------------------


def test_layer_zero_replace_is_the_noken_in_a_slot(tiny) -> None:
    """Every family (Gemma scales its inputs): `0:P:SPEC:replace` == the noken at slot P."""
    spec = {"mix": {" cat": 0.3, " dog": 0.7}}
    slotted = prepare_prompt(tiny, "The{x} sat on the mat", {"x": parse_noken(spec)})
    position = slotted.slot_positions["x"][0]
    ids = [
        tiny.tokenizer.encode(" cat", add_special_tokens=False)[0] if i is None else i
        for i in slotted.token_ids
    ]
    plain = prepare_token_ids(tiny, ids)
    injection = parse_injection(
        f'0:{position - slotted.length}:{{"mix": {{" cat": 0.3, " dog": 0.7}}}}'
    )
    with injected(tiny, plain, resolve_injections(tiny, plain, [injection])) as prepared:
        assert torch.equal(prepared.embeds, slotted.embeds)
        assert torch.equal(
            logits_of(tiny.model, prepared.embeds), logits_of(tiny.model, slotted.embeds)
        )
    assert not torch.equal(plain.embeds, slotted.embeds)  # the caller's input is left alone


# --- deeper layers against the test's own hook -----------------------------------------------


@pytest.mark.parametrize("mode", ["replace", "add"])
@pytest.mark.parametrize(("layer", "position"), [(1, 2), (2, -1), (1, 0)])
def test_layer_injection_matches_a_plain_hook(llama, layer: int, position: int, mode: str) -> None:
    prepared = prepare_prompt(llama, PROMPT)
    vector, spec = raw_vector(llama, seed=layer)
    absolute = position % prepared.length
    handle = edit_hook(llama.model.model.layers[layer - 1], absolute, vector, mode)
    try:
        expected = logits_of(llama.model, prepared.embeds)
        expected_raw = residual_stream(llama, prepared).raw
    finally:
        handle.remove()
    plain = logits_of(llama.model, prepared.embeds)
    specs = [InjectionSpec(layer, position, spec, mode)]
    with injected(llama, prepared, resolve_injections(llama, prepared, specs)) as ready:
        got = logits_of(llama.model, ready.embeds)
    with injected(llama, prepared, resolve_injections(llama, prepared, specs)) as ready:
        stream = residual_stream(llama, ready)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert (got - plain).abs().max() > 1e-2  # the injection did change the prediction
    torch.testing.assert_close(stream.raw, expected_raw, atol=1e-5, rtol=1e-5)
    if mode == "replace":
        torch.testing.assert_close(stream.raw[layer, absolute], vector, atol=1e-6, rtol=1e-6)
    # the positions before the injection cannot see it (causal)
    torch.testing.assert_close(got[:absolute], plain[:absolute], atol=1e-5, rtol=1e-5)
    assert not position_hooks(llama.model.model.layers[layer - 1])  # gone after the block


@pytest.mark.parametrize(("layer", "position"), [(1, -1), (1, 3), (2, -1), (0, -1), (0, 2)])
def test_generate_touches_only_the_prefill(llama, layer: int, position: int) -> None:
    """`model.generate` (KV cache) inside `injected` == a no-cache greedy loop with the test's
    hook: a decode step that got the change again (or a wrong row) would differ."""
    prepared = prepare_prompt(llama, PROMPT)
    vector, spec = raw_vector(llama, seed=5)
    absolute = position % prepared.length
    eos = llama.tokenizer.eos_token_id
    embeds = prepared.embeds.clone()
    if layer == 0:
        embeds[0, absolute] = vector
        expected = greedy(llama.model, embeds, 10, eos)
    else:
        handle = edit_hook(llama.model.model.layers[layer - 1], absolute, vector, "replace")
        try:
            expected = greedy(llama.model, embeds, 10, eos)
        finally:
            handle.remove()
    specs = [InjectionSpec(layer, position, spec, "replace")]
    with injected(llama, prepared, resolve_injections(llama, prepared, specs)) as ready:
        output = llama.model.generate(
            inputs_embeds=ready.embeds,
            attention_mask=torch.ones(ready.embeds.shape[:2], dtype=torch.long),
            max_new_tokens=10,
            do_sample=False,
            temperature=None,
            top_k=None,
            top_p=None,
            pad_token_id=eos,
        )
    assert output[0].tolist() == expected
    assert expected != greedy(llama.model, prepared.embeds, 10, eos)  # the injection mattered


def test_two_injections_at_one_layer_and_one_at_another(llama) -> None:
    prepared = prepare_prompt(llama, PROMPT)
    (a, spec_a), (b, spec_b), (c, spec_c) = (raw_vector(llama, s) for s in (1, 2, 3))
    layers = llama.model.model.layers
    handles = [edit_hook(layers[0], 1, a, "add"), edit_hook(layers[0], 3, b, "replace")]
    handles.append(edit_hook(layers[1], 2, c, "add"))
    try:
        expected = logits_of(llama.model, prepared.embeds)
    finally:
        for handle in handles:
            handle.remove()
    specs = [
        InjectionSpec(1, 1, spec_a, "add"),
        InjectionSpec(1, 3, spec_b, "replace"),
        InjectionSpec(2, 2, spec_c, "add"),
    ]
    with injected(llama, prepared, resolve_injections(llama, prepared, specs)) as ready:
        torch.testing.assert_close(logits_of(llama.model, ready.embeds), expected)


@torch.no_grad()
def test_direction_is_the_difference_of_hidden_states(llama) -> None:
    """h_L(A) - h_L(B), each token run alone after the special prefix, captured by hooks here."""
    outputs: list[torch.Tensor] = []
    hooks = [
        block.register_forward_hook(lambda _m, _a, out: outputs.append(out[0, -1].clone()))
        for block in llama.model.model.layers
    ]
    states = {}
    try:
        for text in (" cat", " dog"):
            outputs.clear()
            ids = torch.tensor([llama.tokenizer.encode(text, add_special_tokens=True)])
            llama.model(input_ids=ids, use_cache=False)
            embedded = llama.model.get_input_embeddings()(ids)[0, -1]
            states[text] = [embedded, *outputs]
    finally:
        for hook in hooks:
            hook.remove()
    prepared = prepare_prompt(llama, PROMPT)
    for layer in range(llama.n_layers + 1):
        spec = parse_injection(f'{layer}:-1:{{"direction": [" cat", " dog"], "scale": 2.5}}')
        (injection,) = resolve_injections(llama, prepared, [spec])
        expected = 2.5 * (states[" cat"][layer] - states[" dog"][layer])
        torch.testing.assert_close(injection.vector, expected, atol=1e-5, rtol=1e-5)
        assert injection.mode == "add" and injection.position == prepared.length - 1


def test_hooks_are_removed_on_errors_and_the_input_is_untouched(llama) -> None:
    prepared = prepare_prompt(llama, PROMPT)
    before = prepared.embeds.clone()
    specs = [
        InjectionSpec(0, 1, {"token": " dog"}, "replace"),
        InjectionSpec(2, 1, {"token": " dog"}, "add"),
    ]
    resolved = resolve_injections(llama, prepared, specs)
    with pytest.raises(RuntimeError, match="boom"), injected(llama, prepared, resolved) as ready:
        assert not torch.equal(ready.embeds, before)
        assert llama.model.model.layers[1]._forward_hooks
        raise RuntimeError("boom")
    assert not position_hooks(llama.model.model.layers[1])
    assert torch.equal(prepared.embeds, before)


def test_a_block_that_returns_a_tuple() -> None:
    """Older transformers return (hidden, ...) from a block: the edit lands in the hidden state
    and the rest passes through; passes are counted across calls."""
    vector = torch.arange(4.0)
    block = torch.nn.Module()
    block.forward = lambda x: (x * 1, "extra")  # type: ignore[method-assign]
    handle = block.register_forward_hook(_PositionHook([Injection(1, 3, vector, "add")], 0))
    try:
        first, extra = block(torch.ones(1, 3, 4))
        second, _ = block(torch.ones(1, 1, 4))
        third, _ = block(torch.ones(1, 1, 4))
    finally:
        handle.remove()
    assert extra == "extra" and torch.equal(first, torch.ones(1, 3, 4))
    assert torch.equal(second[0, 0], 1 + vector) and torch.equal(third, torch.ones(1, 1, 4))


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '3:0:{"token": " cat"}',
            r"layer 3 is out of range: this model has layers 0\.\.2 \(0 = the input embeddings\)",
        ),
        (
            '1:6:{"token": " cat"}',
            r"position 6 is outside the prompt: it has 6 positions .* use 0\.\.5 or -6\.\.-1",
        ),
        ('1:-7:{"token": " cat"}', r"position -7 is outside the prompt: it has 6 positions"),
        (
            '1:0:{"vector": [1.0, 2.0, 3.0]}',
            "injection at layer 1, position 0: a raw vector needs 32 numbers for this model, not 3",
        ),
        (
            '1:0:{"direction": [" catmat", " dog"]}',
            r"'direction' takes single tokens: ' catmat' is \d+ tokens, not one",
        ),
        (
            '1:0:{"token": " catmat"}',
            r"injection at layer 1, position 0: ' catmat' is \d+ tokens, not one",
        ),
    ],
)
def test_errors_against_the_model_and_prompt(llama, text: str, message: str) -> None:
    prepared = prepare_prompt(llama, PROMPT)
    assert prepared.length == 6  # the tiny tokenizer adds no prefix
    with pytest.raises(NokenvizError, match=message) as caught:
        resolve_injections(llama, prepared, [parse_injection(text)])
    assert "\n" not in str(caught.value)


def test_a_resolved_vector_of_the_wrong_size(llama) -> None:
    prepared = prepare_prompt(llama, PROMPT)
    wrong = Injection(1, 0, torch.zeros(5), "add")
    message = r"needs 32 numbers for this model .*not shape \(5,\)"
    with pytest.raises(NokenvizError, match=message), injected(llama, prepared, [wrong]):
        pass
