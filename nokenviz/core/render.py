"""Scenes to figures (F1, F3): the one place that decides what each figure shows.

The GUI's export and the headless `nokenviz render` (cli.py) both build figures here, from the same
computed pieces (vocabulary, projection, trace, noken, sweep rows), so a scene opened in the
app and rendered from the command line make the same figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from nokenviz.core.composer import composer_spec, polygon_order
from nokenviz.core.figures import (
    SIZES,
    FigureSize,
    SphereLayers,
    attention_figure,
    lens_figure,
    sphere_figure,
    table_figure,
)
from nokenviz.core.overlays import POINT_COLOURS, overlay_labels
from nokenviz.core.projections import Projection
from nokenviz.core.scene import Scene, TracePart, check_token_ids
from nokenviz.core.task import Task
from nokenviz.errors import NokenvizError

if TYPE_CHECKING:  # torch is imported when a figure is computed, not to describe one
    from nokenviz.core.faithfulness import Faithfulness


@dataclass
class SceneData:
    """What a scene's figures are drawn from (the GUI holds the same pieces)."""

    labels: list[str]  # how each vocabulary row is shown (core/token_labels.py)
    norms: np.ndarray
    levels: tuple[float, float]
    projection: Projection
    trace: Any = None  # core.lens.Trace, or None for a model that cannot generate
    noken: np.ndarray | None = None  # the composer's noken vector
    recall: np.ndarray | None = None  # each token's kNN recall in `projection` (colouring)
    faithfulness: Faithfulness | None = None  # the projection's kNN recall on a sample
    sweep_rows: list[Any] | None = None
    generation: list[tuple[str, str]] | None = None  # a run and its baseline (table rows)
    length: Any = None  # core.vector_length.LengthSweep of the traced position (or the noken)


def sphere_layers(scene: Scene, data: SceneData, title: str) -> SphereLayers:
    """The sphere view of a scene: points, trajectory, selection, anchors, noken, labels."""
    projection, shown = data.projection, data.labels
    coords = projection.coords
    anchors = None
    if scene.composer.anchors:
        xy = coords[list(scene.composer.anchors)].astype(np.float64)
        anchors = xy[polygon_order(xy)] if len(xy) > 2 else xy
    trajectory, entries = None, []
    if data.trace is not None and scene.trace.trajectory:
        vectors = data.trace.lens if scene.trace.lens_space else data.trace.raw
        trajectory, entries = projection.project(vectors), data.trace.entries
    labels = overlay_labels(
        coords, shown, scene.selection, scene.composer.anchors, entries, trajectory
    )
    view = scene.view
    by_recall = scene.projection.colour == "recall" and data.recall is not None
    local = projection.shape == "local"
    colour_by, colour_map = POINT_COLOURS["recall" if by_recall else "norm"]
    score = data.faithfulness
    return SphereLayers(
        coords=coords,
        norms=data.recall if by_recall else data.norms,
        levels=(0.0, 1.0) if by_recall else data.levels,
        colour_by=colour_by,
        colour_map=colour_map,
        faithfulness="" if score is None else f"neighbours kept: {score.describe(local)}",
        title=title,
        shape=projection.shape,
        labels=labels,
        selection=coords[list(scene.selection)] if scene.selection else None,
        anchors=anchors,
        trajectory=trajectory,
        noken=None if data.noken is None else projection.project(data.noken)[0],
        mean_marker=projection.mean_marker(),
        view=None if view is None else (view.x, view.y),
    )


def scene_figure(scene: Scene, data: SceneData, size: FigureSize = SIZES["screen"]) -> Figure:
    """The figure a scene names (`scene.figure`), at a printed size."""
    title = scene.title or f"{scene.projection.matrix}: {data.projection.describe()}"
    if scene.figure == "sphere":
        return sphere_figure(sphere_layers(scene, data, title), size)
    if scene.figure == "sweep":
        return sweep_table(scene, data.sweep_rows or [], size)
    if scene.figure == "generate":
        if not data.generation:
            raise NokenvizError(
                "the figure shows a run of the Generate panel's current settings: press "
                "Generate first"
            )
        title = scene.title or f"generation from {scene.generate.prompt!r}"
        return table_figure(("", "text"), data.generation, title, size, widths=(0.16, 0.84))
    if data.trace is None:
        raise NokenvizError(f"the {scene.figure} figure needs a causal LM to trace the prompt")
    trace = data.trace
    if scene.figure == "length":
        from nokenviz.core.vector_length import length_figure

        if data.length is None or isinstance(data.length, str):
            raise NokenvizError(f"no length sweep to draw: {data.length or 'trace a prompt'}")
        return length_figure(data.length, size, scene.title)
    if scene.figure == "lens":
        heat_text = [[data.labels[i] for i in row] for row in trace.heat_ids]
        return lens_figure(
            trace.heat_probs, heat_text, trace.norms, trace.position, trace.labels, size
        )
    return attention_view(scene.trace, trace, scene.title, size)


def attention_view(
    part: TracePart, trace: Any, title: str = "", size: FigureSize = SIZES["screen"]
) -> Figure:
    """The attention figure for the scene's layer and head (None = mean of heads)."""
    layer = part.attention_layer % len(trace.attention)
    weights = trace.attention[layer]
    head = part.attention_head
    shown = weights.mean(axis=0) if head is None else weights[head % len(weights)]
    which = "mean of heads" if head is None else f"head {head % len(weights)}"
    guiding = trace.guiding()
    order = np.argsort(-guiding)[:3]
    return attention_figure(
        shown,
        trace.labels,
        title or f"attention, layer {layer}, {which}",
        [(trace.labels[i], float(guiding[i])) for i in order],
        size,
    )


def sweep_table(scene: Scene, rows: list[Any], size: FigureSize = SIZES["screen"]) -> Figure:
    part = scene.sweep
    header = ("seed", "text") if part.kind == "seeds" else ("t", "text")
    title = scene.title or (
        f"random nokens in {part.prompt_a!r}"
        if part.kind == "seeds"
        else f"{part.kind.upper()} from {part.prompt_a!r} to {part.prompt_b!r}"
    )
    return table_figure(header, [(str(row.value), row.text) for row in rows], title, size)


def compute_scene(scene: Scene, loaded: Any, task: Task) -> SceneData:
    """Everything the scene's figure needs, from a loaded model (headless render)."""
    from nokenviz.core.decoding import DecodingSettings
    from nokenviz.core.faithfulness import knn_recall, score_projection
    from nokenviz.core.lens import trace_prompt
    from nokenviz.core.nokens import build_noken, parse_noken
    from nokenviz.core.projections import fit_projection
    from nokenviz.core.prompts import prepare_prompt
    from nokenviz.core.sweeps import lerp_sweep, parse_seed_range, seed_sweep
    from nokenviz.core.vocabulary import vocabulary

    vocab = vocabulary(loaded)
    check_token_ids(scene, len(vocab.tokens))
    matrix_name = scene.projection.matrix if scene.projection.matrix in vocab.matrices else "W_E"
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
    matrix = vocab.matrices[matrix_name]
    if scene.figure == "sphere":  # the other figures do not show the map
        data.faithfulness = score_projection(matrix, projection.coords, task.scaled(0.3, 0.4))
    if scene.figure == "sphere" and scene.projection.colour == "recall":
        task.report(0.3, "kNN recall of every token")
        ids = np.arange(len(projection.coords))
        data.recall = knn_recall(matrix, projection.coords, ids, task=task.scaled(0.4, 0.6))
    if not loaded.is_causal:
        return data
    task.report(0.6, "tracing the prompt")
    prepared = prepare_prompt(loaded, scene.trace.prompt)
    data.trace = trace_prompt(loaded, prepared, scene.trace.position)
    if scene.figure == "length":
        data.length = _length_sweep(scene, loaded, prepared, spec)
    if scene.figure == "generate":
        task.report(0.7, "generating")
        data.generation = _generation(scene, loaded)
    if scene.figure == "sweep":
        task.report(0.7, "running the sweep")
        part = scene.sweep
        settings = DecodingSettings(max_new_tokens=part.max_new_tokens)
        if part.kind == "seeds":
            seeds = parse_seed_range(part.seeds)
            data.sweep_rows = seed_sweep(loaded, part.prompt_a, "x", seeds, settings=settings)
        else:
            data.sweep_rows = lerp_sweep(
                loaded, part.prompt_a, part.prompt_b, part.steps, part.kind == "slerp", settings
            )
    return data


def _length_sweep(scene: Scene, loaded: Any, prepared: Any, spec: dict | None) -> Any:
    """The traced final residual's or the composer's noken's length sweep, as the scene says."""
    from nokenviz.core.nokens import parse_noken
    from nokenviz.core.vector_length import scale_final, scale_noken

    if scene.trace.length_of == "final":
        return scale_final(loaded, prepared, position=scene.trace.position)
    if spec is None:
        raise NokenvizError("the length figure scales the composer's noken, but it has none")
    return scale_noken(loaded, scene.composer.prompt, {"x": parse_noken(spec)}, "x")


def _generation(scene: Scene, loaded: Any) -> list[tuple[str, str]]:
    """The scene's Generate settings run, beside their baseline, as table rows."""
    from nokenviz.core.decoding import DecodingSettings
    from nokenviz.core.experiment import generation_rows, parse_experiment, run_generation
    from nokenviz.core.nokens import parse_assignments

    part = scene.generate
    run = run_generation(
        loaded,
        part.prompt,
        parse_assignments(list(part.nokens)),
        DecodingSettings(**part.decoding.model_dump()),
        parse_experiment(part.transform, part.rules, part.injections),
        part.compare,
    )
    baseline = None if run.baseline is None else run.baseline.text
    marks = run.marks(loaded.tokenizer)
    return generation_rows(part.prompt, run.result.text, marks, baseline, run.baseline_note)
