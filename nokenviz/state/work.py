"""The work the app asks of its workers, as plain functions `job(state, task) -> result`.

Each factory captures its arguments and imports the core lazily, so the window paints before
torch is imported (P4). Model jobs run on the model worker, whose `state["model"]` they share;
results are dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from nokenviz.core.model_spec import LoadOptions
from nokenviz.core.scene import GeneratePart
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
    experiment: dict[str, Any] = field(default_factory=dict)  # transform, rules, injections
    substituted: list[tuple[int, str]] = field(default_factory=list)  # (new token index, rule)
    marks: list[tuple[int, int, str]] = field(default_factory=list)  # their (start, end) in text
    baseline_note: str = ""  # what the baseline is
    part: GeneratePart | None = None  # the settings it was made with

    def to_json(self) -> dict[str, Any]:
        """The run for the history's copy; the experiment's fields only when it had one."""
        optional = ("experiment", "substituted", "baseline_note")
        return {
            k: v
            for k, v in vars(self).items()
            if k not in ("marks", "part") and (v or k not in optional)
        }


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
        loaded = load_model(spec, options, task=task.scaled(0.0, 0.85))
        snapshot = vocabulary(loaded, task.scaled(0.85, 1.0))
        task.check()  # only now: a failed or cancelled load keeps the previous model
        state.clear()
        state.update(model=loaded, generation=generation)
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
    """The prompt's residual stream, lens and attention, and how the traced position's
    next-token distribution changes as its final residual is scaled (or why it cannot)."""

    def job(state: dict[str, Any], _task: Task) -> Any:
        from nokenviz.core.lens import trace_prompt
        from nokenviz.core.prompts import prepare_prompt
        from nokenviz.core.vector_length import scale_final

        loaded = _model(state)
        prepared = prepare_prompt(loaded, prompt)
        try:
            traced = trace_prompt(loaded, prepared, position)
        except IndexError as exc:
            raise NokenvizError(str(exc)) from exc
        try:
            return traced, scale_final(loaded, prepared, position=position)
        except NokenvizError as exc:  # said in the length plot, not a dialog
            return traced, str(exc)

    return job


def generate(part: GeneratePart) -> JobFn:
    """Generate from a prompt with nokens (and the run's transform, rules and injections),
    streaming each token's text as a partial result; then the baseline."""

    def job(state: dict[str, Any], task: Task) -> GenerateResult:
        from nokenviz.core.decoding import DecodingSettings
        from nokenviz.core.experiment import parse_experiment, run_generation
        from nokenviz.core.nokens import parse_assignments

        loaded = _model(state)
        settings = DecodingSettings(**part.decoding.model_dump())
        nokens = parse_assignments(list(part.nokens))
        experiment = parse_experiment(part.transform, part.rules, part.injections)
        run = run_generation(
            loaded,
            part.prompt,
            nokens,
            settings,
            experiment,
            part.compare,
            on_token=lambda _id, text: task.partial(text),
            cancel=task.cancel_event,
        )
        return GenerateResult(
            model=loaded.resolved.spec,
            prompt=part.prompt,
            nokens={name: spec.to_json() for name, spec in nokens.items()},
            settings=settings.to_json(),
            text=run.result.text,
            token_ids=run.result.token_ids,
            baseline_text=None if run.baseline is None else run.baseline.text,
            stopped=run.stopped,
            experiment={} if experiment.empty else experiment.to_json(),
            substituted=run.result.substituted,
            marks=run.marks(loaded.tokenizer),
            baseline_note=run.baseline_note,
            part=part,
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


def length_noken(prompt: str, spec: dict[str, Any]) -> JobFn:
    """The same for the composer's noken scaled in its {x} slot."""

    def job(state: dict[str, Any], _task: Task) -> Any:
        from nokenviz.core.nokens import parse_noken
        from nokenviz.core.vector_length import scale_noken

        return (prompt, spec), scale_noken(_model(state), prompt, {"x": parse_noken(spec)}, "x")

    return job


def read_noken(vector: np.ndarray, target: str) -> JobFn:
    """What the model says the composer's noken is (Patchscopes at layer 0)."""

    def job(state: dict[str, Any], _task: Task) -> Any:
        import torch

        from nokenviz.core.patchscope import read_noken as read

        try:
            return vector, read(_model(state), torch.from_numpy(vector), target)
        except NokenvizError as exc:  # asked for by every preview: said in the panel
            return vector, str(exc)

    return job


def read_trajectory(raw: np.ndarray, target: str) -> JobFn:
    """The traced position's hidden state read at every layer (Patchscopes)."""

    def job(state: dict[str, Any], task: Task) -> Any:
        from nokenviz.core.patchscope import read_trajectory as read

        task.what = "the Patchscopes readout"
        return raw, read(_model(state), raw, target, task=task)

    return job


def invert(prompt: str, spec: dict[str, Any], length: int) -> JobFn:
    """The hard tokens whose prompt predicts most like the composer's noken (Stop keeps the
    best found so far)."""

    def job(state: dict[str, Any], task: Task) -> Any:
        from nokenviz.core.inversion import invert_noken
        from nokenviz.core.nokens import parse_noken

        task.what = "the inversion"
        nokens = {"x": parse_noken(spec)}
        return (prompt, spec), invert_noken(_model(state), prompt, nokens, "x", length, task)

    return job


def sweep(
    kind: str, prompts: tuple[str, str], steps: int, seeds: str, max_new_tokens: int
) -> JobFn:
    """A LERP/SLERP sweep between two prompts or a random-noken sweep over seeds (slot {x});
    rows stream as partial results."""

    def job(state: dict[str, Any], task: Task) -> list[Any]:
        from nokenviz.core.decoding import DecodingSettings
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
