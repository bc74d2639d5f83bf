"""Small pyqtgraph helpers shared by the plot panels."""

from __future__ import annotations

import pyqtgraph as pg


def plot_widget(title: str, left: str, bottom: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setTitle(title, color="k", size="10pt")
    plot.setLabel("left", left)
    plot.setLabel("bottom", bottom)
    plot.plotItem.setMenuEnabled(False)
    return plot
