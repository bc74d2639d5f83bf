"""The one wiring from a typed request to the core: every caller (the command line, the app's
jobs, `render`, users' scripts through `nokenviz.Model`) runs an operation through here, or
through `vocabulary_operations.py` for the vocabulary as a whole (map, token query, compare).

Each function takes the loaded model and a request and returns a typed result; long ones take
a `Task` for progress and cancel, generations a `threading.Event` and a streaming callback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from nokenviz.api.requests import (
    GenerateRequest,
    InvertRequest,
    LengthRequest,
    LensRequest,
    NeighborsRequest,
    ReadoutRequest,
    SweepRequest,
)
from nokenviz.api.results import (
    Attention,
    GenerationResult,
    InversionResult,
    Length,
    Lens,
    LensLayer,
    ModelInfo,
    Neighbors,
    Noken,
    PromptToken,
    Readouts,
    Substitution,
    Sweep,
    TokenProb,
    TokenScore,
)
from nokenviz.core.generation.experiment import Experiment, baseline_input, run_generation
from nokenviz.core.generation.generate import OnToken, soft_feedback
from nokenviz.core.generation.generate import generate as generate_tokens
from nokenviz.core.generation.injection import check_layer
from nokenviz.core.generation.patchscope import (
    DEFAULT_TARGET,
    read_noken,
    read_trajectory,
    read_vector,
)
from nokenviz.core.generation.sweeps import OnRow, lerp_sweep, seed_sweep
from nokenviz.core.maps.geometry import Neighbour, neighbours, norm_stats
from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.models.tokens import parse_token_query, resolve_token
from nokenviz.core.nokens.inversion import invert_noken
from nokenviz.core.nokens.prompts import PreparedInput, prepare_prompt
from nokenviz.core.nokens.specs import NokenSpec, build_noken
from nokenviz.core.residual.lens import (
    guiding_tokens,
    lens_heatmap,
    logit_lens,
    residual_stream,
)
from nokenviz.core.residual.vector_length import DEFAULT_FACTORS, scale_final, scale_noken
from nokenviz.core.task import Task
from nokenviz.errors import NokenvizError


def info(loaded: LoadedModel, with_norms: bool = False) -> ModelInfo:
    """What the model is; `with_norms` adds its token norms (one pass over W_E)."""
    norms = dict(vars(norm_stats(loaded.adapter.W_E))) if with_norms else None
    return ModelInfo(**loaded.info(), embedding_norms=norms)


def neighbors(loaded: LoadedModel, request: NeighborsRequest) -> Neighbors:
    query = request.token if isinstance(request.token, str) else f"#{request.token}"
    token_id = parse_token_query(loaded.tokenizer, query, loaded.vocab_size)
    matrix = loaded.adapter.matrix(request.matrix)
    found = neighbours(
        matrix, matrix[token_id], k=request.k, metric=request.metric, exclude=(token_id,)
    )
    names = loaded.token_strings

    def scores(items: list[Neighbour]) -> list[TokenScore]:
        return [TokenScore(names[n.id], n.id, n.score) for n in items]

    return Neighbors(
        model=loaded.resolved.spec,
        query=names[token_id],
        id=token_id,
        matrix=request.matrix,
        metric=request.metric,
        top=scores(found.top),
        bottom=scores(found.bottom),
    )


def lens(loaded: LoadedModel, request: LensRequest) -> Lens:
    prepared = prepare_prompt(loaded, request.prompt, request.nokens)
    stream = residual_stream(loaded, prepared)
    position = _position(stream.position_index, request.position)
    names, shown = loaded.token_strings, loaded.token_labels
    layers = [
        LensLayer(e.layer, e.norm, e.final_rank, [TokenProb(names[i], i, p) for i, p in e.top])
        for e in logit_lens(loaded, stream, position, k=request.top)
    ]
    heat_ids, heat_probs = lens_heatmap(loaded, stream)
    return Lens(
        model=loaded.resolved.spec,
        prompt=request.prompt,
        position=position,
        tokens=prompt_tokens(loaded, prepared),
        layers=layers,
        heat_ids=heat_ids,
        heat_probs=heat_probs,
        heat_labels=[[shown[i] for i in row] for row in heat_ids],
        norms=stream.norms(),
    )


def attention(loaded: LoadedModel, request: LensRequest) -> Attention:
    """The prompt's attention weights and the tokens that guide `request.position`."""
    prepared = prepare_prompt(loaded, request.prompt, request.nokens)
    stream = residual_stream(loaded, prepared, with_attention=True)
    position = _position(stream.position_index, request.position)
    assert stream.attention is not None  # asked for above
    return Attention(
        model=loaded.resolved.spec,
        prompt=request.prompt,
        position=position,
        tokens=prompt_tokens(loaded, prepared),
        weights=stream.attention,
        guiding=guiding_tokens(stream.attention, position),
    )


def noken(loaded: LoadedModel, spec: NokenSpec) -> Noken:
    vector = build_noken(spec, loaded.adapter.W_E, loaded.tokenizer)
    return Noken(spec.to_json(), vector.float().cpu().numpy())


def generate(
    loaded: LoadedModel,
    request: GenerateRequest,
    on_token: OnToken | None = None,
    cancel: threading.Event | None = None,
) -> GenerationResult:
    """A generation and its baseline; `on_token(id, text)` sees each new token as it comes."""
    if request.soft:
        return _soft(loaded, request, on_token, cancel)
    run = run_generation(
        loaded,
        request.prompt,
        request.nokens,
        request.decoding,
        request.experiment,
        request.compare,
        on_token=on_token,
        cancel=cancel,
    )
    result, names = run.result, loaded.token_strings
    return GenerationResult(
        model=loaded.resolved.spec,
        request=request.to_json(),
        tokens=prompt_tokens(loaded, run.prepared),
        text=result.text,
        token_ids=result.token_ids,
        tokens_per_second=result.tokens_per_second,
        stopped=run.stopped,
        baseline_text=None if run.baseline is None else run.baseline.text,
        baseline_note=run.baseline_note,
        notes=run.notes,
        noken_tokens=noken_tokens(loaded, request.nokens),
        substituted=[Substitution(i, names[result.token_ids[i]], r) for i, r in result.substituted],
        marks=run.marks(loaded.tokenizer),
    )


def _soft(
    loaded: LoadedModel,
    request: GenerateRequest,
    on_token: OnToken | None,
    cancel: threading.Event | None,
) -> GenerationResult:
    """Soft feedback, and with `compare` the plain-token baseline."""
    settings = request.decoding
    prepared = prepare_prompt(loaded, request.prompt, request.nokens)
    started = time.perf_counter()
    run = soft_feedback(
        loaded, prepared, settings.max_new_tokens, settings.temperature, cancel, on_token
    )
    seconds = time.perf_counter() - started
    plain, note = baseline_input(
        loaded, request.prompt, request.nokens, prepared, Experiment(), request.compare
    )
    baseline = None
    if plain is not None and not run.cancelled:
        baseline = generate_tokens(loaded, plain, settings, cancel=cancel)
    return GenerationResult(
        model=loaded.resolved.spec,
        request=request.to_json(),
        tokens=prompt_tokens(loaded, prepared),
        text=run.shadow_text,
        token_ids=run.shadow_ids,
        tokens_per_second=len(run.shadow_ids) / seconds if seconds > 0 else 0.0,
        stopped=run.cancelled,
        baseline_text=None if baseline is None else baseline.text,
        baseline_note=note,
        noken_tokens=noken_tokens(loaded, request.nokens),
        soft=True,
        top_probs=run.top_probs,
        vectors=run.vectors.numpy(),
    )


def sweep(
    loaded: LoadedModel,
    request: SweepRequest,
    on_row: OnRow | None = None,
    cancel: threading.Event | None = None,
) -> Sweep:
    """A LERP/SLERP sweep between two prompts, or a random noken per seed; rows stream."""
    if request.kind == "seeds":
        rows = seed_sweep(
            loaded,
            request.prompt_a,
            request.slot,
            list(request.seeds),
            request.nokens,
            request.match_norm,
            request.decoding,
            on_row,
            cancel,
        )
    else:
        rows = lerp_sweep(
            loaded,
            request.prompt_a,
            request.prompt_b,
            request.steps,
            request.kind == "slerp",
            request.decoding,
            on_row,
            cancel,
        )
    return Sweep(loaded.resolved.spec, request.to_json(), rows)


def length(loaded: LoadedModel, request: LengthRequest) -> Length:
    factors = DEFAULT_FACTORS if request.factors is None else request.factors
    if request.slot:
        found = scale_noken(
            loaded, request.prompt, request.nokens, request.slot, factors, request.top
        )
    else:
        prepared = prepare_prompt(loaded, request.prompt, request.nokens)
        found = scale_final(loaded, prepared, factors, request.position, request.top)
    return Length(loaded.resolved.spec, request.prompt, found)


def readout(loaded: LoadedModel, request: ReadoutRequest, task: Task | None = None) -> Readouts:
    target = request.target or DEFAULT_TARGET
    prepared = prepare_prompt(loaded, request.prompt, request.nokens)
    if request.slot:
        vector = build_noken(request.nokens[request.slot], loaded.adapter.W_E, loaded.tokenizer)
        found = [read_noken(loaded, vector, target, request.max_new_tokens)]
        position = prepared.slot_positions[request.slot][0]
    else:
        stream = residual_stream(loaded, prepared)
        position = _position(stream.position_index, request.position)
        raw = stream.raw[:, position]
        if request.layer is None:
            found = read_trajectory(loaded, raw.numpy(), target, request.max_new_tokens, task)
        else:
            check_layer(loaded, request.layer)
            found = [
                read_vector(
                    loaded, raw[request.layer], request.layer, target, request.max_new_tokens
                )
            ]
    token = prompt_tokens(loaded, prepared)[position]
    return Readouts(loaded.resolved.spec, request.prompt, position, token, target, found)


def invert(
    loaded: LoadedModel, request: InvertRequest, task: Task | None = None
) -> InversionResult:
    found = invert_noken(
        loaded,
        request.prompt,
        request.nokens,
        request.slot,
        request.length,
        task,
        candidates=request.candidates,
        time_limit=request.time_limit,
    )
    return InversionResult(loaded.resolved.spec, request.prompt, request.slot, found)


def prompt_tokens(loaded: LoadedModel, prepared: PreparedInput) -> list[PromptToken]:
    """Each input position's raw text, id and label; a transformed position keeps the token it
    was, marked as transformed."""
    names, out = loaded.token_strings, []
    for position, (token_id, label) in enumerate(
        zip(prepared.token_ids, prepared.labels, strict=True)
    ):
        was = prepared.transformed.get(position, token_id)
        text = None if was is None else names[was]
        out.append(PromptToken(text, was, label, position in prepared.transformed))
    return out


def noken_tokens(loaded: LoadedModel, nokens: dict[str, NokenSpec]) -> list[PromptToken]:
    """Every token the nokens' specs name (by text or `#id`), once, in order."""
    ids: list[int] = []
    for spec in nokens.values():
        for ref in spec.tokens:
            token = resolve_token(loaded.tokenizer, ref, loaded.vocab_size)
            if token not in ids:
                ids.append(token)
    return [PromptToken(loaded.token_strings[i], i, loaded.token_labels[i]) for i in ids]


def _position(index_of: Callable[[int], int], position: int) -> int:
    """A position (negative counts from the end) checked against the prompt's length."""
    try:
        return index_of(position)
    except IndexError as exc:
        raise NokenvizError(str(exc)) from exc


__all__ = [
    "attention",
    "generate",
    "info",
    "invert",
    "length",
    "lens",
    "neighbors",
    "noken",
    "readout",
    "sweep",
]
