"""A scene computed on a loaded model and drawn to a file: `nokenviz render`, `Model.render`
and the golden-figure tests. What each figure shows is decided in `core/figures/render.py`,
which the app's export shares; the model work goes through the same operations as everything
else."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from nokenviz.api import operations, vocabulary_operations
from nokenviz.api.jobs import Job
from nokenviz.api.requests import CompareRequest, GenerateRequest, LengthRequest, SweepRequest
from nokenviz.api.results import Rendered, SizeName
from nokenviz.core.figures.plots import SIZES, check_output, png_dpi, save_figure, strip_titles
from nokenviz.core.figures.render import SceneData, scene_figure
from nokenviz.core.generation.experiment import generation_rows
from nokenviz.core.maps.faithfulness import knn_recall, score_projection
from nokenviz.core.maps.geometry import Rows
from nokenviz.core.maps.projections import fit_projection
from nokenviz.core.maps.vocabulary import vocabulary
from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.models.token_kinds import select
from nokenviz.core.nokens.composer import composer_spec
from nokenviz.core.nokens.prompts import prepare_prompt
from nokenviz.core.nokens.specs import build_noken, parse_noken
from nokenviz.core.residual.lens import trace_prompt
from nokenviz.core.residual.vector_length import LengthSweep
from nokenviz.core.scenes.scene import Scene, check_token_ids, load_scene
from nokenviz.core.task import Task
from nokenviz.errors import NokenvizError

if TYPE_CHECKING:
    from nokenviz.api.model import Model


def render(
    model: Model,
    scene: str | Path | Scene,
    out: str | Path,
    size: SizeName = "screen",
    scale: float = 1.0,
    dpi: float | None = None,
    task: Task | None = None,
    titles: bool = True,
) -> Rendered:
    """Draw the scene's figure to `out` (PNG, SVG or PDF; written whole or not at all).
    Without `titles` the figure has none, and the result's `caption` holds them."""
    task = task or Task(what="the render")
    name = str(scene) if not isinstance(scene, Scene) else "(in memory)"
    scene = scene if isinstance(scene, Scene) else load_scene(scene)
    preset = SIZES[size]
    resolution = png_dpi(preset, scale, dpi)
    check_output(str(out), resolution)
    figure = scene_figure(scene, model.run(_computed(scene), task), preset)
    caption = "" if titles else strip_titles(figure)
    path = save_figure(figure, str(out), resolution)
    return Rendered(model.info.model, name, str(path), path.stat().st_size, caption)


def _computed(scene: Scene) -> Job[SceneData]:
    """The model's part of a render, run where the model is; the drawing is done here."""

    def job(state: dict[str, Any], task: Task) -> SceneData:
        return compute_scene(scene, state["model"], task)

    return job


def compute_scene(scene: Scene, loaded: LoadedModel, task: Task) -> SceneData:
    """Everything the scene's figure needs, from a loaded model (headless render)."""
    vocab = vocabulary(loaded)
    check_token_ids(scene, len(vocab.tokens))
    matrix_name: Literal["W_E", "W_U"] = (
        scene.projection.matrix if scene.projection.matrix in vocab.matrices else "W_E"
    )
    stats = vocab.stats[matrix_name]
    spec = composer_spec(
        scene.composer, vocab.stats["W_E"].median, scene.selection[-1] if scene.selection else None
    )
    noken = None
    if spec is not None:
        vector = build_noken(parse_noken(spec), loaded.adapter.W_E, loaded.tokenizer)
        noken = vector.float().cpu().numpy()
    if scene.projection.centre == "noken" and noken is None:
        raise NokenvizError("the local view is centred on the noken, but the scene has none")
    task.report(0.1, "projecting the vocabulary")
    projection = fit_projection(
        vocab.matrices[matrix_name],
        scene.projection.spec(vocab.labels),
        task.scaled(0.1, 0.3),
        centre=noken if scene.projection.centre == "noken" else None,
    )
    data = SceneData(vocab.labels, vocab.norms[matrix_name], (stats.p01, stats.p99), projection)
    data.noken = noken
    data.kinds = vocab.kinds
    if scene.projection.filter and vocab.kinds is not None:
        norms = vocab.norms[matrix_name]
        data.matched = select(scene.projection.filter, vocab.tokens, vocab.kinds, norms)
    if scene.figure == "sphere":  # the other figures do not show the map
        if scene.compare is not None:
            _compared(scene, loaded, matrix_name, data, task.scaled(0.3, 0.5))
        _measured(scene, vocab.matrices[matrix_name], data, task.scaled(0.5, 0.6))
    if not loaded.is_causal:
        return data
    task.report(0.6, "tracing the prompt")
    prepared = prepare_prompt(loaded, scene.trace.prompt)
    data.trace = trace_prompt(loaded, prepared, scene.trace.position)
    if scene.figure == "length":
        data.length = _length_sweep(scene, loaded, spec)
    if scene.figure == "generate":
        task.report(0.7, "generating")
        run = operations.generate(loaded, GenerateRequest.from_part(scene.generate))
        data.generation = generation_rows(
            run.prompt, run.text, run.marks, run.baseline_text, run.baseline_note
        )
    if scene.figure == "sweep":
        task.report(0.7, "running the sweep")
        data.sweep_rows = operations.sweep(loaded, SweepRequest.from_part(scene.sweep)).rows
    return data


def _compared(
    scene: Scene, loaded: LoadedModel, matrix: Literal["W_E", "W_U"], data: SceneData, task: Task
) -> None:
    """The scene's comparison on the map: the change per token, the lines to where tokens
    went, and B's map drawn in place of this model's when the scene asks for it."""
    assert scene.compare is not None
    request = CompareRequest(scene.compare.model, 50, matrix)
    found = vocabulary_operations.compare(loaded, request, task.scaled(0.0, 0.7))
    data.change = found.comparison.per_token()
    data.moved = found.lines(scene.selection, scene.compare.movers)
    if scene.compare.other_map:
        data.projection = found.other_map(data.projection, task.scaled(0.7, 0.9))
        data.faithfulness = found.other_map_recall(data.projection, task.scaled(0.9, 1.0))


def _measured(scene: Scene, matrix: Rows, data: SceneData, task: Task) -> None:
    """How well the map keeps this model's neighbours (B's map was measured against B's), and
    each token's recall when the points are coloured by it (as in the app, this model's map
    only: on B's map the points are coloured by norm)."""
    coords = data.projection.coords
    if data.faithfulness is None:
        data.faithfulness = score_projection(matrix, coords, task.scaled(0.0, 0.3))
    if scene.projection.colour == "recall" and not data.projection.other:
        task.report(0.3, "kNN recall of every token")
        ids = np.arange(len(coords))
        data.recall = knn_recall(matrix, coords, ids, task=task.scaled(0.3, 1.0))


def _length_sweep(scene: Scene, loaded: LoadedModel, spec: dict | None) -> LengthSweep:
    """The traced final residual's or the composer's noken's length sweep, as the scene says."""
    if scene.trace.length_of == "final":
        request = LengthRequest(scene.trace.prompt, position=scene.trace.position)
    elif spec is None:
        raise NokenvizError("the length figure scales the composer's noken, but it has none")
    else:
        nokens = {"x": parse_noken(spec)}
        request = LengthRequest(scene.composer.prompt, slot="x", nokens=nokens)
    return operations.length(loaded, request).sweep
