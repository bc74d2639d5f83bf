"""Scenes to figures: the one place that decides what each figure shows.

The GUI's export and the headless render (`nokenviz.api.render`) both build figures here, from
the same computed pieces (vocabulary, projection, trace, noken, sweep rows), so a scene opened
in the app and rendered from the command line make the same figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from nokenviz.core.figures.overlays import (
    local_nearest,
    moved_pairs,
    overlay_labels,
    region_labels,
)
from nokenviz.core.figures.plots import (
    SIZES,
    FigureSize,
    attention_figure,
    lens_figure,
    table_figure,
)
from nokenviz.core.figures.sphere import SphereLayers, sphere_figure
from nokenviz.core.maps.colouring import token_colours
from nokenviz.core.maps.projections import Projection
from nokenviz.core.nokens.composer import polygon_order
from nokenviz.core.scenes.scene import Scene, TracePart
from nokenviz.errors import NokenvizError

if TYPE_CHECKING:  # torch is imported when a figure is computed, not to describe one
    from nokenviz.core.maps.faithfulness import Faithfulness
    from nokenviz.core.models.token_kinds import TokenKinds


@dataclass
class SceneData:
    """What a scene's figures are drawn from (the GUI holds the same pieces)."""

    labels: list[str]  # how each vocabulary row is shown (core/models/token_labels.py)
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
    kinds: TokenKinds | None = None  # each token's kind and script (colouring by them)
    matched: np.ndarray | None = None  # the ids the scene's filter keeps (None: no filter)
    change: tuple[np.ndarray, str] | None = None  # a comparison's value per token, its name
    # tokens (the selected one first) and their vectors in the compared model, aligned
    moved: tuple[list[int], np.ndarray] | None = None


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
    nearest = local_nearest(coords) if projection.shape == "local" else ()
    moved = data.moved[0] if data.moved is not None else ()
    labels = overlay_labels(
        coords, shown, scene.selection, scene.composer.anchors, entries, trajectory, nearest, moved
    )
    if scene.projection.regions and data.kinds is not None:
        from nokenviz.core.maps.regions import find_regions

        labels += region_labels(coords, find_regions(coords, data.kinds), shown)
    view = scene.view
    local = projection.shape == "local"
    part = scene.projection
    colours = token_colours(
        part.colour, data.norms, data.levels, data.kinds, data.recall, data.matched, data.change
    )
    score = data.faithfulness
    return SphereLayers(
        coords=coords,
        colours=colours,
        matched=data.matched,
        filter=scene.projection.filter,
        faithfulness=_map_note(scene, projection, score, local),
        title=title,
        shape=projection.shape,
        labels=labels,
        selection=coords[list(scene.selection)] if scene.selection else None,
        anchors=anchors,
        trajectory=trajectory,
        noken=None if data.noken is None else projection.project(data.noken)[0],
        moved=_moved(data, projection),
        contours=_contours(scene, data, projection),
        mean_marker=projection.mean_marker(),
        view=None if view is None else (view.x, view.y),
    )


def _contours(scene: Scene, data: SceneData, projection: Projection) -> tuple[np.ndarray, ...]:
    """The map's density contours (of the filter's matches, when filtered), when asked for."""
    if not scene.projection.contours:
        return ()
    from nokenviz.core.maps.contours import density_contours

    found = density_contours(projection.coords, data.matched)
    return () if found is None else found.lines


def _map_note(scene: Scene, projection: Projection, score: Faithfulness | None, local: bool) -> str:
    """The caption's line on the map: how well it keeps neighbours, and whose tokens it draws
    when a scene's own title takes the place of the map's description."""
    kept = "" if score is None else f"neighbours kept: {score.describe(local)}"
    if not (scene.title and projection.other):
        return kept
    whose = f"{projection.other}'s tokens (aligned) on this model's map"
    return " · ".join(part for part in (whose, kept) if part)


def _moved(data: SceneData, projection: Projection) -> np.ndarray | None:
    """Each token's place here joined to its place in the compared model ([k, 2, 2])."""
    if data.moved is None or not data.moved[0]:
        return None
    placed = projection.project(data.moved[1])
    return moved_pairs(projection.own_coords, data.moved, placed)


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
        from nokenviz.core.figures.length import length_figure

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
