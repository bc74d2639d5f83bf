"""Scene files: the app's state as one versioned, validated JSON document.

A scene names the model, the projection, the traced prompt, the selection, the composer's
noken, the Generate and Sweeps panels, the view's ranges and which figure it makes. The GUI
saves and restores it; `nokenviz render` turns it into a figure without a display. Validation
is pydantic's, with every failure reported as one `SceneError` naming the field at fault.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nokenviz.core.files import write_text_atomic
from nokenviz.core.generation.settings import READOUT_TARGET, DecodingSettings
from nokenviz.core.maps.colouring import ColourBy
from nokenviz.core.maps.map_kinds import Kind
from nokenviz.errors import NokenvizError

if TYPE_CHECKING:  # the fitting module imports torch; the GUI's first paint does not wait for it
    from nokenviz.core.maps.projections import ProjectionSpec

VERSION: Literal[1] = 1
VERSION_KEY = "nokenviz_scene"
FIGURES = ("sphere", "lens", "attention", "sweep")
MOVERS_DRAWN = 12  # a comparison's lines go to where this many of the most changed went


class SceneError(NokenvizError):
    """A scene file that cannot be read: malformed, of another version, or invalid."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ProjectionPart(_Part):
    kind: Kind = "pca"
    centred: bool = True
    matrix: Literal["W_E", "W_U"] = "W_E"
    plane_tokens: tuple[int, int] | None = None  # token plane: the two tokens spanning it
    centre: int | Literal["noken"] | None = None  # local view: a token id, or the noken
    colour: ColourBy = "norm"  # what the points' colour shows
    filter: str = ""  # a token query: matching tokens bright, the others dim ("" = none)
    regions: bool = False  # label the map's regions (dominant kind, script, central tokens)
    contours: bool = False  # outline where the tokens (or the filter's matches) are densest
    exact: bool = False  # UMAP, neighbour map: fit every token of a large vocabulary

    def without_tokens(self) -> ProjectionPart:
        """The same projection for another vocabulary: a token plane or a local view (centred
        on a token or a noken of the old model) becomes the PCA sphere, an exact UMAP is asked
        for again (its time depends on the vocabulary), and colouring by the change from
        another model waits for a comparison of this one."""
        kind = "pca" if self.kind in ("plane", "local") else self.kind
        return ProjectionPart(
            kind=kind,
            centred=self.centred,
            matrix=self.matrix,
            colour="norm" if self.colour == "change" else self.colour,  # no comparison yet
            filter=self.filter,
            regions=self.regions,
            contours=self.contours,
        )

    def spec(self, labels: list[str]) -> ProjectionSpec:
        """What to fit; a local view's centre is named by its token label."""
        centre = self.centre if isinstance(self.centre, int) else None
        name = labels[centre] if centre is not None else "the noken" if self.centre else ""
        from nokenviz.core.maps.projections import ProjectionSpec

        return ProjectionSpec(
            kind=self.kind,
            centred=self.centred,
            plane_tokens=self.plane_tokens,
            centre=centre,
            centre_name=name,
            exact=self.exact,
        )

    @field_validator("filter")
    @classmethod
    def _readable_filter(cls, query: str) -> str:
        if query.strip():
            from nokenviz.core.models.token_kinds import check_query

            try:
                check_query(query)
            except NokenvizError as exc:
                raise ValueError(str(exc)) from None
        return query

    @model_validator(mode="after")
    def _kinds_need_tokens(self) -> ProjectionPart:
        if self.kind == "plane" and self.plane_tokens is None:
            raise ValueError("a token plane needs plane_tokens: two token ids")
        if self.kind == "local" and self.centre is None:
            raise ValueError('a local view needs a centre: a token id or "noken"')
        return self


class ViewPart(_Part):
    x: tuple[float, float]
    y: tuple[float, float]

    @model_validator(mode="after")
    def _ordered(self) -> ViewPart:
        if not (self.x[0] < self.x[1] and self.y[0] < self.y[1]):
            raise ValueError("view ranges go from low to high")
        return self


class TracePart(_Part):
    prompt: str = "The sun rises in the"
    position: int = -1
    lens_space: bool = False
    trajectory: bool = True  # draw the traced position's path on the sphere
    attention_layer: int = -1  # negative counts from the last layer
    attention_head: int | None = Field(None, ge=0)  # None: the mean of the heads
    # Patchscopes: the identity prompt a vector is read in, at its last '?'
    readout_target: str = READOUT_TARGET
    # The vector-length plot scales the traced final residual or the composer's noken
    length_of: Literal["final", "noken"] = "final"


class ComposerPart(_Part):
    kind: Literal["blend", "random", "neighbors"] = "blend"
    anchors: tuple[int, ...] = ()
    weights: tuple[float, ...] = ()
    mode: Literal["lerp", "slerp"] = "lerp"
    norm: Literal["mixture", "typical", "custom"] = "mixture"
    custom_norm: float = Field(3.0, gt=0, allow_inf_nan=False)
    seed: int = Field(0, ge=0)
    match_norm: bool = False
    k: int = Field(5, ge=1)
    prompt: str = "{x} whippets are"

    @field_validator("weights")
    @classmethod
    def _weights_match(cls, weights: tuple[float, ...], info: ValidationInfo) -> tuple[float, ...]:
        anchors = info.data.get("anchors", ())
        if len(weights) != len(anchors):
            raise ValueError(f"{len(anchors)} anchors need {len(anchors)} weights")
        if not all(math.isfinite(w) for w in weights):
            raise ValueError("weights must be finite numbers")
        if weights and abs(sum(weights) - 1.0) > 1e-3:
            raise ValueError("weights must sum to 1")
        return weights


class GeneratePart(_Part):
    prompt: str = "{x} whippets are"
    # As typed: a half-written line is kept (and reported when run), never lost on save.
    nokens: tuple[str, ...] = ('x = {"mix": {"White": 0.5, "Black": 0.5}}',)
    decoding: DecodingSettings = DecodingSettings()
    compare: bool = True
    # What the run changes against its baseline (core/generation/experiment.py), as typed too.
    transform: str = ""  # a whole-prompt transform spec, e.g. {"neighbors": 5}
    rules: tuple[str, ...] = ()  # TOKEN=SPEC, #ID=SPEC or @STEP=SPEC
    injections: tuple[str, ...] = ()  # LAYER:POSITION:SPEC[:add|replace]


class SweepPart(_Part):
    kind: Literal["lerp", "slerp", "seeds"] = "lerp"
    prompt_a: str = "White whippets are"
    prompt_b: str = "Black whippets are"
    steps: int = Field(11, ge=2, le=101)
    seeds: str = "0-9"
    match_norm: bool = False  # seeds: each random noken scaled to the typical token norm
    max_new_tokens: int = Field(20, ge=1, le=512)


class ComparePart(_Part):
    """A comparison with another checkpoint, made again when the scene is opened."""

    model: str = Field(min_length=1)  # B: a checkpoint folder or a .gguf file
    movers: bool = True  # lines to where the MOVERS_DRAWN most changed tokens went
    other_map: bool = False  # draw B's map (its tokens placed by this map), not this model's


class Scene(_Part):
    nokenviz_scene: Literal[1] = VERSION
    title: str = ""
    model: str = "default"
    figure: Literal["sphere", "lens", "attention", "sweep", "length", "generate"] = "sphere"
    projection: ProjectionPart = ProjectionPart()
    view: ViewPart | None = None
    selection: tuple[int, ...] = ()
    trace: TracePart = TracePart()
    composer: ComposerPart = ComposerPart()
    generate: GeneratePart = GeneratePart()
    sweep: SweepPart = SweepPart()
    compare: ComparePart | None = None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def parse_scene(text: str) -> Scene:
    """A scene from JSON text; anything wrong is one `SceneError` naming the field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f" at line {exc.lineno}, column {exc.colno}"
        raise SceneError(f"the scene file is not valid JSON{where}") from exc
    except RecursionError as exc:
        raise SceneError("the scene file is not valid JSON") from exc
    if not isinstance(data, dict):
        raise SceneError("a scene file is a JSON object with a 'nokenviz_scene' version")
    version = data.get(VERSION_KEY)
    if version != VERSION:
        found = "no version" if version is None else f"version {version!r}"
        raise SceneError(
            f"field '{VERSION_KEY}': this nokenviz reads scene version {VERSION}, "
            f"the file has {found}"
        )
    try:  # JSON mode: arrays are tuples, strict types otherwise
        return Scene.model_validate_json(text)
    except ValidationError as exc:
        raise SceneError(_describe(exc)) from None
    except SceneError:
        raise
    except NokenvizError as exc:  # the decoding settings' own check
        raise SceneError(f"field 'generate.decoding': {exc}") from None
    except RecursionError:
        raise SceneError("the scene file is nested too deeply to be a scene") from None


def _describe(exc: ValidationError) -> str:
    """The first field at fault and what is wrong with it; the others named after it."""
    errors = exc.errors(include_url=False)
    where = [_field(error["loc"]) for error in errors]
    message = " ".join(errors[0]["msg"].removeprefix("Value error, ").split())
    others = sorted(set(where[1:]) - {where[0]})
    also = f" (also wrong: {', '.join(repr(w) for w in others)})" if others else ""
    return f"field '{where[0]}': {message}{also}"


def _field(location: tuple[int | str, ...]) -> str:
    """A field's path; keys come from the file: any that is not a plain name is quoted, so the
    message stays one line."""
    parts = [p if isinstance(p, int) or p.isidentifier() else json.dumps(p) for p in location]
    return ".".join(str(part) for part in parts) or "(top level)"


def check_token_ids(scene: Scene, vocab_size: int) -> None:
    """Token ids in a scene index one model's vocabulary; say which field does not fit."""
    fields = {
        "selection": scene.selection,
        "projection.plane_tokens": scene.projection.plane_tokens or (),
        "projection.centre": [c for c in [scene.projection.centre] if isinstance(c, int)],
        "composer.anchors": scene.composer.anchors,
    }
    for name, ids in fields.items():
        outside = [i for i in ids if not 0 <= i < vocab_size]
        if outside:
            raise SceneError(
                f"field '{name}': token id {outside[0]} is outside this model's vocabulary "
                f"of {vocab_size:,} tokens (is the scene for another model?)"
            )


def load_scene(path: str | Path) -> Scene:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SceneError(f"could not read the scene {path}: {exc}") from exc
    return parse_scene(text)


def save_scene(scene: Scene, path: str | Path) -> None:
    """Atomically: a failed write leaves any previous file as it was."""
    write_text_atomic(path, scene.to_json())
