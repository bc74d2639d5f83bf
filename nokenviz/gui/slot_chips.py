"""A prompt's noken slots shown as chips under the prompt box.

Each `{name}` in the prompt is a chip: blue with the noken's kind when a line defines it, red
when none does; a noken that no slot uses is a grey chip. The same checks the generator makes
(`check_slots`) are visible before anything runs.
"""

from __future__ import annotations

import json

from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from nokenviz.core.nokens.template import slot_names
from nokenviz.errors import PromptError

STYLES = {
    "filled": "background:#dbe9f6; color:#08306b;",
    "missing": "background:#fde0dd; color:#a50f15;",
    "unused": "background:#eeeeee; color:#555555;",
}


def noken_kind(spec_text: str) -> str | None:
    """The spec's kind key (`mix`, `lerp`, ...) for the chip, or None if it is not a JSON object."""
    try:
        spec = json.loads(spec_text)
    except json.JSONDecodeError:
        return None
    return next(iter(spec), None) if isinstance(spec, dict) else None


class SlotChips(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.chips: list[QLabel] = []

    def show_slots(self, prompt: str, noken_lines: list[str]) -> None:
        for chip in self.chips:
            chip.hide()  # at once: the deletion waits for the event loop
            chip.deleteLater()
        self.chips = []
        while self.row.count():
            self.row.takeAt(0)
        defined = {}
        for line in noken_lines:
            name, _, spec = line.partition("=")
            defined[name.strip()] = spec.strip()
        try:
            slots = slot_names(prompt)
        except PromptError as exc:
            self._add(str(exc), "missing", str(exc))
            slots = []
        for name in slots:
            if name in defined:
                kind = noken_kind(defined[name]) or "invalid spec"
                self._add(f"{{{name}}} {kind}", "filled", defined[name])
            else:
                self._add(f"{{{name}}} undefined", "missing", f"add a line: {name} = {{...}}")
        if slots or defined:
            for name in defined.keys() - set(slots):
                self._add(f"{name} unused", "unused", f"the prompt has no {{{name}}} slot")
        self.row.addStretch(1)

    def _add(self, text: str, state: str, tooltip: str) -> None:
        chip = QLabel(text, toolTip=tooltip)
        chip.setProperty("state", state)
        chip.setStyleSheet(f"QLabel {{ {STYLES[state]} border-radius: 8px; padding: 1px 8px; }}")
        self.chips.append(chip)
        self.row.addWidget(chip)
