"""Sweeps (N5): one greedy generation per t between two prompts, or per seed of a random
noken, filled into a table row by row and exported as CSV or Markdown."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nokenviz.errors import NokenvizError
from nokenviz.gui import jobs
from nokenviz.gui.worker import Job, Worker

KINDS = {
    "lerp": "LERP between two prompts",
    "slerp": "SLERP between two prompts",
    "seeds": "random noken {x} over seeds",
}


class SweepPanel(QWidget):
    failed = Signal(str)  # an export that could not be written

    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker
        self.job: Job | None = None
        self.rows: list[Any] = []
        self.kind = QComboBox(toolTip="What varies from row to row")
        for key, title in KINDS.items():
            self.kind.addItem(title, key)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.prompt_a = QLineEdit(
            "White whippets are", toolTip="Prompt at t = 0 (or with {x} for seeds)"
        )
        self.prompt_b = QLineEdit(
            "Black whippets are", toolTip="Prompt at t = 1 (same number of tokens)"
        )
        self.steps = QSpinBox(minimum=2, maximum=101, value=11, toolTip="rows from t = 0 to t = 1")
        self.seeds = QLineEdit("0-9", toolTip="e.g. 0-9 or 1,4,7", enabled=False)
        self.max_new = QSpinBox(
            minimum=1, maximum=512, value=20, toolTip="new tokens per row (greedy)"
        )
        self.run_button = QPushButton("Run sweep", toolTip="One greedy generation per row")
        self.run_button.clicked.connect(self.run)
        self.stop_button = QPushButton("Stop", enabled=False, toolTip="Stop after the current row")
        self.stop_button.clicked.connect(self.stop)
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.clicked.connect(lambda: self.export("csv"))
        self.md_button = QPushButton("Export Markdown…")
        self.md_button.clicked.connect(lambda: self.export("md"))
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["t", "text"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(True)
        worker.runner.errored.connect(self._ended)
        worker.runner.cancelled.connect(self._ended)
        form = QFormLayout()
        for label, widget in (
            ("sweep", self.kind),
            ("prompt A", self.prompt_a),
            ("prompt B", self.prompt_b),
            ("steps", self.steps),
            ("seeds", self.seeds),
            ("new tokens", self.max_new),
        ):
            form.addRow(label, widget)
        buttons = QHBoxLayout()
        for widget in (self.run_button, self.stop_button, self.csv_button, self.md_button):
            buttons.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)

    def _kind_changed(self) -> None:
        seeds = self.kind.currentData() == "seeds"
        self.prompt_b.setEnabled(not seeds)
        self.steps.setEnabled(not seeds)
        self.seeds.setEnabled(seeds)
        if seeds and "{x}" not in self.prompt_a.text():
            self.prompt_a.setText("{x} is a color that is often associated with")

    def run(self) -> None:
        if self.job is not None:
            return
        self.rows = []
        self.table.setRowCount(0)
        kind = self.kind.currentData()
        self.table.setHorizontalHeaderLabels(["seed" if kind == "seeds" else "t", "text"])
        fn = jobs.sweep(
            kind,
            (self.prompt_a.text(), self.prompt_b.text()),
            self.steps.value(),
            self.seeds.text(),
            self.max_new.value(),
        )
        self.job = self.worker.submit("sweep", fn, self._finished, self._add_row)
        self._set_running(True)

    def stop(self) -> None:
        if self.job is not None:
            self.job.task.cancel()

    def _add_row(self, row: Any) -> None:
        self.rows.append(row)
        index = self.table.rowCount()
        self.table.insertRow(index)
        self.table.setItem(index, 0, QTableWidgetItem(str(row.value)))
        self.table.setItem(index, 1, QTableWidgetItem(row.text))
        self.table.resizeRowToContents(index)

    def _finished(self, _rows: list[Any]) -> None:
        self._ended(self.job)

    def _ended(self, job: Job | None, *_: object) -> None:
        if job is not None and job is self.job:
            self.job = None
            self._set_running(False)

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def export(self, fmt: str, path: str | None = None) -> None:
        """Write the table as CSV or Markdown (asks where unless `path` is given)."""
        from nokenviz.core.files import write_text_atomic
        from nokenviz.core.sweeps import rows_as_text

        if path is None:
            pattern = "CSV (*.csv)" if fmt == "csv" else "Markdown (*.md)"
            path, _ = QFileDialog.getSaveFileName(self, "Export the sweep", f"sweep.{fmt}", pattern)
            if not path:
                return
        try:
            write_text_atomic(path, rows_as_text(self.rows, fmt))
        except NokenvizError as exc:
            self.failed.emit(str(exc))
