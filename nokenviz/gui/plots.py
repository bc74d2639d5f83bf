"""Small helpers shared by the panels: plots, and sizes that keep a panel readable."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QPlainTextEdit, QTableWidget

from nokenviz.core.models.token_labels import abbreviate

MIN_CHARS = 3  # text cut shorter than this (with its `…`) says nothing: leave it out


def plot_widget(title: str, left: str, bottom: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setTitle(title, color="k", size="10pt")
    plot.setLabel("left", left)
    plot.setLabel("bottom", bottom)
    plot.plotItem.setMenuEnabled(False)
    plot.setMinimumHeight(170)  # below this a plot is a title and two axes
    plot.setMinimumWidth(160)  # nor narrower than its axes and title: a plot is never cut
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


def fit_text(label: str, metrics: QFontMetrics, width: float) -> str:
    """The longest cut of `label` (marked `…`) that fits `width` pixels, never shorter than
    MIN_CHARS characters (the caller checks that those fit)."""
    limit = len(label)
    while limit > MIN_CHARS and metrics.horizontalAdvance(abbreviate(label, limit)) > width:
        limit -= 1
    return abbreviate(label, limit)


def column_ticks(labels: list[str], metrics: QFontMetrics, span: float) -> list[tuple[int, str]]:
    """Tick labels for `len(labels)` columns over `span` pixels: each cut to its column's
    width, or every n-th one where columns are too narrow for even a cut label."""
    if not labels:
        return []
    column = span / len(labels)
    least = metrics.horizontalAdvance("ab…") + 6
    step = max(1, math.ceil(least / max(column, 1)))
    return [
        (i, fit_text(labels[i], metrics, step * column - 6)) for i in range(0, len(labels), step)
    ]
