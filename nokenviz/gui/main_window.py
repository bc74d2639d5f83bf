"""The main window: the sphere in the middle, panels in docks, work on two worker threads.

Nothing here imports torch: model work is submitted as jobs (plain functions importing the
core inside) to the model worker, projections to the projection worker.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolBar,
)

from nokenviz.gui import jobs, settings
from nokenviz.gui.composer import Composer
from nokenviz.gui.generate_panel import GeneratePanel
from nokenviz.gui.panels import AttentionPanel, Inspector, LensPanel, NormHistogram
from nokenviz.gui.scenes import SceneController, autosave_path, examples
from nokenviz.gui.sphere_view import SphereView
from nokenviz.gui.sweep_panel import SweepPanel
from nokenviz.gui.worker import Job, Worker

PROJECTIONS = {"pca": "PCA sphere", "umap": "UMAP sphere", "plane": "Token plane"}


class MainWindow(QMainWindow):
    """State: the vocabulary snapshot, the fitted projection, the selection and the trace."""

    model_ready = Signal()
    projection_ready = Signal()
    trace_ready = Signal()
    exported = Signal(str)
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("nokenviz")
        self.resize(1400, 900)
        self.vocab: Any = None
        self.projection: Any = None
        self.trace: Any = None
        self.matrix_name = "W_E"
        self.selected: list[int] = []
        self.highlighted = np.zeros(0, dtype=np.int64)
        self.last_error = ""
        self.model_summary = "no model"
        self.view = SphereView()
        self.setCentralWidget(self.view)
        self._build_toolbar()
        self._build_docks()
        self._build_status()
        self._build_menus()
        self.view.token_clicked.connect(self._token_clicked)
        self.view.token_hovered.connect(self._token_hovered)
        self.view.node_hovered.connect(self._node_hovered)
        self.model_worker = Worker("model")  # threads last: nothing above can leave them orphaned
        self.projection_worker = Worker("projection")
        for worker in (self.model_worker, self.projection_worker):
            self._connect(worker)
        self.generate_panel = GeneratePanel(self.model_worker)
        self.generate_panel.soft_path.connect(self._draw_soft_path)
        self.soft_vectors: np.ndarray | None = None
        generate_dock = QDockWidget("Generate", self, objectName="Generate")
        generate_dock.setWidget(self.generate_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, generate_dock)
        self.tabifyDockWidget(self.findChild(QDockWidget, "Norms"), generate_dock)
        self.composer = Composer(self)
        compose_dock = QDockWidget("Compose", self, objectName="Compose")
        compose_dock.setWidget(self.composer.panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, compose_dock)
        self.tabifyDockWidget(generate_dock, compose_dock)
        self.sweep_panel = SweepPanel(self.model_worker)
        self.sweep_panel.failed.connect(lambda message: self.show_error("export", message))
        sweep_dock = QDockWidget("Sweeps", self, objectName="Sweeps")
        sweep_dock.setWidget(self.sweep_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, sweep_dock)
        self.tabifyDockWidget(compose_dock, sweep_dock)
        self.findChild(QDockWidget, "Norms").raise_()
        self.scenes = SceneController(self)

    # ------------------------------------------------------------ building

    def _build_toolbar(self) -> None:
        bar = QToolBar("Controls", objectName="controls")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.projection_box = QComboBox(toolTip="How directions are drawn flat")
        for key, title in PROJECTIONS.items():
            self.projection_box.addItem(title, key)
        self.projection_box.setCurrentIndex(list(PROJECTIONS).index(settings.read("projection")))
        self.projection_box.currentIndexChanged.connect(lambda _: self.request_projection())
        self.centred_box = QCheckBox(
            "centred", toolTip="Subtract the mean token direction before projecting"
        )
        self.centred_box.setChecked(settings.read("centred"))
        self.centred_box.toggled.connect(lambda _: self.request_projection())
        self.matrix_box = QComboBox(
            toolTip="Input embeddings (W_E) or output vectors (W_U, untied models)"
        )
        self.matrix_box.addItem("W_E", "W_E")
        self.matrix_box.currentIndexChanged.connect(self._matrix_changed)
        self.search = QLineEdit(
            placeholderText="search token or #id  (Ctrl+F)", clearButtonEnabled=True
        )
        self.search.setMaximumWidth(240)
        self.search.returnPressed.connect(lambda: self.search_token(self.search.text()))
        self.prompt = QLineEdit(
            settings.read("prompt"), toolTip="Prompt whose residual stream is traced"
        )
        self.prompt.returnPressed.connect(self.request_trace)
        self.position = QSpinBox(
            toolTip="Token position to trace (-1 = last)", minimum=-512, maximum=511
        )
        self.position.setValue(-1)
        self.lens_box = QCheckBox("lens space", toolTip="Draw the trajectory after the final norm")
        self.lens_box.toggled.connect(lambda _: self._draw_trace())
        self.trajectory_box = QCheckBox(
            "trajectory", checked=True, toolTip="Draw the traced position's path through the layers"
        )
        self.trajectory_box.toggled.connect(lambda _: self._draw_trace())
        trace = QPushButton("Trace", toolTip="Trace the prompt through the layers (Enter)")
        trace.clicked.connect(self.request_trace)
        for widget in (
            QLabel(" projection "),
            self.projection_box,
            self.centred_box,
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
            trace,
        ):
            bar.addWidget(widget)

    def _build_docks(self) -> None:
        self.inspector = Inspector()
        self.inspector.neighbour_chosen.connect(lambda i: self.select([i]))
        self.histogram = NormHistogram()
        self.histogram.brushed.connect(self._brushed)
        self.lens_panel = LensPanel()
        self.attention_panel = AttentionPanel()
        right = Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        for title, widget, area in (
            ("Inspector", self.inspector, right),
            ("Norms", self.histogram, right),
            ("Logit lens", self.lens_panel, bottom),
            ("Attention", self.attention_panel, bottom),
        ):
            dock = QDockWidget(title, self, objectName=title)
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
        self.resizeDocks(
            [self.findChild(QDockWidget, "Inspector")], [380], Qt.Orientation.Horizontal
        )
        self.resizeDocks(
            [self.findChild(QDockWidget, "Logit lens")], [300], Qt.Orientation.Vertical
        )

    def _build_status(self) -> None:
        self.model_label = QLabel("no model")
        self.hover_label = QLabel("")
        self.progress = QProgressBar(maximum=1000, maximumWidth=260, textVisible=True)
        self.cancel_button = QPushButton("Cancel", toolTip="Cancel the running job (Esc)")
        self.cancel_button.clicked.connect(self.cancel_jobs)
        status = self.statusBar()
        status.addWidget(self.model_label)
        status.addWidget(self.hover_label, 1)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.cancel_button)
        self._set_busy(False)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(
            file_menu, "Open model &folder…", self._open_folder, QKeySequence.StandardKey.Open
        )
        self._action(file_menu, "Open &GGUF file…", self._open_gguf)
        self._action(file_menu, "Open &hub model id…", self._open_hub_id)
        self.recent_menu = file_menu.addMenu("&Recent models")
        self._fill_recent(settings.read("recent_models"))
        file_menu.addSeparator()
        self._action(file_menu, "Op&en scene…", lambda: self.scenes.open_dialog(), "Ctrl+Shift+O")
        self._action(file_menu, "Sa&ve scene", lambda: self.scenes.save(), "Ctrl+S")
        self._action(file_menu, "Save scene &as…", lambda: self.scenes.save_as(), "Ctrl+Shift+S")
        self.recent_scenes_menu = file_menu.addMenu("Recent s&cenes")
        self.fill_recent_scenes()
        file_menu.addSeparator()
        self._action(file_menu, "E&xport figure…", lambda: self.scenes.export_dialog(), "Ctrl+E")
        self._action(file_menu, "Save &screenshot…", self._save_screenshot)
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        view_menu = self.menuBar().addMenu("&View")
        group = QActionGroup(self)
        for index, title in enumerate(PROJECTIONS.values()):
            action = self._action(
                view_menu,
                title,
                lambda i=index: self.projection_box.setCurrentIndex(i),
                f"Ctrl+{index + 1}",
            )
            action.setCheckable(True)
            group.addAction(action)
        self._action(view_menu, "&Reset view", self._reset_view, "Home")
        self._action(
            view_menu, "Add selected token as &anchor", lambda: self.composer.add_selected(), "A"
        )
        self._action(view_menu, "&Find token", self.search.setFocus, QKeySequence.StandardKey.Find)
        self._action(view_menu, "Cancel job", self.cancel_jobs, "Esc")
        help_menu = self.menuBar().addMenu("&Help")
        examples_menu = help_menu.addMenu("&Examples")
        for title, path in examples():
            self._action(examples_menu, title, lambda p=path: self.scenes.open(p))
        self._action(help_menu, "&About nokenviz", self._about)

    def _action(self, menu: Any, title: str, slot: Any, shortcut: Any = None) -> QAction:
        action = QAction(title, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda *_: slot())
        menu.addAction(action)
        self.addAction(action)
        return action

    def fill_recent_scenes(self) -> None:
        menu = self.recent_scenes_menu
        menu.clear()
        if autosave_path().exists():
            last = str(autosave_path())
            self._action(menu, "Last session (saved on close)", lambda: self.scenes.open(last))
        for path in settings.read("recent_scenes"):
            self._action(menu, path, lambda p=path: self.scenes.open(p))
        menu.setEnabled(not menu.isEmpty())

    def _fill_recent(self, recent: list[str]) -> None:
        self.recent_menu.clear()
        for spec in recent:
            self._action(self.recent_menu, spec, lambda s=spec: self.load_model(s))
        self.recent_menu.setEnabled(bool(recent))

    # ------------------------------------------------------------ workers

    def _connect(self, worker: Worker) -> None:
        # Bound methods, never lambdas: a lambda would run in the worker's thread (direct
        # connection); a method of this window is queued to the GUI thread.
        runner = worker.runner
        runner.started.connect(self._job_started)
        runner.progress.connect(self._progress)
        runner.returned.connect(self._job_returned)
        runner.errored.connect(self._job_failed)
        runner.cancelled.connect(self._job_cancelled)

    def _job_started(self, job: Job) -> None:
        self._set_busy(True, job.name)

    def _job_returned(self, _job: Job, _result: object) -> None:
        QTimer.singleShot(0, self._update_busy)

    def _job_cancelled(self, job: Job) -> None:
        if not job.superseded:
            self.statusBar().showMessage(f"cancelled {job.name}", 4000)
        self._forget_scene_if_load(job)
        self.model_label.setText(self.model_summary)
        QTimer.singleShot(0, self._update_busy)

    def _progress(self, job: Job, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(f"{message} %p%")

    def _set_busy(self, busy: bool, name: str = "") -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setValue(0)
            self.progress.setFormat(f"{name}…")

    def _update_busy(self) -> None:
        if not (self.model_worker.busy or self.projection_worker.busy):
            self._set_busy(False)

    def _job_failed(self, job: Job, message: str) -> None:
        self._forget_scene_if_load(job)
        QTimer.singleShot(0, self._update_busy)
        self.model_label.setText(self.model_summary)  # a failed load leaves the previous model
        self.show_error(job.name, message)

    def _forget_scene_if_load(self, job: Job) -> None:
        """A scene waiting for a model that did not load must not land on the next one."""
        if job.name.startswith("loading "):
            self.scenes.drop_pending()

    def show_error(self, what: str, message: str) -> None:
        """One clear message, non-blocking (window-modal), remembered for tests."""
        self.last_error = message
        self.statusBar().showMessage(f"{what} failed: {message}", 10000)
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            f"nokenviz: {what} failed",
            message,
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.failed.emit(message)

    def cancel_jobs(self) -> None:
        self.model_worker.cancel()
        self.projection_worker.cancel()

    # ------------------------------------------------------------ model

    def load_model(self, spec: str) -> None:
        self.model_label.setText(f"loading {spec}…")
        self.model_worker.submit(f"loading {spec}", jobs.load(spec), self._model_loaded)

    def _model_loaded(self, vocab: Any) -> None:
        self.vocab = vocab
        info = vocab.info
        self.model_summary = (
            f"{info['name']} · {info['arch']} · {info['n_layers']} layers · d={info['d_model']} · "
            f"vocab {info['vocab_size']:,} · {info['device']} · {info['dtype']}"
            + ("" if info["causal"] else " · not a causal LM: generation disabled")
        )
        self.model_label.setText(self.model_summary)
        self._fill_recent(settings.remember_model(info["model"]))
        self.matrix_box.blockSignals(True)
        self.matrix_box.clear()
        for name in vocab.matrices:
            self.matrix_box.addItem(name, name)
        self.matrix_box.setEnabled(len(vocab.matrices) > 1)
        self.matrix_box.blockSignals(False)
        self.matrix_name = "W_E"
        self.selected = [i for i in self.selected if i < len(vocab.tokens)]
        self.trace = None
        self.projection = None  # the old one indexes the old vocabulary
        self._draw_soft_path(None)
        self.composer.clear()
        scene = self.scenes.take_pending()
        if scene is not None:
            self._restore_loaded(scene)
        self.histogram.set_norms(self.norms)
        self._brushed(*self.histogram.region.getRegion())  # the largest 1% start highlighted
        self.model_ready.emit()
        self.request_projection()
        if info["causal"]:
            self.request_trace()

    def _restore_loaded(self, scene: Any) -> None:
        """A scene's parts that index the vocabulary, once its model is loaded."""
        size = len(self.vocab.tokens)
        if scene.projection.matrix in self.vocab.matrices:
            self.matrix_name = scene.projection.matrix
            self.matrix_box.blockSignals(True)
            self.matrix_box.setCurrentIndex(self.matrix_box.findData(self.matrix_name))
            self.matrix_box.blockSignals(False)
        selection = [i for i in scene.selection if i < size]  # another model's ids are dropped
        plane = scene.projection.plane_tokens
        if scene.projection.kind == "plane" and plane and max(plane) < size:  # plane's go last
            selection = [*(i for i in selection if i not in plane), *plane]
        self.selected = selection
        if selection:
            self.select(selection)
        if all(i < size for i in scene.composer.anchors):
            self.composer.apply(scene.composer)

    def apply_loaded_scene(self) -> None:
        """Restore a scene on the model already loaded (no reload)."""
        scene = self.scenes.take_pending()
        if scene is None:
            return
        self.projection = None
        self._restore_loaded(scene)
        self.histogram.set_norms(self.norms)
        self.request_projection()
        if self.vocab.info["causal"]:
            self.request_trace()

    @property
    def norms(self) -> np.ndarray:
        return self.vocab.norms[self.matrix_name]

    def _matrix_changed(self) -> None:
        if self.vocab is not None and self.matrix_box.currentData():
            self.matrix_name = self.matrix_box.currentData()
            self.histogram.set_norms(self.norms)
            self._brushed(*self.histogram.region.getRegion())
            self.request_projection()

    # ------------------------------------------------------------ projection

    def projection_spec(self) -> Any:
        from nokenviz.core.projections import ProjectionSpec

        kind = self.projection_box.currentData()
        plane = tuple(self.selected[-2:]) if kind == "plane" and len(self.selected) >= 2 else None
        return ProjectionSpec(kind=kind, centred=self.centred_box.isChecked(), plane_tokens=plane)

    def request_projection(self) -> None:
        if self.vocab is None:
            return
        settings.write("projection", self.projection_box.currentData())
        settings.write("centred", self.centred_box.isChecked())
        spec = self.projection_spec()
        if spec.kind == "plane" and spec.plane_tokens is None:
            self.statusBar().showMessage(
                "Token plane: select two tokens first (Ctrl+click the second)", 8000
            )
            previous = self.projection.spec.kind if self.projection is not None else "pca"
            self.projection_box.setCurrentIndex(list(PROJECTIONS).index(previous))  # keep a view
            return
        self.projection_worker.supersede("projection")
        matrix = self.vocab.matrices[self.matrix_name]
        self.projection_worker.submit(
            "projection", jobs.project(matrix, spec), self._projection_fitted
        )

    def _projection_fitted(self, projection: Any) -> None:
        keep = self.projection is not None and self.projection.spec.kind == projection.spec.kind
        self.projection = projection
        stats = self.vocab.stats[self.matrix_name]
        self.view.set_vocabulary(
            projection.coords,
            self.norms,
            self.vocab.tokens,
            (stats.p01, stats.p99),
            keep_range=keep,
            polar=projection.spec.kind == "plane",
        )
        marker = projection.mean_marker()
        self.view.set_mean_marker(marker)
        self.view.set_highlight(self.highlighted)
        view = self.scenes.take_view()
        if view is not None:
            self.view.setRange(xRange=view.x, yRange=view.y, padding=0)
        title = f"{self.matrix_name}: {projection.spec.describe()}"
        if marker is not None:
            title += f" · ★ mean direction (norm {stats.mean_direction_norm:.2f})"
        self.view.setTitle(title, color="k", size="10pt")
        self._draw_trace()
        self._draw_soft_path(self.soft_vectors)
        self.composer.redraw()
        self.projection_ready.emit()

    def _reset_view(self) -> None:
        if self.projection is not None:
            self.view.set_vocabulary(
                self.projection.coords, self.norms, self.vocab.tokens, self.view.levels
            )

    # ------------------------------------------------------------ selection

    def search_token(self, query: str) -> None:
        from nokenviz.core.tokens import find_tokens

        if self.vocab is None or not query:
            return
        found = find_tokens(self.vocab.tokens, query, limit=1)
        if not found:
            self.statusBar().showMessage(f"no token matches {query!r}", 5000)
            return
        self.select([found[0]])

    def _token_clicked(self, token: int) -> None:
        additive = QApplication.keyboardModifiers() & Qt.KeyboardModifier.ControlModifier
        self.select([*self.selected[-1:], token] if additive else [token])

    def _token_hovered(self, token: int) -> None:
        if self.vocab is not None:
            self.hover_label.setText(
                f"{self.vocab.tokens[token]!r} #{token} · norm {self.norms[token]:.3f}"
            )

    def _node_hovered(self, layer: int) -> None:
        if self.trace is None or self.vocab is None:
            return
        entry = self.trace.entries[layer]
        top = ", ".join(f"{self.vocab.tokens[i]!r} {p:.2f}" for i, p in entry.top)
        self.hover_label.setText(
            f"layer {layer} at {self.trace.labels[self.trace.position]!r}: norm {entry.norm:.1f} · "
            f"lens top {top} · final prediction ranked {entry.final_rank}"
        )

    def select(self, ids: list[int]) -> None:
        if self.vocab is None:
            return
        self.selected = ids
        token = ids[-1]
        rank = float((self.norms < self.norms[token]).mean())
        self.inspector.show_token(
            self.vocab.tokens[token],
            token,
            float(self.norms[token]),
            rank,
            self.matrix_name,
            self._input_output_line(token),
        )
        self.model_worker.supersede("neighbours")
        self.model_worker.submit(
            "neighbours",
            jobs.neighbours(token, self.matrix_name),
            lambda found: self.inspector.show_neighbours(found, self.vocab.tokens),
        )
        self.draw_selection()
        if self.projection_box.currentData() == "plane" and len(ids) >= 2:
            self.request_projection()

    def _input_output_line(self, token: int) -> str:
        """For untied models: how the token's input and output vectors differ (H5)."""
        if "W_U" not in self.vocab.matrices:
            return ""
        e, u = self.vocab.matrices["W_E"][token], self.vocab.matrices["W_U"][token]
        cosine = float(e @ u / max(np.linalg.norm(e) * np.linalg.norm(u), 1e-12))
        angle = float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))
        return (
            f"<br>W_E norm {np.linalg.norm(e):.3f} · W_U norm {np.linalg.norm(u):.3f} · "
            f"angle between them {angle:.1f}°"
        )

    def _brushed(self, low: float, high: float) -> None:
        """Tokens whose norm is in the histogram's band (at most 20k drawn) are highlighted."""
        if self.vocab is not None:
            self.highlighted = np.flatnonzero((self.norms >= low) & (self.norms <= high))[:20000]
            if self.projection is not None and len(self.projection.coords) == len(self.norms):
                self.view.set_highlight(self.highlighted)

    # ------------------------------------------------------------ trace

    def request_trace(self) -> None:
        if self.vocab is None:
            return
        settings.write("prompt", self.prompt.text())
        self.model_worker.supersede("trace")
        self.model_worker.submit(
            "trace", jobs.trace(self.prompt.text(), self.position.value()), self._trace_done
        )

    def _trace_done(self, trace: Any) -> None:
        self.trace = trace
        tokens = self.vocab.tokens
        self.lens_panel.show_trace(
            trace.heat_ids, trace.heat_probs, trace.norms, trace.position, trace.labels, tokens
        )
        self.attention_panel.show_attention(trace.attention, trace.labels, trace.guiding())
        self.scenes.apply_attention()
        if not self.selected:  # start the inspector on the model's prediction
            self.select([trace.entries[-1].top[0][0]])
        self._draw_trace()
        self.trace_ready.emit()

    def _draw_trace(self) -> None:
        """Project the traced position's path (once) and draw it, then the labels."""
        xy = None
        if (
            self.trace is not None
            and self.projection is not None
            and self.trajectory_box.isChecked()
        ):
            vectors = self.trace.lens if self.lens_box.isChecked() else self.trace.raw
            xy = self.projection.project(vectors)
        on_map = self.projection is not None and self.projection.spec.kind != "plane"
        self.view.set_trajectory(xy, seam=2.0 * np.sqrt(2.0) if on_map else None)
        self.draw_selection()

    def _draw_soft_path(self, vectors: np.ndarray | None) -> None:
        self.soft_vectors = vectors
        if self.projection is not None:
            self.view.set_soft_path(None if vectors is None else self.projection.project(vectors))

    def draw_selection(self) -> None:
        """Selection marks and all labels: selected tokens, anchors, trajectory nodes."""
        if self.projection is None:
            return
        self.view.set_selection(self.selected)
        labels = [
            (self.projection.coords[i], self.vocab.tokens[i], 100.0 - n, "k")
            for n, i in enumerate(reversed(self.selected))
        ]
        labels += [
            (self.projection.coords[i], self.vocab.tokens[i], 90.0, "#1f77b4")
            for i in self.composer.anchors
            if i not in self.selected
        ]
        if self.trace is not None and len(self.view.trajectory_nodes):
            for entry, point in zip(self.trace.entries, self.view.trajectory_nodes, strict=True):
                text = f"L{entry.layer} {self.vocab.tokens[entry.top[0][0]]!r}"
                labels.append((point, text, 50.0 + entry.layer / 100, "#b01c1c"))
        self.view.set_labels(labels)

    # ------------------------------------------------------------ files

    def _open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a Hugging Face model folder")
        if path:
            self.load_model(path)

    def _open_gguf(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a GGUF model", "", "GGUF models (*.gguf)")
        if path:
            self.load_model(path)

    def _open_hub_id(self) -> None:
        spec, ok = QInputDialog.getText(
            self, "Open a hub model", "Hub id (from the local cache when offline):"
        )
        if ok and spec.strip():
            self.load_model(spec.strip())

    def _save_screenshot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save a screenshot", "nokenviz.png", "PNG images (*.png)"
        )
        if path and not self.grab().save(path):
            self.show_error("screenshot", f"could not write {path}")

    def _about(self) -> None:
        from nokenviz import __version__

        QMessageBox.about(
            self,
            "About nokenviz",
            f"nokenviz {__version__}: token vectors as directions "
            "on a hypersphere, the residual stream layer by layer, and nokens.",
        )

    def closeEvent(self, event: Any) -> None:
        """Cancel running work and wait for the workers, so nothing is torn down mid-job."""
        self.scenes.autosave()
        self.statusBar().showMessage("closing: waiting for the running job to stop…")
        for worker in (self.projection_worker, self.model_worker):
            worker.stop()
        event.accept()
