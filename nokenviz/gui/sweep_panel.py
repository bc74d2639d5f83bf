"""Sweeps: one greedy generation per t between two prompts, or per seed of a random
noken, filled into a table row by row and exported as CSV or Markdown."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
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

from nokenviz.core.scenes.scene import SweepPart
from nokenviz.errors import NokenvizError
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session

KINDS = {
    "lerp": "LERP between two prompts",
    "slerp": "SLERP between two prompts",
    "seeds": "random noken {x} over seeds",
}
SEEDS_PROMPT = "{x} is a color that is often associated with"
RUN_TIP = "One greedy generation per row"


class SweepPanel(QWidget):
    failed = Signal(str)  # an export that could not be written

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.kind = QComboBox(toolTip="What varies from row to row")
        for key, title in KINDS.items():
            self.kind.addItem(title, key)
        self.prompt_a = QLineEdit(toolTip="Prompt at t = 0 (or with {x} for seeds)")
        self.prompt_b = QLineEdit(toolTip="Prompt at t = 1 (same number of tokens)")
        self.steps = QSpinBox(minimum=2, maximum=101, toolTip="rows from t = 0 to t = 1")
        self.seeds = QLineEdit(toolTip="e.g. 0-9 or 1,4,7")
        self.max_new = QSpinBox(minimum=1, maximum=512, toolTip="new tokens per row (greedy)")
        self.match_norm = QCheckBox(
            "norm-matched",
            toolTip="Scale each random noken to the typical token norm (off: raw N(0, 1), "
            "far longer than any token)",
        )
        self.stale = QLabel("")
        self.stale.setStyleSheet("color: #a33")
        self.stale.setWordWrap(True)
        self.prompts: dict[str, str] = {}  # each kind's own prompt A, kept across switches
        self.run_button = QPushButton("Run sweep", toolTip=RUN_TIP)
        self.run_button.clicked.connect(controller.start_sweep)
        self.stop_button = QPushButton("Stop", enabled=False, toolTip="Stop after the current row")
        self.stop_button.clicked.connect(lambda: controller.stop("sweep"))
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.clicked.connect(lambda: self.export("csv"))
        self.md_button = QPushButton("Export Markdown…")
        self.md_button.clicked.connect(lambda: self.export("md"))
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["t", "text"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(True)
        self.editors = (
            self.kind,
            self.prompt_a,
            self.prompt_b,
            self.steps,
            self.seeds,
            self.max_new,
            self.match_norm,
        )
        self.kind.currentIndexChanged.connect(self._kind_changed)
        for line in (self.prompt_a, self.prompt_b, self.seeds):
            line.textChanged.connect(self._edit)
        for box in (self.steps, self.max_new):
            box.valueChanged.connect(self._edit)
        self.match_norm.toggled.connect(self._edit)
        self._layout()

    def _layout(self) -> None:
        form = QFormLayout()
        for label, widget in (
            ("sweep", self.kind),
            ("prompt A", self.prompt_a),
            ("prompt B", self.prompt_b),
            ("steps", self.steps),
            ("seeds", self.seeds),
            ("", self.match_norm),
            ("new tokens", self.max_new),
        ):
            form.addRow(label, widget)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for pair in ((self.run_button, self.stop_button), (self.csv_button, self.md_button)):
            buttons = QHBoxLayout()
            for widget in pair:
                buttons.addWidget(widget)
            layout.addLayout(buttons)
        layout.addWidget(self.stale)
        layout.addWidget(self.table, 1)

    # ------------------------------------------------------------ out

    def part(self) -> SweepPart:
        return SweepPart(
            kind=self.kind.currentData(),
            prompt_a=self.prompt_a.text(),
            prompt_b=self.prompt_b.text(),
            steps=self.steps.value(),
            seeds=self.seeds.text(),
            match_norm=self.match_norm.isChecked(),
            max_new_tokens=self.max_new.value(),
        )

    def _edit(self, *_: object) -> None:
        self.controller.set_sweep(self.part())

    def _kind_changed(self) -> None:
        """Seeds and the two blends each keep their own prompt A: switching kinds and back
        gives back what was typed for that kind."""
        part, before = self.part(), self.controller.session.sweep
        self.prompts[_family(before.kind)] = before.prompt_a
        family = _family(part.kind)
        default = SEEDS_PROMPT if family == "seeds" else SweepPart().prompt_a
        part = part.model_copy(update={"prompt_a": self.prompts.get(family, default)})
        self.controller.set_sweep(part)

    def export(self, fmt: str, path: str | None = None) -> None:
        """Write the table as CSV or Markdown (asks where unless `path` is given)."""
        from nokenviz.core.files import write_text_atomic
        from nokenviz.core.generation.sweeps import rows_as_text

        if path is None:
            pattern = "CSV (*.csv)" if fmt == "csv" else "Markdown (*.md)"
            path, _ = QFileDialog.getSaveFileName(self, "Export the sweep", f"sweep.{fmt}", pattern)
            if not path:
                return
        try:
            s = self.controller.session
            write_text_atomic(path, rows_as_text(s.sweep_rows, fmt, s.sweep_header))
        except NokenvizError as exc:
            self.failed.emit(str(exc))

    # ------------------------------------------------------------ in

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if "sweep" in changed:
            self._show_settings(session.sweep)
        if changed & {"model", "jobs"}:
            reason = session.disabled("sweep")
            self.run_button.setEnabled(not reason)
            self.run_button.setToolTip(reason or RUN_TIP)
            self.stop_button.setEnabled("sweep" in session.running)
        if "sweep_rows" in changed:
            self._show_rows(session)
        if changed & {"sweep", "sweep_rows"}:
            made = session.sweep_made_from
            old = bool(session.sweep_rows) and made is not None and made != session.sweep
            self.stale.setText("rows of earlier settings: Run sweep to update" if old else "")

    def _show_settings(self, part: SweepPart) -> None:
        seeds = part.kind == "seeds"
        self.prompt_b.setEnabled(not seeds)
        self.steps.setEnabled(not seeds)
        self.seeds.setEnabled(seeds)
        self.match_norm.setEnabled(seeds)
        if part == self.part():
            return
        for editor in self.editors:
            editor.blockSignals(True)
        self.kind.setCurrentIndex(self.kind.findData(part.kind))
        for line, text in ((self.prompt_a, part.prompt_a), (self.prompt_b, part.prompt_b)):
            if line.text() != text:
                line.setText(text)
        if self.seeds.text() != part.seeds:
            self.seeds.setText(part.seeds)
        self.steps.setValue(part.steps)
        self.max_new.setValue(part.max_new_tokens)
        self.match_norm.setChecked(part.match_norm)
        for editor in self.editors:
            editor.blockSignals(False)

    def _show_rows(self, session: Session) -> None:
        rows = session.sweep_rows
        if len(rows) < self.table.rowCount() or not rows:
            self.table.setRowCount(0)
        key = "seed" if session.sweep.kind == "seeds" else "t"
        self.table.setHorizontalHeaderLabels([rows[0].key if rows else key, "text"])
        for index in range(self.table.rowCount(), len(rows)):
            self.table.insertRow(index)
            self.table.setItem(index, 0, QTableWidgetItem(str(rows[index].value)))
            self.table.setItem(index, 1, QTableWidgetItem(rows[index].text))
            self.table.resizeRowToContents(index)


def _family(kind: str) -> str:
    """LERP and SLERP share their prompts; seeds has its own."""
    return "seeds" if kind == "seeds" else "blend"
