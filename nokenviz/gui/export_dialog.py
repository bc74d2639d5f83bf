"""Which figure to export and at what scale (the file type comes from the file name)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QWidget,
)

FIGURES = {
    "sphere": "Sphere (tokens, trajectory, selection, noken)",
    "lens": "Logit lens heatmap and norm per layer",
    "attention": "Attention of the chosen layer",
    "sweep": "Sweep table",
}


class ExportDialog(QDialog):
    def __init__(self, parent: QWidget, figure: str) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export figure")
        self.choice = QComboBox()
        for key, title in FIGURES.items():
            self.choice.addItem(title, key)
        self.choice.setCurrentIndex(max(self.choice.findData(figure), 0))
        self.scale_box = QDoubleSpinBox(
            minimum=1.0,
            maximum=4.0,
            singleStep=0.5,
            value=2.0,
            suffix=" ×",
            toolTip="PNG resolution: 1× = 100 dpi (SVG and PDF are vector)",
        )
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("figure", self.choice)
        form.addRow("PNG scale", self.scale_box)
        form.addRow(QLabel("Paper theme: white, colour-blind-safe colours; points rasterised."))
        form.addRow(buttons)

    def figure(self) -> str:
        return self.choice.currentData()

    def scale(self) -> float:
        return self.scale_box.value()
