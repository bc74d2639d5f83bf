"""Query x key attention for a layer and head (or the mean of heads), and the tokens that
guide the traced position."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from nokenviz.gui.plots import column_ticks, fit_text, plot_widget
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session

if TYPE_CHECKING:
    from nokenviz.core.residual.lens import Trace
    from nokenviz.core.scenes.scene import TracePart

TITLE = "attention (row: query, column: key)"
HOVER = "hover a cell for its weight"
ROW_TICK_PX = 70  # the query labels' width beside the rows


class AttentionPanel(QWidget):
    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.plot = plot_widget(TITLE, "", "")  # the title names the axes: no label over ticks
        self.plot.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        colours = pg.colormap.get("magma")
        self.image.setColorMap(colours)
        self.plot.addItem(self.image)
        self.scale = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=colours, interactive=False, width=12, label="weight"
        )
        self.scale.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        # The prompt or position typed is not the one shown: said beside the hover line (a
        # line of its own would change the docks' height, and the sphere's, when it comes).
        self.stale = QLabel("")
        self.stale.setStyleSheet("color: #a33; font-weight: bold")
        self.hover = QLabel(HOVER)
        self.hover.setStyleSheet("color: #555")
        self.plot.scene().sigMouseMoved.connect(self._hovered)
        self.layer = QSpinBox(toolTip="decoder layer")
        self.head = QSpinBox(toolTip="attention head")
        self.mean = QCheckBox("mean of heads", toolTip="average the attention of all heads")
        self.guides = QLabel("", toolTip="Keys the traced position attends to most")
        self.guides.setWordWrap(True)  # long prompts wrap instead of widening the dock
        for control in (self.layer, self.head):
            control.valueChanged.connect(lambda _: self._chosen())
        self.mean.toggled.connect(lambda _: self._chosen())
        controls = QHBoxLayout()
        for widget in (QLabel("layer"), self.layer, QLabel("head"), self.head, self.mean):
            controls.addWidget(widget)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.guides)
        layout.addWidget(self.plot)
        bottom = QHBoxLayout()
        for label in (self.hover, self.stale):
            label.setMinimumWidth(1)  # clipped, never widening the dock (and the window)
            bottom.addWidget(label, 1)
        layout.addLayout(bottom)

    def _chosen(self) -> None:
        part = self.controller.session.trace_settings
        head = None if self.mean.isChecked() else self.head.value()
        update = {"attention_layer": self.layer.value(), "attention_head": head}
        self.controller.set_trace_settings(part.model_copy(update=update))

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if not changed & {"model", "trace", "trace_settings"}:
            return
        reason = session.disabled("trace")
        self.setToolTip(reason)
        self.plot.setTitle(f"attention: {reason}" if reason else TITLE, color="k", size="10pt")
        self.stale.setText(session.trace_stale)
        trace = session.trace
        controls = (self.layer, self.head, self.mean)
        for control in controls:
            control.blockSignals(True)
        if trace is None:
            self.image.clear()
            self.guides.setText("")
            for side in ("bottom", "left"):
                self.plot.getAxis(side).setTicks(None)
        else:
            self._show(trace, session.trace_settings)
        for control in controls:
            control.blockSignals(False)

    def _show(self, trace: Trace, part: TracePart) -> None:
        from nokenviz.core.residual.lens import guiding_layers  # torch: loaded by now

        weights, labels = trace.attention, trace.labels
        guiding = trace.guiding()
        best = np.argsort(-guiding)[:3]
        self.guides.setText(
            f"guiding tokens ({guiding_layers(weights)}, mean of heads): "
            + ", ".join(f"{labels[i]} {guiding[i]:.2f}" for i in best)
        )
        layer = part.attention_layer % weights.shape[0]
        head = part.attention_head
        self.layer.setRange(0, weights.shape[0] - 1)
        self.head.setRange(0, weights.shape[1] - 1)
        self.layer.setValue(layer)
        self.mean.setChecked(head is None)
        self.head.setEnabled(head is not None)
        if head is not None:
            self.head.setValue(min(head, weights.shape[1] - 1))
        self._fit_ticks()
        matrix = _chosen_matrix(trace, part)
        top = float(matrix.max()) or 1.0
        self.image.setImage(matrix, levels=(0.0, top), autoLevels=False)
        self.scale.setLevels((0.0, top))
        self.image.setRect(-0.5, -0.5, matrix.shape[1], matrix.shape[0])

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_ticks()

    def _fit_ticks(self) -> None:
        """The prompt's tokens along both axes, cut (with `…`) to the cells' width on screen."""
        trace = self.controller.session.trace
        if trace is None:
            return
        view = self.plot.getPlotItem().getViewBox().sceneBoundingRect()
        metrics = QFontMetrics(self.plot.font())
        self.plot.getAxis("bottom").setTicks([column_ticks(trace.labels, metrics, view.width())])
        labels = trace.labels
        step = max(1, math.ceil(metrics.height() * len(labels) / max(view.height(), 1)))
        rows = [(i, fit_text(labels[i], metrics, ROW_TICK_PX)) for i in range(0, len(labels), step)]
        self.plot.getAxis("left").setTicks([rows])

    def _hovered(self, point: QPointF) -> None:
        """The weight under the mouse, with its query and key tokens."""
        session = self.controller.session
        matrix = self.current(session)
        if matrix is None or session.trace is None:
            return
        spot = self.plot.getPlotItem().getViewBox().mapSceneToView(point)
        query, key = round(spot.y()), round(spot.x())
        if not (0 <= query < matrix.shape[0] and 0 <= key < matrix.shape[1]):
            self.hover.setText(HOVER)
            return
        labels = session.trace.labels
        self.hover.setText(
            f"query {query} ({labels[query]}) → key {key} ({labels[key]}): {matrix[query, key]:.3f}"
        )

    @staticmethod
    def current(session: Session) -> np.ndarray | None:
        """The matrix shown: the chosen layer's head, or the mean of its heads."""
        if session.trace is None:
            return None
        return _chosen_matrix(session.trace, session.trace_settings)


def _chosen_matrix(trace: Trace, part: TracePart) -> np.ndarray:
    """The chosen layer's head of `trace`'s attention, or the mean of its heads."""
    weights = trace.attention
    layer = weights[part.attention_layer % weights.shape[0]]
    head = part.attention_head
    return layer.mean(axis=0) if head is None else layer[min(head, layer.shape[0] - 1)]
