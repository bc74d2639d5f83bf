"""The noken composer: anchors in the view, a handle to drag among them, the blend
as an editable weight table, and the live preview the model worker computes.

The handle's position maps to weights with `core.composer.blend_weights` (one-hot on an
anchor, LERP on an edge; Shift-drag extrapolates); typing weights moves the handle to the
matching point. Everything shown comes from the session's composer part and preview; every
edit goes to the controller, which asks for the preview (newer requests supersede older).
"""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, QTimer
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

from nokenviz.core.nokens.composer import blend_weights, relative_weights
from nokenviz.core.scenes.scene import ComposerPart
from nokenviz.errors import NokenvizError
from nokenviz.gui.plots import compact, show_rows
from nokenviz.gui.sphere_view import SphereView
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session

if TYPE_CHECKING:
    from nokenviz.core.maps.projections import Projection

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
USE_TIP = "Put this noken and its prompt in the Generate panel"
SETTLE_MS = 400  # a pause in a drag this long counts as the noken settled
INVERT_TIP = (
    "Search the hard tokens (1-3) that, in the noken's place, give the closest next-token "
    "distribution (KL): what plain prompt says the same. Esc stops and keeps the best found"
)
WEIGHTS_TIP = (
    "The blend's weights; type relative numbers (1, 1, 2 is 25%, 25%, 50%): they are used "
    "as shares of their sum"
)
READ_TIP = (
    "Patchscopes: the noken put into the target prompt (Logit lens dock) at its '?' and the "
    "model's continuation, i.e. what the model reads the noken as"
)
PARTS: frozenset[Part] = frozenset(
    {"model", "fitted", "composer", "selection", "preview", "readout", "inversion", "jobs"}
)


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    return compact(table)


class ComposerPanel(QWidget):
    def __init__(self, controller: Controller, view: SphereView) -> None:
        super().__init__()
        self.controller, self.view = controller, view
        self._from_handle = False  # a drag is the source of the change: leave the handle be
        self._typing = False  # a typed weight is the source: leave the typed numbers be
        # The readout and noken length sweep wait for a pause: each costs several previews.
        self.settled = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self.settled.timeout.connect(controller.preview_settled)
        self._build()
        self._layout()
        view.handle.sigPositionChanged.connect(self._handle_moved)
        view.handle.sigPositionChangeFinished.connect(self._handle_released)
        self.add_button.clicked.connect(controller.add_anchor)
        self.clear_button.clicked.connect(controller.clear_anchors)
        self.use_button.clicked.connect(controller.use_in_generate)
        self.weights.itemChanged.connect(self._weights_typed)
        self.mode.currentIndexChanged.connect(lambda _: self._edit())
        self.kind.currentIndexChanged.connect(lambda _: self._edit())
        self.seed.valueChanged.connect(lambda _: self._edit())
        self.k.valueChanged.connect(lambda _: self._edit())
        self.match_norm.toggled.connect(lambda _: self._edit())
        self.norm.currentIndexChanged.connect(lambda _: self._edit())
        self.custom_norm.valueChanged.connect(lambda _: self._edit())
        self.prompt.editingFinished.connect(self._edit)

    def _build(self) -> None:
        self.add_button = QPushButton(
            "Add selected", toolTip="Make the selected token an anchor (A)"
        )
        self.clear_button = QPushButton("Clear", toolTip="Remove all anchors")
        self.use_button = QPushButton("Use in Generate", toolTip=USE_TIP)
        self.kind = QComboBox(
            toolTip="What the noken is: a blend of the anchors, a seeded "
            "random vector (N(0,1) per dimension) or the mean of a token's k nearest tokens"
        )
        for key, title in KINDS.items():
            self.kind.addItem(title, key)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, prefix="seed ")
        self.match_norm = QCheckBox("norm-matched", toolTip="Scale to the typical token norm")
        self.k = QSpinBox(
            minimum=1,
            maximum=1000,
            prefix="k ",
            toolTip="Neighbours of the newest anchor (or the selected token)",
        )
        self.weights = _table(["anchor", "weight"])
        show_rows(self.weights, 6)
        self.weights.setMaximumHeight(self.weights.minimumHeight())  # the previews get the rest
        self.weights.setToolTip(WEIGHTS_TIP)
        self.mode = QComboBox(toolTip="Two anchors: straight line (LERP) or great circle (SLERP)")
        self.mode.addItems(["LERP / mix", "SLERP (two anchors)"])
        self.norm = QComboBox(toolTip="The noken's norm")
        for key, title in NORMS.items():
            self.norm.addItem(title, key)
        self.custom_norm = QDoubleSpinBox(minimum=0.01, maximum=1e4)
        self.prompt = QLineEdit(toolTip="Prompt of the preview; {x} is the noken (Enter)")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.readout = QLabel("", toolTip=READ_TIP, wordWrap=True)
        self.invert_button = QPushButton("Invert", toolTip=INVERT_TIP)
        self.invert_button.clicked.connect(self._invert_or_stop)
        self.invert_length = QSpinBox(
            minimum=1, maximum=3, value=2, suffix=" tokens", toolTip="Length of the hard prompt"
        )
        self.inversion = QLabel("", wordWrap=True, toolTip=INVERT_TIP)
        self.inversion.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.nearest = _table(["nearest token", "cosine"])
        self.next_tokens = _table(["next token", "probability"])
        self.controls = (
            self.kind,
            self.mode,
            self.norm,
            self.custom_norm,
            self.seed,
            self.match_norm,
            self.k,
            self.prompt,
        )

    def _layout(self) -> None:
        for combo in (self.kind, self.mode, self.norm):  # may shrink to the dock's width
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(8)
        rows = (
            (self.add_button, self.clear_button, self.use_button),
            (self.kind, self.k),
            (self.seed, self.match_norm),
        )
        layout = QVBoxLayout(self)
        for widgets in rows:
            row = QHBoxLayout()
            for widget in widgets:
                row.addWidget(widget)
            layout.addLayout(row)
        layout.addWidget(self.weights)
        options = QHBoxLayout()
        for widget in (self.mode, self.norm, self.custom_norm):
            options.addWidget(widget)
        layout.addLayout(options)
        layout.addWidget(self.prompt)
        layout.addWidget(self.message)
        layout.addWidget(self.readout)
        inversion = QHBoxLayout()
        for widget in (self.invert_button, self.invert_length):
            inversion.addWidget(widget)
        inversion.addStretch(1)
        layout.addLayout(inversion)
        layout.addWidget(self.inversion)
        previews = QHBoxLayout()
        previews.addWidget(self.nearest)
        previews.addWidget(self.next_tokens)
        layout.addLayout(previews, 2)

    # ------------------------------------------------------------ in: the session

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if not changed & PARTS:
            return
        if changed & {"model", "composer"}:
            self._show_controls(session.composer)
        reason = session.disabled("preview")
        self.use_button.setToolTip(reason or USE_TIP)
        self.use_button.setEnabled(not reason)
        inverting = "invert" in session.running
        reason = "" if inverting else session.disabled("invert")
        if not (reason or inverting or self.controller.composer_spec()):
            reason = "compose a noken first"
        self.invert_button.setText("Stop" if inverting else "Invert")
        self.invert_button.setToolTip(
            reason or ("Stop, keeping the best found" if inverting else INVERT_TIP)
        )
        self.invert_button.setEnabled(not reason)
        if changed & {"model", "readout", "preview"}:
            self._show_readout(session)
        if changed & {"model", "inversion"}:
            self._show_inversion(session)
        if "preview" in changed and session.preview is not None:
            self.settled.start()
        vocab = session.vocab
        if vocab is None or session.fitted is None:
            self.view.handle.setVisible(False)
            return
        if changed & {"model", "fitted", "composer"}:
            self._show_anchors(session)
        if changed & {"model", "fitted", "preview"}:
            self._show_preview(session, vocab.labels)

    def _show_controls(self, part: ComposerPart) -> None:
        for control in self.controls:
            control.blockSignals(True)
        self.kind.setCurrentIndex(self.kind.findData(part.kind))
        self.mode.setCurrentIndex(1 if part.mode == "slerp" else 0)
        self.norm.setCurrentIndex(self.norm.findData(part.norm))
        self.custom_norm.setValue(part.custom_norm)
        self.seed.setValue(part.seed)
        self.match_norm.setChecked(part.match_norm)
        self.k.setValue(part.k)
        if self.prompt.text() != part.prompt:
            self.prompt.setText(part.prompt)
        for control in self.controls:
            control.blockSignals(False)
        self.seed.setEnabled(part.kind == "random")
        self.match_norm.setEnabled(part.kind == "random")
        self.k.setEnabled(part.kind == "neighbors")
        self.weights.setEnabled(part.kind == "blend")
        self.custom_norm.setEnabled(part.norm == "custom")

    def _show_anchors(self, session: Session) -> None:
        """The weight table, and the handle where the weights put it (unless it is the handle
        that moved)."""
        fitted, vocab = session.fitted, session.vocab
        if fitted is None or vocab is None:
            return
        part = session.composer
        xy = self._anchor_xy(fitted, part.anchors)
        self.view.handle.setVisible(len(xy) > 0)
        tokens = vocab.labels
        rows = [(tokens[t], f"{w:.4f}") for t, w in zip(part.anchors, part.weights, strict=True)]
        if not self._typing:  # typed numbers stay as typed; the tooltip shows the shares
            self._show_rows(self.weights, rows)
        shares = ", ".join(f"{label} {share}" for label, share in rows)
        self.weights.setToolTip(f"{WEIGHTS_TIP}\nin force: {shares}" if rows else WEIGHTS_TIP)
        if len(xy) and not self._from_handle:
            self._move_handle(np.asarray(part.weights) @ xy)

    def _show_preview(self, session: Session, tokens: list[str]) -> None:
        shown = session.preview
        if shown is None:
            self._show_rows(self.nearest, [])
            self._show_rows(self.next_tokens, [])
            self.message.setText(session.disabled("preview"))
            return
        preview = shown.preview
        self._show_rows(self.nearest, [(tokens[n.id], f"{n.score:+.3f}") for n in preview.nearest])
        self._show_rows(self.next_tokens, [(tokens[i], f"{p:.3f}") for i, p in preview.next_tokens])
        norm = float(np.linalg.norm(shown.vector))
        marked = EXTRAPOLATED if shown.spec.get("extrapolate") else ""
        self.message.setText(f"{marked}noken norm {norm:.3f} · spec {json.dumps(shown.spec)}")

    def _invert_or_stop(self) -> None:
        if "invert" in self.controller.session.running:
            self.controller.stop("invert")
        else:
            self.controller.request_inversion(self.invert_length.value())

    def _show_readout(self, session: Session) -> None:
        readout = session.noken_readout if session.preview is not None else None
        if readout is None:
            self.readout.setText("")
        elif isinstance(readout, str):
            self.readout.setText(f"reads as: ({readout})")
        else:
            self.readout.setText(f"reads as: <b>{escape(readout.text) or '(nothing)'}</b>")

    def _show_inversion(self, session: Session) -> None:
        found = session.inversion
        if found is None:
            self.inversion.setText("")
            return
        stopped = " (stopped)" if found.cancelled else ""
        self.inversion.setText(
            f"closest hard prompt{stopped}: <b>{escape(''.join(found.labels))}</b> · KL "
            f"{found.kl:.3f} nats (from {found.start_kl:.3f}) · {found.seconds:.0f} s"
        )

    def _show_rows(self, table: QTableWidget, rows: list[tuple[str, str]]) -> None:
        table.blockSignals(True)
        table.setRowCount(len(rows))
        for row, cells in enumerate(rows):
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if table is not self.weights or column == 0:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                table.setItem(row, column, item)
        table.blockSignals(False)

    @staticmethod
    def _anchor_xy(fitted: Projection, anchors: tuple[int, ...]) -> np.ndarray:
        return fitted.coords[list(anchors)].astype(np.float64)

    def _move_handle(self, xy: np.ndarray) -> None:
        handle = self.view.handle
        handle.blockSignals(True)
        handle.setPos(float(xy[0]), float(xy[1]))
        handle.blockSignals(False)

    # ------------------------------------------------------------ out: intents

    def _edit(self) -> None:
        """A control changed: the composer part it now describes goes to the controller."""
        part = self.controller.session.composer
        self.controller.set_composer(
            part.model_copy(
                update={
                    "kind": self.kind.currentData(),
                    "mode": "slerp" if self.mode.currentIndex() == 1 else "lerp",
                    "norm": self.norm.currentData(),
                    "custom_norm": self.custom_norm.value(),
                    "seed": self.seed.value(),
                    "match_norm": self.match_norm.isChecked(),
                    "k": self.k.value(),
                    "prompt": self.prompt.text(),
                }
            )
        )

    def _handle_moved(self) -> None:
        session = self.controller.session
        anchors, fitted = session.composer.anchors, session.fitted
        if not anchors or fitted is None:
            return
        handle = self.view.handle
        position = np.array([handle.pos().x(), handle.pos().y()])
        weights = blend_weights(position, self._anchor_xy(fitted, anchors), handle.extrapolating)
        self._set_weights(weights, from_handle=True)

    def _handle_released(self) -> None:
        """A drag past the anchors (without Shift) ends with the handle where the weights put
        the noken, on the anchors' edge, not where the mouse let go."""
        session = self.controller.session
        anchors, fitted = session.composer.anchors, session.fitted
        if anchors and fitted is not None and not self.view.handle.extrapolating:
            self._move_handle(
                np.asarray(session.composer.weights) @ self._anchor_xy(fitted, anchors)
            )

    def _weights_typed(self, _item: QTableWidgetItem) -> None:
        """Typed weights are relative: 1, 1, 2, 0 is .25, .25, .5, 0 (the cells keep what was
        typed, so the next cell is read against it, not against a normalised column)."""
        session = self.controller.session
        labels = session.vocab.labels if session.vocab is not None else []
        cells = [self.weights.item(row, 1) for row in range(len(session.composer.anchors))]
        names = [labels[t] if t < len(labels) else f"#{t}" for t in session.composer.anchors]
        try:
            weights = relative_weights([c.text() if c else "" for c in cells], names)
        except NokenvizError as exc:
            self.message.setText(
                f"<span style='color:#b01c1c'>{escape(str(exc), quote=False)}</span>"
            )
            return
        self._typing = True
        try:
            self._set_weights(weights, from_handle=False)
        finally:
            self._typing = False

    def _set_weights(self, weights: np.ndarray, from_handle: bool) -> None:
        part = self.controller.session.composer
        self._from_handle = from_handle
        try:
            self.controller.set_composer(
                part.model_copy(update={"weights": tuple(float(w) for w in weights)})
            )
        finally:
            self._from_handle = False
