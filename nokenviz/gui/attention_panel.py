"""Query x key attention for a layer and head (or the mean of heads), and the tokens that
guide the traced position."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from nokenviz.gui.plots import plot_widget
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session

if TYPE_CHECKING:
    from nokenviz.core.residual.lens import Trace
    from nokenviz.core.scenes.scene import TracePart

TITLE = "attention (row: query, column: key)"


class AttentionPanel(QWidget):
    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.plot = plot_widget(TITLE, "query", "key")
        self.plot.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("magma"))
        self.plot.addItem(self.image)
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
        weights, labels = trace.attention, trace.labels
        guiding = trace.guiding()
        best = np.argsort(-guiding)[:3]
        self.guides.setText(
            "guiding tokens (last 4 layers, mean of heads): "
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
        ticks = [[(i, label[:10]) for i, label in enumerate(labels)]]
        self.plot.getAxis("bottom").setTicks(ticks)
        self.plot.getAxis("left").setTicks(ticks)
        matrix = _chosen_matrix(trace, part)
        self.image.setImage(matrix, levels=(0.0, float(matrix.max()) or 1.0), autoLevels=False)
        self.image.setRect(-0.5, -0.5, matrix.shape[1], matrix.shape[0])

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
