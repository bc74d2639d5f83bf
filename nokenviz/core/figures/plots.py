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
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MaxNLocator

from nokenviz.core.figures.overlays import OKABE_ITO
from nokenviz.core.figures.sizes import FONTS, SIZES, FigureSize
from nokenviz.core.files import write_atomic
from nokenviz.core.models.token_labels import abbreviate, legend_line
from nokenviz.errors import NokenvizError

FORMATS = ("png", "svg", "pdf")
RASTER_DPI = 300  # the point layer inside SVG and PDF files


LENS_TEXT_PT = 5.5  # the smallest cell text that stays legible in print
MAX_HEAT_IN = 6.5  # the heatmap's rows never make a figure taller than a page


def lens_figure(
    heat_probs: np.ndarray,
    heat_text: list[list[str]],
    norms: np.ndarray,
    position: int,
    labels: list[str],
    size: FigureSize = SIZES["screen"],
) -> Figure:
    """The logit-lens heatmap (top-1 token written in) and the norm of each position per layer.

    Readable at print size: the figure grows taller with the layers so every row holds a line
    of text, each cell's token is cut (with `…`) to what its measured width holds, and a cell
    too narrow for three characters shows its colour alone. In one column the norms go below
    the heatmap, so both get the full width."""
    layers, positions = heat_probs.shape
    stacked = size.width < 5
    text_pt = max(LENS_TEXT_PT, min(size.font - 2, 7.0))
    rows_in = min(layers * 1.45 * text_pt / 72, MAX_HEAT_IN)  # deeper models: every n-th row
    heat_in = max(rows_in, 1.4) + 1.1  # rows, ticks and title
    with mpl.rc_context(size.rc()):
        if stacked:
            figure = Figure(figsize=(size.width, heat_in + 1.9), layout="constrained")
            figure.suptitle("logit lens: top-1 token and probability")
            heat, curves = figure.subplots(2, 1, height_ratios=[heat_in, 1.9])
        else:
            height = max(size.width * 0.56, heat_in)
            figure = Figure(figsize=(size.width, height), layout="constrained")
            heat, curves = figure.subplots(1, 2, width_ratios=[2.3, 1])
        image = heat.imshow(
            heat_probs, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1
        )
        where = "top" if stacked else "right"  # in one column the cells take the full width
        bar = figure.colorbar(image, ax=heat, location=where, shrink=0.8, pad=0.02, aspect=30)
        bar.set_label("top-1 probability")
        _position_ticks(heat, labels, size.width * (0.8 if stacked else 0.52) * 72 / positions)
        heat.yaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))
        heat.set_xlabel("position")
        heat.set_ylabel("layer")
        if not stacked:  # in one column the figure's title says it, above the colour bar
            heat.set_title(size.wrap("logit lens: top-1 token and probability", 0.6))
        _norm_curves(curves, norms, position)
        share = 1.0 if stacked else 0.3
        title = size.wrap(f"norm per layer ({labels[position]} in colour)", share)
        curves.set_title(title, loc="right")  # ends at the page's edge, never past it
        _caption(figure, [*labels, *(t for row in heat_text for t in row)])
        figure.draw_without_rendering()  # the layout settles the cells' size
        figure.set_layout_engine("none")  # and stays: the cell text is sized to it
        _write_cells(figure, heat, heat_probs, heat_text, text_pt)
    return figure


def _write_cells(
    figure: Figure, heat: Axes, probs: np.ndarray, text: list[list[str]], text_pt: float
) -> None:
    """Each cell's top-1 token, cut (with `…`) to the cell's measured width, dark on light and
    light on dark, on every layer from the last down that has a line's height (every n-th
    where rows are thinner); nothing where a cell holds fewer than three characters."""
    layers, positions = probs.shape
    box = heat.get_window_extent()
    cell_w, cell_h = box.width / positions - 1.5, box.height / layers
    # Agg measures text as every format draws it (savefig picks each format's own canvas).
    renderer = FigureCanvasAgg(figure).get_renderer()
    font = FontProperties(size=text_pt)

    def width(label: str) -> float:
        return renderer.get_text_width_height_descent(label, font, ismath=False)[0]

    line = renderer.get_text_width_height_descent("Ag", font, ismath=False)[1]
    if width("ab…") > cell_w:
        return
    stride = max(1, int(np.ceil(line / cell_h)))
    fitted: dict[str, str] = {}
    for layer in range(layers - 1, -1, -stride):
        for column, label in enumerate(text[layer]):
            if label not in fitted:
                limit = len(label)
                while limit > 3 and width(abbreviate(label, limit)) > cell_w:
                    limit -= 1
                fitted[label] = abbreviate(label, limit)
            heat.text(
                column,
                layer,
                fitted[label],
                ha="center",
                va="center",
                fontsize=text_pt,
                color="white" if probs[layer, column] < 0.6 else "black",
            )


def _position_ticks(heat: Axes, labels: list[str], cell_pt: float) -> None:
    """The prompt's tokens under their columns: cut to 10 characters, and only every n-th
    where the columns are narrower than a rotated label needs."""
    tick_pt = float(mpl.rcParams["xtick.labelsize"])
    step = max(1, int(np.ceil(1.6 * tick_pt / cell_pt)))
    shown = range(0, len(labels), step)
    heat.set_xticks(shown, [abbreviate(labels[i], 10) for i in shown], rotation=45, ha="right")


def _norm_curves(curves: Axes, norms: np.ndarray, position: int) -> None:
    """The residual norm of every position per layer, the traced one in colour (log scale)."""
    for column in range(norms.shape[1]):
        traced = column == position
        curves.plot(
            norms[:, column],
            color=OKABE_ITO["vermillion"] if traced else "0.7",
            lw=1.6 if traced else 0.8,
            zorder=3 if traced else 2,
        )
    curves.set_yscale("log")
    last = max(norms.shape[0] - 1, 1)
    curves.set_xlim(-0.03 * last, 1.03 * last)  # room for the first and last layers' labels
    curves.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))
    curves.set_xlabel("layer")
    curves.set_ylabel("residual norm")


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
        short = [abbreviate(label, 10) for label in labels]
        axes.set_xticks(ticks, short, rotation=45, ha="right")
        axes.set_yticks(ticks, short)
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


def strip_titles(figure: Figure) -> str:
    """Remove the figure's title and every panel's (for a paper, where the caption says it),
    and return them as one line to carry into the caption."""
    removed = []
    if heading := figure.get_suptitle():
        removed.append(heading)
        figure.suptitle("")
    for axes in figure.axes:
        for loc in ("left", "center", "right"):
            if title := axes.get_title(loc):
                removed.append(title)
                axes.set_title("", loc=loc)
    if removed and figure.get_layout_engine() is not None:  # the titles' room goes back
        figure.set_layout_engine("constrained")
        figure.draw_without_rendering()
        figure.set_layout_engine("none")
    return " · ".join(" ".join(text.split()) for text in removed)


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
