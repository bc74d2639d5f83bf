"""Figures for papers (F1): every view re-drawn with matplotlib in a "paper" theme.

White background, the Okabe-Ito colour-blind-safe palette, viridis for norms and readable
fonts. The 49k-point sphere is a rasterised scatter layer inside an otherwise vector figure,
so SVG and PDF files stay small and still look like the screen. Figures are built with
`matplotlib.figure.Figure` (no pyplot, no GUI backend), so they render headless and off the
GUI thread, and are written atomically.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nokenviz.core.files import write_atomic
from nokenviz.core.labels import place_labels
from nokenviz.errors import NokenvizError

FORMATS = ("png", "svg", "pdf")
BASE_DPI = 100  # scale 1 = 100 dpi: an 8 x 5 in figure is 800 x 500 px
RASTER_DPI = 300  # the point layer inside SVG and PDF files
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
PAPER = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",  # text stays text in SVG
    "pdf.fonttype": 42,  # TrueType in PDF: editable, searchable
}
HAMMER_X, HAMMER_Y = 2.0 * np.sqrt(2.0), np.sqrt(2.0)


@dataclass
class Label:
    xy: np.ndarray
    text: str
    priority: float
    colour: str


@dataclass
class SphereLayers:
    """What the sphere view shows, in flat coordinates (built by `render.sphere_layers`)."""

    coords: np.ndarray  # [V, 2]
    norms: np.ndarray  # [V]
    levels: tuple[float, float]
    title: str
    on_map: bool  # a Hammer map (sphere) rather than the token plane
    labels: list[Label] = field(default_factory=list)
    selection: np.ndarray | None = None  # [n, 2]
    anchors: np.ndarray | None = None  # [n, 2], polygon order
    trajectory: np.ndarray | None = None  # [L+1, 2]
    noken: np.ndarray | None = None  # [2]
    mean_marker: np.ndarray | None = None  # [2]
    view: tuple[tuple[float, float], tuple[float, float]] | None = None


def sphere_figure(layers: SphereLayers) -> Figure:
    with mpl.rc_context(PAPER):
        figure = Figure(figsize=(8, 5), layout="constrained")
        axes = figure.add_subplot()
        points = axes.scatter(
            layers.coords[:, 0],
            layers.coords[:, 1],
            c=layers.norms,
            s=0.8,
            cmap="viridis",
            vmin=layers.levels[0],
            vmax=layers.levels[1],
            linewidths=0,
            rasterized=True,
        )
        figure.colorbar(points, ax=axes, shrink=0.8, label="token norm")
        _draw_overlays(axes, layers)
        figure.suptitle(layers.title)
        axes.set_aspect("equal")
        if layers.on_map:
            angle = np.linspace(0, 2 * np.pi, 361)
            axes.plot(HAMMER_X * np.cos(angle), HAMMER_Y * np.sin(angle), color="0.6", lw=0.6)
            axes.set_axis_off()
        else:
            axes.axhline(0, color="0.7", lw=0.5)
            axes.axvline(0, color="0.7", lw=0.5)
            axes.set_xlabel("along the first token (× norm)")
            axes.set_ylabel("along the second token (× norm)")
        if layers.view is not None:
            axes.set_xlim(*layers.view[0])
            axes.set_ylim(*layers.view[1])
        _place_labels(figure, axes, layers.labels)
    return figure


def _draw_overlays(axes: Axes, layers: SphereLayers) -> None:
    if layers.anchors is not None and len(layers.anchors):
        ring = np.vstack([layers.anchors, layers.anchors[:1]]) if len(layers.anchors) > 2 else None
        polygon = ring if ring is not None else layers.anchors
        axes.plot(polygon[:, 0], polygon[:, 1], color=OKABE_ITO["blue"], lw=1.0, ls="--")
        axes.scatter(*layers.anchors.T, s=30, marker="s", color=OKABE_ITO["blue"], zorder=4)
    if layers.trajectory is not None:
        path = layers.trajectory
        if layers.on_map:  # steps that wrap round the map's edge are not drawn across it
            jumps = np.flatnonzero(np.abs(np.diff(path[:, 0])) > HAMMER_X) + 1
            path = np.insert(path, jumps, np.nan, axis=0)
        axes.plot(path[:, 0], path[:, 1], color=OKABE_ITO["vermillion"], lw=1.2, zorder=5)
        axes.scatter(*layers.trajectory.T, s=9, color=OKABE_ITO["vermillion"], zorder=5)
    if layers.selection is not None and len(layers.selection):
        axes.scatter(
            *layers.selection.T, s=40, facecolors="none", edgecolors="black", lw=1.0, zorder=6
        )
    if layers.noken is not None:
        axes.scatter(
            *layers.noken, s=70, marker="D", color=OKABE_ITO["orange"], ec="black", zorder=7
        )
    if layers.mean_marker is not None:
        axes.scatter(*layers.mean_marker, s=120, marker="*", color="black", zorder=7)


def _place_labels(figure: Figure, axes: Axes, labels: list[Label]) -> None:
    """Labels without overlaps, best first (the screen's rule), measured in display pixels."""
    if not labels:
        return
    figure.draw_without_rendering()  # settles the layout, so transforms are final
    font_px = mpl.rcParams["font.size"] * figure.dpi / 72
    boxes = []
    for label in labels:
        x, y = axes.transData.transform(label.xy)
        boxes.append((x + 3, y, x + 3 + 0.6 * font_px * len(label.text), y + 1.2 * font_px))
    shown = place_labels(np.array(boxes), np.array([lb.priority for lb in labels]))
    for label, keep in zip(labels, shown, strict=True):
        if keep:
            axes.annotate(
                label.text,
                label.xy,
                xytext=(3, 2),
                textcoords="offset points",
                color=label.colour,
                fontsize=8,
                zorder=8,
            )


def lens_figure(
    heat_probs: np.ndarray,
    heat_text: list[list[str]],
    norms: np.ndarray,
    position: int,
    labels: list[str],
) -> Figure:
    """The logit-lens heatmap (top-1 token written in) beside the norm of each position."""
    layers, positions = heat_probs.shape
    with mpl.rc_context(PAPER):
        figure = Figure(figsize=(8, 4.5), layout="constrained")
        heat, curves = figure.subplots(1, 2, width_ratios=[max(positions, 3), 3])
        image = heat.imshow(
            heat_probs, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1
        )
        figure.colorbar(image, ax=heat, label="top-1 probability", shrink=0.8)
        if positions <= 16 and layers <= 48:
            for layer in range(layers):
                for column in range(positions):
                    dark = heat_probs[layer, column] < 0.6
                    heat.text(
                        column,
                        layer,
                        heat_text[layer][column],
                        ha="center",
                        va="center",
                        fontsize=5,
                        color="white" if dark else "black",
                    )
        heat.set_xticks(range(positions), labels, rotation=45, ha="right")
        heat.set_xlabel("position")
        heat.set_ylabel("layer")
        heat.set_title("logit lens: top-1 token and probability")
        for column in range(positions):
            traced = column == position
            curves.plot(
                norms[:, column],
                color=OKABE_ITO["vermillion"] if traced else "0.7",
                lw=1.6 if traced else 0.8,
                zorder=3 if traced else 2,
            )
        curves.set_yscale("log")
        curves.set_xlabel("layer")
        curves.set_ylabel("residual norm")
        curves.set_title(f"norm per layer ({labels[position]!r} in colour)")
    return figure


def attention_figure(
    weights: np.ndarray, labels: list[str], title: str, guiding: list[tuple[str, float]]
) -> Figure:
    """One layer's attention (query rows, key columns) and the traced position's guides."""
    with mpl.rc_context(PAPER):
        figure = Figure(figsize=(6.5, 5.5), layout="constrained")
        axes = figure.add_subplot()
        image = axes.imshow(weights, cmap="magma", vmin=0, vmax=max(float(weights.max()), 1e-9))
        figure.colorbar(image, ax=axes, label="attention", shrink=0.8)
        ticks = range(len(labels))
        axes.set_xticks(ticks, labels, rotation=45, ha="right")
        axes.set_yticks(ticks, labels)
        axes.set_xlabel("key")
        axes.set_ylabel("query")
        guides = ", ".join(f"{token!r} {share:.2f}" for token, share in guiding)
        axes.set_title(f"{title}\nguiding tokens: {guides}")
    return figure


def table_figure(header: tuple[str, str], rows: list[tuple[str, str]], title: str) -> Figure:
    """A sweep's rows as a table, the way the seed texts print them."""
    wrapped = [(value, textwrap.fill(text, 90)) for value, text in rows]
    lines = sum(text.count("\n") + 1 for _, text in wrapped) + 1
    with mpl.rc_context(PAPER):
        figure = Figure(figsize=(8, 0.6 + 0.2 * lines), layout="constrained")
        axes = figure.add_subplot()
        axes.set_axis_off()
        table = axes.table(
            cellText=[list(row) for row in wrapped] or [["", ""]],
            colLabels=list(header),
            colWidths=[0.08, 0.92],
            cellLoc="left",
            loc="upper center",
        )
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        for (row, column), cell in table.get_celld().items():
            height = 1 + (wrapped[row - 1][1].count("\n") if row > 0 and wrapped else 0)
            cell.set_height(height / lines)
            cell.set_edgecolor("0.8")
            cell.PAD = 0.1 if column == 0 else 0.01  # a fraction of the cell's width
            if row == 0:
                cell.set_text_props(weight="bold")
        axes.set_title(title)
    return figure


def save_figure(figure: Figure, path: str | Path, scale: float = 1.0) -> Path:
    """PNG at `scale` x 100 dpi, or SVG / PDF (vector, points rasterised); atomically."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    check_output(path, scale)
    dpi = BASE_DPI * scale if fmt == "png" else RASTER_DPI
    write_atomic(path, lambda file: figure.savefig(file, format=fmt, dpi=dpi))
    return path


def check_output(path: str | Path, scale: float) -> None:
    """Fail before any work when the file type or scale cannot be written."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise NokenvizError(f"figures are written as .png, .svg or .pdf, not {Path(path).name!r}")
    if not 1.0 <= scale <= 4.0:
        raise NokenvizError(f"the scale goes from 1 to 4, not {scale}")
