"""Whole-prompt transforms, substitution rules, repetition penalty and bans, each checked
against a computation written here with plain torch / transformers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nokenviz.core.generation.experiment import parse_experiment, run_generation
from nokenviz.core.generation.rules import parse_rule
from nokenviz.core.generation.settings import DecodingSettings
from nokenviz.core.generation.transforms import apply_transform, parse_transform
from nokenviz.core.nokens.prompts import prepare_prompt
from nokenviz.core.nokens.specs import parse_noken
from nokenviz.errors import NokenvizError

PROMPT = "White whippets are fast dogs"


def _mean_of_nearest(w_e: torch.Tensor, token: int, k: int) -> torch.Tensor:
    unit = F.normalize(w_e.float(), dim=1)
    cosines = unit @ unit[token]
    cosines[token] = -2.0  # itself excluded
    return w_e[cosines.topk(k).indices].float().mean(dim=0)


def test_neighbours_transform_is_the_mean_of_each_tokens_nearest(llama) -> None:
    prepared = prepare_prompt(llama, PROMPT)
    out = apply_transform(llama, prepared, parse_transform('{"neighbors": 5}'))
    w_e = llama.adapter.W_E.detach()
    for position, token in enumerate(prepared.token_ids):
        expected = _mean_of_nearest(w_e, token, 5)
        assert torch.allclose(out.embeds[0, position].float(), expected, atol=1e-5)
    assert all(label.startswith("~") for label in out.labels)
    assert torch.equal(prepared.embeds, prepare_prompt(llama, PROMPT).embeds)  # input kept


def test_lerp_noise_scale_and_range(llama) -> None:
    prepared = prepare_prompt(llama, PROMPT)
    w_e = llama.adapter.W_E.detach().float()
    own = w_e[prepared.token_ids]
    half = apply_transform(llama, prepared, parse_transform('{"neighbors": 3, "t": 0.5}'))
    means = torch.stack([_mean_of_nearest(w_e, t, 3) for t in prepared.token_ids])
    assert torch.allclose(half.embeds[0].float(), 0.5 * own + 0.5 * means, atol=1e-5)
    noisy = apply_transform(llama, prepared, parse_transform('{"noise": 0.3, "seed": 1}'))
    relative = (noisy.embeds[0].float() - own).norm(dim=1) / own.norm(dim=1)
    assert torch.allclose(relative, torch.full_like(relative, 0.3), atol=1e-4)
    again = apply_transform(llama, prepared, parse_transform('{"noise": 0.3, "seed": 1}'))
    assert torch.equal(noisy.embeds, again.embeds)
    scaled = apply_transform(llama, prepared, parse_transform('{"scale": 1.5, "range": [1, -1]}'))
    changed = [
        p
        for p in range(prepared.length)
        if not torch.equal(scaled.embeds[0, p], prepared.embeds[0, p])
    ]
    assert changed == list(range(1, prepared.length - 1))
    assert torch.allclose(scaled.embeds[0, 1].float(), 1.5 * own[1], atol=1e-5)


def test_a_transformed_run_generates_like_plain_transformers_on_the_same_inputs(llama) -> None:
    settings = DecodingSettings(max_new_tokens=8)
    run = run_generation(llama, PROMPT, {}, settings, parse_experiment('{"scale": 0.5}'))
    embeds = prepare_prompt(llama, PROMPT).embeds * 0.5
    plain = llama.model.generate(
        inputs_embeds=embeds, max_new_tokens=8, do_sample=False, pad_token_id=0
    )
    assert run.result.token_ids == plain[0].tolist()
    original = llama.model.generate(
        inputs_embeds=prepare_prompt(llama, PROMPT).embeds,
        max_new_tokens=8,
        do_sample=False,
        pad_token_id=0,
    )
    assert run.baseline is not None and run.baseline.token_ids == original[0].tolist()
    assert run.baseline_note == "baseline: without the transform (scaled x0.5)"


def _greedy_with_rules(loaded, prompt: str, rules: dict, steps: int) -> tuple[list[int], list[int]]:
    """A plain KV-cache loop: argmax, then feed the rule's vector (by token or by step)."""
    model, w_e = loaded.model, loaded.adapter.W_E.detach()
    out = model(inputs_embeds=prepare_prompt(loaded, prompt).embeds, use_cache=True)
    ids, swapped = [], []
    for step in range(1, steps + 1):
        token = int(out.logits[0, -1].argmax())
        ids.append(token)
        vector = rules.get(("step", step), rules.get(("token", token)))
        if vector is None:
            vector = w_e[token]
        else:
            swapped.append(step - 1)
        cache = {loaded.cache_keyword: out.past_key_values}
        out = model(inputs_embeds=vector.to(w_e.dtype)[None, None], use_cache=True, **cache)
    return ids, swapped


def test_rules_feed_the_noken_after_the_token_with_the_kv_cache(llama) -> None:
    settings = DecodingSettings(max_new_tokens=10, min_new_tokens=10)
    plain = run_generation(llama, PROMPT, {}, settings).result.token_ids
    trigger = plain[2]
    w_e = llama.adapter.W_E.detach()
    rule = f'#{trigger}={{"token": " cat"}}'
    step_rule = '@1={"random": {"seed": 4}}'
    run = run_generation(llama, PROMPT, {}, settings, parse_experiment(rules=(rule, step_rule)))
    cat = w_e[llama.tokenizer.encode(" cat", add_special_tokens=False)[0]]
    random = torch.randn(llama.d_model, generator=torch.Generator().manual_seed(4))
    expected, swapped = _greedy_with_rules(
        llama, PROMPT, {("token", trigger): cat, ("step", 1): random}, 10
    )
    assert run.result.token_ids == expected
    assert [i for i, _ in run.result.substituted] == swapped
    assert run.result.substituted[0] == (0, step_rule)
    assert run.baseline is not None and run.baseline.token_ids == plain


def test_a_rule_on_the_default_model_changes_what_follows(smol) -> None:
    settings = DecodingSettings(max_new_tokens=12)
    base = run_generation(smol, "White whippets are", {}, settings)
    assert base.result.text.startswith(" a type of")
    rule = ' a={"token": " the"}'
    run = run_generation(smol, "White whippets are", {}, settings, parse_experiment(rules=(rule,)))
    assert run.result.token_ids[0] == base.result.token_ids[0]  # the text shows " a"
    assert run.result.substituted[0] == (0, rule)
    assert run.result.text != base.result.text
    assert run.baseline is not None and run.baseline.text == base.result.text


@pytest.mark.parametrize("penalty", [1.3, 0.8])
def test_repetition_penalty_counts_the_prompt_like_transformers(llama, penalty: float) -> None:
    ids = llama.tokenizer.encode(PROMPT, add_special_tokens=False)
    plain = llama.model.generate(
        input_ids=torch.tensor([ids]),
        max_new_tokens=10,
        do_sample=False,
        repetition_penalty=penalty,
        pad_token_id=0,
    )[0, len(ids) :].tolist()
    settings = DecodingSettings(max_new_tokens=10, repetition_penalty=penalty)
    ours = run_generation(llama, PROMPT, {}, settings).result.token_ids
    assert ours == plain
    assert (
        ours
        != run_generation(llama, PROMPT, {}, DecodingSettings(max_new_tokens=10)).result.token_ids
    )


def test_banned_texts_never_appear_and_match_transformers(llama) -> None:
    settings = DecodingSettings(max_new_tokens=10)
    first = run_generation(llama, PROMPT, {}, settings).result.token_ids
    banned = llama.tokenizer.decode([first[0]])
    ids = llama.tokenizer.encode(PROMPT, add_special_tokens=False)
    plain = llama.model.generate(
        input_ids=torch.tensor([ids]),
        max_new_tokens=10,
        do_sample=False,
        bad_words_ids=[[first[0]]],
        pad_token_id=0,
    )[0, len(ids) :].tolist()
    ours = run_generation(
        llama, PROMPT, {}, DecodingSettings(max_new_tokens=10, ban=(banned,))
    ).result.token_ids
    assert ours == plain and first[0] not in ours


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: parse_transform('{"neighbors": 0}'), "'neighbors' takes a number of tokens >= 1"),
        (lambda: parse_transform('{"scale": -1}'), "'scale' takes a finite number > 0"),
        (lambda: parse_transform('{"noise": 0.3, "k": 2}'), "unknown key 'k'"),
        (lambda: parse_transform('{"neighbors": 5, "scale": 2}'), "exactly one of"),
        (lambda: parse_transform("{neighbors"), "transform is not valid JSON"),
        (lambda: parse_rule("cat"), "a rule is TOKEN=SPEC"),
        (lambda: parse_rule('@0={"token": " cat"}'), "a step rule is @N with N >= 1"),
        (lambda: parse_rule(' cat={"mix": {" dog": -1}}'), "rule ' cat': mix weights must be"),
        (lambda: DecodingSettings(repetition_penalty=0), "repetition penalty must be a positive"),
        (lambda: DecodingSettings(ban=("",)), "a banned text is empty"),
    ],
)
def test_bad_specs_get_one_clear_line(make, message: str) -> None:
    with pytest.raises(NokenvizError, match=message):
        make()


def test_a_rule_for_several_tokens_and_a_range_outside_the_prompt(llama) -> None:
    settings = DecodingSettings(max_new_tokens=4)
    with pytest.raises(
        NokenvizError, match=r"rule ' elephants=.*' elephants' is \d tokens, not one"
    ):
        run_generation(
            llama, PROMPT, {}, settings, parse_experiment(rules=(' elephants={"id": 3}',))
        )
    with pytest.raises(NokenvizError, match="transform range \\[2, 40\\] is outside the prompt"):
        run_generation(
            llama, PROMPT, {}, settings, parse_experiment('{"scale": 2, "range": [2, 40]}')
        )


def test_a_models_own_repetition_penalty_does_not_leak_in(llama) -> None:
    settings = DecodingSettings(max_new_tokens=10)
    plain = run_generation(llama, PROMPT, {}, settings).result.token_ids
    config = llama.model.generation_config
    config.repetition_penalty = 3.0  # as some chat models ship it
    try:
        assert run_generation(llama, PROMPT, {}, settings).result.token_ids == plain
    finally:
        config.repetition_penalty = 1.0


@pytest.mark.parametrize(
    ("ban", "message"),
    [("#99999999", "outside the vocabulary"), ("eos", "the end-of-text token, which cannot be")],
)
def test_bans_that_cannot_work_get_one_clear_line(llama, ban: str, message: str) -> None:
    ban = f"#{llama.tokenizer.eos_token_id}" if ban == "eos" else ban
    with pytest.raises(NokenvizError, match=message):
        run_generation(llama, PROMPT, {}, DecodingSettings(max_new_tokens=2, ban=(ban,)))


def test_an_open_range_and_a_baseline_that_keeps_the_nokens(llama) -> None:
    prepared = prepare_prompt(llama, PROMPT)
    tail = apply_transform(llama, prepared, parse_transform('{"scale": 2, "range": [-2, null]}'))
    assert [label.startswith("~") for label in tail.labels] == [False] * 3 + [True] * 2
    assert tail.token_ids[-2:] == [None, None]  # no longer those tokens
    nokens = {"x": parse_noken('{"token": " cat"}')}
    settings = DecodingSettings(max_new_tokens=6)
    experiment = parse_experiment('{"scale": 0.5}')
    run = run_generation(llama, "{x} sat on the", nokens, settings, experiment, compare=True)
    with_noken = run_generation(llama, "{x} sat on the", nokens, settings)
    assert run.baseline is not None and run.baseline.token_ids == with_noken.result.token_ids
    assert run.baseline_note == "baseline: without the transform (scaled x0.5)"
