"""The noken composer (N2, N3): anchors in the view, a handle to drag among them, the blend
as an editable weight table, and a live preview on the model worker.

The handle's position maps to weights with `core.composer.blend_weights` (one-hot on an
anchor, LERP on an edge; Shift-drag extrapolates); typing weights moves the handle to the
matching point. The kind box also makes random and neighbour-mean nokens. The noken's spec
comes from `core.composer.composer_spec`, the same function scenes are rendered with. Preview
requests supersede each other, so the worker only ever computes the newest one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nokenviz.core.composer import blend_weights, composer_spec, mix_spec, polygon_order
from nokenviz.core.scene import ComposerPart
from nokenviz.errors import NokenvizError
from nokenviz.gui import jobs

if TYPE_CHECKING:
    from nokenviz.gui.main_window import MainWindow

NORMS = {"mixture": "mixture norm", "typical": "typical token norm", "custom": "custom norm"}
KINDS = {
    "blend": "blend of anchors",
    "random": "random vector (seed)",
    "neighbors": "mean of k neighbours",
}
EXTRAPOLATED = (
    "<span style='color:#d55e00'><b>extrapolated</b> beyond the anchors (Shift-drag): "
    "negative weights</span> · "
)


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class ComposerPanel(QWidget):
    """Anchors and weights, blend and norm options, and the preview tables."""

    def __init__(self) -> None:
        super().__init__()
        self.add_button = QPushButton(
            "Add selected", toolTip="Make the selected token an anchor (A)"
        )
        self.clear_button = QPushButton("Clear", toolTip="Remove all anchors")
        self.use_button = QPushButton(
            "Use in Generate", toolTip="Put this noken in the Generate panel"
        )
        self.kind = QComboBox(
            toolTip="What the noken is: a blend of the anchors, a seeded "
            "random vector (N(0,1) per dimension) or the mean of a token's k nearest tokens"
        )
        for key, title in KINDS.items():
            self.kind.addItem(title, key)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, prefix="seed ", enabled=False)
        self.match_norm = QCheckBox(
            "norm-matched", enabled=False, toolTip="Scale to the typical token norm"
        )
        self.k = QSpinBox(
            minimum=1,
            maximum=1000,
            value=5,
            prefix="k ",
            enabled=False,
            toolTip="Neighbours of the newest anchor (or the selected token)",
        )
        self.weights = _table(["anchor", "weight"])
        self.weights.setToolTip("The blend as a probability vector; type to edit (normalised)")
        self.mode = QComboBox(toolTip="Two anchors: straight line (LERP) or great circle (SLERP)")
        self.mode.addItems(["LERP / mix", "SLERP (two anchors)"])
        self.norm = QComboBox(toolTip="The noken's norm")
        for key, title in NORMS.items():
            self.norm.addItem(title, key)
        self.custom_norm = QDoubleSpinBox(minimum=0.01, maximum=1e4, value=3.0, enabled=False)
        self.prompt = QLineEdit(
            "{x} whippets are", toolTip="Prompt of the preview; {x} is the noken"
        )
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.nearest = _table(["nearest token", "cosine"])
        self.next_tokens = _table(["next token", "probability"])
        buttons = QHBoxLayout()
        for widget in (self.add_button, self.clear_button, self.use_button):
            buttons.addWidget(widget)
        kinds = QHBoxLayout()
        for widget in (self.kind, self.seed, self.match_norm, self.k):
            kinds.addWidget(widget)
        options = QHBoxLayout()
        for widget in (self.mode, self.norm, self.custom_norm):
            options.addWidget(widget)
        previews = QHBoxLayout()
        previews.addWidget(self.nearest)
        previews.addWidget(self.next_tokens)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addLayout(kinds)
        layout.addWidget(self.weights, 1)
        layout.addLayout(options)
        layout.addWidget(self.prompt)
        layout.addWidget(self.message)
        layout.addLayout(previews, 2)

    def show_rows(self, table: QTableWidget, rows: list[tuple[str, str]]) -> None:
        table.blockSignals(True)
        table.setRowCount(len(rows))
        for row, cells in enumerate(rows):
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if table is not self.weights or column == 0:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                table.setItem(row, column, item)
        table.blockSignals(False)


class Composer(QObject):
    """Keeps anchors, weights and handle in step, and asks the worker for previews."""

    previewed = Signal()

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.panel = ComposerPanel()
        self.anchors: list[int] = []
        self.weights = np.zeros(0)
        self.vector: np.ndarray | None = None
        view = window.view
        view.handle.sigPositionChanged.connect(self._handle_moved)
        self.panel.add_button.clicked.connect(self.add_selected)
        self.panel.clear_button.clicked.connect(self.clear)
        self.panel.use_button.clicked.connect(self.use_in_generate)
        self.panel.weights.itemChanged.connect(self._weights_typed)
        self.panel.mode.currentIndexChanged.connect(lambda _: self.request_preview())
        self.panel.kind.currentIndexChanged.connect(self._kind_changed)
        for control in (self.panel.seed, self.panel.k):
            control.valueChanged.connect(lambda _: self.request_preview())
        self.panel.match_norm.toggled.connect(lambda _: self.request_preview())
        self.panel.norm.currentIndexChanged.connect(self._norm_changed)
        self.panel.custom_norm.valueChanged.connect(lambda _: self.request_preview())
        self.panel.prompt.returnPressed.connect(self.request_preview)

    # ------------------------------------------------------------ anchors

    def add_selected(self) -> None:
        token = self.window.selected[-1] if self.window.selected else None
        if token is None or token in self.anchors:
            return
        self.anchors.append(token)
        self.weights = np.eye(len(self.anchors))[-1]  # the handle starts on the new anchor
        self.redraw()

    def clear(self) -> None:
        self.anchors, self.weights, self.vector = [], np.zeros(0), None
        self.redraw()

    def anchor_xy(self) -> np.ndarray:
        return self.window.projection.coords[self.anchors].astype(np.float64)

    def redraw(self) -> None:
        """Anchors, handle and noken marker for the current projection (after any change)."""
        view = self.window.view
        if not self.anchors or self.window.projection is None:
            view.set_anchors(np.zeros((0, 2)))
            self._draw_noken()
            self.panel.show_rows(self.panel.weights, [])
            if self.window.projection is not None:
                self.window.draw_selection()
                if self.kind() != "blend":  # random and neighbour nokens need no anchor
                    self.request_preview()
            return
        xy = self.anchor_xy()
        view.set_anchors(xy[polygon_order(xy)] if len(xy) > 2 else xy)
        self.window.draw_selection()  # anchor labels
        self._move_handle(self.weights @ xy)
        self._show_weights()
        self._draw_noken()
        self.request_preview()

    # ------------------------------------------------------------ weights

    def _handle_moved(self) -> None:
        if not self.anchors or self.window.projection is None:
            return
        handle = self.window.view.handle
        position = handle.pos()
        self.weights = blend_weights(
            np.array([position.x(), position.y()]), self.anchor_xy(), handle.extrapolating
        )
        self._show_weights()
        self.request_preview()

    def _move_handle(self, xy: np.ndarray) -> None:
        handle = self.window.view.handle
        handle.blockSignals(True)
        handle.setPos(float(xy[0]), float(xy[1]))
        handle.blockSignals(False)

    def _show_weights(self) -> None:
        tokens = self.window.vocab.tokens
        rows = [
            (repr(tokens[t]), f"{w:.4f}") for t, w in zip(self.anchors, self.weights, strict=True)
        ]
        self.panel.show_rows(self.panel.weights, rows)

    def _weights_typed(self, _item: QTableWidgetItem) -> None:
        try:
            # imported here: nokens imports torch, loaded by the worker long before anyone types
            from nokenviz.core.nokens import parse_noken

            typed = [float(self.panel.weights.item(r, 1).text()) for r in range(len(self.anchors))]
            self.weights = np.asarray(parse_noken(mix_spec(self.anchors, typed)).weights)
        except (ValueError, NokenvizError) as exc:
            self.panel.message.setText(f"<span style='color:#b01c1c'>{exc}</span>")
            self._show_weights()  # back to the weights in force
            return
        self._move_handle(self.weights @ self.anchor_xy())
        self._show_weights()
        self.request_preview()

    def _kind_changed(self) -> None:
        kind = self.kind()
        self.panel.seed.setEnabled(kind == "random")
        self.panel.match_norm.setEnabled(kind == "random")
        self.panel.k.setEnabled(kind == "neighbors")
        self.panel.weights.setEnabled(kind == "blend")
        self.request_preview()

    def kind(self) -> str:
        return self.panel.kind.currentData()

    def _norm_changed(self) -> None:
        self.panel.custom_norm.setEnabled(self.panel.norm.currentData() == "custom")
        self.request_preview()

    # ------------------------------------------------------------ the noken

    def state(self) -> ComposerPart:
        """What the composer holds, as the scene's composer part."""
        panel = self.panel
        return ComposerPart(
            kind=self.kind(),
            anchors=tuple(int(t) for t in self.anchors),
            weights=tuple(float(w) for w in self.weights),
            mode="slerp" if panel.mode.currentIndex() == 1 else "lerp",
            norm=panel.norm.currentData(),
            custom_norm=panel.custom_norm.value(),
            seed=panel.seed.value(),
            match_norm=panel.match_norm.isChecked(),
            k=panel.k.value(),
            prompt=panel.prompt.text(),
        )

    def apply(self, part: ComposerPart) -> None:
        """Restore a scene's composer (after its model is loaded: anchors are token ids)."""
        panel = self.panel
        controls = (panel.kind, panel.mode, panel.norm, panel.custom_norm, panel.seed)
        for control in (*controls, panel.match_norm, panel.k, panel.prompt):
            control.blockSignals(True)
        panel.kind.setCurrentIndex(panel.kind.findData(part.kind))
        panel.mode.setCurrentIndex(1 if part.mode == "slerp" else 0)
        panel.norm.setCurrentIndex(panel.norm.findData(part.norm))
        panel.custom_norm.setValue(part.custom_norm)
        panel.seed.setValue(part.seed)
        panel.match_norm.setChecked(part.match_norm)
        panel.k.setValue(part.k)
        panel.prompt.setText(part.prompt)
        for control in (*controls, panel.match_norm, panel.k, panel.prompt):
            control.blockSignals(False)
        self.anchors, self.weights = list(part.anchors), np.asarray(part.weights, dtype=float)
        self._kind_changed()
        self._norm_changed()
        self.redraw()

    def spec(self) -> dict[str, Any] | None:
        """The noken the kind, handle and options define (DESIGN.md section 4)."""
        selected = self.window.selected[-1] if self.window.selected else None
        return composer_spec(self.state(), self.window.vocab.stats["W_E"].median, selected)

    def request_preview(self) -> None:
        vocab = self.window.vocab
        spec = self.spec()
        if spec is None or vocab is None or not vocab.info["causal"]:
            return
        worker = self.window.model_worker
        worker.supersede("preview")
        worker.submit("preview", jobs.preview(self.panel.prompt.text(), spec), self._previewed)

    def _previewed(self, result: dict[str, Any]) -> None:
        tokens = self.window.vocab.tokens
        shown = result["preview"]
        self.vector = result["vector"]
        self.panel.show_rows(
            self.panel.nearest, [(repr(tokens[n.id]), f"{n.score:+.3f}") for n in shown.nearest]
        )
        self.panel.show_rows(
            self.panel.next_tokens, [(repr(tokens[i]), f"{p:.3f}") for i, p in shown.next_tokens]
        )
        norm = float(np.linalg.norm(self.vector))
        spec = result["spec"]
        marked = EXTRAPOLATED if spec.get("extrapolate") else ""
        self.panel.message.setText(f"{marked}noken norm {norm:.3f} · spec {json.dumps(spec)}")
        self._draw_noken()
        self.previewed.emit()

    def _draw_noken(self) -> None:
        projection = self.window.projection
        marker = (
            None
            if self.vector is None or projection is None
            else projection.project(self.vector)[0]
        )
        self.window.view.set_noken_marker(marker)

    def use_in_generate(self) -> None:
        spec = self.spec()
        if spec is not None:
            panel = self.window.generate_panel
            panel.prompt.setText(self.panel.prompt.text())
            panel.nokens.setPlainText(f"x = {json.dumps(spec, ensure_ascii=False)}")
