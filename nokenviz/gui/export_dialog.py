"""Which figure to export, at what printed size and PNG resolution (the file type comes from
the file name)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from nokenviz.core.figures.sizes import SIZES

FIGURES = {
    "sphere": "Sphere (tokens, trajectory, selection, noken)",
    "lens": "Logit lens heatmap and norm per layer",
    "attention": "Attention of the chosen layer",
    "sweep": "Sweep table",
    "length": "Next-token distribution vs vector length",
    "generate": "The last generation beside its baseline",
}
SIZE_TITLES = {
    "screen": "Screen (8 in wide)",
    "column": "One column (3.5 in)",
    "page": "Two columns (7 in)",
}


class ExportDialog(QDialog):
    def __init__(self, parent: QWidget, figure: str) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export figure")
        self.choice = QComboBox()
        for key, title in FIGURES.items():
            self.choice.addItem(title, key)
        self.choice.setCurrentIndex(max(self.choice.findData(figure), 0))
        self.size_box = QComboBox(toolTip="Printed width; fonts are sized to stay legible at it")
        for key, title in SIZE_TITLES.items():
            self.size_box.addItem(title, key)
        self.dpi_box = QSpinBox(
            minimum=50,
            maximum=1200,
            singleStep=50,
            suffix=" dpi",
            toolTip="PNG resolution (SVG and PDF are vector, with the points at 300 dpi)",
        )
        self.size_box.currentIndexChanged.connect(
            lambda _: self.dpi_box.setValue(2 * SIZES[self.figure_size()].dpi)
        )
        self.dpi_box.setValue(2 * SIZES["screen"].dpi)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("figure", self.choice)
        form.addRow("size", self.size_box)
        form.addRow("PNG resolution", self.dpi_box)
        note = "Paper theme: white, colour-blind-safe colours, TrueType text; points rasterised."
        form.addRow(QLabel(note))
        form.addRow(buttons)

    def figure(self) -> str:
        return self.choice.currentData()

    def figure_size(self) -> str:
        return self.size_box.currentData()

    def dpi(self) -> float:
        return float(self.dpi_box.value())
