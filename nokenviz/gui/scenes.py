"""Scenes in the app (F2, F4): save, open, recent, examples, autosave, and figure export (F1).

The window's state is captured into a `core.scene.Scene` and restored from one. Restoring is
two-step because the model loads asynchronously: widget values are set at once, the parts that
index the vocabulary (matrix, selection, anchors) when the model is ready, and the view range
and attention choice when the projection and the trace arrive.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox

from nokenviz.core.scene import (
    DecodingPart,
    GeneratePart,
    ProjectionPart,
    Scene,
    SceneError,
    SweepPart,
    TracePart,
    ViewPart,
    load_scene,
    save_scene,
)
from nokenviz.errors import NokenvizError
from nokenviz.gui import jobs, settings
from nokenviz.gui.export_dialog import ExportDialog

if TYPE_CHECKING:
    from nokenviz.gui.main_window import MainWindow

SCENE_FILTER = "nokenviz scenes (*.json)"


def examples() -> list[tuple[str, Path]]:
    """The example scenes shipped in the package, as (title, path)."""
    folder = resources.files("nokenviz.resources") / "examples"
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            path = Path(str(entry))
            found.append((load_scene(path).title or entry.name, path))
    return found


def autosave_path() -> Path:
    from platformdirs import user_state_path

    return user_state_path("nokenviz", appauthor=False) / "autosave.json"


class SceneController(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.path: Path | None = None  # where Save writes without asking
        self.title = ""
        self.figure = "sphere"
        self.pending: Scene | None = None  # parts still to restore once the model is ready
        self.pending_view: ViewPart | None = None
        self.pending_trace: TracePart | None = None

    # ------------------------------------------------------------ capture

    def capture(self) -> Scene:
        """The window's state as a scene."""
        w = self.window
        attention = w.attention_panel
        fitted = w.projection.spec if w.projection is not None else None
        kind = fitted.kind if fitted is not None else w.projection_box.currentData()
        plane = fitted.plane_tokens if fitted is not None else None
        x, y = w.view.plotItem.vb.viewRange()
        generate, sweep = w.generate_panel, w.sweep_panel
        return Scene(
            title=self.title,
            model=w.vocab.info["model"] if w.vocab is not None else "default",
            figure=self.figure,
            projection=ProjectionPart(
                kind=kind if kind != "plane" or plane else "pca",
                centred=w.centred_box.isChecked(),
                matrix=w.matrix_name,
                plane_tokens=plane,
            ),
            view=ViewPart(x=tuple(x), y=tuple(y)) if fitted is not None else None,
            selection=tuple(int(i) for i in w.selected),
            trace=TracePart(
                prompt=w.prompt.text(),
                position=w.position.value(),
                lens_space=w.lens_box.isChecked(),
                trajectory=w.trajectory_box.isChecked(),
                attention_layer=attention.layer.value(),
                attention_head=None if attention.mean.isChecked() else attention.head.value(),
            ),
            composer=w.composer.state(),
            generate=GeneratePart(
                prompt=generate.prompt.text(),
                nokens=tuple(generate.noken_lines()),
                decoding=DecodingPart(**generate.settings()),
                compare=generate.compare.isChecked(),
            ),
            sweep=SweepPart(
                kind=sweep.kind.currentData(),
                prompt_a=sweep.prompt_a.text(),
                prompt_b=sweep.prompt_b.text(),
                steps=sweep.steps.value(),
                seeds=sweep.seeds.text(),
                max_new_tokens=sweep.max_new.value(),
            ),
        )

    # ------------------------------------------------------------ restore

    def apply(self, scene: Scene, model: str | None = None) -> None:
        """Show `scene` (on `model` if given instead of the scene's own)."""
        w = self.window
        self.title, self.figure = scene.title, scene.figure
        self._set_widgets(scene)
        self.pending, self.pending_view, self.pending_trace = scene, scene.view, scene.trace
        wanted = model or scene.model
        if w.vocab is not None and w.vocab.info["model"] == wanted:
            w.apply_loaded_scene()  # same model: no reload, restore the rest now
        else:
            w.load_model(wanted)

    def _set_widgets(self, scene: Scene) -> None:
        w = self.window
        for box in (w.projection_box, w.centred_box):
            box.blockSignals(True)
        w.projection_box.setCurrentIndex(w.projection_box.findData(scene.projection.kind))
        w.centred_box.setChecked(scene.projection.centred)
        for box in (w.projection_box, w.centred_box):
            box.blockSignals(False)
        trace = scene.trace
        w.prompt.setText(trace.prompt)
        w.position.setValue(trace.position)
        w.lens_box.setChecked(trace.lens_space)
        w.trajectory_box.setChecked(trace.trajectory)
        generate = w.generate_panel
        generate.prompt.setText(scene.generate.prompt)
        generate.nokens.setPlainText("\n".join(scene.generate.nokens))
        generate.set_settings(scene.generate.decoding.model_dump())
        generate.compare.setChecked(scene.generate.compare)
        sweep, part = w.sweep_panel, scene.sweep
        sweep.kind.setCurrentIndex(sweep.kind.findData(part.kind))
        sweep.prompt_a.setText(part.prompt_a)
        sweep.prompt_b.setText(part.prompt_b)
        sweep.steps.setValue(part.steps)
        sweep.seeds.setText(part.seeds)
        sweep.max_new.setValue(part.max_new_tokens)

    def drop_pending(self) -> None:
        self.pending = self.pending_view = self.pending_trace = None

    def take_pending(self) -> Scene | None:
        scene, self.pending = self.pending, None
        return scene

    def take_view(self) -> ViewPart | None:
        view, self.pending_view = self.pending_view, None
        return view

    def apply_attention(self) -> None:
        part, self.pending_trace = self.pending_trace, None
        if part is None:
            return
        panel = self.window.attention_panel
        panel.layer.setValue(part.attention_layer % (panel.layer.maximum() + 1))
        panel.mean.setChecked(part.attention_head is None)
        if part.attention_head is not None:
            panel.head.setValue(part.attention_head)

    # ------------------------------------------------------------ files

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a scene", "", SCENE_FILTER)
        if path:
            self.open(path)

    def open(self, path: str | Path, model: str | None = None) -> bool:
        """Open a scene file; bad files get a message, and a missing model the offer of another."""
        try:
            scene = load_scene(path)
        except SceneError as exc:
            self.window.show_error(f"open scene {Path(path).name}", str(exc))
            return False
        if model is None and not self._model_available(scene.model):
            model = self._choose_instead(scene.model)
            if model is None:
                return False
        self.path = Path(path) if Path(path).parent != autosave_path().parent else None
        if self.path is not None and not self._is_example(self.path):
            self._remember(self.path)
        self.apply(scene, model)
        return True

    def _model_available(self, spec: str) -> bool:
        from nokenviz.core.model_spec import resolve_model

        try:
            resolve_model(spec)
        except NokenvizError:
            return False
        return True

    def _choose_instead(self, spec: str) -> str | None:
        """The scene names a model that is not here: offer another one (or the current)."""
        w = self.window
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Model not found",
            f"The scene's model {spec!r} is not available on this machine.",
            parent=w,
        )
        box.setInformativeText("Open the scene with another model?")
        folder = box.addButton("Choose a model folder…", QMessageBox.ButtonRole.AcceptRole)
        gguf = box.addButton("Choose a GGUF file…", QMessageBox.ButtonRole.AcceptRole)
        current = None
        if w.vocab is not None:
            current = box.addButton("Use the current model", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        if clicked is folder:
            return QFileDialog.getExistingDirectory(w, "Choose a model folder") or None
        if clicked is gguf:
            path, _ = QFileDialog.getOpenFileName(w, "Choose a GGUF model", "", "GGUF (*.gguf)")
            return path or None
        if current is not None and clicked is current:
            return w.vocab.info["model"]
        return None

    def save(self) -> None:
        if self.path is None:
            self.save_as()
        else:
            self._write(self.path)

    def save_as(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Save the scene", "scene.json", SCENE_FILTER
        )
        if path:
            self.path = Path(path)
            if self._write(self.path):
                self._remember(self.path)

    def _write(self, path: Path) -> bool:
        try:
            save_scene(self.capture(), path)
        except NokenvizError as exc:
            self.window.show_error("save scene", str(exc))
            return False
        self.window.statusBar().showMessage(f"saved {path}", 5000)
        return True

    def autosave(self) -> None:
        """On close: the session, so nothing the user made is lost (errors only reported)."""
        path = autosave_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_scene(self.capture(), path)
        except (OSError, ValueError, NokenvizError) as exc:  # ValueError: pydantic's
            print(f"nokenviz: could not autosave the session: {exc}")

    def _remember(self, path: Path) -> None:
        recent = [str(path), *(p for p in settings.read("recent_scenes") if p != str(path))]
        settings.write("recent_scenes", recent[: settings.MAX_RECENT])
        self.window.fill_recent_scenes()

    @staticmethod
    def _is_example(path: Path) -> bool:
        return path.parent == Path(str(resources.files("nokenviz.resources") / "examples"))

    # ------------------------------------------------------------ export

    def export_dialog(self) -> None:
        w = self.window
        if w.projection is None:
            w.show_error("export", "nothing to export yet: the model is still loading")
            return
        dialog = ExportDialog(w, self.figure)
        if not dialog.exec():
            return
        figure, scale = dialog.figure(), dialog.scale()
        path, _ = QFileDialog.getSaveFileName(
            w, "Export the figure", f"{figure}.pdf", "PDF (*.pdf);;SVG (*.svg);;PNG (*.png)"
        )
        if path:
            self.export(figure, path, scale)

    def export(self, figure: str, path: str, scale: float = 1.0) -> None:
        """Draw `figure` of the current state to `path` on the projection worker."""
        from nokenviz.core.render import SceneData

        w = self.window
        self.figure = figure
        scene = self.capture()
        stats = w.vocab.stats[w.matrix_name]
        data = SceneData(
            tokens=w.vocab.tokens,
            norms=w.norms,
            levels=(stats.p01, stats.p99),
            projection=w.projection,
            trace=w.trace,
            noken=w.composer.vector,
            sweep_rows=list(w.sweep_panel.rows),
        )
        w.projection_worker.submit("export", jobs.export(scene, data, path, scale), self._exported)

    def _exported(self, path: Any) -> None:
        size = Path(path).stat().st_size / 1e6
        self.window.statusBar().showMessage(f"wrote {path} ({size:.2f} MB)", 8000)
        self.window.exported.emit(str(path))
