"""Figures for papers: every view re-drawn with matplotlib in a "paper" theme.

White background, the Okabe-Ito colour-blind-safe palette, viridis for norms and readable
fonts. The 49k-point sphere is a rasterised scatter layer inside an otherwise vector figure,
so SVG and PDF files stay small and still look like the screen. Figures are built with
`matplotlib.figure.Figure` (no pyplot, no GUI backend), so they render headless and off the
GUI thread, and are written atomically.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from nokenviz.core.figures.overlays import OKABE_ITO
from nokenviz.core.figures.sizes import FONTS, SIZES, FigureSize
from nokenviz.core.files import write_atomic
from nokenviz.core.models.token_labels import legend_line
from nokenviz.errors import NokenvizError

FORMATS = ("png", "svg", "pdf")
RASTER_DPI = 300  # the point layer inside SVG and PDF files


def lens_figure(
    heat_probs: np.ndarray,
    heat_text: list[list[str]],
    norms: np.ndarray,
    position: int,
    labels: list[str],
    size: FigureSize = SIZES["screen"],
) -> Figure:
    """The logit-lens heatmap (top-1 token written in) beside the norm of each position."""
    layers, positions = heat_probs.shape
    with mpl.rc_context(size.rc()):
        figure = Figure(figsize=(size.width, size.width * 0.56), layout="constrained")
        heat, curves = figure.subplots(1, 2, width_ratios=[max(positions, 3), 3])
        image = heat.imshow(
            heat_probs, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1
        )
        figure.colorbar(image, ax=heat, label="top-1 probability", shrink=0.8)
        cell_pt = 0.6 * size.width * 72 / positions  # a cell's width and height in points
        row_pt = 0.7 * size.width * 0.56 * 72 / layers
        text_pt = min(6.0, cell_pt / 6, row_pt / 1.2)  # about six characters fit
        if text_pt >= 5.0:  # smaller is not legible in print: the colour alone then
            for layer in range(layers):
                for column in range(positions):
                    dark = heat_probs[layer, column] < 0.6
                    heat.text(
                        column,
                        layer,
                        heat_text[layer][column],
                        ha="center",
                        va="center",
                        fontsize=text_pt,
                        color="white" if dark else "black",
                    )
        heat.set_xticks(range(positions), labels, rotation=45, ha="right")
        heat.set_xlabel("position")
        heat.set_ylabel("layer")
        heat.set_title(size.wrap("logit lens: top-1 token and probability", 0.55))
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
        title = size.wrap(f"norm per layer ({labels[position]} in colour)", 0.3)
        curves.set_title(title, loc="right")  # ends at the page's edge, never past it
        _caption(figure, [*labels, *(t for row in heat_text for t in row)])
    return figure


def attention_figure(
    weights: np.ndarray,
    labels: list[str],
    title: str,
    guiding: list[tuple[str, float]],
    size: FigureSize = SIZES["screen"],
) -> Figure:
    """One layer's attention (query rows, key columns) and the traced position's guides."""
    with mpl.rc_context(size.rc()):
        figure = Figure(figsize=(size.width, size.width * 0.85), layout="constrained")
        axes = figure.add_subplot()
        image = axes.imshow(weights, cmap="magma", vmin=0, vmax=max(float(weights.max()), 1e-9))
        figure.colorbar(image, ax=axes, label="attention", shrink=0.8)
        ticks = range(len(labels))
        axes.set_xticks(ticks, labels, rotation=45, ha="right")
        axes.set_yticks(ticks, labels)
        axes.set_xlabel("key")
        axes.set_ylabel("query")
        guides = ", ".join(f"{token} {share:.2f}" for token, share in guiding)
        axes.set_title(size.wrap(f"{title}\nguiding tokens: {guides}"))
        _caption(figure, labels)
    return figure


def table_figure(
    header: tuple[str, str],
    rows: list[tuple[str, str]],
    title: str,
    size: FigureSize = SIZES["screen"],
    widths: tuple[float, float] = (0.1, 0.9),
) -> Figure:
    """A sweep's rows (or a run and its baseline) as a table, the way the seed texts print
    them; `widths` are the columns' shares of the page."""
    text_pt = max(size.font - 1, 6.0)
    per_line = int(widths[1] * size.width * 72 / (0.55 * text_pt))
    wrapped = [(value, textwrap.fill(text.strip(), per_line)) for value, text in rows]
    lines = sum(text.count("\n") + 1 for _, text in wrapped) + 1
    line_in = 1.45 * text_pt / 72
    with mpl.rc_context(size.rc()):
        title = size.wrap(title)
        head_in = 0.3 + (title.count("\n") + 1) * 1.5 * (size.font + 1) / 72
        figure = Figure(figsize=(size.width, head_in + line_in * lines), layout="constrained")
        axes = figure.add_subplot()
        axes.set_axis_off()
        table = axes.table(
            cellText=[list(row) for row in wrapped] or [["", ""]],
            colLabels=list(header),
            colWidths=list(widths),
            cellLoc="left",
            loc="upper center",
        )
        table.auto_set_font_size(False)
        table.set_fontsize(text_pt)
        for (row, column), cell in table.get_celld().items():
            height = 1 + (wrapped[row - 1][1].count("\n") if row > 0 and wrapped else 0)
            cell.set_height(height / lines)
            cell.set_edgecolor("0.8")
            cell.PAD = 0.1 if column == 0 else 0.01  # a fraction of the cell's width
            if row == 0:
                cell.set_text_props(weight="bold")
        axes.set_title(title)
        _caption(figure, [title])
    return figure


def _caption(figure: Figure, labels: list[str]) -> None:
    """The line that explains the token marks (␣ space, ↵ newline...) when any is shown."""
    line = legend_line(labels)
    if line:
        figure.supxlabel(line, fontsize=mpl.rcParams["legend.fontsize"], color="0.3")


def save_figure(figure: Figure, path: str | Path, dpi: float = 100.0) -> Path:
    """PNG at `dpi`, or SVG / PDF (vector, text as text, points rasterised); atomically."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    check_output(path, dpi)
    resolution = dpi if fmt == "png" else RASTER_DPI
    with mpl.rc_context(FONTS):  # read when the file is written, not when the figure is built
        write_atomic(path, lambda file: figure.savefig(file, format=fmt, dpi=resolution))
    return path


def png_dpi(size: FigureSize, scale: float = 1.0, dpi: float | None = None) -> float:
    """A PNG's resolution: `dpi` as asked, else the size's own times `scale` (1 to 4)."""
    if dpi is not None:
        return dpi
    if not 1.0 <= scale <= 4.0:
        raise NokenvizError(f"the scale goes from 1 to 4, not {scale:g}")
    return size.dpi * scale


def check_output(path: str | Path, dpi: float) -> None:
    """Fail before any work when the file type or resolution cannot be written."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise NokenvizError(f"figures are written as .png, .svg or .pdf, not {Path(path).name!r}")
    if not 50 <= dpi <= 1200:
        raise NokenvizError(f"the PNG resolution goes from 50 to 1200 dpi, not {dpi:g}")
