"""The toolbar: projection, centring, matrix, token search, and the traced prompt."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QToolBar,
)

from nokenviz.core.maps.tsne_map import tsne_seconds
from nokenviz.core.maps.umap_sphere import UMAP_SAMPLE, umap_seconds
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session

PROJECTIONS = {
    "pca": "PCA sphere",
    "umap": "UMAP sphere",
    "neighbors": "Neighbour map",
    "plane": "Token plane",
    "local": "Local view",
}
TRACE_TIP = "Trace the prompt through the layers (Enter)"


class ControlsBar(QToolBar):
    def __init__(self, controller: Controller) -> None:
        super().__init__("Controls", objectName="controls")
        self.controller = controller
        self.setMovable(False)
        self.projection_box = QComboBox(toolTip="How directions are drawn flat")
        for key, title in PROJECTIONS.items():
            self.projection_box.addItem(title, key)
        self.centred_box = QCheckBox(
            "centred", toolTip="Subtract the mean token direction before projecting"
        )
        self.exact_box = QCheckBox(
            "exact",
            toolTip=f"Fit every token (vocabularies past {UMAP_SAMPLE:,} tokens are otherwise "
            "fitted on a sample and the rest placed by neighbours)",
        )
        self.matrix_box = QComboBox(
            toolTip="Input embeddings (W_E) or output vectors (W_U, untied models)"
        )
        self.matrix_box.addItem("W_E", "W_E")
        self.search = QLineEdit(
            placeholderText="search token or #id  (Ctrl+F)", clearButtonEnabled=True
        )
        self.search.setMaximumWidth(240)
        self.prompt = QLineEdit(toolTip="Prompt whose residual stream is traced")
        self.position = QSpinBox(
            toolTip="Token position to trace (-1 = last)", minimum=-512, maximum=511
        )
        self.trajectory_box = QCheckBox(
            "trajectory", toolTip="Draw the traced position's path through the layers"
        )
        self.lens_box = QCheckBox("lens space", toolTip="Draw the trajectory after the final norm")
        self.trace_button = QPushButton("Trace", toolTip=TRACE_TIP)
        self.editors = (
            self.projection_box,
            self.centred_box,
            self.exact_box,
            self.matrix_box,
            self.prompt,
            self.position,
            self.trajectory_box,
            self.lens_box,
        )
        self._connect()
        for widget in (
            QLabel(" projection "),
            self.projection_box,
            self.centred_box,
            self.exact_box,
            QLabel("  "),
            self.matrix_box,
            QLabel("  "),
            self.search,
            QLabel("  prompt "),
            self.prompt,
            QLabel(" position "),
            self.position,
            self.trajectory_box,
            self.lens_box,
            self.trace_button,
        ):
            self.addWidget(widget)
        self.exact_action = next(
            a for a in self.actions() if self.widgetForAction(a) is self.exact_box
        )
        self.exact_action.setVisible(False)  # only for a layout of a large vocabulary

    def _connect(self) -> None:
        c = self.controller
        self.projection_box.currentIndexChanged.connect(
            lambda _: c.set_projection(kind=self.projection_box.currentData())
        )
        self.centred_box.toggled.connect(lambda on: c.set_projection(centred=on))
        self.exact_box.toggled.connect(self._exact_toggled)
        self.matrix_box.currentIndexChanged.connect(
            lambda _: c.set_projection(matrix=self.matrix_box.currentData())
        )
        self.search.returnPressed.connect(lambda: c.search(self.search.text()))
        self.prompt.returnPressed.connect(c.request_trace)
        self.position.editingFinished.connect(self._position_entered)
        self.trace_button.clicked.connect(c.request_trace)
        self.prompt.textChanged.connect(self._trace_edited)
        self.position.valueChanged.connect(self._trace_edited)
        self.trajectory_box.toggled.connect(self._trace_edited)
        self.lens_box.toggled.connect(self._trace_edited)

    def _exact_toggled(self, on: bool) -> None:
        """An exact fit of a large vocabulary takes minutes: say how many before it starts."""
        vocab, kind = self.controller.session.vocab, self.controller.session.projection.kind
        if on and vocab is not None:
            count, dims = len(vocab.tokens), int(vocab.info["d_model"])
            seconds = tsne_seconds if kind == "neighbors" else umap_seconds
            exact, sampled = (seconds(count, dims, exact=e) / 60 for e in (True, False))
            name = "neighbour map" if kind == "neighbors" else "UMAP sphere"
            answer = QMessageBox.question(
                self,
                "Fit every token",
                f"An exact {name} of {count:,} tokens takes about {exact:.0f} min on a 2-core "
                f"machine (the sampled one about {sampled:.0f} min). It runs in the "
                "background and can be cancelled. Fit every token?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.exact_box.blockSignals(True)
                self.exact_box.setChecked(False)
                self.exact_box.blockSignals(False)
                return
        self.controller.set_projection(exact=on)

    def _position_entered(self) -> None:
        """Enter (or leaving the box) with a new position traces it: the views follow."""
        if self.controller.session.trace_stale:
            self.controller.request_trace()

    def _trace_edited(self, *_: object) -> None:
        part = self.controller.session.trace_settings
        update = {
            "prompt": self.prompt.text(),
            "position": self.position.value(),
            "trajectory": self.trajectory_box.isChecked(),
            "lens_space": self.lens_box.isChecked(),
        }
        self.controller.set_trace_settings(part.model_copy(update=update))

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        for editor in self.editors:
            editor.blockSignals(True)
        if changed & {"model", "projection"}:
            self._show_projection(session)
        if "trace_settings" in changed:
            part = session.trace_settings
            if self.prompt.text() != part.prompt:
                self.prompt.setText(part.prompt)
            self.position.setValue(part.position)
            self.trajectory_box.setChecked(part.trajectory)
            self.lens_box.setChecked(part.lens_space)
        for editor in self.editors:
            editor.blockSignals(False)
        if changed & {"model", "jobs"}:
            reason = session.disabled("trace")
            self.trace_button.setEnabled(not reason)
            self.trace_button.setToolTip(reason or TRACE_TIP)

    def _show_projection(self, session: Session) -> None:
        part = session.projection
        self.projection_box.setCurrentIndex(self.projection_box.findData(part.kind))
        self.centred_box.setChecked(part.centred)
        self.exact_box.setChecked(part.exact)
        large = session.vocab is not None and len(session.vocab.tokens) > UMAP_SAMPLE
        self.exact_action.setVisible(part.kind in ("umap", "neighbors") and large)
        names = list(session.vocab.matrices) if session.vocab is not None else ["W_E"]
        if [self.matrix_box.itemData(i) for i in range(self.matrix_box.count())] != names:
            self.matrix_box.clear()
            for name in names:
                self.matrix_box.addItem(name, name)
        self.matrix_box.setCurrentIndex(self.matrix_box.findData(session.matrix))
        self.matrix_box.setEnabled(len(names) > 1)
