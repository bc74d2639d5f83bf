"""Compare the shown model with another checkpoint (a fine-tune, a sibling, another step):
the map coloured by how far each token moved, and the tokens that changed most (a click
selects one on the map)."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nokenviz.core.scenes.scene import MOVERS_DRAWN
from nokenviz.gui.plots import compact
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session

COMPARE_TIP = (
    "Read the other model's embedding (or unembedding) and tokenizer from its checkpoint, match "
    "tokens by their tokenizer piece, rotate it onto this model (orthogonal Procrustes) and "
    "measure per token the cosine, the overlap of the 10 nearest tokens and the norm ratio"
)
HEADERS = ["token", "cosine", "kNN overlap", "norm B/A"]


class ComparePanel(QWidget):
    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.shown: object = None
        self.other = QLineEdit(
            placeholderText="another checkpoint: a folder or a .gguf file (Enter)",
            toolTip=COMPARE_TIP,
        )
        self.other.returnPressed.connect(self._typed)
        self.browse = QPushButton("Compare with model…", toolTip=COMPARE_TIP)
        self.browse.clicked.connect(self.choose)
        self.summary = QLabel("", wordWrap=True)
        self.movers = QCheckBox(
            f"On the map: where the tokens that moved most went (up to {MOVERS_DRAWN})",
            checked=True,
            toolTip="A dotted line from each token whose direction moved most (aligned cosine "
            "below 0.9) to its place in the other model (its aligned vector, placed by this "
            "map's projection); the selected token's line is always drawn",
        )
        self.movers.toggled.connect(controller.show_movers)
        self.other_map = QCheckBox(
            "Draw B's map (Ctrl+B flips)",
            toolTip="Every token where the compared model has it: its aligned vector placed by "
            "this map's projection, so a region is the same region in both; flip back and forth "
            "to see what moved (models of one width only)",
        )
        self.other_map.toggled.connect(controller.show_other_map)
        self.table = compact(QTableWidget(0, len(HEADERS)))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.horizontalHeader().setSectionResizeMode(
            0,
            QHeaderView.ResizeMode.ResizeToContents,  # token texts are read whole
        )
        self.table.setToolTip("Most changed first (lowest neighbour overlap, then cosine)")
        self.table.cellClicked.connect(self._clicked)
        row = QHBoxLayout()
        row.addWidget(self.other, 1)
        row.addWidget(self.browse)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(self.movers)
        layout.addWidget(self.other_map)
        layout.addWidget(self.table, 1)

    def flip(self) -> None:
        """Between this model's map and the compared model's (the View menu's Ctrl+B)."""
        if self.other_map.isEnabled():
            self.other_map.toggle()
        else:
            self.controller.show_other_map(True)  # says why it cannot be drawn

    def choose(self) -> None:
        """Pick the other model's folder (a .gguf file can be typed in the box)."""
        folder = QFileDialog.getExistingDirectory(self, "Compare with the model in…")
        if folder:
            self.other.setText(folder)
            self.controller.compare_with(folder)

    def _typed(self) -> None:
        if self.other.text().strip():
            self.controller.compare_with(self.other.text().strip())

    def _clicked(self, row: int, _column: int) -> None:
        found = self.controller.session.comparison
        if found is not None and row < len(found.moved):
            self.controller.select([found.moved[row].id])

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if changed & {"model", "jobs"}:
            busy = "compare" in session.running
            self.browse.setEnabled(session.vocab is not None and not busy)
        with QSignalBlocker(self.movers), QSignalBlocker(self.other_map):  # the session's
            self.movers.setChecked(session.movers_shown)  # state shown, not changed
            self.other_map.setChecked(session.other_map)
        self.movers.setEnabled(session.comparison is not None)
        compared = session.compared
        self.other_map.setEnabled(compared is not None and compared.comparison.aligned)
        if not changed & {"model", "comparison"} or session.comparison is self.shown:
            return
        self.shown = found = session.comparison
        self.table.setRowCount(0 if found is None else len(found.moved))
        if not self.other.hasFocus():  # the box names the model compared with, or none
            self.other.setText("" if found is None else found.other)
        if found is None:
            self.summary.setText("")
            return
        c = found.comparison
        self.summary.setText(
            f"B: {found.other} · {len(c.ids_a):,} shared tokens ({c.tokens_a:,} in A, "
            f"{c.tokens_b:,} in B) · {c.note} · mean overlap of the 10 nearest tokens "
            f"{c.mean_knn_overlap:.3f} (over {len(c.sampled):,} tokens)"
        )
        for row, moved in enumerate(found.moved):
            cosine = "–" if moved.cosine is None else f"{moved.cosine:+.3f}"
            cells = [moved.label, cosine, f"{moved.knn_overlap:.2f}", f"{moved.norm_ratio:.3f}"]
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
