"""Dock panels: token inspector, norm histogram with brushing, logit lens, norms, attention."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:  # geometry imports torch, which must not load on the GUI thread (P4)
    from nokenviz.core.geometry import Neighbours

HEAT_COLORMAP = "viridis"
ROW_PX = 15  # height of one line of cell text


def _plot(title: str, left: str, bottom: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setTitle(title, color="k", size="10pt")
    plot.setLabel("left", left)
    plot.setLabel("bottom", bottom)
    plot.plotItem.setMenuEnabled(False)
    return plot


class Inspector(QWidget):
    """The selected token: id, norm, and its nearest and farthest tokens by cosine."""

    neighbour_chosen = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.title = QLabel("Click a token or search for one.")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["token", "id", "cosine"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setToolTip(
            "Nearest (top) and farthest (bottom) tokens by cosine; double-click to select"
        )
        self.table.cellDoubleClicked.connect(self._chosen)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.table)

    def show_token(
        self, token: str, token_id: int, norm: float, rank: float, matrix: str, extra: str = ""
    ) -> None:
        self.title.setText(
            f"<b>{_escape(repr(token))}</b> &nbsp; #{token_id}<br>"
            f"norm in {matrix}: <b>{norm:.3f}</b> (larger than {rank:.0%} of tokens){extra}"
        )

    def show_neighbours(self, found: Neighbours, tokens: list[str]) -> None:
        rows = [("top", n) for n in found.top] + [("bottom", n) for n in found.bottom]
        self.table.setRowCount(len(rows))
        for row, (part, n) in enumerate(rows):
            cells = (repr(tokens[n.id]), f"#{n.id}", f"{n.score:+.4f}")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, n.id)
                if part == "bottom":
                    item.setForeground(Qt.GlobalColor.darkRed)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()

    def _chosen(self, row: int, _column: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.neighbour_chosen.emit(int(item.data(Qt.ItemDataRole.UserRole)))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class NormHistogram(QWidget):
    """Histogram of token norms; dragging the shaded band highlights those tokens in the view."""

    brushed = Signal(float, float)

    def __init__(self) -> None:
        super().__init__()
        self.plot = _plot("token norms (drag the band to highlight)", "tokens", "norm")
        self.plot.setLogMode(y=False)
        self.curve = pg.PlotDataItem(
            stepMode="center", fillLevel=0, brush=(68, 1, 84, 120), pen="k"
        )
        self.plot.addItem(self.curve)
        self.region = pg.LinearRegionItem(brush=(230, 80, 20, 60))
        self.region.setZValue(10)
        self.region.sigRegionChangeFinished.connect(lambda r: self.brushed.emit(*r.getRegion()))
        self.plot.addItem(self.region)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def set_norms(self, norms: np.ndarray) -> None:
        counts, edges = np.histogram(norms, bins=120)
        self.curve.setData(edges, counts)
        high = float(np.percentile(norms, 99))
        self.region.blockSignals(True)
        self.region.setRegion((high, float(norms.max())))
        self.region.blockSignals(False)


class LensPanel(QWidget):
    """Logit-lens heatmap (layers x positions, top-1 probability, top token written in) and
    the hidden state's norm per layer (seed 004's growth plot)."""

    def __init__(self) -> None:
        super().__init__()
        self.heat = _plot("logit lens: top-1 token and probability", "layer", "position")
        self.heat.invertY(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(HEAT_COLORMAP))
        self.heat.addItem(self.image)
        self.texts: list[pg.TextItem] = []
        self.norms = _plot("norm per layer (red: traced position)", "norm", "layer")
        self.norms.setLogMode(y=True)
        self.norms.showGrid(x=True, y=True, alpha=0.3)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heat, 3)
        layout.addWidget(self.norms, 2)

    def show_trace(
        self,
        heat_ids: np.ndarray,
        heat_probs: np.ndarray,
        norms: np.ndarray,
        position: int,
        labels: list[str],
        tokens: list[str],
    ) -> None:
        layers, length = heat_probs.shape
        self.image.setImage(heat_probs, levels=(0.0, 1.0), autoLevels=False)
        self.image.setRect(-0.5, -0.5, length, layers)
        for text in self.texts:
            self.heat.removeItem(text)
        self.texts = []
        # Write the top token in the cells, on as many layers as fit one text line each.
        stride = max(1, int(np.ceil(layers * ROW_PX / max(self.heat.height() - 60, 1))))
        if length <= 40:
            for layer in range(layers - 1, -1, -stride):
                for pos in range(length):
                    prob = heat_probs[layer, pos]
                    text = pg.TextItem(
                        tokens[heat_ids[layer, pos]][:8],
                        anchor=(0.5, 0.5),
                        color="w" if prob < 0.6 else "k",
                    )
                    text.setPos(pos, layer)
                    self.heat.addItem(text)
                    self.texts.append(text)
        axis = self.heat.getAxis("bottom")
        axis.setTicks([[(i, label[:10]) for i, label in enumerate(labels)]])
        self.norms.clear()
        for pos in range(length):
            faint = pos != position
            pen = pg.mkPen(
                (150, 150, 150, 120) if faint else (214, 39, 40), width=1 if faint else 2.5
            )
            self.norms.plot(np.arange(layers), norms[:, pos], pen=pen)


class AttentionPanel(QWidget):
    """Query x key attention for a layer and head (or the mean of heads)."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: np.ndarray | None = None
        self.labels: list[str] = []
        self.plot = _plot("attention (row: query, column: key)", "query", "key")
        self.plot.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("magma"))
        self.plot.addItem(self.image)
        self.layer = QSpinBox(toolTip="decoder layer")
        self.head = QSpinBox(toolTip="attention head")
        self.mean = QCheckBox("mean of heads", toolTip="average the attention of all heads")
        self.guides = QLabel("", toolTip="Keys the traced position attends to most (seed 003)")
        for control in (self.layer, self.head):
            control.valueChanged.connect(self.redraw)
        self.mean.toggled.connect(self.redraw)
        controls = QHBoxLayout()
        for widget in (QLabel("layer"), self.layer, QLabel("head"), self.head, self.mean):
            controls.addWidget(widget)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.guides)
        layout.addWidget(self.plot)

    def show_attention(self, weights: np.ndarray, labels: list[str], guiding: np.ndarray) -> None:
        best = np.argsort(-guiding)[:3]
        self.guides.setText(
            "guiding tokens (last 4 layers, mean of heads): "
            + ", ".join(f"{labels[i]!r} {guiding[i]:.2f}" for i in best)
        )
        first = self.weights is None or self.layer.maximum() != weights.shape[0] - 1
        self.weights, self.labels = weights, labels
        self.layer.setRange(0, weights.shape[0] - 1)
        self.head.setRange(0, weights.shape[1] - 1)
        if first:  # seed 003: the last layer's mean over heads shows the guiding tokens
            self.layer.setValue(weights.shape[0] - 1)
            self.mean.setChecked(True)
        ticks = [[(i, label[:10]) for i, label in enumerate(labels)]]
        self.plot.getAxis("bottom").setTicks(ticks)
        self.plot.getAxis("left").setTicks(ticks)
        self.redraw()

    def current(self) -> np.ndarray | None:
        if self.weights is None:
            return None
        layer = self.weights[self.layer.value()]
        return layer.mean(axis=0) if self.mean.isChecked() else layer[self.head.value()]

    def redraw(self) -> None:
        matrix = self.current()
        self.head.setEnabled(not self.mean.isChecked())
        if matrix is not None:
            self.image.setImage(matrix, levels=(0.0, float(matrix.max()) or 1.0), autoLevels=False)
            self.image.setRect(-0.5, -0.5, matrix.shape[1], matrix.shape[0])
