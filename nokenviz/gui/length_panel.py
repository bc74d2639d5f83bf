"""The effect of a vector's length: entropy and top-1 / top-k probability of the next token as
the traced position's final residual (after every trace) or the composer's noken (on request)
is scaled by a factor."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from nokenviz.core.overlays import OKABE_ITO
from nokenviz.gui.plots import plot_widget
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session

TITLE = "next-token distribution vs length"
NOKEN_TIP = "Scale the composer's noken in its prompt instead of the traced final residual"


class LengthPanel(QWidget):
    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.entropy = plot_widget(TITLE, "entropy (bits)", "length factor")
        self.probability = plot_widget("", "probability", "length factor")
        for plot in (self.entropy, self.probability):
            plot.setLogMode(x=True)
            plot.showGrid(x=True, y=True, alpha=0.3)
        self.probability.setYRange(0, 1)
        self.probability.addLegend(offset=(-10, 10))
        self.noken_button = QPushButton("Scale the noken", toolTip=NOKEN_TIP)
        self.noken_button.clicked.connect(controller.request_noken_length)
        plots = QHBoxLayout()
        plots.addWidget(self.entropy)
        plots.addWidget(self.probability)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(plots)
        layout.addWidget(self.noken_button)

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if changed & {"model", "jobs", "composer"}:
            reason = session.disabled("length") or (
                "" if self.controller.composer_spec() else "compose a noken first"
            )
            self.noken_button.setEnabled(not reason)
            self.noken_button.setToolTip(reason or NOKEN_TIP)
        if not changed & {"model", "length"}:
            return
        for plot in (self.entropy, self.probability):
            plot.clear()
        sweep = session.length
        if sweep is None or isinstance(sweep, str):
            self.entropy.setTitle(f"{TITLE}: {sweep}" if sweep else TITLE, color="k", size="10pt")
            return
        self.entropy.setTitle(sweep.what, color="k", size="10pt")
        factors = np.asarray(sweep.factors)
        self.entropy.plot(factors, sweep.entropy, pen=pg.mkPen(OKABE_ITO["blue"], width=2))
        self.probability.plot(
            factors, sweep.top1, pen=pg.mkPen(OKABE_ITO["vermillion"], width=2), name="top-1"
        )
        self.probability.plot(
            factors,
            sweep.topk_mass,
            pen=pg.mkPen(OKABE_ITO["green"], width=2, style=Qt.PenStyle.DashLine),
            name=f"top-{sweep.k} mass",
        )
        for plot in (self.entropy, self.probability):
            plot.addItem(
                pg.InfiniteLine(0.0, pen=pg.mkPen((120, 120, 120), style=Qt.PenStyle.DotLine))
            )
