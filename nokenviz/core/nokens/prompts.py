"""Prompts with `{NAME}` noken slots, turned into the `inputs_embeds` a model takes.

Text between slots is tokenized piece by piece, so every slot is exactly one input position
whatever its neighbours; `{{` and `}}` are literal braces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.models.tokens import resolve_token
from nokenviz.core.nokens.specs import NokenSpec, build_noken
from nokenviz.core.nokens.template import Slot, parse_template, slot_names
from nokenviz.errors import NokenSpecError, PromptError


@dataclass
class PreparedInput:
    """One prompt ready for the model: embeddings plus what each position is, for display."""

    embeds: torch.Tensor  # [1, T, d_model], model dtype and device
    token_ids: list[int | None]  # None where a noken sits
    labels: list[str]  # token text, or "{name}" for a noken
    slot_positions: dict[str, list[int]]
    transformed: dict[int, int] = field(default_factory=dict)  # position -> the token it was

    @property
    def length(self) -> int:
        return len(self.labels)


def check_slots(prompt: str, nokens: dict[str, Any]) -> None:
    """Every slot has a noken and every noken has a slot, or one message says which does not."""
    used = slot_names(prompt)
    missing = [n for n in used if n not in nokens]
    if missing:
        raise PromptError(
            f"the prompt has a slot {{{missing[0]}}} but no noken named {missing[0]!r} is defined"
        )
    unused = [n for n in nokens if n not in used]
    if unused:
        raise PromptError(
            f"noken {unused[0]!r} is defined but the prompt has no {{{unused[0]}}} slot"
        )


def special_prefix(tokenizer: Any) -> list[int]:
    """The ids the tokenizer puts before any text (a BOS token for Llama-style vocabularies)."""
    plain = tokenizer.encode("a", add_special_tokens=False)
    full = tokenizer.encode("a", add_special_tokens=True)
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return list(full[:start])
    return []


def prompt_prefix(tokenizer: Any, prompt: str) -> list[int]:
    """The tokenizer's prefix (BOS) for `prompt`, or none when the prompt already starts with
    it as typed (`<s>`, `<|begin_of_text|>`): one BOS, never two."""
    prefix = special_prefix(tokenizer)
    if prefix and prompt.startswith(tokenizer.decode(prefix)):
        typed = tokenizer.encode(prompt, add_special_tokens=False)
        if typed[: len(prefix)] == prefix:
            return []
    return prefix


def prompt_token_ids(loaded: LoadedModel, prompt: str, replacements: dict[str, int]) -> list[int]:
    """The plain-token ids of a prompt whose slots are all replaced by tokens (the baseline)."""
    ids = prompt_prefix(loaded.tokenizer, prompt)
    for segment in parse_template(prompt):
        if isinstance(segment, Slot):
            ids.append(replacements[segment.name])
        else:
            ids.extend(loaded.tokenizer.encode(segment, add_special_tokens=False))
    return ids


@torch.no_grad()
def prepare_prompt(
    loaded: LoadedModel,
    prompt: str,
    nokens: dict[str, NokenSpec] | None = None,
    vectors: dict[str, torch.Tensor] | None = None,
) -> PreparedInput:
    """Embed a prompt, building each slot's noken (or taking a ready vector from `vectors`)."""
    if not prompt.strip():
        raise PromptError("the prompt is empty; type some text or a {slot}")
    nokens = nokens or {}
    vectors = dict(vectors or {})
    check_slots(prompt, {**nokens, **vectors})
    adapter = loaded.adapter
    for name, spec in nokens.items():
        if name not in vectors:
            try:
                vectors[name] = build_noken(spec, adapter.W_E, loaded.tokenizer)
            except NokenSpecError as exc:
                raise NokenSpecError(f"noken {name!r}: {exc}") from exc
    pieces: list[torch.Tensor] = []
    token_ids: list[int | None] = []
    labels: list[str] = []
    slots: dict[str, list[int]] = {}

    def add_tokens(ids: list[int]) -> None:
        if ids:
            index = torch.tensor(ids, device=adapter.W_E.device)
            pieces.append(adapter.embedding(index))
            token_ids.extend(ids)
            labels.extend(loaded.token_labels[i] for i in ids)

    add_tokens(prompt_prefix(loaded.tokenizer, prompt))
    for segment in parse_template(prompt):
        if isinstance(segment, Slot):
            slots.setdefault(segment.name, []).append(len(labels))
            pieces.append(adapter.to_input(vectors[segment.name])[None])
            token_ids.append(None)
            labels.append("{" + segment.name + "}")
        else:
            add_tokens(loaded.tokenizer.encode(segment, add_special_tokens=False))
    if not pieces:
        raise PromptError(f"the tokenizer turns {prompt!r} into no tokens; try other text")
    _check_context(loaded, len(labels))
    embeds = torch.cat(pieces, dim=0)[None]
    return PreparedInput(embeds, token_ids, labels, slots)


@torch.no_grad()
def prepare_token_ids(loaded: LoadedModel, ids: list[int]) -> PreparedInput:
    """A plain-token prompt given as ids (a `--compare` baseline), embedded like any other."""
    if not ids:
        raise PromptError("the prompt is empty; type some text or a {slot}")
    _check_context(loaded, len(ids))
    embeds = loaded.adapter.embedding(torch.tensor(ids, device=loaded.adapter.W_E.device))[None]
    return PreparedInput(embeds, list(ids), [loaded.token_labels[i] for i in ids], {})


def _check_context(loaded: LoadedModel, length: int, extra: int = 0) -> None:
    limit = loaded.context_length
    if limit is not None and length + extra > limit:
        raise PromptError(
            f"the prompt is {length} tokens{f' + {extra} to generate' if extra else ''}, longer "
            f"than the model's context of {limit} tokens"
        )


def check_position(position: int, length: int) -> int:
    """A prompt position (negative from the end) as an index, or one message with the range."""
    if not -length <= position < length:
        raise PromptError(
            f"position {position} is outside the prompt: it has {length} positions (counting "
            f"any special prefix token), so use 0..{length - 1} or -{length}..-1"
        )
    return position % length


def check_fits(loaded: LoadedModel, prepared: PreparedInput, new_tokens: int) -> None:
    """Refuse a generation that would run past the model's context."""
    _check_context(loaded, prepared.length, new_tokens)


def baseline_replacements(
    loaded: LoadedModel, nokens: dict[str, NokenSpec]
) -> dict[str, int] | None:
    """Each noken's plain token for a `--compare` baseline, or None if one has no token."""
    replacements: dict[str, int] = {}
    for name, spec in nokens.items():
        ref = spec.baseline_token()
        if ref is None:
            return None
        replacements[name] = resolve_token(loaded.tokenizer, ref, loaded.vocab_size)
    return replacements
