"""The main window: a thin shell of layout, menus and actions around the session.

The session (`state.session`) is what the app shows and the controller (`state.controller`)
its only writer; each view here renders from the session (`apply`) and sends intents to the
controller. Nothing here imports torch: model work runs as jobs on the model worker,
projections and figures on the projection worker.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QWidget,
)

from nokenviz.core.models.model_spec import IN_MEMORY, LoadOptions
from nokenviz.gui import open_model, settings
from nokenviz.gui.attention_panel import AttentionPanel
from nokenviz.gui.compare_panel import ComparePanel
from nokenviz.gui.composer_panel import ComposerPanel
from nokenviz.gui.filter_bar import FilterBar
from nokenviz.gui.generate_panel import GeneratePanel
from nokenviz.gui.inspector import Inspector
from nokenviz.gui.length_panel import LengthPanel
from nokenviz.gui.lens_panel import LensPanel
from nokenviz.gui.norms_panel import NormHistogram
from nokenviz.gui.readout_panel import ReadoutPanel
from nokenviz.gui.recovery import (
    Recovery,
    crashed_session_path,
    last_session_path,
    restore_bar,
)
from nokenviz.gui.scene_files import SceneFiles, examples
from nokenviz.gui.sphere_layers import SphereLayers
from nokenviz.gui.sphere_view import SphereView
from nokenviz.gui.status_line import StatusLine
from nokenviz.gui.sweep_panel import SweepPanel
from nokenviz.gui.toolbar import PROJECTIONS, ControlsBar
from nokenviz.gui.worker import Worker
from nokenviz.state.controller import EVERYTHING, Controller
from nokenviz.state.session import SETTINGS, Part

if TYPE_CHECKING:
    from nokenviz.core.models.loading import LoadedModel

# Workers whose job did not stop in time at close: destroying a running QThread aborts the
# process, so they are kept until the process ends.
UNFINISHED: list[Worker] = []
AUTOSAVE_MS = 3000  # the session is saved this long after the last change (crash recovery)
FIGURE_DOCKS = {  # the dock that shows each figure a scene can be about
    "lens": "Logit lens",
    "attention": "Attention",
    "sweep": "Sweeps",
    "length": "Length",
    "generate": "Generate",
}
SAVED: frozenset[Part] = SETTINGS | {"model"}  # what a scene holds: a change is autosaved


def _scrolling(panel: QWidget) -> QScrollArea:
    """A panel that scrolls when its dock is shorter than it (a small screen) instead of
    making the whole window taller than the screen."""
    area = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
    area.setWidget(panel)
    return area


class MainWindow(QMainWindow):
    # For the command line and tests: what has just been drawn, and what failed.
    model_ready = Signal()
    projection_ready = Signal()
    trace_ready = Signal()
    exported = Signal(str)
    closed = Signal()  # the window closed (its workers stopped)
    failed = Signal(str)

    def __init__(self, options: LoadOptions | None = None) -> None:
        super().__init__()
        self.setWindowTitle("nokenviz")
        self._fit_screen(1400, 900)
        self.last_error = ""  # the last message shown (for tests and scripts)
        self.recovery = Recovery.start()  # before the menus: they list the last session
        self.session = settings.initial_session()
        if options is not None:
            self.session.load_options = options
        self.model_worker = Worker("model")
        self.projection_worker = Worker("projection")
        self.controller = Controller(self.session, self.model_worker, self.projection_worker)
        for worker in (self.model_worker, self.projection_worker):
            worker.sink = self.controller
        self.view = SphereView()
        self.setCentralWidget(self.view)
        self.toolbar = ControlsBar(self.controller)
        self.addToolBar(self.toolbar)
        self.addToolBarBreak()
        self.filter_bar = FilterBar(self.controller)
        self.addToolBar(self.filter_bar)
        self.status = StatusLine(self.statusBar(), self.controller)
        self.layers = SphereLayers(self.view, self.controller, self.status.hover_label)
        self._build_docks()
        self.scenes = SceneFiles(
            self, self.controller, self.show_error, self.fill_recent_scenes, self.raise_view
        )
        self._build_menus()
        self.views = (
            self.toolbar,
            self.filter_bar,
            self.status,
            self.layers,
            self.inspector,
            self.histogram,
            self.lens_panel,
            self.attention_panel,
            self.length_panel,
            self.readout_panel,
            self.composer,
            self.generate_panel,
            self.sweep_panel,
            self.compare_panel,
        )
        self.autosave_timer = QTimer(self, singleShot=True, interval=AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(lambda: self.scenes.autosave(self.recovery.path))
        self.controller.listen(self._changed)
        self._changed(EVERYTHING)
        self.autosave_timer.stop()  # nothing made yet: an untouched session is not saved
        if self.recovery.crashed:
            bar = restore_bar(lambda: self.scenes.open(crashed_session_path()), self.recovery)
            self.statusBar().addPermanentWidget(bar)

    # ------------------------------------------------------------ building

    def _fit_screen(self, width: int, height: int) -> None:
        """Open at `width` x `height`, or smaller on a screen that has less room."""
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None:
            width, height = min(width, screen.width()), min(height, screen.height())
        self.resize(width, height)

    def _build_docks(self) -> None:
        c = self.controller
        self.inspector = Inspector(c)
        self.histogram = NormHistogram(c)
        self.lens_panel = LensPanel()
        self.readout_panel = ReadoutPanel(c)
        self.length_panel = LengthPanel(c)
        self.attention_panel = AttentionPanel(c)
        self.generate_panel = GeneratePanel(c)
        self.composer = ComposerPanel(c, self.view)
        self.sweep_panel = SweepPanel(c)
        self.compare_panel = ComparePanel(c)
        self.sweep_panel.failed.connect(lambda message: self.show_error("export", message))
        right = Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        docks = {}
        # The right column runs the window's full height; the plots sit under the sphere.
        self.setCorner(Qt.Corner.BottomRightCorner, right)
        for title, widget, area in (
            ("Inspector", self.inspector, right),
            ("Norms", self.histogram, right),
            ("Generate", _scrolling(self.generate_panel), right),
            ("Compose", _scrolling(self.composer), right),
            ("Sweeps", _scrolling(self.sweep_panel), right),
            ("Length", self.length_panel, right),
            ("Readouts", _scrolling(self.readout_panel), right),
            ("Compare", self.compare_panel, right),
            ("Logit lens", self.lens_panel, bottom),
            ("Attention", self.attention_panel, bottom),
        ):
            docks[title] = QDockWidget(title, self, objectName=title)
            docks[title].setWidget(widget)
            self.addDockWidget(area, docks[title])
        for first, second in (
            ("Norms", "Generate"),
            ("Generate", "Compose"),
            ("Compose", "Sweeps"),
            ("Sweeps", "Length"),
            ("Length", "Readouts"),
            ("Readouts", "Compare"),
        ):
            self.tabifyDockWidget(docks[first], docks[second])
        docks["Norms"].raise_()
        self.docks = docks
        self.resizeDocks([docks["Inspector"]], [545], Qt.Orientation.Horizontal)
        eight_rows = self.inspector.height_for(8)
        self.resizeDocks([docks["Inspector"]], [eight_rows], Qt.Orientation.Vertical)
        self.resizeDocks([docks["Logit lens"]], [260], Qt.Orientation.Vertical)
        lens_and_attention = [docks["Logit lens"], docks["Attention"]]
        self.resizeDocks(lens_and_attention, [600, 360], Qt.Orientation.Horizontal)

    def _build_menus(self) -> None:
        c = self.controller
        file_menu = self.menuBar().addMenu("&File")
        for text, ask, shortcut in open_model.ACTIONS:
            self._action(file_menu, text, partial(ask, self), shortcut)
        self.recent_menu = file_menu.addMenu("&Recent models")
        self._fill_recent_models()
        file_menu.addSeparator()
        self._action(file_menu, "Op&en scene…", self.scenes.open_dialog, "Ctrl+Shift+O")
        self._action(file_menu, "Sa&ve scene", self.scenes.save, "Ctrl+S")
        self._action(file_menu, "Save scene &as…", self.scenes.save_as, "Ctrl+Shift+S")
        self.recent_scenes_menu = file_menu.addMenu("Recent s&cenes")
        self.fill_recent_scenes()
        file_menu.addSeparator()
        self._action(file_menu, "Compare &with model…", self._compare)
        self._action(file_menu, "E&xport figure…", self.scenes.export_dialog, "Ctrl+E")
        self._action(file_menu, "Save &screenshot…", self._save_screenshot)
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        view_menu = self.menuBar().addMenu("&View")
        group = QActionGroup(self)
        self.projection_actions: dict[str, QAction] = {}
        for index, (key, title) in enumerate(PROJECTIONS.items()):
            action = self._action(
                view_menu, title, partial(c.set_projection, kind=key), f"Ctrl+{index + 1}"
            )
            action.setCheckable(True)
            group.addAction(action)
            self.projection_actions[key] = action
        self._action(
            view_menu,
            "Local view centred on the &noken",
            lambda: c.set_projection(kind="local", centre="noken"),
            "Ctrl+6",
        )
        self.filter_bar.add_menu_actions(view_menu, self._action)
        self._action(
            view_menu, "Flip to the compared model's &map", self.compare_panel.flip, "Ctrl+B"
        )
        self._action(view_menu, "&Reset view", self._reset_view, "Home")
        self._action(view_menu, "Add selected token as &anchor", c.add_anchor, "A")
        self._action(
            view_menu, "&Find token", self.toolbar.search.setFocus, QKeySequence.StandardKey.Find
        )
        self._action(view_menu, "Cancel jobs", c.cancel_all, "Esc")
        help_menu = self.menuBar().addMenu("&Help")
        examples_menu = help_menu.addMenu("&Examples")
        for title, path in examples():
            self._action(examples_menu, title, partial(self.scenes.open, path))
        self._action(help_menu, "&About nokenviz", self._about)

    def _compare(self) -> None:
        self.docks["Compare"].raise_()
        self.compare_panel.choose()

    def _action(
        self,
        menu: QMenu,
        title: str,
        slot: Callable[[], object],
        shortcut: str | QKeySequence.StandardKey | None = None,
    ) -> QAction:
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
        if last_session_path().exists():
            last = str(last_session_path())
            self._action(menu, "Last session", lambda: self.scenes.open(last))
        for path in settings.read("recent_scenes"):
            self._action(menu, path, partial(self.scenes.open, path))
        menu.setEnabled(not menu.isEmpty())

    def _fill_recent_models(self) -> None:
        recent = settings.read("recent_models")
        self.recent_menu.clear()
        for spec in recent:
            self._action(self.recent_menu, spec, partial(self.load_model, spec))
        self.recent_menu.setEnabled(bool(recent))

    # ------------------------------------------------------------ the session changed

    def raise_view(self, figure: str) -> None:
        """Bring forward the dock that shows a scene's figure (the sphere is always shown)."""
        dock = self.docks.get(FIGURE_DOCKS.get(figure, ""))
        if dock is not None:
            dock.show()
            dock.raise_()

    def _changed(self, changed: frozenset[Part]) -> None:
        s = self.session
        if changed & SAVED:
            self.autosave_timer.start()  # a few seconds after the last change
        for view in self.views:
            view.apply(s, changed)
        if "title" in changed:
            self.setWindowTitle(f"{s.title} — nokenviz" if s.title else "nokenviz")
        if "projection" in changed:
            self.projection_actions[s.projection.kind].setChecked(True)
        if "model" in changed and s.vocab is not None:
            if not s.vocab.info["model"].startswith(IN_MEMORY):  # no file to open again
                settings.remember_model(s.vocab.info["model"])
                self._fill_recent_models()
            self.model_ready.emit()
        if "fitted" in changed and s.fitted is not None:
            self.projection_ready.emit()
        if "trace" in changed and s.trace is not None:
            self.trace_ready.emit()
        if "error" in changed and s.error:
            self._show_session_error()
        if "exported" in changed and s.exported:
            self.exported.emit(s.exported)

    def _show_session_error(self) -> None:
        what, _, message = self.session.error.partition(" failed: ")
        self.show_error(what, message or what)

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
        open_model.offer_reconnect(self, box, message)
        box.open()
        self.failed.emit(message)

    # ------------------------------------------------------------ actions

    def load_model(self, spec: str, preloaded: LoadedModel | None = None) -> None:
        self.controller.load_model(spec, preloaded=preloaded)

    def _reset_view(self) -> None:
        self.view.reset_range()

    def _save_screenshot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save a screenshot", "nokenviz.png", "PNG images (*.png)"
        )
        if path and not self.grab().save(path):
            self.show_error("screenshot", f"could not write {path}")

    def _about(self) -> None:
        from nokenviz.version import __version__

        QMessageBox.about(
            self,
            "About nokenviz",
            f"nokenviz {__version__}: token vectors as directions "
            "on a hypersphere, the residual stream layer by layer, and nokens.",
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        """Save the session and the user's defaults, cancel running work and wait for the
        workers: nothing is torn down mid-job."""
        self.autosave_timer.stop()
        self.scenes.autosave(self.recovery.path)
        self.recovery.closed()
        s = self.session
        settings.write("prompt", s.trace_settings.prompt)
        settings.write("projection", s.projection.kind)
        settings.write("centred", s.projection.centred)
        self.statusBar().showMessage("closing: waiting for the running job to stop…")
        self.controller.cancel_all()
        for worker in (self.projection_worker, self.model_worker):
            if not worker.stop():  # a job that would not stop: its thread must outlive us
                UNFINISHED.append(worker)
                print(f"nokenviz: {worker.qthread.objectName()} worker still busy at close")
        event.accept()
        self.closed.emit()
