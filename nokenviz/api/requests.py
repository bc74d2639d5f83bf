"""What can be asked of a model, one typed request per operation.

The command line, the app's jobs, `render` and users' scripts all build these and hand them to
`nokenviz.api.operations`, so a setting has one meaning wherever it is given. Requests are
checked when built (no model needed): a bad spec fails before any weight is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

from nokenviz.core.generation.experiment import Experiment, parse_experiment, soft_conflicts
from nokenviz.core.generation.settings import DecodingSettings
from nokenviz.core.generation.sweeps import parse_seed_range
from nokenviz.core.maps.map_kinds import MAP_KINDS, MapKind
from nokenviz.core.nokens.specs import NokenSpec, parse_assignments
from nokenviz.core.scenes.scene import GeneratePart, SweepPart
from nokenviz.errors import NokenvizError

Matrix = Literal["embed", "unembed"]
Metric = Literal["cosine", "dot"]
SweepKind = Literal["lerp", "slerp", "seeds"]


def _one_of(name: str, value: object, allowed: tuple[str, ...]) -> None:
    """Literal fields checked when built: a typo is an error, never a silent default."""
    if value not in allowed:
        raise NokenvizError(f"{name} is one of {', '.join(allowed)}, not {value!r}")


def _json_nokens(nokens: dict[str, NokenSpec]) -> dict[str, object]:
    return {name: spec.to_json() for name, spec in nokens.items()}


@dataclass(frozen=True)
class _Request:
    """`to_json()`: the request's fields as JSON values (nokens as their specs)."""

    def to_json(self) -> dict[str, object]:
        document: dict[str, object] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "nokens":
                value = _json_nokens(value)
            elif isinstance(value, tuple):
                value = list(value)
            document[item.name] = value
        return document


@dataclass(frozen=True)
class NeighborsRequest(_Request):
    """A token's nearest and farthest tokens. `token` is its exact text (`␣` may stand for a
    space), `#id`, or an id."""

    token: str | int
    k: int = 10
    metric: Metric = "cosine"
    matrix: Matrix = "embed"

    def __post_init__(self) -> None:
        _one_of("metric", self.metric, ("cosine", "dot"))
        _one_of("matrix", self.matrix, ("embed", "unembed"))
        if self.k < 0:
            raise NokenvizError(f"k must be >= 0, not {self.k}")


@dataclass(frozen=True)
class LensRequest(_Request):
    """The logit lens of one position (negative counts from the end) at every layer."""

    prompt: str
    position: int = -1
    top: int = 5
    nokens: dict[str, NokenSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.top < 1:
            raise NokenvizError(f"top must be at least 1, not {self.top}")


@dataclass(frozen=True)
class GenerateRequest(_Request):
    """A generation from a prompt with noken slots, with what the run changes (`experiment`)
    and, with `compare`, its plain-token baseline; `soft` feeds back distributions instead."""

    prompt: str
    nokens: dict[str, NokenSpec] = field(default_factory=dict)
    decoding: DecodingSettings = field(default_factory=DecodingSettings)
    experiment: Experiment = field(default_factory=Experiment)
    compare: bool = False
    soft: bool = False

    def __post_init__(self) -> None:
        if self.soft and (conflict := soft_conflicts(self.decoding, self.experiment)):
            raise NokenvizError(conflict)

    @classmethod
    def from_part(cls, part: GeneratePart, soft: bool = False) -> GenerateRequest:
        """The Generate panel's settings (as a scene holds them, lines as typed)."""
        return cls(
            prompt=part.prompt,
            nokens=parse_assignments(list(part.nokens)),
            decoding=part.decoding,
            experiment=parse_experiment(part.transform, part.rules, part.injections),
            compare=part.compare,
            soft=soft,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "prompt": self.prompt,
            "nokens": _json_nokens(self.nokens),
            "settings": self.decoding.to_json(),
            **({} if self.experiment.empty else self.experiment.to_json()),
        }


@dataclass(frozen=True)
class SweepRequest(_Request):
    """One generation per t between two prompts (`lerp`, `slerp`), or per seed of a random
    noken in `slot` (`seeds`)."""

    kind: SweepKind
    prompt_a: str
    prompt_b: str = ""
    steps: int = 11
    slot: str = "x"
    seeds: tuple[int, ...] = ()
    match_norm: bool = False
    nokens: dict[str, NokenSpec] = field(default_factory=dict)
    decoding: DecodingSettings = field(default_factory=DecodingSettings)

    def __post_init__(self) -> None:
        _one_of("a sweep's kind", self.kind, ("lerp", "slerp", "seeds"))
        if self.kind == "seeds" and not self.seeds:
            raise NokenvizError("a seed sweep needs seeds, e.g. 0-9")
        if self.kind != "seeds" and self.steps < 2:
            raise NokenvizError(f"a sweep needs at least 2 steps, not {self.steps}")

    @classmethod
    def from_part(cls, part: SweepPart) -> SweepRequest:
        """The Sweeps panel's settings: the random noken goes in slot {x}."""
        seeds = tuple(parse_seed_range(part.seeds)) if part.kind == "seeds" else ()
        return cls(
            kind=part.kind,
            prompt_a=part.prompt_a,
            prompt_b=part.prompt_b,
            steps=part.steps,
            seeds=seeds,
            match_norm=part.match_norm,
            decoding=DecodingSettings(max_new_tokens=part.max_new_tokens),
        )

    def to_json(self) -> dict[str, object]:
        settings = self.decoding.to_json()
        if self.kind == "seeds":
            return {
                "prompt": self.prompt_a,
                "slot": self.slot,
                "seeds": list(self.seeds),
                "match_norm": self.match_norm,
                "nokens": _json_nokens(self.nokens),
                "settings": settings,
            }
        return {
            "prompt_a": self.prompt_a,
            "prompt_b": self.prompt_b,
            "mode": self.kind,
            "steps": self.steps,
            "settings": settings,
        }


@dataclass(frozen=True)
class LengthRequest(_Request):
    """The next-token distribution as one vector is scaled: the final residual of `position`,
    or the noken of `slot`."""

    prompt: str
    position: int = -1
    slot: str | None = None
    factors: tuple[float, ...] | None = None  # None: 0.125 .. 8
    top: int = 5
    nokens: dict[str, NokenSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.slot and self.position != -1:
            raise NokenvizError("a slot's noken is scaled: the position is for the final residual")


@dataclass(frozen=True)
class ReadoutRequest(_Request):
    """Patchscopes: what the model reads a hidden state as (every layer, or one), or a slot's
    noken (at layer 0), in an identity prompt whose `?` takes the vector."""

    prompt: str
    position: int = -1
    layer: int | None = None
    slot: str | None = None
    target: str | None = None  # None: the default identity prompt
    max_new_tokens: int = 6
    nokens: dict[str, NokenSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.slot and (self.layer is not None or self.position != -1):
            raise NokenvizError("a slot's noken is read at layer 0: it takes no layer or position")
        if self.slot and self.slot not in self.nokens:
            raise NokenvizError(f"slot {self.slot}: no noken of that name is defined")


@dataclass(frozen=True)
class InvertRequest(_Request):
    """The hard tokens (1-3) for `slot` whose prompt predicts most like its noken (KL)."""

    prompt: str
    nokens: dict[str, NokenSpec]
    slot: str = "x"
    length: int = 2
    candidates: int = 64
    time_limit: float = 60.0


@dataclass(frozen=True)
class MapRequest(_Request):
    """A projection of the vocabulary's directions (what the app draws), scored by how many of
    each token's 10 nearest tokens stay nearest on the map."""

    kind: MapKind = "pca"
    centred: bool = True
    matrix: Literal["W_E", "W_U"] = "W_E"
    exact: bool = False

    def __post_init__(self) -> None:
        _one_of("a map's kind", self.kind, MAP_KINDS)
        _one_of("matrix", self.matrix, ("W_E", "W_U"))


@dataclass(frozen=True)
class CompareRequest(_Request):
    """What changed from this model to `other` (a checkpoint folder or a .gguf file): per
    shared token, direction after alignment, neighbours and norm; the `top` most changed."""

    other: str
    top: int = 50
    matrix: Literal["W_E", "W_U"] = "W_E"

    def __post_init__(self) -> None:
        _one_of("matrix", self.matrix, ("W_E", "W_U"))
        if not self.other.strip():
            raise NokenvizError("compare needs a second model: a checkpoint folder or a .gguf file")
        if self.top < 1:
            raise NokenvizError(f"--top must be at least 1, not {self.top}")
