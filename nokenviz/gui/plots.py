"""Small helpers shared by the panels: plots, and sizes that keep a panel readable."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QPlainTextEdit, QTableWidget


def plot_widget(title: str, left: str, bottom: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setTitle(title, color="k", size="10pt")
    plot.setLabel("left", left)
    plot.setLabel("bottom", bottom)
    plot.plotItem.setMenuEnabled(False)
    plot.setMinimumHeight(170)  # below this a plot is a title and two axes
    return plot


def compact(table: QTableWidget) -> QTableWidget:
    """Rows one line of text high (Qt's default leaves room for editors): more rows fit."""
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 6)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def rows_height(table: QTableWidget, rows: int) -> int:
    """The height that shows `rows` rows and the header."""
    header = table.horizontalHeader().sizeHint().height()
    body = table.verticalHeader().defaultSectionSize() * rows
    return header + body + 2 * table.frameWidth() + 2


def show_rows(table: QTableWidget, rows: int) -> None:
    """Never shorter than `rows` rows and the header: the docks are laid out around this."""
    table.setMinimumHeight(rows_height(table, rows))


def show_lines(box: QPlainTextEdit, lines: int) -> None:
    """Never shorter than `lines` lines of text."""
    margins = box.contentsMargins()
    text = box.fontMetrics().lineSpacing() * lines + 2 * box.document().documentMargin()
    box.setMinimumHeight(int(text) + margins.top() + margins.bottom() + 2 * box.frameWidth())
