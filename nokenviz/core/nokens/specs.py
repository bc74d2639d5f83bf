"""Nokens: input vectors that are not tokens, defined by a JSON spec (docs/nokens.md).

`parse_noken` validates a spec without a model (so the CLI and the scene loader reject bad
input early); `build_noken` turns a valid spec into a vector against one model's W_E.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from nokenviz.core.maps.geometry import neighbours, row_norms
from nokenviz.core.models.tokens import resolve_token
from nokenviz.errors import NokenSpecError, NokenvizError

Kind = Literal["token", "mix", "lerp", "slerp", "random", "neighbors", "vector"]
TokenRef = str | int

_KIND_KEYS: dict[str, tuple[str, ...]] = {
    "token": ("token", "norm"),
    "id": ("id", "norm"),
    "mix": ("mix", "extrapolate", "norm"),
    "lerp": ("lerp", "t", "extrapolate", "norm"),
    "slerp": ("slerp", "t", "extrapolate", "norm"),
    "random": ("random", "norm"),
    "neighbors": ("neighbors", "k", "norm"),
    "vector": ("vector", "norm"),
}


@dataclass(frozen=True)
class NokenSpec:
    """A validated noken definition; weights of a mix are normalised to sum to 1."""

    kind: Kind
    tokens: tuple[TokenRef, ...] = ()
    weights: tuple[float, ...] = ()
    t: float = 0.0
    extrapolate: bool = False  # mix weights may be negative, t outside [0, 1] (asked for)
    seed: int = 0
    match_norm: bool = False
    k: int = 5
    vector: tuple[float, ...] = ()
    norm: float | None = None
    source: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The spec as the user would write it (round-trips through `parse_noken`)."""
        return dict(self.source)

    def baseline_token(self) -> TokenRef | None:
        """The plain token this noken stands in for in a `--compare` baseline, if it names one:
        a mix's heaviest token, a LERP's nearer end; a tie goes to the token named first."""
        if self.kind in ("token", "neighbors"):
            return self.tokens[0]
        if self.kind == "mix":
            return self.tokens[max(range(len(self.weights)), key=self.weights.__getitem__)]
        if self.kind in ("lerp", "slerp"):
            return self.tokens[0] if self.t <= 0.5 else self.tokens[1]
        return None


def parse_noken(spec: str | dict[str, Any]) -> NokenSpec:
    """Validate a noken spec given as JSON text or an already decoded object."""
    data = decode_object(spec, "noken spec", '{"token": " cat"}')
    key = spec_kind(data, _KIND_KEYS, "noken", "a noken spec")
    norm = _positive(data["norm"], "norm") if "norm" in data else None
    base = _PARSERS[key](data)
    return NokenSpec(**{**base, "norm": norm, "source": data})


def parse_assignments(items: list[str]) -> dict[str, NokenSpec]:
    """`NAME=SPEC` items (the CLI's `--noken`, the panel's lines) -> nokens by slot name."""
    nokens: dict[str, NokenSpec] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise NokenSpecError(
                f'a noken is given as NAME=SPEC, e.g. x={{"token": " cat"}}, not {item!r}'
            )
        if name in nokens:
            raise NokenSpecError(f"noken {name!r} is defined twice")
        try:
            nokens[name] = parse_noken(spec)
        except NokenSpecError as exc:
            raise NokenSpecError(f"noken {name!r}: {exc}") from exc
    return nokens


SPELLINGS = {"neighbours": "neighbors"}  # the app's labels are British; the keys take both


def decode_object(spec: str | dict[str, Any], what: str, example: str) -> dict[str, Any]:
    """A spec given as JSON text or an already decoded object, as an object; `what` and an
    `example` of it name it in the message when it is not one."""
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise NokenSpecError(
                f"{what} is not valid JSON: {exc.msg} at column {exc.colno}"
            ) from exc
    if not isinstance(spec, dict):
        raise NokenSpecError(f"a {what} is a JSON object like {example}, not {spec!r}")
    return {
        SPELLINGS.get(key, key) if SPELLINGS.get(key) not in spec else key: value
        for key, value in spec.items()
    }


def spec_kind(
    data: dict[str, Any], kinds: dict[str, tuple[str, ...]], noun: str, what: str = ""
) -> str:
    """The one kind key a spec has (a key of `kinds`), its other keys among those the kind
    allows, or one message naming what is wrong (`what` the spec: "a noken spec")."""
    found = [key for key in data if key in kinds]
    if len(found) != 1:
        raise NokenSpecError(
            f"{what or 'a ' + noun} needs exactly one of {', '.join(repr(k) for k in kinds)}; "
            f"got keys {sorted(data)}"
        )
    kind = found[0]
    unknown = sorted(set(data) - set(kinds[kind]))
    if unknown:
        raise NokenSpecError(
            f"unknown key {unknown[0]!r} in a {kind!r} {noun}; allowed: {', '.join(kinds[kind])}"
        )
    return kind


def _token_ref(value: Any, what: str) -> TokenRef:
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        if isinstance(value, str) and value.startswith("#") and value[1:].isdigit():
            return int(value[1:])
        return value
    raise NokenSpecError(f"{what} must be a token's text (or '#id'), not {value!r}")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise NokenSpecError(f"{what} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise NokenSpecError(f"{what} must be a finite number, not {value}")
    return float(value)


def _positive(value: Any, what: str) -> float:
    number = _number(value, what)
    if number <= 0:
        raise NokenSpecError(f"{what} must be positive, not {number}")
    return number


def _integer(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise NokenSpecError(f"{what} must be an integer >= {minimum}, not {value!r}")
    return value


def _parse_token(data: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "token", "tokens": (_token_ref(data["token"], "'token'"),)}


def _parse_id(data: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "token", "tokens": (_integer(data["id"], "'id'", 0),)}


def _extrapolate(data: dict[str, Any]) -> bool:
    value = data.get("extrapolate", False)
    if not isinstance(value, bool):
        raise NokenSpecError(f"'extrapolate' must be true or false, not {value!r}")
    return value


def _parse_mix(data: dict[str, Any]) -> dict[str, Any]:
    mix = data["mix"]
    if not isinstance(mix, dict) or not mix:
        raise NokenSpecError("'mix' must be a non-empty object of token text -> weight")
    extrapolate = _extrapolate(data)
    weights = [_number(w, f"the weight of {t!r}") for t, w in mix.items()]
    negative = [t for t, w in zip(mix, weights, strict=True) if w < 0]
    if negative and not extrapolate:
        raise NokenSpecError(
            f"mix weights must be >= 0; {negative[0]!r} has {mix[negative[0]]} "
            '(negative weights extrapolate: add "extrapolate": true)'
        )
    total = sum(weights)
    if total <= 0:
        raise NokenSpecError(
            "mix weights are all zero; give at least one token a positive weight"
            if not negative
            else "extrapolated mix weights must sum to a positive number"
        )
    return {
        "kind": "mix",
        "tokens": tuple(_token_ref(t, "a mix key") for t in mix),
        "weights": tuple(w / total for w in weights),
        "extrapolate": extrapolate,
    }


def _parse_interpolation(kind: Kind) -> Any:
    def parse(data: dict[str, Any]) -> dict[str, Any]:
        ends = data[kind]
        if not isinstance(ends, list) or len(ends) != 2:
            raise NokenSpecError(
                f'\'{kind}\' takes a list of two tokens, e.g. [" White", " Black"]'
            )
        if "t" not in data:
            raise NokenSpecError(f"a '{kind}' noken needs 't' between 0 and 1")
        t = _number(data["t"], "'t'")
        extrapolate = _extrapolate(data)
        if not extrapolate and not 0.0 <= t <= 1.0:
            raise NokenSpecError(
                f"'t' must be between 0 and 1, not {t} (to go beyond the ends, add "
                '"extrapolate": true)'
            )
        return {
            "kind": kind,
            "tokens": tuple(_token_ref(e, f"a '{kind}' end") for e in ends),
            "t": t,
            "extrapolate": extrapolate,
        }

    return parse


def _parse_random(data: dict[str, Any]) -> dict[str, Any]:
    options = data["random"]
    if not isinstance(options, dict) or "seed" not in options:
        raise NokenSpecError("'random' takes an object with a seed, e.g. {\"seed\": 3}")
    extra = sorted(set(options) - {"seed", "norm"})
    if extra:
        raise NokenSpecError(f"unknown key {extra[0]!r} in 'random'; allowed: seed, norm")
    if options.get("norm", "match") != "match":
        raise NokenSpecError(
            '\'random\' takes "norm": "match"; for a fixed norm put "norm" outside'
        )
    return {
        "kind": "random",
        "seed": _integer(options["seed"], "the seed", 0),
        "match_norm": "norm" in options,
    }


def _parse_neighbors(data: dict[str, Any]) -> dict[str, Any]:
    k = _integer(data.get("k", 5), "'k'", 1)
    return {"kind": "neighbors", "tokens": (_token_ref(data["neighbors"], "'neighbors'"),), "k": k}


def _parse_vector(data: dict[str, Any]) -> dict[str, Any]:
    values = data["vector"]
    if not isinstance(values, list) or not values:
        raise NokenSpecError("'vector' takes a non-empty list of numbers")
    return {"kind": "vector", "vector": tuple(_number(v, "a vector entry") for v in values)}


_PARSERS = {
    "token": _parse_token,
    "id": _parse_id,
    "mix": _parse_mix,
    "lerp": _parse_interpolation("lerp"),
    "slerp": _parse_interpolation("slerp"),
    "random": _parse_random,
    "neighbors": _parse_neighbors,
    "vector": _parse_vector,
}


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """(1 - t) * a + t * b, row-wise."""
    return (1.0 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Along the great circle from a's direction to b's, norm interpolated linearly (row-wise).

    Where the directions coincide (or are opposite, where the circle is not unique) it falls
    back to LERP of the directions, renormalised.
    """
    a, b = a.float(), b.float()
    norm_a, norm_b = row_norms(a.reshape(-1, a.shape[-1])), row_norms(b.reshape(-1, b.shape[-1]))
    ua = a.reshape(-1, a.shape[-1]) / norm_a.clamp_min(1e-12)[:, None]
    ub = b.reshape(-1, b.shape[-1]) / norm_b.clamp_min(1e-12)[:, None]
    omega = torch.arccos((ua * ub).sum(dim=1).clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    safe = sin > 1e-6
    wa = torch.where(
        safe, torch.sin((1 - t) * omega) / sin.clamp_min(1e-12), torch.full_like(sin, 1 - t)
    )
    wb = torch.where(safe, torch.sin(t * omega) / sin.clamp_min(1e-12), torch.full_like(sin, t))
    direction = torch.nn.functional.normalize(wa[:, None] * ua + wb[:, None] * ub, dim=1)
    result = direction * ((1 - t) * norm_a + t * norm_b).clamp_min(0.0)[:, None]
    return result.reshape(a.shape)


def typical_norm(w_e: torch.Tensor) -> float:
    """The median token norm: what a norm-matched random noken is scaled to."""
    return float(row_norms(w_e).median())


def build_noken(spec: NokenSpec, w_e: torch.Tensor, tokenizer: Any) -> torch.Tensor:
    """The noken's vector (float32, on W_E's device) for one model."""
    w_e = w_e.detach()
    vocab, d_model = w_e.shape
    try:
        ids = [resolve_token(tokenizer, ref, vocab) for ref in spec.tokens]
    except NokenvizError as exc:
        raise NokenSpecError(str(exc)) from exc
    vector = _VECTOR_BUILDERS[spec.kind](spec, w_e, ids)
    if vector.shape != (d_model,):
        raise NokenSpecError(
            f"a raw vector needs {d_model} numbers for this model, not {vector.numel()}"
        )
    return _rescale(vector, spec.norm) if spec.norm is not None else vector


def _rescale(vector: torch.Tensor, norm: float) -> torch.Tensor:
    current = float(torch.linalg.vector_norm(vector))
    if current == 0.0:
        raise NokenSpecError("cannot rescale a zero vector to a norm")
    return vector * (norm / current)


def _mix(spec: NokenSpec, w_e: torch.Tensor, ids: list[int]) -> torch.Tensor:
    weights = torch.tensor(spec.weights, dtype=torch.float32, device=w_e.device)
    return weights @ w_e[ids].float()


def _random(spec: NokenSpec, w_e: torch.Tensor, _ids: list[int]) -> torch.Tensor:
    # A fresh CPU generator gives the numbers of `torch.manual_seed(s); torch.randn(d)`
    # whatever the device, so a seed means the same noken everywhere.
    generator = torch.Generator().manual_seed(spec.seed)
    vector = torch.randn(w_e.shape[1], generator=generator).to(w_e.device)
    return _rescale(vector, typical_norm(w_e)) if spec.match_norm else vector


def _neighbour_mean(spec: NokenSpec, w_e: torch.Tensor, ids: list[int]) -> torch.Tensor:
    found = neighbours(w_e, w_e[ids[0]], k=spec.k, exclude=(ids[0],))
    return w_e[[n.id for n in found.top]].float().mean(dim=0)


_VECTOR_BUILDERS: dict[str, Any] = {
    "token": lambda _s, w, ids: w[ids[0]].float(),
    "mix": _mix,
    "lerp": lambda s, w, ids: lerp(w[ids[0]].float(), w[ids[1]].float(), s.t),
    "slerp": lambda s, w, ids: slerp(w[ids[0]].float(), w[ids[1]].float(), s.t),
    "random": _random,
    "neighbors": _neighbour_mean,
    "vector": lambda s, w, _ids: torch.tensor(s.vector, dtype=torch.float32, device=w.device),
}
