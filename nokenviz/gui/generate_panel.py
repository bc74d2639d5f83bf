"""The side panel that generates text from a prompt with noken slots (N4).

Tokens stream in as the model worker produces them; Stop takes effect within one token. The
plain-token baseline runs after the noken output, and every run is kept in a history whose
entries copy as JSON (spec, settings, output) for notes and papers.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from nokenviz.gui import jobs
from nokenviz.gui.slot_chips import SlotChips
from nokenviz.gui.worker import Job, Worker

DEFAULT_PROMPT = "{x} whippets are"
DEFAULT_NOKENS = 'x = {"mix": {"White": 0.5, "Black": 0.5}}'


class GeneratePanel(QWidget):
    soft_path = Signal(object)  # [steps, d] vectors fed back by soft feedback, for the view

    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker
        self.job: Job | None = None
        self.runs: list[dict[str, Any]] = []
        self.prompt = QLineEdit(DEFAULT_PROMPT, toolTip="Prompt; {name} marks a noken slot")
        self.nokens = QPlainTextEdit(DEFAULT_NOKENS, toolTip="One noken per line: NAME = JSON spec")
        self.nokens.setMaximumHeight(56)
        self.chips = SlotChips()
        self.prompt.textChanged.connect(self._show_slots)
        self.nokens.textChanged.connect(self._show_slots)
        self._show_slots()
        self._build_decoding()
        self.compare = QCheckBox(
            "plain-token baseline",
            checked=True,
            toolTip="Also generate with each noken replaced by the token it names",
        )
        self.generate_button = QPushButton("Generate", toolTip="Generate (Ctrl+Return)")
        self.generate_button.clicked.connect(self.generate)
        self.stop_button = QPushButton(
            "Stop", enabled=False, toolTip="Stop generating (within one token)"
        )
        self.stop_button.clicked.connect(self.stop)
        self.soft_button = QPushButton(
            "Soft feedback",
            toolTip="Feed back the probability-weighted "
            "embedding instead of a token; shows the argmax shadow",
        )
        self.soft_button.clicked.connect(self.soft_feedback)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.generate)
        self.output = QPlainTextEdit(readOnly=True, placeholderText="noken output")
        self.baseline = QPlainTextEdit(readOnly=True, placeholderText="plain-token baseline")
        self.history = QListWidget(toolTip="Runs; double-click copies one as JSON")
        for box in (self.output, self.baseline, self.history):
            box.setMinimumHeight(40)
        self.history.itemDoubleClicked.connect(self._copy)
        worker.runner.errored.connect(self._failed)
        self._layout()

    def _build_decoding(self) -> None:
        self.max_new = QSpinBox(minimum=1, maximum=4096, value=30, toolTip="max new tokens")
        self.min_new = QSpinBox(minimum=0, maximum=4096, value=0, toolTip="min new tokens")
        self.temperature = QDoubleSpinBox(
            minimum=0.0, maximum=5.0, singleStep=0.1, value=0.0, toolTip="0 = greedy"
        )
        self.top_k = QSpinBox(minimum=0, maximum=100000, value=0, toolTip="0 = off")
        self.top_p = QDoubleSpinBox(
            minimum=0.01, maximum=1.0, singleStep=0.05, value=1.0, toolTip="1 = off"
        )
        self.seed = QSpinBox(minimum=-1, maximum=2**31 - 1, value=-1, toolTip="-1 = no seed")

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("prompt", self.prompt)
        form.addRow("slots", self.chips)
        form.addRow("nokens", self.nokens)
        decoding = QGridLayout()  # two rows of three: keeps the dock narrow
        controls = (
            ("max", self.max_new),
            ("min", self.min_new),
            ("seed", self.seed),
            ("T", self.temperature),
            ("top-k", self.top_k),
            ("top-p", self.top_p),
        )
        for index, (label, widget) in enumerate(controls):
            row, column = divmod(index, 3)
            decoding.addWidget(QLabel(label), row, 2 * column)
            decoding.addWidget(widget, row, 2 * column + 1)
        form.addRow("decoding", decoding)
        buttons = QHBoxLayout()
        for widget in (self.compare, self.generate_button, self.soft_button, self.stop_button):
            buttons.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("output"))
        layout.addWidget(self.output, 2)
        layout.addWidget(QLabel("baseline: each noken replaced by the token it names"))
        layout.addWidget(self.baseline, 1)
        layout.addWidget(QLabel("history"))
        layout.addWidget(self.history, 1)

    def settings(self) -> dict[str, Any]:
        """The decoding controls as `DecodingSettings` keyword arguments."""
        return {
            "max_new_tokens": self.max_new.value(),
            "min_new_tokens": min(self.min_new.value(), self.max_new.value()),
            "temperature": self.temperature.value(),
            "top_k": self.top_k.value() or None,
            "top_p": self.top_p.value() if self.top_p.value() < 1.0 else None,
            "seed": self.seed.value() if self.seed.value() >= 0 else None,
        }

    def set_settings(self, decoding: dict[str, Any]) -> None:
        """The inverse of `settings` (a scene's decoding part)."""
        self.max_new.setValue(decoding["max_new_tokens"])
        self.min_new.setValue(decoding["min_new_tokens"])
        self.temperature.setValue(decoding["temperature"])
        self.top_k.setValue(decoding["top_k"] or 0)
        self.top_p.setValue(decoding["top_p"] or 1.0)
        self.seed.setValue(-1 if decoding["seed"] is None else decoding["seed"])

    def _show_slots(self) -> None:
        self.chips.show_slots(self.prompt.text(), self.noken_lines())

    def noken_lines(self) -> list[str]:
        return [line for line in self.nokens.toPlainText().splitlines() if line.strip()]

    def generate(self) -> None:
        if self.job is not None:
            return
        self.output.setPlainText(self.prompt.text())
        self.baseline.clear()
        fn = jobs.generate(
            self.prompt.text(), self.noken_lines(), self.settings(), self.compare.isChecked()
        )
        self.job = self.worker.submit("generation", fn, self._finished, self._token)
        self._set_running(True)

    def soft_feedback(self) -> None:
        """Run N6 with the max-new-tokens steps at the panel's temperature (0 counts as 1)."""
        if self.job is not None:
            return
        self.output.setPlainText(self.prompt.text() + " [soft]")
        self.baseline.clear()
        fn = jobs.soft(
            self.prompt.text(),
            self.noken_lines(),
            self.max_new.value(),
            self.temperature.value() or 1.0,
        )
        self.job = self.worker.submit("soft feedback", fn, self._soft_finished, self._token)
        self._set_running(True)

    def _soft_finished(self, run: Any) -> None:
        self.output.setPlainText(f"{self.prompt.text()} [soft]{run.shadow_text}")
        self.soft_path.emit(run.vectors.numpy())
        item = QListWidgetItem(f"{self.prompt.text()} [soft] → {run.shadow_text[:60]!r}")
        item.setToolTip(
            json.dumps(
                {
                    "prompt": self.prompt.text(),
                    "nokens": self.noken_lines(),
                    "mode": "soft",
                    "shadow_text": run.shadow_text,
                    "top_probs": [round(p, 4) for p in run.top_probs],
                },
                ensure_ascii=False,
                indent=1,
            )
        )
        self.history.addItem(item)
        self._done()

    def stop(self) -> None:
        if self.job is not None:
            self.job.task.cancel()

    def _token(self, text: str) -> None:
        self.output.insertPlainText(text)
        self.output.ensureCursorVisible()

    def _finished(self, run: dict[str, Any]) -> None:
        self.output.setPlainText(self.prompt.text() + run["text"])
        if run["baseline_text"] is not None:
            self.baseline.setPlainText(run["baseline_text"])
        self.runs.append(run)
        flag = " (stopped)" if run["stopped"] else ""
        item = QListWidgetItem(f"{run['prompt']}{flag} → {run['text'][:60]!r}")
        item.setToolTip(json.dumps(run, ensure_ascii=False, indent=1))
        self.history.addItem(item)
        self._done()

    def _failed(self, job: Job, _message: str) -> None:
        if job is self.job:
            self._done()

    def _done(self) -> None:
        self.job = None
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        self.generate_button.setEnabled(not running)
        self.soft_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def _copy(self, item: QListWidgetItem) -> None:
        QGuiApplication.clipboard().setText(item.toolTip())
