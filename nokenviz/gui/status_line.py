"""The status bar: the model shown (or loading), hover text, progress and Cancel.

Progress and Cancel appear only for work that lasts (`SHOW_AFTER_MS`): a preview during a
drag or a neighbour search comes and goes without making the bar flicker."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from nokenviz.remote.client import latest
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session


def model_summary(session: Session) -> str:
    if session.vocab is None:
        return "no model"
    info = session.vocab.info
    return (
        f"{info['name']} · {info['arch']} · {info['n_layers']} layers · d={info['d_model']} · "
        f"vocab {info['vocab_size']:,} · "
        + info.get("remote", f"{info['device']} · {info['dtype']}")
        + _link(info)
        + (f" ({info['dtype_reason']})" if info.get("dtype_reason") else "")
        + (f" · {info['device_plan']}" if info.get("device_plan") else "")
        + ("" if info["causal"] else " · not a causal LM: geometry only, generation disabled")
    )


def _link(info: dict) -> str:
    """A served model's link as its heartbeat last found it: the round trip, or its loss."""
    connection = latest(info["remote_address"]) if "remote_address" in info else None
    return f" · {connection.link}" if connection is not None and connection.link else ""


SHOW_AFTER_MS = 300
LINK_REFRESH_MS = 2000  # a served model's round trip (or its loss) is re-read this often


class StatusLine:
    def __init__(self, status: QStatusBar, controller: Controller) -> None:
        self.status = status
        self.model_label = QLabel("no model")
        self.hover_label = QLabel("")
        # The model line can be long (dtype reason, device plan): it is clipped, with the
        # whole of it as its tooltip, rather than squeezing the progress text unreadable.
        self.model_label.setMinimumWidth(1)
        self.progress = QProgressBar(maximum=1000, minimumWidth=120, maximumWidth=200)
        # What runs, as text beside the bar: a busy bar (no fraction known) shows no text of
        # its own in most Qt styles.
        self.work_label = QLabel("", maximumWidth=420)
        self.cancel_button = QPushButton("Cancel", toolTip="Cancel the running jobs (Esc)")
        self.cancel_button.clicked.connect(controller.cancel_all)
        status.addWidget(self.model_label)
        status.addWidget(self.hover_label, 1)
        status.addPermanentWidget(self.work_label)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.cancel_button)
        for widget in (self.work_label, self.progress, self.cancel_button):
            widget.setVisible(False)
        self.busy = False
        self.show_timer = QTimer(status, singleShot=True, interval=SHOW_AFTER_MS)
        self.show_timer.timeout.connect(lambda: self._show_busy(self.busy))
        self.session: Session | None = None
        self.link_timer = QTimer(status, interval=LINK_REFRESH_MS)
        self.link_timer.timeout.connect(self._show_model)

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if changed & {"model", "jobs"}:
            self.session = session
            self._show_model()
        if changed & {"jobs", "progress"}:
            self.busy = bool(session.running)
            if not self.busy:
                self._show_busy(False)
            elif not self.progress.isVisible() and not self.show_timer.isActive():
                self.show_timer.start()
            fraction, message = session.progress or (None, _running(session))
            self.work_label.setText(message)
            self.work_label.setToolTip(message)
            if fraction is None:  # a job that does not report how far it is: a busy bar
                self.progress.setRange(0, 0)
            else:
                self.progress.setRange(0, 1000)
                self.progress.setValue(int(fraction * 1000))
                self.progress.setFormat("%p%")
        if "message" in changed and session.message:
            self.status.showMessage(session.message, 8000)

    def _show_model(self) -> None:
        session = self.session
        if session is None:
            return
        loading = session.loading
        line = f"loading {loading}…" if loading else model_summary(session)
        self.model_label.setText(line)
        self.model_label.setToolTip(line)
        remote = session.vocab is not None and "remote_address" in session.vocab.info
        if remote and not loading:
            if not self.link_timer.isActive():
                self.link_timer.start()
        else:
            self.link_timer.stop()

    def _show_busy(self, busy: bool) -> None:
        self.show_timer.stop()
        for widget in (self.work_label, self.progress, self.cancel_button):
            widget.setVisible(busy)


def _running(session: Session) -> str:
    """The titles of the jobs in flight, for a bar that has no message yet."""
    titles = [job.title for job in session.running.values()]
    return (", ".join(titles) + "…") if titles else "working…"
