"""The work the app asks of its workers, as plain functions `job(state, task) -> result`.

Each factory captures its arguments and imports the core lazily, so the window paints before
torch is imported (P4). Model jobs run on the model worker, whose `state["model"]` they share;
results are dataclasses.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from nokenviz.core.model_spec import LoadOptions
from nokenviz.core.scene import DecodingPart
from nokenviz.core.task import Task
from nokenviz.errors import NokenvizError
from nokenviz.state.job import JobFn

if TYPE_CHECKING:
    from nokenviz.core.loading import LoadedModel
    from nokenviz.core.preview import Preview
    from nokenviz.core.projections import Projection, ProjectionSpec
    from nokenviz.core.render import SceneData
    from nokenviz.core.scene import Scene


@dataclass(frozen=True)
class GenerateResult:
    model: str
    prompt: str
    nokens: dict[str, Any]
    settings: dict[str, Any]
    text: str
    token_ids: list[int]
    baseline_text: str | None
    stopped: bool

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class SoftResult:
    model: str
    prompt: str
    nokens: list[str]
    shadow_text: str
    vectors: np.ndarray  # [steps, d] the inputs fed back, float32
    top_probs: list[float]
    stopped: bool


@dataclass(frozen=True)
class PreviewResult:
    spec: dict[str, Any]
    vector: np.ndarray  # [d] float32
    preview: Preview


def _model(state: dict[str, Any]) -> LoadedModel:
    if "model" not in state:
        raise NokenvizError("no model is loaded")
    return state["model"]


def load(spec: str, options: LoadOptions, generation: int) -> JobFn:
    """Load a model and make it the worker's only one: everything cached for the previous
    model (the preview's prefix cache, the model itself) is dropped with it."""

    def job(state: dict[str, Any], task: Task) -> Any:
        from nokenviz.core.loading import load_model
        from nokenviz.core.vocabulary import vocabulary

        task.what = f"loading {spec}"
        loaded = load_model(spec, options, task=task)
        snapshot = vocabulary(loaded)
        task.check()  # only now: a failed or cancelled load keeps the previous model
        state.clear()
        state.update(model=loaded, generation=generation)
        gc.collect()
        return snapshot

    return job


def project(matrix: np.ndarray, spec: ProjectionSpec, centre: np.ndarray | None = None) -> JobFn:
    def job(_state: dict[str, Any], task: Task) -> Any:
        from nokenviz.core.projections import fit_projection

        task.what = "the projection"
        return fit_projection(matrix, spec, task, centre)

    return job


def neighbours(
    token: int,
    matrix_name: str,
    vectors: np.ndarray | None = None,
    coords: np.ndarray | None = None,
    norms: np.ndarray | None = None,
    k: int = 12,
) -> JobFn:
    """The token's nearest and farthest tokens; with the drawn `coords` (and the `vectors`
    they were fitted to, and their row `norms`), also how many of its true neighbours are
    nearest on screen."""

    def job(state: dict[str, Any], _task: Task) -> Any:
        from nokenviz.core.faithfulness import token_recall
        from nokenviz.core.geometry import neighbours as find

        adapter = _model(state).adapter
        matrix = adapter.W_U if matrix_name == "W_U" else adapter.W_E
        found = find(matrix, matrix[token], k=k, exclude=(token,))
        if vectors is None or coords is None:
            return found
        return replace(found, recall=token_recall(vectors, coords, token, norms=norms))

    return job


def faithfulness(vectors: np.ndarray, fitted: Projection) -> JobFn:
    """The projection's kNN recall on a sample, measured once it is drawn (a second or two)."""

    def job(_state: dict[str, Any], task: Task) -> Any:
        from nokenviz.core.faithfulness import score_projection

        task.what = "measuring how well the map keeps neighbours"
        return fitted, score_projection(vectors, fitted.coords, task)

    return job


def recall(vectors: np.ndarray, fitted: Projection) -> JobFn:
    """kNN recall of every token in a projection (for colouring the points by it)."""

    def job(_state: dict[str, Any], task: Task) -> Any:
        from nokenviz.core.faithfulness import knn_recall

        task.what = "the kNN recall"
        ids = np.arange(len(fitted.coords))
        return fitted, knn_recall(vectors, fitted.coords, ids, task=task)

    return job


def trace(prompt: str, position: int) -> JobFn:
    def job(state: dict[str, Any], _task: Task) -> Any:
        from nokenviz.core.lens import trace_prompt
        from nokenviz.core.prompts import prepare_prompt

        loaded = _model(state)
        prepared = prepare_prompt(loaded, prompt)
        try:
            return trace_prompt(loaded, prepared, position)
        except IndexError as exc:
            raise NokenvizError(str(exc)) from exc

    return job


def generate(
    prompt: str, noken_lines: tuple[str, ...], decoding: DecodingPart, compare: bool
) -> JobFn:
    """Generate from a prompt with nokens, streaming each token's text as a partial result."""

    def job(state: dict[str, Any], task: Task) -> GenerateResult:
        from nokenviz.core.generation import DecodingSettings, generate_baseline
        from nokenviz.core.generation import generate as run
        from nokenviz.core.nokens import parse_assignments
        from nokenviz.core.prompts import prepare_prompt

        loaded = _model(state)
        settings = DecodingSettings(**decoding.model_dump())
        nokens = parse_assignments(list(noken_lines))
        prepared = prepare_prompt(loaded, prompt, nokens)
        result = run(
            loaded,
            prepared,
            settings,
            on_token=lambda _id, text: task.partial(text),
            cancel=task.cancel_event,
        )
        baseline = None
        if compare and not result.cancelled:
            baseline = generate_baseline(loaded, prompt, nokens, settings, task.cancel_event)
        return GenerateResult(
            model=loaded.resolved.spec,
            prompt=prompt,
            nokens={name: spec.to_json() for name, spec in nokens.items()},
            settings=settings.to_json(),
            text=result.text,
            token_ids=result.token_ids,
            baseline_text=None if baseline is None else baseline.text,
            stopped=result.cancelled,
        )

    return job


def soft(prompt: str, noken_lines: tuple[str, ...], steps: int, temperature: float) -> JobFn:
    """Soft feedback (N6): the argmax shadow and the probability-weighted inputs fed back."""

    def job(state: dict[str, Any], task: Task) -> SoftResult:
        from nokenviz.core.generation import soft_feedback
        from nokenviz.core.nokens import parse_assignments
        from nokenviz.core.prompts import prepare_prompt

        loaded = _model(state)
        prepared = prepare_prompt(loaded, prompt, parse_assignments(list(noken_lines)))
        run = soft_feedback(
            loaded,
            prepared,
            steps,
            temperature,
            task.cancel_event,
            on_step=lambda _id, text: task.partial(text),
        )
        return SoftResult(
            model=loaded.resolved.spec,
            prompt=prompt,
            nokens=list(noken_lines),
            shadow_text=run.shadow_text,
            vectors=run.vectors.numpy(),
            top_probs=run.top_probs,
            stopped=run.cancelled,
        )

    return job


def preview(prompt: str, spec: dict[str, Any]) -> JobFn:
    """The noken's vector and its live preview in `prompt`'s {x} slot (prefix cache kept)."""

    def job(state: dict[str, Any], _task: Task) -> PreviewResult:
        from nokenviz.core.nokens import build_noken, parse_noken
        from nokenviz.core.preview import NokenPreview, span_of

        loaded = _model(state)
        cached = state.get("preview")
        if cached is None or cached.prompt != prompt:
            state["preview"] = NokenPreview(loaded, prompt, "x")  # runs the new prefix once
        parsed = parse_noken(spec)
        vector = build_noken(parsed, loaded.adapter.W_E, loaded.tokenizer)
        shown = state["preview"](vector, span=span_of(parsed, loaded))
        return PreviewResult(spec, vector.float().cpu().numpy(), shown)

    return job


def sweep(
    kind: str, prompts: tuple[str, str], steps: int, seeds: str, max_new_tokens: int
) -> JobFn:
    """A LERP/SLERP sweep between two prompts or a random-noken sweep over seeds (slot {x});
    rows stream as partial results."""

    def job(state: dict[str, Any], task: Task) -> list[Any]:
        from nokenviz.core.generation import DecodingSettings
        from nokenviz.core.sweeps import lerp_sweep, parse_seed_range, seed_sweep

        loaded = _model(state)
        settings = DecodingSettings(max_new_tokens=max_new_tokens)
        if kind == "seeds":
            return seed_sweep(
                loaded,
                prompts[0],
                "x",
                parse_seed_range(seeds),
                settings=settings,
                on_row=task.partial,
                cancel=task.cancel_event,
            )
        return lerp_sweep(
            loaded,
            prompts[0],
            prompts[1],
            steps,
            kind == "slerp",
            settings,
            on_row=task.partial,
            cancel=task.cancel_event,
        )

    return job


def export(scene: Scene, data: SceneData, path: str, size: str, dpi: float | None) -> JobFn:
    """Draw a scene's figure from what the app already computed (projection worker)."""

    def job(_state: dict[str, Any], task: Task) -> str:
        from nokenviz.core.figures import SIZES, png_dpi, save_figure
        from nokenviz.core.render import scene_figure

        task.what = f"exporting {scene.figure}"
        preset = SIZES[size]
        figure = scene_figure(scene, data, preset)
        return str(save_figure(figure, path, png_dpi(preset, dpi=dpi)))

    return job
