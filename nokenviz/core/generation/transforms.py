"""Whole-prompt transforms: every token of a prompt (or a range of positions) replaced by a
transform of its own embedding, so one spec does what would otherwise take a slot per token.

    {"neighbors": 5}               the mean of the token's 5 nearest tokens by cosine (itself
                                   excluded): the `neighbors` noken at every position
    {"neighbors": 5, "t": 0.5}     LERP from the token towards that mean
    {"noise": 0.3, "seed": 1}      plus Gaussian noise of norm 0.3 x the token's norm
    {"scale": 1.5}                 the token's vector times 1.5
    + "range": [i, j]              only positions i <= p < j (prompt positions as the logit lens
                                   numbers them, negative from the end; j null: to the end);
                                   default: all

Special tokens (a BOS the tokenizer adds) and noken slots are left as they are: they are not
the prompt's words.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.nokens.prompts import PreparedInput
from nokenviz.core.nokens.specs import NokenSpec, build_noken, decode_object, lerp, spec_kind
from nokenviz.errors import NokenSpecError, PromptError

# Each kind's keys (every kind also takes "range").
_KINDS = {
    "neighbors": ("neighbors", "t", "range"),
    "noise": ("noise", "seed", "range"),
    "scale": ("scale", "range"),
}


@dataclass(frozen=True)
class TransformSpec:
    """A validated transform; `source` is the JSON as the user wrote it."""

    kind: str
    amount: float  # k for neighbors, the relative noise norm, the scale factor
    t: float = 1.0
    seed: int = 0
    range: tuple[int, int | None] | None = None  # positions i <= p < j; j None: to the end
    source: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return dict(self.source)

    def describe(self) -> str:
        """A short name for the transformed run ("mean of 5 nearest, t=0.5")."""
        if self.kind == "neighbors":
            what = f"mean of {int(self.amount)} nearest" + (
                f", t={self.t:g}" if self.t != 1 else ""
            )
        elif self.kind == "noise":
            what = f"noise {self.amount:g} x norm, seed {self.seed}"
        else:
            what = f"scaled x{self.amount:g}"
        if self.range is None:
            return what
        return (
            what + f", positions {self.range[0]}:{'' if self.range[1] is None else self.range[1]}"
        )


def parse_transform(spec: str | dict[str, Any]) -> TransformSpec:
    """Validate a transform spec given as JSON text or a decoded object (no model needed)."""
    data = decode_object(spec, "transform", '{"neighbors": 5}')
    kind = spec_kind(data, _KINDS, "transform")
    amount = data[kind]
    if kind == "neighbors":
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            raise NokenSpecError(f"'neighbors' takes a number of tokens >= 1, not {amount!r}")
    elif not _is_number(amount) or (amount < 0 if kind == "noise" else amount <= 0):
        limit = ">= 0" if kind == "noise" else "> 0"
        raise NokenSpecError(f"{kind!r} takes a finite number {limit}, not {amount!r}")
    t = data.get("t", 1.0)
    if not _is_number(t):
        raise NokenSpecError(f"'t' must be a number, not {t!r}")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise NokenSpecError(f"'seed' must be an integer >= 0, not {seed!r}")
    return TransformSpec(kind, float(amount), float(t), seed, _range(data.get("range")), data)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and value == value
        and abs(value) != float("inf")
    )


def _range(value: Any) -> tuple[int, int | None] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value if v is not None)
        or value[0] is None
    ):
        raise NokenSpecError(f"'range' takes two positions [i, j] (j may be null), not {value!r}")
    return value[0], value[1]


def transformed_positions(
    prepared: PreparedInput, spec: TransformSpec, specials: set[int]
) -> list[int]:
    """The positions a transform changes: real, non-special tokens inside its range."""
    length = prepared.length
    start, stop = 0, length
    if spec.range is not None:
        start, stop = (length if p is None else p + length if p < 0 else p for p in spec.range)
        if not (0 <= start < stop <= length):
            raise PromptError(
                f"transform range {list(spec.range)} is outside the prompt: it has {length} "
                f"positions (0..{length - 1}); give [i, j] with i < j <= {length}"
            )
    return [
        p
        for p in range(start, stop)
        if prepared.token_ids[p] is not None and prepared.token_ids[p] not in specials
    ]


@torch.no_grad()
def apply_transform(
    loaded: LoadedModel, prepared: PreparedInput, spec: TransformSpec
) -> PreparedInput:
    """A copy of `prepared` with the transformed positions' inputs replaced (labels get a `~`)."""
    specials = set(loaded.tokenizer.all_special_ids)
    positions = transformed_positions(prepared, spec, specials)
    if not positions:
        raise PromptError("the transform's range holds no token of the prompt to change")
    w_e = loaded.adapter.W_E.detach()
    generator = torch.Generator().manual_seed(spec.seed)
    embeds = prepared.embeds.clone()
    labels, token_ids = list(prepared.labels), list(prepared.token_ids)
    transformed = {}
    for position in positions:
        token = int(prepared.token_ids[position])  # type: ignore[arg-type]
        vector = _transform(spec, token, w_e, loaded.tokenizer, generator)
        embeds[0, position] = loaded.adapter.to_input(vector)
        labels[position] = "~" + labels[position]
        token_ids[position] = None  # no longer that token (a repetition penalty skips it)
        transformed[position] = token
    return replace(
        prepared, embeds=embeds, labels=labels, token_ids=token_ids, transformed=transformed
    )


def _transform(
    spec: TransformSpec, token: int, w_e: torch.Tensor, tokenizer: Any, generator: torch.Generator
) -> torch.Tensor:
    own = w_e[token].float()
    if spec.kind == "scale":
        return own * spec.amount
    if spec.kind == "noise":
        noise = torch.randn(own.shape[0], generator=generator).to(own.device)
        return own + noise * (
            spec.amount * torch.linalg.vector_norm(own) / torch.linalg.vector_norm(noise)
        )
    mean = build_noken(NokenSpec("neighbors", tokens=(token,), k=int(spec.amount)), w_e, tokenizer)
    return lerp(own, mean, spec.t)
