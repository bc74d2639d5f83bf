"""The length figure: how the next-token distribution changes as one vector is scaled."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nokenviz.core.figures.overlays import OKABE_ITO
from nokenviz.core.figures.sizes import FigureSize
from nokenviz.core.models.token_labels import legend_line

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from nokenviz.core.residual.vector_length import LengthSweep


def length_figure(sweep: LengthSweep, size: FigureSize, title: str = "") -> Figure:
    """Entropy above, top-1 and top-k mass below, against the factor on a log axis, with the
    unscaled vector (factor 1) marked; the top tokens at factor 1 in the caption. The title
    says what was scaled unless one is given (a scene's)."""
    import matplotlib as mpl
    from matplotlib.figure import Figure

    with mpl.rc_context(size.rc()):
        height = size.width * 0.5 + 1.6 * size.font / 9  # two panels + title and caption
        figure = Figure(figsize=(size.width, height), layout="constrained")
        upper, lower = figure.subplots(2, 1, sharex=True)
        upper.plot(sweep.factors, sweep.entropy, color=OKABE_ITO["blue"], lw=1.4, marker=".")
        upper.set_ylabel("entropy (bits)")
        upper.set_ylim(bottom=0)
        lower.plot(sweep.factors, sweep.top1, color=OKABE_ITO["vermillion"], lw=1.4, label="top-1")
        lower.plot(
            sweep.factors,
            sweep.topk_mass,
            color=OKABE_ITO["green"],
            lw=1.4,
            ls="--",
            label=f"top-{sweep.k} mass",
        )
        lower.set_ylabel("probability")
        lower.set_ylim(0, 1.02)
        lower.legend(loc="best", frameon=False)
        lower.set_xlabel("length factor (log scale; ×1 marked: the vector as it is)")
        for axes in (upper, lower):
            _factor_axis(axes, sweep.factors)
        small = mpl.rcParams["legend.fontsize"]
        upper.text(1.0, 1.0, " ×1", transform=upper.get_xaxis_transform(), va="top", size=small)
        figure.suptitle(
            size.wrap(title or f"next-token distribution when scaling the {sweep.what}")
        )
        shown = ", ".join(sweep.top_labels)
        caption = f"top {sweep.k} at ×1: {shown}"
        scaled = f"scaled: the {sweep.what}" if title else ""
        notes = [scaled, caption, legend_line([*sweep.top_labels, sweep.what])]
        figure.supxlabel(
            size.wrap(" · ".join(n for n in notes if n)),
            fontsize=mpl.rcParams["legend.fontsize"],
            color="0.3",
        )
    return figure


def _factor_axis(axes: Axes, factors: np.ndarray) -> None:
    """A base-2 log axis labelled as plain factors (0.5, 1, 2), with the unscaled length marked."""
    from matplotlib.ticker import FuncFormatter

    axes.set_xscale("log", base=2)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.set_xlim(min(factors.min(), 1.0) / 1.1, max(factors.max(), 1.0) * 1.1)
    axes.grid(True, which="major", color="0.9", lw=0.5)
    # Above the grid (which also has a line at 1) and darker, so it shows at any size.
    axes.axvline(1.0, color=OKABE_ITO["black"], lw=1.0, ls=(0, (3, 2)), zorder=2.5)
