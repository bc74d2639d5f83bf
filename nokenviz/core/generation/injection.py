"""Injection: a vector added to, or written over, the residual stream at one layer and position.

Layers follow the logit lens: layer 0 is the input embeddings (what the embedding module
outputs), layer L >= 1 the residual stream after decoder block L. A noken spec injected at layer
0 with `replace` is therefore exactly a noken in that prompt position.

Layer-0 injections edit a copy of the prompt's embeddings; deeper ones are forward hooks on the
decoder blocks. The hooks count the positions each block has seen, so they touch only the pass
that holds the injected position: with a KV cache (`model.generate`) that is the prefill, and a
later decode step is never changed again.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import torch

from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.models.tokens import resolve_token
from nokenviz.core.nokens.prompts import (
    PreparedInput,
    check_position,
    prepare_token_ids,
    special_prefix,
)
from nokenviz.core.nokens.specs import build_noken, parse_noken
from nokenviz.core.residual.lens import residual_stream
from nokenviz.errors import NokenSpecError, NokenvizError

Mode = Literal["add", "replace"]
MODES: tuple[str, ...] = ("add", "replace")
FORM = "LAYER:POSITION:SPEC[:add|replace]"
_DIRECTION_KEYS = ("direction", "scale")
_MODE_WORD = re.compile(r"\s*[A-Za-z_]+\s*")


class InjectionError(NokenvizError):
    """An injection that is malformed or does not fit the model or the prompt."""


@dataclass(frozen=True)
class InjectionSpec:
    """What the user asked for, validated without a model.

    `spec` is a noken spec (W_E units, entering like a noken does) or a direction
    `{"direction": [A, B], "scale": s}` (residual units at the injection layer).
    """

    layer: int
    position: int
    spec: dict[str, Any]
    mode: Mode

    def __post_init__(self) -> None:
        if isinstance(self.layer, bool) or not isinstance(self.layer, int) or self.layer < 0:
            raise InjectionError(f"the injection layer must be an integer >= 0, not {self.layer!r}")
        if isinstance(self.position, bool) or not isinstance(self.position, int):
            raise InjectionError(
                f"the injection position must be an integer, not {self.position!r}"
            )
        if self.mode not in MODES:
            raise InjectionError(f"unknown injection mode {self.mode!r}; use add or replace")
        _validate_spec(self.spec)

    @property
    def is_direction(self) -> bool:
        return "direction" in self.spec

    def to_text(self) -> str:
        """The CLI form, which `parse_injection` reads back to an equal spec."""
        spec = json.dumps(self.spec, ensure_ascii=False)
        return f"{self.layer}:{self.position}:{spec}:{self.mode}"


def default_mode(spec: dict[str, Any]) -> Mode:
    """A direction is a nudge, so it adds; anything else stands for an input, so it replaces."""
    return "add" if "direction" in spec else "replace"


def parse_injection(text: str) -> InjectionSpec:
    """Read `LAYER:POSITION:SPEC[:add|replace]`; the JSON spec may itself contain colons, so
    the mode is only split off the end when the spec does not parse with it attached."""
    parts = text.split(":", 2)
    if len(parts) < 3:
        raise InjectionError(f"an injection is written {FORM}, not {_excerpt(text)}")
    layer = _parse_int(parts[0], "layer", text)
    position = _parse_int(parts[1], "position", text)
    spec, mode = _split_mode(parts[2], text)
    return InjectionSpec(layer, position, spec, cast(Mode, mode or default_mode(spec)))


def _parse_int(part: str, what: str, text: str) -> int:
    try:
        return int(part.strip())
    except ValueError:
        raise InjectionError(
            f"the {what} in {_excerpt(text)} must be an integer: an injection is written {FORM}"
        ) from None


def _split_mode(rest: str, text: str) -> tuple[dict[str, Any], str | None]:
    try:
        return _decode(json.loads(rest)), None
    except json.JSONDecodeError as whole:
        head, sep, tail = rest.rpartition(":")
        if not sep or not _MODE_WORD.fullmatch(tail):
            raise _bad_json(whole, text) from None
        try:
            spec = _decode(json.loads(head))
        except json.JSONDecodeError as exc:
            raise _bad_json(exc, text) from None
    return spec, tail.strip()  # InjectionSpec checks that it is a mode


def _bad_json(exc: json.JSONDecodeError, text: str) -> InjectionError:
    return InjectionError(
        f"the spec in {_excerpt(text)} is not valid JSON ({exc.msg}); "
        f"an injection is written {FORM}"
    )


def _excerpt(text: str, limit: int = 60) -> str:
    """The text as quoted in a message, cut short (a raw vector spec runs to pages)."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _decode(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InjectionError(
            'an injection spec is a JSON object like {"token": " cat"}, '
            f"not {_excerpt(json.dumps(value))}"
        )
    return value


def _validate_spec(spec: dict[str, Any]) -> None:
    if not isinstance(spec, dict):
        raise InjectionError(f"an injection spec is a JSON object, not {spec!r}")
    if "direction" not in spec:
        parse_noken(spec)  # raises NokenSpecError with the noken's own message
        return
    unknown = sorted(set(spec) - set(_DIRECTION_KEYS))
    if unknown:
        raise NokenSpecError(
            f"unknown key {unknown[0]!r} in a 'direction' spec; allowed: direction, scale"
        )
    ends = spec["direction"]
    if not isinstance(ends, list) or len(ends) != 2:
        raise NokenSpecError('\'direction\' takes a list of two tokens, e.g. [" love", " hate"]')
    for end in ends:
        _direction_ref(end)
    _scale(spec)


def _direction_ref(value: Any) -> str | int:
    """A token's text, '#id' or an id, as noken specs take them."""
    if isinstance(value, str) and value.startswith("#") and value[1:].isdigit():
        return int(value[1:])
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise NokenSpecError(f"a 'direction' end must be a token's text (or '#id'), not {value!r}")


def _scale(spec: dict[str, Any]) -> float:
    scale = spec.get("scale", 1)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise NokenSpecError(f"'scale' must be a finite number, not {scale!r}")
    return float(scale)


@dataclass(frozen=True)
class Injection:
    """An injection resolved for one model and prompt: absolute position, residual units."""

    layer: int
    position: int
    vector: torch.Tensor  # [d_model] float32 on the model's device
    mode: str


def resolve_injections(
    loaded: LoadedModel, prepared: PreparedInput, specs: Sequence[InjectionSpec]
) -> list[Injection]:
    """Check each spec against the model and prompt and compute its vector."""
    return [_resolve(loaded, prepared.length, spec) for spec in specs]


def _resolve(loaded: LoadedModel, length: int, spec: InjectionSpec) -> Injection:
    check_layer(loaded, spec.layer)
    position = check_position(spec.position, length)
    try:
        vector = (
            direction_vector(loaded, spec.layer, spec.spec)
            if spec.is_direction
            else noken_vector(loaded, spec.spec)
        )
    except NokenSpecError as exc:
        where = f"layer {spec.layer}, position {spec.position}"
        raise NokenSpecError(f"injection at {where}: {exc}") from exc
    return Injection(spec.layer, position, vector, spec.mode)


def check_layer(loaded: LoadedModel, layer: int) -> None:
    if not 0 <= layer <= loaded.n_layers:
        raise InjectionError(
            f"layer {layer} is out of range: this model has layers 0..{loaded.n_layers} "
            "(0 = the input embeddings)"
        )


def noken_vector(loaded: LoadedModel, spec: dict[str, Any]) -> torch.Tensor:
    """A noken spec's vector in residual units: W_E units times the model's input scale."""
    adapter = loaded.adapter
    vector = build_noken(parse_noken(spec), adapter.W_E, loaded.tokenizer)
    return adapter.residual_units(vector)


@torch.no_grad()
def direction_vector(loaded: LoadedModel, layer: int, spec: dict[str, Any]) -> torch.Tensor:
    """scale * (h_layer(A) - h_layer(B)), each token run alone after the special prefix, so the
    difference is in the units of the residual stream at that layer."""
    prefix = special_prefix(loaded.tokenizer)
    states = []
    for end in spec["direction"]:
        try:
            token = resolve_token(loaded.tokenizer, _direction_ref(end), loaded.vocab_size)
        except NokenvizError as exc:
            raise NokenSpecError(f"'direction' takes single tokens: {exc}") from exc
        stream = residual_stream(loaded, prepare_token_ids(loaded, [*prefix, token]))
        states.append(stream.raw[layer, -1])
    difference = (states[0] - states[1]) * _scale(spec)
    return difference.to(loaded.adapter.W_E.device)


def check_vector(loaded: LoadedModel, vector: torch.Tensor) -> None:
    if vector.shape != (loaded.d_model,):
        raise InjectionError(
            f"a vector to inject needs {loaded.d_model} numbers for this model "
            f"(its d_model), not shape {tuple(vector.shape)}"
        )


@contextmanager
def injected(
    loaded: LoadedModel,
    prepared: PreparedInput,
    injections: Sequence[Injection],
    cached: int = 0,
) -> Iterator[PreparedInput]:
    """The prompt with the injections in place, for one forward sequence inside the block.

    Yields a copy of `prepared` whose embeddings carry the layer-0 injections; injections at
    deeper layers are forward hooks, active inside the block only (removed on any exit). One
    sequence per block: a prefill and the decode steps that extend it, as `generate` runs.
    `cached` is how many leading positions are already in a KV cache the model will be given,
    so the first pass the hooks see starts there (injections must sit at or after it).
    """
    for injection in injections:
        check_vector(loaded, injection.vector)
    embeds = prepared.embeds.clone()
    for injection in injections:
        if injection.layer == 0:
            _apply(embeds[0], injection.position, injection)
    # Prepended, so hooks that record hidden states (transformers' `output_hidden_states`) see
    # the injected stream whatever order the hooks were installed in.
    handles = [
        loaded.adapter.layers[layer - 1].register_forward_hook(
            _PositionHook(group, cached), prepend=True
        )
        for layer, group in _by_layer(injections).items()
    ]
    try:
        yield replace(prepared, embeds=embeds)
    finally:
        for handle in handles:
            handle.remove()


def _by_layer(injections: Sequence[Injection]) -> dict[int, list[Injection]]:
    groups: dict[int, list[Injection]] = {}
    for injection in injections:
        if injection.layer > 0:
            groups.setdefault(injection.layer, []).append(injection)
    return groups


def _apply(rows: torch.Tensor, row: int, injection: Injection) -> None:
    """Edit one row of a [T, d] hidden state in place, computing in float32."""
    vector = injection.vector.to(rows.device)
    base = rows[row].float() if injection.mode == "add" else 0.0
    rows[row] = (base + vector).to(rows.dtype)


class _PositionHook:
    """Forward hook of one decoder block: counts the positions that passed through it and
    edits the output rows of the pass covering each injected absolute position."""

    def __init__(self, injections: list[Injection], cached: int) -> None:
        self.injections = injections
        self.seen = cached

    def __call__(self, _module: torch.nn.Module, _args: Any, output: Any) -> Any:
        hidden = output[0] if isinstance(output, tuple) else output
        start, self.seen = self.seen, self.seen + hidden.shape[-2]
        inside = [i for i in self.injections if start <= i.position < self.seen]
        if not inside:
            return None
        hidden = hidden.clone()
        for injection in inside:
            for rows in hidden:  # every sequence of the batch
                _apply(rows, injection.position - start, injection)
        return (hidden, *output[1:]) if isinstance(output, tuple) else hidden
