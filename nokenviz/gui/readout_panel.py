"""The traced position read at every layer in the model's own words (Patchscopes): its hidden
state at layer L written over the '?' of an identity prompt, at layer L, and the model's
continuation."""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nokenviz.gui.plots import compact
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session

READ_TIP = (
    "Patchscopes: put the traced position's hidden state at layer L into the target prompt at "
    "its last '?' (at layer L too) and let the model continue: what it reads the state as"
)
NOTE = (
    "Late layers mostly read as the target's own answer: written over there, a state has too "
    "few layers left to act."
)


class ReadoutPanel(QWidget):
    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.read_button = QPushButton("Read each layer", toolTip=READ_TIP)
        self.read_button.clicked.connect(controller.request_readouts)
        self.target = QLineEdit(toolTip="The identity prompt; the vector goes over its last '?'")
        self.target.editingFinished.connect(self._target_typed)
        self.title = QLabel("", wordWrap=True)
        self.table = compact(QTableWidget(0, 2))
        self.table.setHorizontalHeaderLabels(["layer", "reads as"])
        self.table.setToolTip(READ_TIP)
        row = QHBoxLayout()
        row.addWidget(self.read_button)
        row.addWidget(QLabel("target"))
        row.addWidget(self.target, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        layout.addWidget(QLabel(NOTE, wordWrap=True))

    def _target_typed(self) -> None:
        part = self.controller.session.trace_settings
        if self.target.text() != part.readout_target:
            update = {"readout_target": self.target.text()}
            self.controller.set_trace_settings(part.model_copy(update=update))

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if "trace_settings" in changed and self.target.text() != (
            target := session.trace_settings.readout_target
        ):
            self.target.setText(target)
        if changed & {"model", "jobs", "trace"}:
            reason = session.disabled("readout")
            self.read_button.setEnabled(not reason and "readouts" not in session.running)
            self.read_button.setToolTip(reason or READ_TIP)
        if changed & {"model", "trace", "readout", "trace_settings"}:
            self._show(session)

    def _show(self, session: Session) -> None:
        """Last layer first, as the logit-lens heatmap reads from the top."""
        trace, readouts = session.trace, list(reversed(session.readouts or []))
        stale = f" · <span style='color:#a33'>{session.trace_stale}</span>"
        self.title.setText(
            ""
            if trace is None
            else f"position {trace.position} ({escape(trace.labels[trace.position])})"
            + (stale if session.trace_stale else "")
        )
        self.table.setRowCount(len(readouts))
        for row, readout in enumerate(readouts):
            for column, text in enumerate((str(readout.layer), readout.text or "(nothing)")):
                self.table.setItem(row, column, QTableWidgetItem(text))
