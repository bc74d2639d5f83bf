"""The sphere as a paper figure: every token as one rasterised layer, the marks with a legend,
labels clear of each other and of the marks, and a frame cut to the scene's view (with an inset
of the whole drawing when zoomed in)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from nokenviz.core.figures.labels import arrange_labels, leader_end, mark_boxes
from nokenviz.core.figures.overlays import COLOURS, NAMES, Label, Role, segments
from nokenviz.core.figures.sizes import SIZES, FigureSize
from nokenviz.core.maps.colouring import TokenColours
from nokenviz.core.maps.map_kinds import Shape
from nokenviz.core.models.token_labels import legend_line

HAMMER_X, HAMMER_Y = 2.0 * np.sqrt(2.0), np.sqrt(2.0)


@dataclass
class SphereLayers:
    """What the sphere view shows, in flat coordinates (built by `render.sphere_layers`)."""

    coords: np.ndarray  # [V, 2]
    colours: TokenColours  # what each token's colour shows
    title: str
    shape: Shape  # a Hammer map of the sphere, a flat map, the token plane, or a local view
    labels: list[Label] = field(default_factory=list)
    selection: np.ndarray | None = None  # [n, 2]
    anchors: np.ndarray | None = None  # [n, 2], polygon order
    trajectory: np.ndarray | None = None  # [L+1, 2]
    noken: np.ndarray | None = None  # [2]
    mean_marker: np.ndarray | None = None  # [2]
    view: tuple[tuple[float, float], tuple[float, float]] | None = None
    matched: np.ndarray | None = None  # ids the filter keeps bright (None: no filter)
    moved: np.ndarray | None = None  # [k, 2, 2]: tokens here, and their place in a compared model
    filter: str = ""  # the filter's query, for the caption
    contours: tuple[np.ndarray, ...] = ()  # density contours, densest share first
    faithfulness: str = ""  # how well the map keeps neighbours (kNN recall), for the caption

    def marks(self) -> np.ndarray:
        """Every overlay point ([n, 2]): what the frame must keep in view."""
        # not the lines to a compared model's places: they may go anywhere, and are clipped
        parts = [self.selection, self.anchors, self.trajectory, self.noken]
        return np.vstack(
            [np.zeros((0, 2)), *(np.reshape(p, (-1, 2)) for p in parts if p is not None)]
        )


def sphere_figure(layers: SphereLayers, size: FigureSize = SIZES["screen"]) -> Figure:
    box = _frame(layers)
    with mpl.rc_context(size.rc()):
        figure = Figure(figsize=(size.width, _height(size, box)), layout="constrained")
        axes = figure.add_subplot()
        handles = _draw_tokens(figure, axes, layers, size)
        handles += _draw_overlays(axes, layers, size)
        figure.suptitle(size.wrap(layers.title))
        axes.set_aspect("equal")
        fixed = _draw_frame(axes, layers, box)
        axes.set_xlim(*box[0])
        axes.set_ylim(*box[1])
        if _zoomed(box, _extent(layers)):
            _inset(axes, layers, box)
        notes = [layers.faithfulness, _filter_note(layers)]
        notes.append(legend_line([label.text for label in layers.labels]))
        caption = " · ".join(note for note in notes if note)
        if handles or caption:
            columns = max(min(len(handles), _legend_columns(size)), 1)
            rows = -(-len(handles) // columns)
            if rows > 2:  # a tall legend gets its own room instead of shrinking the map
                line = 1.6 * mpl.rcParams["legend.fontsize"] / 72  # inches
                figure.set_figheight(figure.get_figheight() + (rows - 2) * line)
            figure.legend(
                handles=handles,
                loc="outside lower center",
                ncols=columns,
                frameon=False,
                title=size.wrap(caption) or None,
                title_fontsize=mpl.rcParams["legend.fontsize"],
            )
        _place_labels(figure, axes, layers, fixed)
    return figure


def _draw_tokens(
    figure: Figure, axes: Axes, layers: SphereLayers, size: FigureSize
) -> list[Line2D]:
    """Every token as one rasterised layer: on a colour scale (with its bar) or by category
    (legend handles returned, with counts); the filter's matches over the others, dimmed."""
    colours, coords = layers.colours, layers.coords
    found = colours.categories
    style: dict[str, Any] = {"s": 0.8 * np.sqrt(size.width / 8), "linewidths": 0}
    if found is not None:
        palette = np.array([mpl.colors.to_rgba(c) for c in found.colours])
        style["c"] = palette[found.codes]
    else:
        cmap = mpl.colormaps[colours.colour_map].with_extremes(bad="0.75")  # no value: grey
        style.update(c=colours.values, cmap=cmap, vmin=colours.levels[0], plotnonfinite=True)
        style["vmax"] = colours.levels[1]
    matched = layers.matched
    if matched is None:
        points = axes.scatter(coords[:, 0], coords[:, 1], rasterized=True, **style)
    else:
        axes.scatter(coords[:, 0], coords[:, 1], rasterized=True, alpha=0.12, **style)
        grow = 6 if len(matched) < 2000 else 2  # a few matches must be found, many not hide all
        bright = {**style, "c": np.asarray(style["c"])[matched], "s": grow * style["s"]}
        points = axes.scatter(coords[matched, 0], coords[matched, 1], rasterized=True, **bright)
    if found is None:
        figure.colorbar(
            points, ax=axes, shrink=0.8, label=_along_bar(colours.label, size), pad=0.01
        )
        return []
    return [
        Line2D([], [], ls="none", marker="o", ms=5, color=colour, label=text)
        for colour, text in found.legend()
    ]


def _along_bar(label: str, size: FigureSize) -> str:
    """The colour bar's label in lines no longer than the bar (80% of the map's height, which
    is about 0.45 of the figure's width): in one column a long name ran into the title."""
    along = 0.8 * 0.45 * size.width * 72  # points
    return textwrap.fill(label, max(12, int(along / (0.6 * size.font))))


def _legend_columns(size: FigureSize) -> int:
    """As many legend columns as the page is wide for (a one-column figure has one)."""
    return 1 if size.width < 4.5 else 2 if size.width < 6.5 else 3


def _filter_note(layers: SphereLayers) -> str:
    if layers.matched is None:
        return ""
    count, total = len(layers.matched), len(layers.coords)
    return f"filter {layers.filter!r}: {count:,} of {total:,} tokens"


def _height(size: FigureSize, box: np.ndarray) -> float:
    """A height that fits the frame's aspect at the preset width (beside the colour bar, above
    the legend), so a tall zoomed frame does not leave half the figure empty."""
    aspect = (box[1, 1] - box[1, 0]) / (box[0, 1] - box[0, 0])
    plot_width = 0.85 * size.width
    overhead = 1.2 * size.font / 9  # title and legend, in inches
    return float(np.clip(plot_width * aspect + overhead, 0.45 * size.width, 1.1 * size.width))


def _draw_frame(axes: Axes, layers: SphereLayers, box: np.ndarray) -> list[Text]:
    """The map's outline, or the plane's axes, or the local view's rings of equal angle with
    their degrees (returned: token labels keep clear of them)."""
    texts = []
    if layers.shape == "map":
        angle = np.linspace(0, 2 * np.pi, 361)
        axes.plot(HAMMER_X * np.cos(angle), HAMMER_Y * np.sin(angle), color="0.6", lw=0.6)
        axes.set_axis_off()
    elif layers.shape == "flat":  # the neighbour map: its axes' units mean nothing
        axes.set_axis_off()
    elif layers.shape == "local":
        angle = np.linspace(0, 2 * np.pi, 361)
        for degrees in (30, 60, 90, 120, 150, 180):
            axes.plot(degrees * np.cos(angle), degrees * np.sin(angle), color="0.75", lw=0.5)
            x = y = degrees * np.sqrt(0.5)  # on the ring, up and to the right
            if box[0, 0] <= x <= 0.92 * box[0, 1] and box[1, 0] <= y <= 0.95 * box[1, 1]:
                size = mpl.rcParams["xtick.labelsize"]
                texts.append(axes.text(x, y, f"{degrees}°", color="0.45", fontsize=size))
        axes.set_axis_off()
    else:
        axes.axhline(0, color="0.7", lw=0.5)
        axes.axvline(0, color="0.7", lw=0.5)
        axes.set_xlabel("along the first token (× norm)")
        axes.set_ylabel("along the second token (× norm)")
    return texts


def _extent(layers: SphereLayers) -> np.ndarray:
    """The whole drawing's box [[x0, x1], [y0, y1]]."""
    if layers.shape == "map":
        return np.array([[-HAMMER_X, HAMMER_X], [-HAMMER_Y, HAMMER_Y]]) * 1.02
    low, high = layers.coords.min(axis=0), layers.coords.max(axis=0)
    pad = 0.03 * (high - low)
    return np.stack([low - pad, high + pad], axis=1)


def _frame(layers: SphereLayers) -> np.ndarray:
    """What the axes show: the scene's view cut to the drawing (no empty half-frames), grown
    to keep every mark inside with a margin."""
    extent = _extent(layers)
    if layers.view is None and layers.shape == "local":
        return _neighbourhood(layers)
    if layers.view is None:
        return extent
    (x0, x1), (y0, y1) = layers.view
    x, y = layers.coords[:, 0], layers.coords[:, 1]
    inside = layers.coords[(x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)]
    if len(inside) < 2:
        return extent
    box = np.stack([inside.min(axis=0), inside.max(axis=0)], axis=1)
    marks = layers.marks()
    if len(marks):
        margin = 0.08 * (box[:, 1] - box[:, 0])
        box[:, 0] = np.minimum(box[:, 0], marks.min(axis=0) - margin)
        box[:, 1] = np.maximum(box[:, 1], marks.max(axis=0) + margin)
    return box


def _neighbourhood(layers: SphereLayers) -> np.ndarray:
    """A local view's default frame: every mark, else the centre's nearest 200 tokens."""
    marks = layers.marks()
    if len(marks):
        reach = 1.3 * float(np.hypot(*marks.T).max())
    else:
        radius = np.hypot(layers.coords[:, 0], layers.coords[:, 1])
        reach = 1.15 * float(np.partition(radius, min(200, len(radius) - 1))[:201].max())
    reach = max(reach, 5.0)  # degrees
    return np.array([[-reach, reach], [-reach, reach]])


def _zoomed(box: np.ndarray, extent: np.ndarray) -> bool:
    return bool(np.prod(box[:, 1] - box[:, 0]) < 0.4 * np.prod(extent[:, 1] - extent[:, 0]))


def _inset(axes: Axes, layers: SphereLayers, box: np.ndarray) -> None:
    """The whole drawing, small, in the corner that covers fewest marks, with the frame on it."""
    marks = (layers.marks().reshape(-1, 2) - box[:, 0]) / (box[:, 1] - box[:, 0])  # axes units
    corners = [(0.74, 0.0), (0.0, 0.0), (0.74, 0.74), (0.0, 0.74)]
    covered = [
        int(((marks >= (x, y)) & (marks <= (x + 0.26, y + 0.26))).all(axis=1).sum())
        for x, y in corners
    ]
    x, y = corners[int(np.argmin(covered))]
    inset = axes.inset_axes((x, y, 0.26, 0.26))
    step = max(1, len(layers.coords) // 4000)
    sample = layers.coords[::step]
    inset.scatter(sample[:, 0], sample[:, 1], s=0.3, color="0.65", linewidths=0, rasterized=True)
    if layers.shape == "map":
        angle = np.linspace(0, 2 * np.pi, 181)
        inset.plot(HAMMER_X * np.cos(angle), HAMMER_Y * np.sin(angle), color="0.5", lw=0.5)
    (x0, x1), (y0, y1) = box.tolist()
    inset.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="black", lw=1))
    extent = _extent(layers)
    inset.set_xlim(*extent[0])
    inset.set_ylim(*extent[1])
    inset.set_aspect("equal")
    inset.set_xticks([])
    inset.set_yticks([])
    inset.patch.set_alpha(0.85)
    for spine in inset.spines.values():
        spine.set(visible=True, linewidth=0.5, color="0.5")


def _draw_overlays(axes: Axes, layers: SphereLayers, size: FigureSize) -> list[Line2D]:
    """The marks, each role in its own colour and shape; returns the legend's handles."""
    grow = size.width / 8 if size.width < 8 else 1.0
    handles = []

    def mark(role: Role, xy: np.ndarray, **style: Any) -> None:
        style = {"color": COLOURS[role], "ls": "none", **style}
        style["ms"] = style.get("ms", 6) * grow**0.5
        axes.plot(*np.reshape(xy, (-1, 2)).T, **style)  # a NaN row breaks a line
        handles.append(Line2D([], [], label=NAMES[role], **style))

    for rank, line in enumerate(layers.contours):  # under the marks, over the cloud
        width, alpha = (1.1, 0.8, 0.6)[min(rank, 2)], (0.9, 0.6, 0.4)[min(rank, 2)]
        axes.plot(*line.T, color=COLOURS["density"], lw=width, alpha=alpha, zorder=3)
        if rank == 0:
            handles.append(
                Line2D([], [], color=COLOURS["density"], lw=width, label=NAMES["density"])
            )
    if layers.anchors is not None and len(layers.anchors):
        ring = np.vstack([layers.anchors, layers.anchors[:1]]) if len(layers.anchors) > 2 else None
        polygon = ring if ring is not None else layers.anchors
        axes.plot(*polygon.T, color=COLOURS["anchors"], lw=0.9, ls="--", zorder=4)
        mark("anchors", layers.anchors, marker="s", mec="white", mew=0.6, zorder=4)
    if layers.trajectory is not None:
        path = layers.trajectory
        if layers.shape == "map":  # steps that wrap round the map's edge are not drawn across it
            jumps = np.flatnonzero(np.abs(np.diff(path[:, 0])) > HAMMER_X) + 1
            path = np.insert(path, jumps, np.nan, axis=0)
        axes.plot(*path.T, color=COLOURS["trajectory"], lw=1.2, zorder=5)
        mark(
            "trajectory",
            layers.trajectory,
            marker="o",
            ms=3,
            ls="-",
            lw=1.2,
            mec="white",
            mew=0.4,
            zorder=5,
        )
        axes.plot(*layers.trajectory[-1], marker=">", color=COLOURS["trajectory"], ms=5, zorder=5)
    if layers.selection is not None and len(layers.selection):
        mark("selection", layers.selection, marker="o", mfc="none", mew=1.2, ms=8, zorder=6)
    if layers.moved is not None:
        mark(
            "moved", segments(layers.moved), marker="o", ms=4, ls=":", lw=1.5, mec="black", zorder=6
        )
    if layers.noken is not None:
        mark("noken", layers.noken, marker="D", mec="black", mew=0.8, ms=7, zorder=7)
    if layers.mean_marker is not None:
        mark("mean", layers.mean_marker, marker="*", ms=11, mec="black", mew=0.6, zorder=7)
    return handles


def _place_labels(figure: Figure, axes: Axes, layers: SphereLayers, fixed: list[Text]) -> None:
    """Labels beside their points, clear of each other, of the marks and of the `fixed` texts
    already drawn, best first."""
    labels = layers.labels
    if not labels:
        return
    figure.draw_without_rendering()  # settles the layout, so transforms are final
    font = mpl.rcParams["xtick.labelsize"]
    px = figure.dpi / 72
    points = axes.transData.transform(np.array([label.xy for label in labels]))
    sizes = []
    for label in labels:
        text = axes.text(0, 0, label.text, fontsize=font)
        extent = text.get_window_extent()
        sizes.append((extent.width + 2 * px, extent.height + px))
        text.remove()
    marks = mark_boxes(axes.transData.transform(layers.marks()), 4 * px)
    written = [t.get_window_extent() for t in fixed]
    obstacles = np.vstack([marks, *([b.x0, b.y0, b.x1, b.y1] for b in written)])
    frame = axes.get_window_extent()
    priority = np.array([lb.priority for lb in labels])
    bounds = (frame.x0, frame.y0, frame.x1, frame.y1)
    gap = 4 * px
    boxes = arrange_labels(points, np.array(sizes), priority, obstacles, gap, bounds, (1, 4, 7))
    to_data = axes.transData.inverted().transform
    for label, box, point in zip(labels, boxes, points, strict=True):
        if np.isnan(box[0]):
            continue
        end = leader_end(point, box, gap)
        if end is not None:
            line = to_data(np.array([point, end]))
            axes.plot(*line.T, color=COLOURS[label.role], lw=0.5, zorder=7)
        x, y = to_data((box[0] + px, box[1] + 0.5 * px))
        axes.text(
            x,
            y,
            label.text,
            fontsize=font,
            color=COLOURS[label.role],
            ha="left",
            va="bottom",
            zorder=8,
            bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8},
        )
