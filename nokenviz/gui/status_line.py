"""The status bar: the model shown (or loading), hover text, progress and Cancel."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session


def model_summary(session: Session) -> str:
    if session.vocab is None:
        return "no model"
    info = session.vocab.info
    return (
        f"{info['name']} · {info['arch']} · {info['n_layers']} layers · d={info['d_model']} · "
        f"vocab {info['vocab_size']:,} · {info['device']} · {info['dtype']}"
        + ("" if info["causal"] else " · not a causal LM: geometry only, generation disabled")
    )


class StatusLine:
    def __init__(self, status: QStatusBar, controller: Controller) -> None:
        self.status = status
        self.model_label = QLabel("no model")
        self.hover_label = QLabel("")
        self.progress = QProgressBar(maximum=1000, maximumWidth=260, textVisible=True)
        self.cancel_button = QPushButton("Cancel", toolTip="Cancel the running jobs (Esc)")
        self.cancel_button.clicked.connect(controller.cancel_all)
        status.addWidget(self.model_label)
        status.addWidget(self.hover_label, 1)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.cancel_button)
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if changed & {"model", "jobs"}:
            loading = session.loading
            self.model_label.setText(f"loading {loading}…" if loading else model_summary(session))
        if changed & {"jobs", "progress"}:
            busy = bool(session.running)
            self.progress.setVisible(busy)
            self.cancel_button.setVisible(busy)
            fraction, message = session.progress or (0.0, "working…")
            self.progress.setValue(int(fraction * 1000))
            self.progress.setFormat(f"{message} %p%")
        if "message" in changed and session.message:
            self.status.showMessage(session.message, 8000)
