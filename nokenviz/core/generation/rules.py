"""Substitution rules during generation: the text shows what the model chose, but the next
input is a noken instead of that token's embedding.

    " cat"={"token": " dog"}     whenever the model emits " cat", it is fed " dog" next
    #42={"random": {"seed": 1}}  the same for token id 42
    @3={"mix": {...}}            after the 3rd generated token, whatever it is

Rules act inside `model.generate` (its KV cache, streamer, stopping criteria and logits
processors unchanged) through a forward hook on the input embedding: after the prompt, which
goes in as embeddings, every decoding step embeds the one token just generated, and the hook
swaps that embedding for the rule's vector.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.models.token_labels import SPACE
from nokenviz.core.models.tokens import resolve_token
from nokenviz.core.nokens.specs import NokenSpec, build_noken, parse_noken
from nokenviz.errors import NokenSpecError, NokenvizError

_RULE = re.compile(r"(?s)(.*?)\s*=\s*(\{.*\})\s*")


@dataclass(frozen=True)
class RuleSpec:
    """A validated rule: a trigger token (text or id) or a step, and the noken fed instead."""

    trigger: str | int | None
    step: int | None
    noken: NokenSpec
    text: str = field(compare=False)  # as the user wrote it

    def to_text(self) -> str:
        return self.text


def parse_rule(text: str) -> RuleSpec:
    """`TOKEN=SPEC`, `#ID=SPEC` or `@STEP=SPEC` (no model needed). The token's text is kept
    exactly, leading spaces included; `␣` may stand for a space."""
    match = _RULE.fullmatch(text)
    if match is None or not match.group(1):
        raise NokenSpecError(
            f'a rule is TOKEN=SPEC, #ID=SPEC or @STEP=SPEC, e.g. \' cat={{"token": " dog"}}\', '
            f"not {text!r}"
        )
    trigger_text, spec = match.group(1), match.group(2)
    try:
        noken = parse_noken(spec)
    except NokenSpecError as exc:
        raise NokenSpecError(f"rule {trigger_text!r}: {exc}") from exc
    stripped = trigger_text.strip()
    if stripped.startswith("@"):
        if not stripped[1:].isdigit() or int(stripped[1:]) < 1:
            raise NokenSpecError(
                f"a step rule is @N with N >= 1 (the N-th new token), not {stripped!r}"
            )
        return RuleSpec(None, int(stripped[1:]), noken, text)
    if stripped.startswith("#") and stripped[1:].isdigit():
        return RuleSpec(int(stripped[1:]), None, noken, text)
    return RuleSpec(trigger_text.replace(SPACE, " "), None, noken, text)


@dataclass(frozen=True)
class Rule:
    """A rule resolved for one model: the trigger id or step, and the input to feed."""

    token: int | None
    step: int | None
    vector: torch.Tensor  # model input units (to_input), model dtype and device
    text: str

    def fires(self, step: int, token: int) -> bool:
        return self.step == step if self.step is not None else self.token == token


def resolve_rules(loaded: LoadedModel, specs: tuple[RuleSpec, ...]) -> list[Rule]:
    """Token texts checked against the vocabulary (one token each), nokens built."""
    rules = []
    for spec in specs:
        try:
            token = (
                None
                if spec.trigger is None
                else resolve_token(loaded.tokenizer, spec.trigger, loaded.vocab_size)
            )
            vector = build_noken(spec.noken, loaded.adapter.W_E, loaded.tokenizer)
        except NokenvizError as exc:
            raise NokenSpecError(f"rule {spec.text!r}: {exc}") from exc
        rules.append(Rule(token, spec.step, loaded.adapter.to_input(vector), spec.text))
    return rules


@dataclass
class Substitutions:
    """What the rules did: (index of the generated token whose input was replaced, rule text)."""

    steps: list[tuple[int, str]] = field(default_factory=list)


@contextmanager
def substituting(loaded: LoadedModel, rules: list[Rule]) -> Iterator[Substitutions]:
    """While active, generate's decoding steps feed each rule's vector in place of its token.

    The first rule that fires wins. The hook counts only single-token calls: the prompt goes
    in as embeddings and never passes the embedding module."""
    done = Substitutions()
    if not rules:
        yield done
        return
    step = 0

    def hook(_module: Any, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor | None:
        nonlocal step
        ids = args[0]
        if ids.ndim != 2 or ids.shape != (1, 1):
            return None
        step += 1
        token = int(ids[0, 0])
        for rule in rules:
            if rule.fires(step, token):
                done.steps.append((step - 1, rule.text))
                changed = output.clone()
                changed[0, 0] = rule.vector.to(device=output.device, dtype=output.dtype)
                return changed
        return None

    handle = loaded.adapter.embedding.register_forward_hook(hook)
    try:
        yield done
    finally:
        handle.remove()
