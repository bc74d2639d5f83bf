"""The selected token: id, norm, input-vs-output angle (untied models), and its nearest and
farthest tokens by cosine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from nokenviz.gui.plots import compact, rows_height, show_rows
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session

if TYPE_CHECKING:
    from nokenviz.core.maps.vocabulary import Vocabulary

PARTS: frozenset[Part] = frozenset({"model", "selection", "projection", "neighbours"})


class Inspector(QWidget):
    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.title = QLabel("Click a token or search for one.")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["token", "id", "cosine"])
        compact(self.table)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setToolTip(
            "Nearest (top) and farthest (bottom) tokens by cosine; double-click to select"
        )
        self.table.cellDoubleClicked.connect(self._chosen)
        show_rows(self.table, 4)
        self.column = QVBoxLayout(self)
        self.column.addWidget(self.title)
        self.column.addWidget(self.table)

    def height_for(self, rows: int) -> int:
        """The dock height that shows the token's lines and `rows` neighbours."""
        margins = self.column.contentsMargins()
        text = 5 * self.title.fontMetrics().lineSpacing() + self.column.spacing()
        return text + rows_height(self.table, rows) + margins.top() + margins.bottom()

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if not changed & (PARTS | {"jobs"}):
            return
        vocab = session.vocab
        if vocab is None or not session.selection:
            self.title.setText("Click a token or search for one.")
            self.table.setRowCount(0)
            return
        self._show_token(session, vocab, session.selection[-1])  # its recall: once measured
        if changed & PARTS:
            self._show_neighbours(session, vocab.labels)

    def _show_token(self, session: Session, vocab: Vocabulary, token: int) -> None:
        norms = session.norms
        rank = float((norms < norms[token]).mean())
        self.title.setText(
            f"<b>{_escape(vocab.labels[token])}</b> &nbsp; #{token} &nbsp; "
            f"<span style='color:#555'>{_escape(vocab.describe(token))}</span><br>"
            f"norm in {session.matrix}: <b>{norms[token]:.3f}</b> "
            f"(larger than {share_text(rank)} of tokens){_input_output_line(vocab, token)}"
            f"{_recall_line(session, vocab)}"
        )

    def _show_neighbours(self, session: Session, tokens: list[str]) -> None:
        found = session.neighbours
        if found is None:
            self.table.setRowCount(0)
            return
        rows = [("top", n) for n in found.top] + [("bottom", n) for n in found.bottom]
        self.table.setRowCount(len(rows))
        for row, (part, n) in enumerate(rows):
            cells = (tokens[n.id], f"#{n.id}", f"{n.score:+.4f}")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, n.id)
                if part == "bottom":
                    item.setForeground(Qt.GlobalColor.darkRed)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()

    def _chosen(self, row: int, _column: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.controller.select([int(item.data(Qt.ItemDataRole.UserRole))])


def _input_output_line(vocab: Vocabulary, token: int) -> str:
    """For untied models: how the token's input and output vectors differ."""
    if "W_U" not in vocab.matrices:
        return ""
    e, u = vocab.row("W_E", token), vocab.row("W_U", token)
    cosine = float(e @ u / max(np.linalg.norm(e) * np.linalg.norm(u), 1e-12))
    angle = float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))
    return (
        f"<br>W_E norm {np.linalg.norm(e):.3f} · W_U norm {np.linalg.norm(u):.3f} · "
        f"angle between them {angle:.1f}°"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _recall_line(session: Session, vocab: Vocabulary) -> str:
    """How many of the token's nearest tokens are nearest on screen ('' while measured again
    for a new map)."""
    recall = None if session.neighbours is None else session.neighbours.recall
    if recall is None or "neighbours" in session.running:
        return ""
    k = min(10, len(vocab.tokens) - 1)
    return (
        f"<br>of its {k} nearest tokens, <b>{round(recall * k)}</b> are among its {k} nearest "
        "on screen (kNN recall)"
    )


def share_text(share: float) -> str:
    """A share as a percentage that never rounds a few tokens to 0% or all but a few to 100%:
    0.15%, 8%, 99.9%."""
    percent = 100 * share
    if percent in (0.0, 100.0) or 1 <= percent <= 99:
        return f"{percent:.0f}%"
    return f"{percent:.2g}%" if percent < 1 else f"{100 - float(f'{100 - percent:.2g}'):g}%"
