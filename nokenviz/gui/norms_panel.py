"""Histogram of token norms; dragging the shaded band highlights every token in it. With a
token filter, the matching tokens' own histogram is drawn over it, and the band highlights
only matching tokens."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from nokenviz.gui.plots import plot_widget
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session


class NormHistogram(QWidget):
    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.shown: tuple[int, str] | None = None  # (model generation, matrix) drawn
        self.plot = plot_widget("token norms (drag the band to highlight)", "tokens", "norm")
        self.curve = pg.PlotDataItem(
            stepMode="center", fillLevel=0, brush=(68, 1, 84, 120), pen="k"
        )
        self.plot.addItem(self.curve)
        self.matched = pg.PlotDataItem(
            stepMode="center", fillLevel=0, brush=(0, 114, 178, 150), pen=(0, 114, 178)
        )
        self.plot.addItem(self.matched)
        self.edges = np.zeros(0)
        self.region = pg.LinearRegionItem(brush=(230, 80, 20, 60))
        self.region.setZValue(10)
        self.region.sigRegionChangeFinished.connect(lambda r: controller.set_band(*r.getRegion()))
        self.plot.addItem(self.region)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if not changed & {"model", "projection", "band"} or session.vocab is None:
            return
        shown = (session.generation, session.matrix)
        if shown != self.shown:
            counts, self.edges = np.histogram(session.norms, bins=120)
            self.curve.setData(self.edges, counts)
            self.shown = shown
        matched = session.matched
        self.curve.setBrush((68, 1, 84, 120 if matched is None else 35))  # the matches stand out
        if matched is None:
            self.matched.setData([], [])
            self.plot.enableAutoRange(axis="y")
        else:  # the matches' own histogram, in view; the whole vocabulary's runs off the top
            counts, _ = np.histogram(session.norms[matched], bins=self.edges)
            self.matched.setData(self.edges, counts)
            self.plot.setYRange(0, max(int(counts.max()), 1) * 1.1, padding=0)
        if session.band is not None:
            self.region.blockSignals(True)
            self.region.setRegion(session.band)
            self.region.blockSignals(False)
        count = len(session.highlight)
        which = "tokens" if matched is None else f"of {len(matched):,} matches (blue)"
        self.plot.setTitle(
            f"token norms: {count:,} {which} in the band (drag it to highlight)",
            color="k",
            size="10pt",
        )
