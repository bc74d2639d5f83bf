"""Scene files in the app: open, save, recent, examples, autosave, figure export.

A scene is the session's serialisation (`Session.to_scene`); opening one hands it to the
controller, which applies it to the model it names, loading that model only when needed.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from nokenviz.core.files import write_text_atomic
from nokenviz.core.scenes.scene import SceneError, load_scene, save_scene
from nokenviz.errors import NokenvizError
from nokenviz.gui import settings
from nokenviz.gui.export_dialog import ExportDialog
from nokenviz.gui.recovery import state_folder
from nokenviz.state.controller import Controller

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


class SceneFiles:
    def __init__(
        self,
        parent: QMainWindow,
        controller: Controller,
        show_error: Callable[[str, str], None],
        recent_changed: Callable[[], None],
        raise_view: Callable[[str], None],
    ) -> None:
        self.parent, self.controller, self.raise_view = parent, controller, raise_view
        self.show_error, self.recent_changed = show_error, recent_changed
        self.path: Path | None = None  # where Save writes without asking
        self._autosaved = ""  # the scene text last autosaved

    # ------------------------------------------------------------ open

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open a scene", "", SCENE_FILTER)
        if path:
            self.open(path)

    def open(self, path: str | Path, model: str | None = None) -> bool:
        """Open a scene file; bad files get a message, and a missing model the offer of another."""
        try:
            scene = load_scene(path)
        except SceneError as exc:
            self.show_error(f"open scene {Path(path).name}", str(exc))
            return False
        if model is None and not self._model_available(scene.model):
            model = self.choose_instead(scene.model)
            if model is None:
                return False
        self.path = Path(path) if Path(path).parent != state_folder() else None
        if self.path is not None and not _is_example(self.path):
            self._remember(self.path)
        self.controller.open_scene(scene, model)
        self.raise_view(scene.figure)
        return True

    @staticmethod
    def _model_available(spec: str) -> bool:
        from nokenviz.core.models.model_spec import resolve_model

        try:
            resolve_model(spec)
        except NokenvizError:
            return False
        return True

    def choose_instead(self, spec: str) -> str | None:
        """The scene names a model that is not here: offer another one (or the current)."""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Model not found",
            f"The scene's model {spec!r} is not available on this machine.",
            parent=self.parent,
        )
        box.setInformativeText("Open the scene with another model?")
        folder = box.addButton("Choose a model folder…", QMessageBox.ButtonRole.AcceptRole)
        gguf = box.addButton("Choose a GGUF file…", QMessageBox.ButtonRole.AcceptRole)
        vocab = self.controller.session.vocab
        current = None
        if vocab is not None:
            current = box.addButton("Use the current model", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        if clicked is folder:
            return QFileDialog.getExistingDirectory(self.parent, "Choose a model folder") or None
        if clicked is gguf:
            path, _ = QFileDialog.getOpenFileName(
                self.parent, "Choose a GGUF model", "", "GGUF (*.gguf)"
            )
            return path or None
        if vocab is not None and clicked is current:  # `current` exists when `vocab` does
            return vocab.info["model"]
        return None

    # ------------------------------------------------------------ save

    def save(self) -> None:
        if self.path is None:
            self.save_as()
        else:
            self._write(self.path)

    def save_as(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Save the scene", "scene.json", SCENE_FILTER
        )
        if path:
            self.path = Path(path)
            if self._write(self.path):
                self._remember(self.path)

    def _write(self, path: Path) -> bool:
        try:
            save_scene(self.controller.session.to_scene(), path)
        except NokenvizError as exc:
            self.show_error("save scene", str(exc))
            return False
        self.parent.statusBar().showMessage(f"saved {path}", 5000)
        return True

    def autosave(self, path: Path) -> None:
        """The session to `path`, a few seconds after each change and on close, so nothing
        the user made is lost to a crash (written only when it changed; errors only
        reported)."""
        try:
            text = self.controller.session.to_scene().to_json()
            if text == self._autosaved:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, text)
            self._autosaved = text
        except (OSError, ValueError, NokenvizError) as exc:  # ValueError: pydantic's
            print(f"nokenviz: could not autosave the session: {exc}")

    def _remember(self, path: Path) -> None:
        recent = [str(path), *(p for p in settings.read("recent_scenes") if p != str(path))]
        settings.write("recent_scenes", recent[: settings.MAX_RECENT])
        self.recent_changed()

    # ------------------------------------------------------------ export

    def export_dialog(self) -> None:
        session = self.controller.session
        if session.fitted is None:
            self.show_error("export", "nothing to export yet: the model is still loading")
            return
        dialog = ExportDialog(self.parent, session.figure)
        if not dialog.exec():
            return
        figure = dialog.figure()
        path, _ = QFileDialog.getSaveFileName(
            self.parent,
            "Export the figure",
            f"{figure}.pdf",
            "PDF (*.pdf);;SVG (*.svg);;PNG (*.png)",
        )
        if path:
            self.controller.export(figure, path, dialog.figure_size(), dialog.dpi())


def _is_example(path: Path) -> bool:
    return path.parent == Path(str(resources.files("nokenviz.resources") / "examples"))
