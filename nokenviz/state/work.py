"""The work the app asks of its workers, as plain functions `job(state, task) -> result`.

Each factory captures its arguments and imports the core lazily, so the window paints before
torch is imported (P4). Model jobs run on the model worker, whose `state["model"]` they share;
results are dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from nokenviz.core.models.model_spec import LoadOptions
from nokenviz.core.scenes.scene import GeneratePart, SweepPart
from nokenviz.core.task import Task
from nokenviz.errors import NokenvizError
from nokenviz.state.job import JobFn

if TYPE_CHECKING:
    from nokenviz.api.results import (
        GenerationResult,
    )
    from nokenviz.api.vocabulary_results import (
        ModelComparison,
    )
    from nokenviz.core.figures.render import SceneData
    from nokenviz.core.generation.patchscope import Readout
    from nokenviz.core.generation.sweeps import SweepRow
    from nokenviz.core.maps.faithfulness import Faithfulness
    from nokenviz.core.maps.geometry import Neighbours, Rows
    from nokenviz.core.maps.projections import Projection, ProjectionSpec
    from nokenviz.core.maps.regions import Region
    from nokenviz.core.maps.vocabulary import Vocabulary
    from nokenviz.core.models.loading import LoadedModel
    from nokenviz.core.models.token_kinds import TokenKinds
    from nokenviz.core.nokens.inversion import Inversion
    from nokenviz.core.nokens.preview import Preview
    from nokenviz.core.residual.lens import Trace
    from nokenviz.core.residual.vector_length import LengthSweep
    from nokenviz.core.scenes.scene import Scene


NokenKey = tuple[str, dict[str, Any]]  # (prompt, noken spec): what a result was made for


@dataclass(frozen=True)
class PreviewResult:
    spec: dict[str, Any]
    vector: np.ndarray  # [d] float32
    preview: Preview


def _model(state: dict[str, Any]) -> LoadedModel:
    if "model" not in state:
        raise NokenvizError("no model is loaded")
    return state["model"]


REMOTE = "ray://"  # a model spec naming a served model: ray://host:port


def load(
    spec: str, options: LoadOptions, generation: int, preloaded: LoadedModel | None = None
) -> JobFn:
    """Load a model (or take one already in memory) and make it the worker's only one:
    everything cached for the previous model (the preview's prefix cache, the model itself)
    is dropped with it."""

    def job(state: dict[str, Any], task: Task) -> Vocabulary:
        from nokenviz.core.maps.vocabulary import vocabulary
        from nokenviz.core.models.loading import load_model

        task.what = f"loading {spec}"
        if spec.startswith(REMOTE):
            return _connect(state, spec.removeprefix(REMOTE), generation, task)
        loaded = preloaded or load_model(spec, options, task=task.scaled(0.0, 0.85))
        snapshot = vocabulary(loaded, task.scaled(0.85, 1.0))
        task.check()  # only now: a failed or cancelled load keeps the previous model
        _leave(state)
        state.update(model=loaded, generation=generation)
        return snapshot

    return job


def _connect(state: dict[str, Any], address: str, generation: int, task: Task) -> Vocabulary:
    """Reach the model served at `address` and take its vocabulary (from this machine's
    cache when it has been fetched before); the worker's jobs then run on that server."""
    from nokenviz.remote.client import connect
    from nokenviz.remote.vocabulary import remote_vocabulary

    connection = connect(address)
    snapshot = remote_vocabulary(connection, task)
    # The session, its autosave and Recent models name the server, not its path there; the
    # served weights' identity tells a reconnect to the same model from another one.
    identity = connection.served["identity"]
    snapshot.info.update(model=REMOTE + connection.address, served_identity=identity)
    task.check()
    if state.get("remote") is not connection:
        _leave(state)
    state.update(remote=connection, generation=generation)
    return snapshot


def _leave(state: dict[str, Any]) -> None:
    """Drop the worker's model, leaving the server if it was a served one."""
    remote = state.get("remote")
    state.clear()
    if remote is not None:
        remote.close()


def project(matrix: Rows, spec: ProjectionSpec, centre: np.ndarray | None = None) -> JobFn:
    def job(_state: dict[str, Any], task: Task) -> Projection:
        from nokenviz.core.maps.projections import fit_projection

        task.what = "the projection"
        return fit_projection(matrix, spec, task, centre)

    return job


def neighbours(
    token: int,
    matrix_name: str,
    coords: np.ndarray | None = None,
    norms: np.ndarray | None = None,
    k: int = 12,
) -> JobFn:
    """The token's nearest and farthest tokens; with the drawn `coords` (fitted to the model's
    own matrix, whose row `norms` they are), also how many of its true neighbours are nearest
    on screen. The matrix is the model's, never captured: a served model's job carries no
    [V, d] matrix over the link."""

    def job(state: dict[str, Any], _task: Task) -> Neighbours:
        from nokenviz.core.maps.faithfulness import token_recall
        from nokenviz.core.maps.geometry import neighbours as find

        matrix = _model(state).adapter.matrix(matrix_name)
        found = find(matrix, matrix[token], k=k, exclude=(token,))
        if coords is None:
            return found
        return replace(found, recall=token_recall(matrix, coords, token, norms=norms))

    return job


def faithfulness(vectors: np.ndarray, fitted: Projection) -> JobFn:
    """The projection's kNN recall on a sample, measured once it is drawn (a second or two)."""

    def job(_state: dict[str, Any], task: Task) -> tuple[Projection, Faithfulness]:
        from nokenviz.core.maps.faithfulness import score_projection

        task.what = "measuring how well the map keeps neighbours"
        return fitted, score_projection(vectors, fitted.coords, task)

    return job


def regions(kinds: TokenKinds, fitted: Projection) -> JobFn:
    """The drawn map's regions, named by what they hold (about a second at 262k tokens)."""

    def job(_state: dict[str, Any], task: Task) -> tuple[Projection, list[Region]]:
        from nokenviz.core.maps.regions import find_regions

        task.what = "naming the map's regions"
        task.report(0.1, "naming the map's regions")
        return fitted, find_regions(fitted.coords, kinds)

    return job


def compare(other: str, matrix: Literal["W_E", "W_U"]) -> JobFn:
    """What changed from the loaded model to `other` (its matrix read from its checkpoint)."""

    def job(state: dict[str, Any], task: Task) -> ModelComparison:
        from nokenviz.api import vocabulary_operations
        from nokenviz.api.requests import CompareRequest

        task.what = f"comparing with {other}"
        return vocabulary_operations.compare(_model(state), CompareRequest(other, 50, matrix), task)

    return job


# the comparison and the map it was drawn on, B's map and how well it keeps B's neighbours
OtherMap = tuple["ModelComparison", "Projection", "Projection", "Faithfulness"]


def other_map(found: ModelComparison, fitted: Projection) -> JobFn:
    """The compared model's map: its tokens placed on `fitted` (this model's map) where B has
    them, so a region of one is the same region of the other."""

    def job(_state: dict[str, Any], task: Task) -> OtherMap:
        task.what = f"placing {found.other_name}'s tokens on this map"
        drawn = found.other_map(fitted, task.scaled(0.0, 0.8))
        task.report(0.8, f"measuring {found.other_name}'s map")
        return found, fitted, drawn, found.other_map_recall(drawn, task.scaled(0.8, 1.0))

    return job


def recall(vectors: np.ndarray, fitted: Projection) -> JobFn:
    """kNN recall of every token in a projection (for colouring the points by it)."""

    def job(_state: dict[str, Any], task: Task) -> tuple[Projection, np.ndarray]:
        from nokenviz.core.maps.faithfulness import knn_recall

        task.what = "the kNN recall"
        ids = np.arange(len(fitted.coords))
        return fitted, knn_recall(vectors, fitted.coords, ids, task=task)

    return job


def trace(prompt: str, position: int) -> JobFn:
    """The prompt's residual stream, lens and attention, and how the traced position's
    next-token distribution changes as its final residual is scaled (or why it cannot)."""

    def job(state: dict[str, Any], _task: Task) -> tuple[Trace, LengthSweep | str]:
        from nokenviz.core.nokens.prompts import prepare_prompt
        from nokenviz.core.residual.lens import trace_prompt
        from nokenviz.core.residual.vector_length import scale_final

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


def generate(part: GeneratePart, soft: bool = False) -> JobFn:
    """Generate from the panel's prompt with nokens (and the run's transform, rules and
    injections; or soft feedback), streaming each token's text as a partial result; then the
    baseline."""

    def job(state: dict[str, Any], task: Task) -> GenerationResult:
        from nokenviz.api import operations
        from nokenviz.api.requests import GenerateRequest

        request = GenerateRequest.from_part(part, soft)
        return operations.generate(
            _model(state),
            request,
            on_token=lambda _id, text: task.partial(text),
            cancel=task.cancel_event,
        )

    return job


def preview(prompt: str, spec: dict[str, Any]) -> JobFn:
    """The noken's vector and its live preview in `prompt`'s {x} slot (prefix cache kept)."""

    def job(state: dict[str, Any], _task: Task) -> PreviewResult:
        from nokenviz.core.nokens.preview import NokenPreview, span_of
        from nokenviz.core.nokens.specs import build_noken, parse_noken

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

    def job(state: dict[str, Any], _task: Task) -> tuple[NokenKey, LengthSweep]:
        from nokenviz.api import operations
        from nokenviz.api.requests import LengthRequest
        from nokenviz.core.nokens.specs import parse_noken

        request = LengthRequest(prompt, slot="x", nokens={"x": parse_noken(spec)})
        return (prompt, spec), operations.length(_model(state), request).sweep

    return job


def read_noken(vector: np.ndarray, target: str) -> JobFn:
    """What the model says the composer's noken is (Patchscopes at layer 0)."""

    def job(state: dict[str, Any], _task: Task) -> tuple[np.ndarray, Readout | str]:
        import torch

        from nokenviz.core.generation.patchscope import read_noken as read

        try:
            return vector, read(_model(state), torch.from_numpy(vector), target)
        except NokenvizError as exc:  # asked for by every preview: said in the panel
            return vector, str(exc)

    return job


def read_trajectory(raw: np.ndarray, target: str) -> JobFn:
    """The traced position's hidden state read at every layer (Patchscopes)."""

    def job(state: dict[str, Any], task: Task) -> tuple[np.ndarray, list[Readout]]:
        from nokenviz.core.generation.patchscope import read_trajectory as read

        task.what = "the Patchscopes readout"
        return raw, read(_model(state), raw, target, task=task)

    return job


def invert(prompt: str, spec: dict[str, Any], length: int) -> JobFn:
    """The hard tokens whose prompt predicts most like the composer's noken (Stop keeps the
    best found so far)."""

    def job(state: dict[str, Any], task: Task) -> tuple[NokenKey, Inversion]:
        from nokenviz.api import operations
        from nokenviz.api.requests import InvertRequest
        from nokenviz.core.nokens.specs import parse_noken

        task.what = "the inversion"
        request = InvertRequest(prompt, {"x": parse_noken(spec)}, "x", length)
        return (prompt, spec), operations.invert(_model(state), request, task).found

    return job


def sweep(part: SweepPart) -> JobFn:
    """A LERP/SLERP sweep between two prompts or a random-noken sweep over seeds (slot {x});
    rows stream as partial results."""

    def job(state: dict[str, Any], task: Task) -> list[SweepRow]:
        from nokenviz.api import operations
        from nokenviz.api.requests import SweepRequest

        request = SweepRequest.from_part(part)
        return operations.sweep(_model(state), request, task.partial, task.cancel_event).rows

    return job


def export(scene: Scene, data: SceneData, path: str, size: str, dpi: float | None) -> JobFn:
    """Draw a scene's figure from what the app already computed (projection worker)."""

    def job(_state: dict[str, Any], task: Task) -> str:
        from nokenviz.core.figures.plots import SIZES, png_dpi, save_figure
        from nokenviz.core.figures.render import scene_figure

        task.what = f"exporting {scene.figure}"
        preset = SIZES[size]
        figure = scene_figure(scene, data, preset)
        return str(save_figure(figure, path, png_dpi(preset, dpi=dpi)))

    return job
