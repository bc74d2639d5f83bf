"""Logit-lens heatmap (layers x positions, top-1 probability, top token written in) and the
hidden state's norm per layer (the growth plot)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QWidget

from nokenviz.core.figures.overlays import COLOURS
from nokenviz.gui.plots import plot_widget
from nokenviz.state.session import Part, Session

if TYPE_CHECKING:
    from nokenviz.core.residual.lens import Trace

HEAT_COLORMAP = "viridis"
ROW_PX = 15  # height of one line of cell text
TITLE = "logit lens: top-1 token and probability"


class LensPanel(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.heat = plot_widget(TITLE, "layer", "position")
        self.heat.invertY(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(HEAT_COLORMAP))
        self.heat.addItem(self.image)
        self.texts: list[pg.TextItem] = []
        self.norms = plot_widget("norm per layer (traced position in colour)", "norm", "layer")
        self.norms.setLogMode(y=True)
        self.norms.showGrid(x=True, y=True, alpha=0.3)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heat, 3)
        layout.addWidget(self.norms, 2)

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if not changed & {"model", "trace"}:
            return
        reason = session.disabled("trace")
        self.setToolTip(reason)
        self.heat.setTitle(f"logit lens: {reason}" if reason else TITLE, color="k", size="10pt")
        self._clear()
        trace, vocab = session.trace, session.vocab
        if trace is not None and vocab is not None:
            self._show(trace, vocab.labels)

    def _clear(self) -> None:
        self.image.clear()
        for text in self.texts:
            self.heat.removeItem(text)
        self.texts = []
        self.norms.clear()
        self.heat.getAxis("bottom").setTicks(None)

    def _show(self, trace: Trace, tokens: list[str]) -> None:
        layers, length = trace.heat_probs.shape
        self.image.setImage(trace.heat_probs, levels=(0.0, 1.0), autoLevels=False)
        self.image.setRect(-0.5, -0.5, length, layers)
        # Write the top token in the cells, on as many layers as fit one text line each.
        stride = max(1, int(np.ceil(layers * ROW_PX / max(self.heat.height() - 60, 1))))
        if length <= 40:
            for layer in range(layers - 1, -1, -stride):
                for pos in range(length):
                    prob = trace.heat_probs[layer, pos]
                    text = pg.TextItem(
                        tokens[trace.heat_ids[layer, pos]][:8],
                        anchor=(0.5, 0.5),
                        color="w" if prob < 0.6 else "k",
                    )
                    text.setPos(pos, layer)
                    self.heat.addItem(text)
                    self.texts.append(text)
        ticks = [[(i, label[:10]) for i, label in enumerate(trace.labels)]]
        self.heat.getAxis("bottom").setTicks(ticks)
        for pos in range(length):
            faint = pos != trace.position
            pen = pg.mkPen(
                (150, 150, 150, 120) if faint else COLOURS["trajectory"], width=1 if faint else 2.5
            )
            self.norms.plot(np.arange(layers), trace.norms[:, pos], pen=pen)
