"""`nokenviz.load(...)` and the `Model` it returns: the Python API over the operations.

A `Model` is a loaded model with one method per operation. Arguments are the plain values a
script has (texts, spec dicts or JSON strings, numbers); each method builds the typed request
and runs it through `nokenviz.api.operations`, exactly as the command line and the app do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from nokenviz.api import jobs, operations, vocabulary_operations
from nokenviz.api.jobs import Job, T
from nokenviz.api.requests import (
    CompareRequest,
    GenerateRequest,
    InvertRequest,
    LengthRequest,
    LensRequest,
    MapRequest,
    Matrix,
    Metric,
    NeighborsRequest,
    ReadoutRequest,
    SweepKind,
    SweepRequest,
)
from nokenviz.api.results import (
    Attention,
    GenerationResult,
    InversionResult,
    Length,
    Lens,
    ModelInfo,
    Neighbors,
    Noken,
    Readouts,
    Rendered,
    SizeName,
    Sweep,
)
from nokenviz.api.vocabulary_results import (
    Map,
    ModelComparison,
    TokenMatches,
)
from nokenviz.core.generation.experiment import parse_experiment
from nokenviz.core.generation.settings import DecodingSettings
from nokenviz.core.generation.sweeps import OnRow, parse_seed_range
from nokenviz.core.maps.map_kinds import MapKind
from nokenviz.core.models.model_spec import LoadOptions
from nokenviz.core.nokens.specs import NokenSpec, parse_noken
from nokenviz.core.task import ProgressFn as Progress
from nokenviz.core.task import Task
from nokenviz.errors import NokenvizError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from nokenviz.core.models.loading import LoadedModel
    from nokenviz.core.scenes.scene import Scene

SpecLike = NokenSpec | Mapping[str, object] | str
OnToken = Callable[[int, str], None]


def load(
    model: str = "default",
    *,
    device: str = "auto",
    dtype: str = "auto",
    device_map: Literal["auto"] | None = None,
    max_memory: Mapping[str, int] | None = None,
    offload_folder: str | None = None,
    trust_remote_code: bool = False,
    progress: Progress | None = None,
) -> Model:
    """Load a causal LM: `"default"` (the bundled SmolLM2-135M-Instruct), a folder, a `.gguf`
    file or a hub id from the local cache. `progress(fraction, message)` follows the load."""
    from nokenviz.core.models.loading import load_model

    options = LoadOptions(
        device=device,
        dtype=dtype,
        device_map=device_map,
        max_memory=None if max_memory is None else dict(max_memory),
        offload_folder=offload_folder,
        trust_remote_code=trust_remote_code,
    )
    return Model(load_model(model, options, Task(progress=progress)))


class Model:
    """A loaded model and every operation nokenviz runs on it.

    The model and tokenizer are the transformers objects themselves (`.hf_model`,
    `.tokenizer`): nothing is copied or converted."""

    def __init__(self, loaded: LoadedModel) -> None:
        self._loaded = loaded

    @property
    def loaded(self) -> LoadedModel:
        """The core's handle on the model (for code that reaches past the API)."""
        return self._loaded

    def run(self, job: Job[T], task: Task | None = None) -> T:
        """Run `job(state, task)` where the model is: here, or on the server of a connected
        model, with `state["model"]` the loaded model. Every method is such a job, and a
        script may send its own (a function defined at top level, or a closure)."""
        return job({"model": self.loaded}, task or Task())

    @property
    def token_labels(self) -> list[str]:
        """How each token id is shown (`␣sun`), in id order."""
        return list(self.loaded.token_labels)

    @classmethod
    def from_transformers(
        cls, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase | None, name: str = ""
    ) -> Model:
        """Wrap a transformers model and tokenizer already in memory (just fine-tuned or
        edited, say) without copying them."""
        from nokenviz.core.models.loading import wrap_model

        return cls(wrap_model(model, tokenizer, name))

    def __repr__(self) -> str:
        i = self.info
        return (
            f"<nokenviz.Model {i.name}: {i.arch}, {i.n_layers} layers, d={i.d_model}, {i.device}>"
        )

    @property
    def hf_model(self) -> PreTrainedModel:
        return self.loaded.model

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.loaded.tokenizer

    @property
    def info(self) -> ModelInfo:
        """Architecture, sizes, device and dtype."""
        return self.run(jobs.call(operations.info))

    def describe(self) -> ModelInfo:
        """`info` with the statistics of the token norms (one pass over the embedding)."""
        return self.run(jobs.call(operations.info, True))

    def neighbors(
        self, token: str | int, k: int = 10, metric: Metric = "cosine", matrix: Matrix = "embed"
    ) -> Neighbors:
        """The `k` nearest (`.top`) and farthest (`.bottom`) tokens of a token (its exact text,
        `␣` for a space, `#id` or an id), the token itself left out."""
        return self.run(jobs.call(operations.neighbors, NeighborsRequest(token, k, metric, matrix)))

    def lens(
        self,
        prompt: str,
        position: int = -1,
        top: int = 5,
        nokens: Mapping[str, SpecLike] | None = None,
    ) -> Lens:
        """The logit lens of `position` at every layer; `.figure()` draws the heatmap."""
        request = LensRequest(prompt, position, top, _nokens(nokens))
        return self.run(jobs.call(operations.lens, request))

    def attention(
        self, prompt: str, position: int = -1, nokens: Mapping[str, SpecLike] | None = None
    ) -> Attention:
        """Attention weights of every layer and head (`.weights`), and how much `position`
        attends to each token (`.guiding`); `.figure(layer, head)` draws one layer."""
        request = LensRequest(prompt, position, nokens=_nokens(nokens))
        return self.run(jobs.call(operations.attention, request))

    def noken(self, spec: SpecLike) -> Noken:
        """A noken's vector from its spec, e.g. `{"mix": {" cat": 0.5, " dog": 0.5}}`."""
        return self.run(jobs.call(operations.noken, _spec(spec)))

    def generate(
        self,
        prompt: str,
        nokens: Mapping[str, SpecLike] | None = None,
        *,
        compare: bool = False,
        transform: str | Mapping[str, object] | None = None,
        rules: Sequence[str] = (),
        inject: Sequence[str] = (),
        soft: bool = False,
        on_token: OnToken | None = None,
        cancel: threading.Event | None = None,
        decoding: DecodingSettings | None = None,
        **decoding_options: object,
    ) -> GenerationResult:
        """Generate from a prompt with `{name}` slots filled by `nokens`.

        `compare` also runs the baseline (each noken replaced by the token it names);
        `transform`, `rules` (`TOKEN=SPEC`) and `inject` (`LAYER:POS:SPEC[:add|replace]`) change
        the run, whose baseline is then the same prompt without them; `soft` feeds back the
        probability-weighted embedding each step. Decoding options (`max_new_tokens`,
        `temperature`, `top_k`, `top_p`, `seed`, `repetition_penalty`, `ban`, ...) are keyword
        arguments or one `decoding=DecodingSettings(...)`. `on_token(id, text)` streams; setting
        `cancel` stops within one token."""
        request = GenerateRequest(
            prompt=prompt,
            nokens=_nokens(nokens),
            decoding=_decoding(decoding, decoding_options),
            experiment=parse_experiment(_text(transform), tuple(rules), tuple(inject)),
            compare=compare,
            soft=soft,
        )
        task = Task(cancel_event=cancel or threading.Event(), what="the generation")
        task.on_partial = jobs.streamed(on_token, spread=True)
        return self.run(jobs.generate(request), task)

    def sweep(
        self,
        kind: SweepKind,
        prompt: str,
        prompt_b: str = "",
        *,
        steps: int = 11,
        slot: str = "x",
        seeds: str | Sequence[int] = "0-9",
        match_norm: bool = False,
        nokens: Mapping[str, SpecLike] | None = None,
        on_row: OnRow | None = None,
        cancel: threading.Event | None = None,
        decoding: DecodingSettings | None = None,
        **decoding_options: object,
    ) -> Sweep:
        """One generation per t from `prompt` to `prompt_b` (`"lerp"`, `"slerp"`), or per seed
        of a random noken in `slot` (`"seeds"`; `seeds` as `"0-9"`, `"1,4,7"` or a list)."""
        request = SweepRequest(
            kind=kind,
            prompt_a=prompt,
            prompt_b=prompt_b,
            steps=steps,
            slot=slot,
            seeds=tuple(parse_seed_range(seeds) if isinstance(seeds, str) else seeds),
            match_norm=match_norm,
            nokens=_nokens(nokens),
            decoding=_decoding(decoding, decoding_options),
        )
        task = Task(cancel_event=cancel or threading.Event(), what="the sweep")
        task.on_partial = jobs.streamed(on_row)
        return self.run(jobs.sweep(request), task)

    def length(
        self,
        prompt: str,
        position: int = -1,
        *,
        slot: str | None = None,
        factors: Sequence[float] | None = None,
        top: int = 5,
        nokens: Mapping[str, SpecLike] | None = None,
    ) -> Length:
        """Next-token entropy and top-k mass as one vector is scaled: the final residual at
        `position`, or `slot`'s noken."""
        request = LengthRequest(
            prompt,
            position,
            slot,
            None if factors is None else tuple(factors),
            top,
            _nokens(nokens),
        )
        return self.run(jobs.call(operations.length, request))

    def readout(
        self,
        prompt: str,
        position: int = -1,
        *,
        layer: int | None = None,
        slot: str | None = None,
        target: str | None = None,
        max_new_tokens: int = 6,
        nokens: Mapping[str, SpecLike] | None = None,
    ) -> Readouts:
        """Patchscopes: what the model reads `position`'s hidden state as, at every layer (or
        `layer`), or `slot`'s noken, in an identity prompt whose `?` takes the vector."""
        request = ReadoutRequest(
            prompt, position, layer, slot, target, max_new_tokens, _nokens(nokens)
        )
        return self.run(jobs.call(operations.readout, request))

    def invert(
        self,
        prompt: str,
        nokens: Mapping[str, SpecLike],
        slot: str = "x",
        length: int = 2,
        *,
        candidates: int = 64,
        time_limit: float = 60.0,
        progress: Progress | None = None,
    ) -> InversionResult:
        """The 1-3 hard tokens for `slot` whose prompt predicts most like its noken (KL)."""
        request = InvertRequest(prompt, _nokens(nokens), slot, length, candidates, time_limit)
        return self.run(jobs.call_with_task(operations.invert, request), Task(progress=progress))

    def tokens(self, query: str) -> TokenMatches:
        """The tokens `query` selects, e.g. `"script:Cyrillic and not kind:number"`,
        `"kind:word_start and len>8"`, `"/^ [A-Z]/"` (and, or, not, parentheses; fields
        kind, case, script, len, norm, id)."""
        return self.run(jobs.call(vocabulary_operations.tokens, query))

    def project(
        self,
        kind: MapKind = "pca",
        *,
        centred: bool = True,
        matrix: Literal["W_E", "W_U"] = "W_E",
        exact: bool = False,
        progress: Progress | None = None,
    ) -> Map:
        """Every token's place on the app's map (`.coords`, [vocab, 2]) and its kNN recall@10."""
        request = MapRequest(kind, centred, matrix, exact)
        job = jobs.call_with_task(vocabulary_operations.project, request)
        return self.run(job, Task(progress=progress))

    def compare(
        self,
        other: str | Path,
        *,
        top: int = 50,
        matrix: Literal["W_E", "W_U"] = "W_E",
        progress: Progress | None = None,
    ) -> ModelComparison:
        """What changed from this model to `other` (a checkpoint folder or .gguf file sharing
        its tokenizer): per token the aligned cosine, neighbour overlap and norm ratio
        (`.comparison`), and the `top` that changed most (`.moved`)."""
        request = CompareRequest(str(other), top, matrix)
        job = jobs.call_with_task(vocabulary_operations.compare, request)
        return self.run(job, Task(progress=progress))

    def render(
        self,
        scene: str | Path | Scene,
        out: str | Path,
        size: SizeName = "screen",
        *,
        scale: float = 1.0,
        dpi: float | None = None,
        progress: Progress | None = None,
        titles: bool = True,
    ) -> Rendered:
        """Draw a scene's figure (a scene file or a `Scene`) to a PNG, SVG or PDF file;
        `titles=False` leaves every title off and returns them as `caption`."""
        from nokenviz.api.render import render

        task = Task(progress=progress)
        return render(self, scene, out, size, scale, dpi, task, titles)


def _spec(spec: SpecLike) -> NokenSpec:
    if isinstance(spec, NokenSpec):
        return spec
    return parse_noken(spec if isinstance(spec, str) else dict(spec))


def _nokens(nokens: Mapping[str, SpecLike] | None) -> dict[str, NokenSpec]:
    return {name: _spec(spec) for name, spec in (nokens or {}).items()}


def _text(spec: str | Mapping[str, object] | None) -> str | None:
    """A spec as its JSON text (the form the command line and the panels take)."""
    import json

    return spec if spec is None or isinstance(spec, str) else json.dumps(dict(spec))


def _decoding(given: DecodingSettings | None, options: Mapping[str, object]) -> DecodingSettings:
    if given is not None and options:
        raise TypeError("give decoding settings either as decoding= or as keywords, not both")
    if given is not None:
        return given
    unknown = sorted(set(options) - set(DecodingSettings.model_fields))
    if unknown:
        known = ", ".join(DecodingSettings.model_fields)
        raise TypeError(f"unknown decoding option {unknown[0]!r} (they are: {known})")
    try:
        return DecodingSettings.model_validate(dict(options))
    except ValidationError as exc:  # a value of the wrong type: one line, as for bad values
        error = exc.errors()[0]
        raise NokenvizError(f"{error['loc'][0]}: {error['msg']}") from None
