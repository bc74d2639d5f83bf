"""The side panel that generates text from a prompt with noken slots.

Tokens stream in as the model worker produces them; Stop takes effect within one token (at
once for a generation still queued). The plain-token baseline runs after the noken output,
and every run is kept in a history whose entries copy as JSON for notes and papers. What the
panel shows is the session's generate settings, output and history; edits go back to the
controller as they are typed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QKeySequence,
    QShortcut,
    QTextCharFormat,
    QTextCursor,
)
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
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from nokenviz.core.figures.overlays import OKABE_ITO
from nokenviz.core.generation.settings import DecodingSettings
from nokenviz.core.scenes.scene import GeneratePart
from nokenviz.gui.plots import show_lines
from nokenviz.gui.slot_chips import SlotChips
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session

if TYPE_CHECKING:
    from nokenviz.api.results import GenerationResult

TIPS = {
    "generate": "Generate (Ctrl+Return)",
    "soft": "Feed back the probability-weighted embedding instead of a token, at temperature "
    "T (T = 0: the one-hot argmax); shows the argmax shadow and its path on the sphere",
    "stop": "Stop generating (within one token)",
    "transform": "Replace every token of the prompt by a transform of itself and generate beside "
    'the original: {"neighbors": 5} (mean of its 5 nearest tokens), {"neighbors": 5, "t": 0.5} '
    '(halfway there), {"noise": 0.3, "seed": 1}, {"scale": 1.5}; add "range": [i, j] for '
    "positions i..j-1 only",
    "rules": "One rule per line: TOKEN = SPEC (when the model emits TOKEN the text shows it, the "
    "next input is the noken SPEC; mind the leading space, ␣ = space), #ID = SPEC, or @N = SPEC "
    "(after the N-th new token). Substituted tokens are marked in the output",
    "inject": "One per line: LAYER:POSITION:SPEC[:add|replace]. Layer 0 is the input embeddings, "
    "L the residual stream after block L; POSITION as the lens numbers the prompt (-1 = last); "
    'SPEC a noken spec or {"direction": [A, B], "scale": s} (the difference of their hidden '
    "states; added by default)",
}
BASELINE = "baseline: each noken replaced by the token it names"
OUTPUT_OLD = "output of earlier settings (Generate to update)"
SUBSTITUTED = OKABE_ITO["purple"]  # a rule's swapped input


class GeneratePanel(QWidget):
    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.prompt = QLineEdit(toolTip="Prompt; {name} marks a noken slot")
        self.nokens = QPlainTextEdit(toolTip="One noken per line: NAME = JSON spec")
        self.nokens.setMaximumHeight(56)
        self.chips = SlotChips()
        self._build_decoding()
        self._build_experiment()
        self.compare = QCheckBox(
            "plain-token baseline",
            toolTip="Also generate with each noken replaced by the token it names (with a "
            "transform, rules or injections, the baseline is the run without them instead)",
        )
        self.generate_button = QPushButton("Generate", toolTip=TIPS["generate"])
        self.generate_button.clicked.connect(lambda: controller.start_generate())
        self.stop_button = QPushButton("Stop", enabled=False, toolTip=TIPS["stop"])
        self.stop_button.clicked.connect(lambda: controller.stop("generate"))
        self.soft_button = QPushButton("Soft feedback", toolTip=TIPS["soft"])
        self.soft_button.clicked.connect(lambda: controller.start_generate(soft=True))
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=controller.start_generate)
        self.output = QPlainTextEdit(readOnly=True, placeholderText="noken output")
        self.baseline = QPlainTextEdit(readOnly=True, placeholderText="plain-token baseline")
        self.history = QListWidget(toolTip="Runs; double-click copies one as JSON")
        show_lines(self.output, 6)
        for box in (self.baseline, self.history):
            box.setMinimumHeight(40)
        self.history.itemDoubleClicked.connect(self._copy)
        self.baseline_label = QLabel(BASELINE)
        self.notes = QLabel("", wordWrap=True, visible=False)  # settings that did nothing
        self.notes.setStyleSheet("color: #a35a00")
        self.editors = (
            self.prompt,
            self.nokens,
            self.compare,
            self.transform,
            self.rules,
            self.injections,
            self.ban,
            *self.decoding.values(),
        )
        for editor in (self.prompt, self.nokens, self.transform, self.rules, self.injections):
            editor.textChanged.connect(self._edit)
        self.ban.textChanged.connect(self._edit)
        self.compare.toggled.connect(self._edit)
        for control in self.decoding.values():
            control.valueChanged.connect(self._edit)
        self._layout()

    def _build_decoding(self) -> None:
        self.max_new = QSpinBox(minimum=1, maximum=4096, toolTip="max new tokens")
        self.min_new = QSpinBox(minimum=0, maximum=4096, toolTip="min new tokens")
        self.temperature = QDoubleSpinBox(
            minimum=0.0, maximum=5.0, singleStep=0.1, toolTip="0 = greedy"
        )
        self.top_k = QSpinBox(minimum=0, maximum=100000, toolTip="0 = off")
        self.top_p = QDoubleSpinBox(minimum=0.01, maximum=1.0, singleStep=0.05, toolTip="1 = off")
        self.seed = QSpinBox(minimum=-1, maximum=2**31 - 1, toolTip="-1 = no seed")
        self.penalty = QDoubleSpinBox(
            minimum=0.1,
            maximum=10.0,
            singleStep=0.05,
            value=1.0,
            toolTip="repetition penalty: > 1 discourages tokens already in the prompt or the "
            "output (1 = off)",
        )
        self.decoding: dict[str, QSpinBox | QDoubleSpinBox] = {
            "max": self.max_new,
            "min": self.min_new,
            "seed": self.seed,
            "T": self.temperature,
            "top-k": self.top_k,
            "top-p": self.top_p,
            "rep.": self.penalty,
        }
        self.ban = QLineEdit(
            placeholderText="banned texts, | between them",
            toolTip="Texts the output may never contain, as written (mind the leading space: "
            "' war| fight'); a text of several tokens bans that sequence",
        )

    def _build_experiment(self) -> None:
        self.transform = QLineEdit(
            placeholderText='e.g. {"neighbors": 5}',
            toolTip=TIPS["transform"],
        )
        self.rules = QPlainTextEdit(toolTip=TIPS["rules"], placeholderText='␣a = {"token": " the"}')
        self.injections = QPlainTextEdit(
            toolTip=TIPS["inject"], placeholderText='6:-1:{"direction": [" love", " hate"]}'
        )
        for box in (self.rules, self.injections):
            box.setMaximumHeight(44)

    def _layout(self) -> None:
        """Prompt and nokens, the buttons, then the run beside its baseline; the decoding and
        experiment settings fold away under a line that says what they are, so the output is
        in view on a small screen."""
        form = QFormLayout()
        form.addRow("prompt", self.prompt)
        form.addRow("slots", self.chips)
        form.addRow("nokens", self.nokens)
        settings = QWidget()
        more = QFormLayout(settings)
        more.setContentsMargins(0, 0, 0, 0)
        decoding = QGridLayout()  # rows of two: keeps the dock narrow
        for index, (label, widget) in enumerate(self.decoding.items()):
            row, column = divmod(index, 2)
            decoding.addWidget(QLabel(label), row, 2 * column)
            decoding.addWidget(widget, row, 2 * column + 1)
        more.addRow("decoding", decoding)
        more.addRow("ban", self.ban)
        more.addRow("transform", self.transform)
        more.addRow("rules", self.rules)
        more.addRow("inject", self.injections)
        self.settings_toggle = QToolButton(
            checkable=True,
            toolButtonStyle=Qt.ToolButtonStyle.ToolButtonTextBesideIcon,
            toolTip="Show or hide the decoding settings and the experiment (transform, rules, "
            "injections)",
        )
        self.settings_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.settings_toggle.toggled.connect(self._fold)
        self.settings = settings
        settings.setVisible(False)
        buttons = QHBoxLayout()
        for widget in (self.generate_button, self.soft_button, self.stop_button):
            buttons.addWidget(widget)
        runs = QGridLayout()  # the run beside its baseline
        self.output_label = QLabel("output", wordWrap=True)
        runs.addWidget(self.output_label, 0, 0)
        runs.addWidget(self.baseline_label, 0, 1)
        runs.addWidget(self.output, 1, 0)
        runs.addWidget(self.baseline, 1, 1)
        self.baseline_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.settings_toggle)
        layout.addWidget(settings)
        layout.addWidget(self.compare)
        layout.addLayout(buttons)
        layout.addWidget(self.notes)
        layout.addLayout(runs, 2)
        layout.addWidget(QLabel("history"))
        layout.addWidget(self.history, 1)
        self._describe_settings(self.part())

    def _fold(self, open_: bool) -> None:
        self.settings.setVisible(open_)
        self.settings_toggle.setArrowType(
            Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow
        )

    def _describe_settings(self, part: GeneratePart) -> None:
        """The folded settings in one line: how it decodes and which experiment is set."""
        d = part.decoding
        how = "greedy" if d.temperature == 0 else f"T {d.temperature:g}"
        parts = [f"{how}, {d.max_new_tokens} new tokens"]
        if d.repetition_penalty != 1.0:
            parts.append(f"rep. {d.repetition_penalty:g}")
        if d.ban:
            parts.append(f"{len(d.ban)} banned")
        for count, name in (
            (bool(part.transform), "transform"),
            (len(part.rules), "rule"),
            (len(part.injections), "injection"),
        ):
            if count:
                parts.append(f"{int(count)} {name}" + ("s" if count > 1 else ""))
        self.settings_toggle.setText("settings: " + " · ".join(parts))

    # ------------------------------------------------------------ out: the settings typed

    def part(self) -> GeneratePart:
        """The panel's controls as the session's generate part."""
        lines = _lines(self.nokens)
        decoding = DecodingSettings(
            max_new_tokens=self.max_new.value(),
            min_new_tokens=min(self.min_new.value(), self.max_new.value()),
            temperature=self.temperature.value(),
            top_k=self.top_k.value() or None,
            top_p=self.top_p.value() if self.top_p.value() < 1.0 else None,
            seed=self.seed.value() if self.seed.value() >= 0 else None,
            repetition_penalty=round(self.penalty.value(), 4),
            ban=tuple(text.rstrip() for text in self.ban.text().split("|") if text.strip()),
        )
        return GeneratePart(
            prompt=self.prompt.text(),
            nokens=tuple(lines),
            decoding=decoding,
            compare=self.compare.isChecked(),
            transform=self.transform.text().strip(),
            rules=_lines(self.rules),
            injections=_lines(self.injections),
        )

    def _edit(self, *_: object) -> None:
        part = self.part()
        self._describe_settings(part)
        self.controller.set_generate(part)

    # ------------------------------------------------------------ in: the session

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if changed & {"generate", "output"}:
            output = session.output
            old = output is not None and output.part is not None and output.part != session.generate
            self.output_label.setText(OUTPUT_OLD if old else "output")
        if "generate" in changed:
            self._show_settings(session.generate)
            self.chips.show_slots(session.generate.prompt, list(session.generate.nokens))
        if changed & {"model", "jobs"}:
            self._show_controls(session)
        if "output" in changed:
            self._show_output(session)

    def _show_settings(self, part: GeneratePart) -> None:
        if part == self.part():
            return
        for editor in self.editors:
            editor.blockSignals(True)
        if self.prompt.text() != part.prompt:
            self.prompt.setText(part.prompt)
        self.nokens.setPlainText("\n".join(part.nokens))
        self.compare.setChecked(part.compare)
        decoding = part.decoding
        self.max_new.setValue(decoding.max_new_tokens)
        self.min_new.setValue(decoding.min_new_tokens)
        self.temperature.setValue(decoding.temperature)
        self.top_k.setValue(decoding.top_k or 0)
        self.top_p.setValue(decoding.top_p or 1.0)
        self.seed.setValue(-1 if decoding.seed is None else decoding.seed)
        self.penalty.setValue(decoding.repetition_penalty)
        self.ban.setText("|".join(decoding.ban))
        self.transform.setText(part.transform)
        self.rules.setPlainText("\n".join(part.rules))
        self.injections.setPlainText("\n".join(part.injections))
        for editor in self.editors:
            editor.blockSignals(False)
        self._describe_settings(part)

    def _show_controls(self, session: Session) -> None:
        reason = session.disabled("generate")
        running = "generate" in session.running
        for button, tip in ((self.generate_button, "generate"), (self.soft_button, "soft")):
            button.setEnabled(not reason)
            button.setToolTip(reason or TIPS[tip])
        self.stop_button.setEnabled(running)

    def _show_output(self, session: Session) -> None:
        output = session.output
        text = "" if output is None else output.text
        shown = self.output.toPlainText()
        if text.startswith(shown) and shown:
            cursor = self.output.textCursor()
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(text[len(shown) :])  # at the end, wherever the user clicked
        else:
            self.output.setPlainText(text)
        self.output.ensureCursorVisible()
        result = None if output is None else output.result
        if output is not None and result is not None and result.marks:
            self._mark(len(output.prompt), result.marks)
        baseline = None if result is None else result.baseline_text
        self.baseline.setPlainText(baseline or "")
        self.baseline_label.setText((result.baseline_note if result else "") or BASELINE)
        notes = [] if result is None else result.notes
        self.notes.setText("\n".join(f"note: {n}" for n in notes))
        self.notes.setVisible(bool(notes))
        for run in session.history[self.history.count() :]:
            self.history.addItem(_history_item(run))

    def _mark(self, offset: int, marks: list[tuple[int, int, str]]) -> None:
        """Underline and tint each token whose next input a rule replaced."""
        style = QTextCharFormat()
        style.setBackground(QColor(SUBSTITUTED).lighter(170))
        style.setFontUnderline(True)
        text = self.output.toPlainText()
        for start, end, rule in marks:
            cursor = self.output.textCursor()
            cursor.setPosition(_utf16(text, offset + start))
            cursor.setPosition(_utf16(text, offset + end), QTextCursor.MoveMode.KeepAnchor)
            style.setToolTip(f"next input replaced by the rule {rule}")
            cursor.mergeCharFormat(style)

    def _copy(self, item: QListWidgetItem) -> None:
        QGuiApplication.clipboard().setText(item.toolTip())


def _utf16(text: str, index: int) -> int:
    """A Python string index as a position in Qt's text (UTF-16 units: an emoji counts 2)."""
    return len(text[:index].encode("utf-16-le")) // 2


def _lines(box: QPlainTextEdit) -> tuple[str, ...]:
    return tuple(line for line in box.toPlainText().splitlines() if line.strip())


def _history_item(run: GenerationResult) -> QListWidgetItem:
    """One run in the history list; its tooltip is the run as JSON (as `--json` prints it)."""
    tags = (" [soft]" if run.soft else "") + (" (stopped)" if run.stopped else "")
    item = QListWidgetItem(f"{run.prompt}{tags} → {run.text[:60]!r}")
    item.setToolTip(json.dumps(run.to_json(), ensure_ascii=False, indent=1))
    return item
