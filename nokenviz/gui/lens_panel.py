"""Logit-lens heatmap (layers x positions, top-1 probability, top token written in where it
fits) with its colour scale and a hover readout, and the hidden state's norm per layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QTimer
from PySide6.QtGui import QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from nokenviz.core.figures.overlays import COLOURS
from nokenviz.gui.plots import column_ticks, fit_text, plot_widget
from nokenviz.state.session import Part, Session

if TYPE_CHECKING:
    from nokenviz.core.residual.lens import Trace

HEAT_COLORMAP = "viridis"
TITLE = "logit lens (top-1)"
NORMS_TIP = "Each position's hidden-state norm per layer (log scale); the traced one in colour"
HOVER = "hover a cell for its token and probability"


class LensPanel(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.heat = plot_widget(TITLE, "layer", "")
        self.heat.invertY(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        colours = pg.colormap.get(HEAT_COLORMAP)
        self.image.setColorMap(colours)
        self.heat.addItem(self.image)
        self.scale = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=colours, interactive=False, width=12, label="p"
        )
        self.scale.setImageItem(self.image, insert_in=self.heat.getPlotItem())
        self.texts: list[pg.TextItem] = []
        self.norms = plot_widget("norm per layer", "norm", "layer")
        self.norms.setToolTip(NORMS_TIP)
        self.norms.setLogMode(y=True)
        self.norms.showGrid(x=True, y=True, alpha=0.3)
        self.hover = QLabel(HOVER)
        self.hover.setStyleSheet("color: #555")
        # The prompt or position typed is not the one shown: said beside the hover line (a
        # line of its own would change the docks' height, and the sphere's, when it comes).
        self.stale = QLabel("")
        self.stale.setStyleSheet("color: #a33; font-weight: bold")
        self.trace: Trace | None = None
        self.tokens: list[str] = []
        self.relayout = QTimer(self, singleShot=True, interval=120)
        self.relayout.timeout.connect(self._write_cells)
        self.heat.scene().sigMouseMoved.connect(self._hovered)
        plots = QHBoxLayout()
        plots.addWidget(self.heat, 3)
        plots.addWidget(self.norms, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(plots)
        bottom = QHBoxLayout()
        for label in (self.hover, self.stale):
            label.setMinimumWidth(1)  # clipped, never widening the dock (and the window)
            bottom.addWidget(label, 1)
        layout.addLayout(bottom)

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if not changed & {"model", "trace", "trace_settings"}:
            return
        reason = session.disabled("trace")
        self.setToolTip(reason)
        self.heat.setTitle(f"logit lens: {reason}" if reason else TITLE, color="k", size="10pt")
        self.stale.setText(session.trace_stale)
        if not changed & {"model", "trace"}:
            return
        self._clear()
        trace, vocab = session.trace, session.vocab
        if trace is not None and vocab is not None:
            self.trace, self.tokens = trace, vocab.labels
            self._show(trace)

    def _clear(self) -> None:
        self.image.clear()
        self._remove_cells()
        self.trace = None
        self.norms.clear()
        self.heat.getAxis("bottom").setTicks(None)
        self.hover.setText(HOVER)

    def _remove_cells(self) -> None:
        for text in self.texts:
            self.heat.removeItem(text)
        self.texts = []

    def _show(self, trace: Trace) -> None:
        layers, length = trace.heat_probs.shape
        self.image.setImage(trace.heat_probs, levels=(0.0, 1.0), autoLevels=False)
        self.image.setRect(-0.5, -0.5, length, layers)
        for pos in range(length):
            faint = pos != trace.position
            pen = pg.mkPen(
                (150, 150, 150, 120) if faint else COLOURS["trajectory"], width=1 if faint else 2.5
            )
            self.norms.plot(np.arange(layers), trace.norms[:, pos], pen=pen)
        self.norms.setXRange(0, layers - 1, padding=0.02)
        self._write_cells()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.trace is not None:
            self.relayout.start()  # the cells' text is fitted to their size, once it settles

    def _write_cells(self) -> None:
        """Each cell's top token, cut (with `…`) to the cell's width on screen, on as many
        layers as have a text line's height; nothing where a cell holds under 3 characters.
        The position ticks are fitted the same way."""
        self._remove_cells()
        trace = self.trace
        if trace is None:
            return
        layers, length = trace.heat_probs.shape
        view = self.heat.getPlotItem().getViewBox().sceneBoundingRect()
        metrics = QFontMetrics(self.heat.font())
        ticks = column_ticks(trace.labels, metrics, view.width())
        self.heat.getAxis("bottom").setTicks([ticks])
        cell_w = view.width() / length - 4
        if cell_w < metrics.horizontalAdvance("ab…"):
            return
        stride = max(1, int(np.ceil(layers * (metrics.height() + 2) / max(view.height(), 1))))
        fitted: dict[int, str] = {}
        for layer in range(layers - 1, -1, -stride):
            for pos in range(length):
                token = int(trace.heat_ids[layer, pos])
                if token not in fitted:
                    fitted[token] = fit_text(self.tokens[token], metrics, cell_w)
                prob = trace.heat_probs[layer, pos]
                text = pg.TextItem(
                    fitted[token], anchor=(0.5, 0.5), color="w" if prob < 0.6 else "k"
                )
                text.setPos(pos, layer)
                self.heat.addItem(text)
                self.texts.append(text)

    def _hovered(self, point: QPointF) -> None:
        trace = self.trace
        if trace is None or not self.heat.sceneBoundingRect().contains(point):
            return
        spot = self.heat.getPlotItem().getViewBox().mapSceneToView(point)
        layer, pos = round(spot.y()), round(spot.x())
        layers, length = trace.heat_probs.shape
        if not (0 <= layer < layers and 0 <= pos < length):
            self.hover.setText(HOVER)
            return
        token = int(trace.heat_ids[layer, pos])
        self.hover.setText(
            f"layer {layer}, position {pos} ({trace.labels[pos]}): top-1 {self.tokens[token]} "
            f"p = {trace.heat_probs[layer, pos]:.3f} · norm {trace.norms[layer, pos]:.1f}"
        )
