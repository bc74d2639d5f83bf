"""The effect of a vector's length: entropy and top-1 / top-k probability of the next token as
the traced position's final residual (after every trace) or the composer's noken (on request)
is scaled by a factor."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QRadioButton, QVBoxLayout, QWidget

from nokenviz.core.figures.overlays import OKABE_ITO
from nokenviz.gui.plots import plot_widget
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session

if TYPE_CHECKING:
    from nokenviz.core.residual.vector_length import LengthSweep

FINAL_TIP = "Scale the traced position's final residual (after the final norm): new with each trace"
NOKEN_TIP = "Scale the composer's noken in its preview prompt's {x} slot"
EMPTY = {
    "final": "Trace a prompt: its final residual is scaled by 0.125 to 8",
    "noken": "Compose a noken: it is scaled by 0.125 to 8 in its preview prompt",
}
FACTOR_TICKS = (0.125, 0.25, 0.5, 1, 2, 4, 8)
DOTTED, DASHED = Qt.PenStyle.DotLine, Qt.PenStyle.DashLine


class LengthPanel(QWidget):
    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.what = QLabel(EMPTY["final"], wordWrap=True)
        self.entropy = plot_widget("entropy of the next token", "bits", "length factor")
        self.probability = plot_widget("", "probability", "length factor")
        ticks = [[(math.log10(f), f"{f:g}") for f in FACTOR_TICKS]]
        for plot in (self.entropy, self.probability):
            plot.setMinimumHeight(110)  # two in a tab of the right column, under the inspector
            plot.setLogMode(x=True)
            plot.showGrid(x=True, y=True, alpha=0.3)
            plot.getAxis("bottom").setTicks(ticks)
            plot.addItem(pg.InfiniteLine(0.0, pen=pg.mkPen((120, 120, 120), style=DOTTED)))
        self.probability.setYRange(0, 1)
        self.final_button = QRadioButton("traced final residual", toolTip=FINAL_TIP)
        self.noken_button = QRadioButton("composer's noken", toolTip=NOKEN_TIP)
        self.final_button.clicked.connect(lambda: controller.set_length_of("final"))
        self.noken_button.clicked.connect(lambda: controller.set_length_of("noken"))
        choice = QHBoxLayout()
        choice.addWidget(QLabel("scale the"))
        choice.addWidget(self.final_button)
        choice.addWidget(self.noken_button)
        choice.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(choice)
        layout.addWidget(self.what)
        layout.addWidget(self.entropy, 1)
        layout.addWidget(self.probability, 1)
        self.curves: list[pg.PlotDataItem] = []

    def sizeHint(self) -> QSize:
        """Small: the plots share the tab under the inspector rather than push it smaller."""
        return self.minimumSizeHint()

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if changed & {"model", "trace_settings", "length"}:
            noken = session.trace_settings.length_of == "noken"
            self.noken_button.setChecked(noken)
            self.final_button.setChecked(not noken)
            self._show(session.length, session.trace_settings.length_of)
            stale = session.trace_stale and session.trace_settings.length_of == "final"
            if stale and session.length is not None and not isinstance(session.length, str):
                self.what.setText(f"{self.what.text()} · {session.trace_stale}")

    def _show(self, sweep: LengthSweep | str | None, length_of: str) -> None:
        for curve in self.curves:
            curve.getViewBox().removeItem(curve)
        self.curves = []
        if sweep is None or isinstance(sweep, str):
            self.what.setText(sweep or EMPTY[length_of])
            self.probability.setTitle("")
            return
        self.what.setText(f"scaled: the {sweep.what} (dotted: as it is)")
        factors = np.asarray(sweep.factors)
        self.probability.setTitle(f"top-1 (solid) and top-{sweep.k} mass (dashed)")
        self.curves = [
            self.entropy.plot(factors, sweep.entropy, pen=pg.mkPen(OKABE_ITO["blue"], width=2)),
            self.probability.plot(
                factors, sweep.top1, pen=pg.mkPen(OKABE_ITO["vermillion"], width=2)
            ),
            self.probability.plot(
                factors, sweep.topk_mass, pen=pg.mkPen(OKABE_ITO["green"], width=2, style=DASHED)
            ),
        ]
