"""The window tried out of order, as a new user does: scenes opened over old results, views
whose settings moved on, sweep kinds switched back and forth, settings that do nothing, a
model switched mid-run, and every dock at a small screen's size. Through the real window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget

from nokenviz.core.figures.overlays import local_nearest
from tests.test_gui import LOAD_TIMEOUT, wait_idle, when


def _scene(path: Path, model: str, **parts: object) -> Path:
    path.write_text(json.dumps({"nokenviz_scene": 1, "model": model, **parts}))
    return path


def _raised(window, title: str) -> bool:
    dock = next(d for d in window.findChildren(QDockWidget) if d.windowTitle() == title)
    return dock.isVisible() and not dock.visibleRegion().isEmpty()


def test_a_scene_runs_what_it_shows_and_drops_old_results(qtbot, loaded, tmp_path) -> None:
    model = loaded.session.vocab.info["model"]
    panel = loaded.generate_panel
    panel.prompt.setText("The cat sat")
    loaded.controller.start_generate()
    wait_idle(qtbot, loaded)
    assert panel.output.toPlainText().startswith("The cat sat")
    assert panel.output_label.text() == "output"
    panel.max_new.setValue(5)
    assert "earlier settings" in panel.output_label.text()
    loaded.sweep_panel.steps.setValue(3)
    loaded.controller.start_sweep()
    wait_idle(qtbot, loaded)
    assert loaded.sweep_panel.table.rowCount() == 3
    generate = {"prompt": "A dog ran", "decoding": {"max_new_tokens": 3}}
    same_sweep = loaded.session.sweep.model_dump()
    panel.prompt.setText("A dog ran")  # edited, not run: the output is still of "The cat sat"
    panel.max_new.setValue(3)
    quiet = _scene(tmp_path / "q.json", model, generate=generate, sweep=same_sweep)
    assert loaded.scenes.open(quiet)
    assert panel.output.toPlainText() == ""  # the scene's settings did not make it
    about_generation = _scene(
        tmp_path / "g.json", model, figure="generate", generate=generate, sweep=same_sweep
    )
    assert loaded.scenes.open(about_generation)
    assert loaded.sweep_panel.table.rowCount() == 3  # its sweep settings are the same
    wait_idle(qtbot, loaded)
    assert panel.output.toPlainText().startswith("A dog ran")  # run, not the old text
    assert _raised(loaded, "Generate")
    sweep = {"kind": "lerp", "prompt_a": "A cat", "prompt_b": "A dog", "steps": 2}
    other = _scene(tmp_path / "s.json", model, generate=generate, sweep=sweep)
    assert loaded.scenes.open(other)
    assert loaded.sweep_panel.table.rowCount() == 0  # rows of other settings: gone
    assert panel.output.toPlainText().startswith("A dog ran")  # the same Generate settings


def test_a_view_that_no_longer_matches_its_settings_says_so_or_updates(qtbot, loaded) -> None:
    toolbar, lens = loaded.toolbar, loaded.lens_panel
    assert not lens.stale.text()
    toolbar.prompt.setText("A dog ran to the")
    assert "out of date" in lens.stale.text()
    assert "out of date" in loaded.attention_panel.stale.text()
    assert "out of date" in loaded.readout_panel.title.text()
    assert "out of date" in loaded.length_panel.what.text()
    QTest.keyClick(toolbar.prompt, Qt.Key.Key_Return)
    wait_idle(qtbot, loaded)
    assert not lens.stale.text()
    toolbar.position.setFocus()
    toolbar.position.selectAll()
    QTest.keyClicks(toolbar.position, "1")
    QTest.keyClick(toolbar.position, Qt.Key.Key_Return)  # Enter in the position box traces
    wait_idle(qtbot, loaded)
    assert loaded.session.trace.position == 1 and not lens.stale.text()


def test_each_sweep_kind_keeps_its_own_prompt(qtbot, loaded) -> None:
    panel = loaded.sweep_panel
    panel.prompt_a.setText("White cats are")
    panel.kind.setCurrentIndex(panel.kind.findData("seeds"))
    assert "{x}" in panel.prompt_a.text()
    panel.kind.setCurrentIndex(panel.kind.findData("lerp"))
    assert panel.prompt_a.text() == "White cats are"
    panel.steps.setValue(2)
    panel.max_new.setValue(2)
    loaded.controller.start_sweep()
    wait_idle(qtbot, loaded)
    assert not loaded.session.error and panel.table.rowCount() == 2
    panel.steps.setValue(3)
    assert "earlier settings" in panel.stale.text()


def test_a_seeds_sweep_records_raw_or_norm_matched(qtbot, loaded) -> None:
    panel = loaded.sweep_panel
    panel.kind.setCurrentIndex(panel.kind.findData("seeds"))
    panel.seeds.setText("1-2")
    panel.max_new.setValue(2)
    assert not panel.match_norm.isChecked()
    panel.match_norm.setChecked(True)
    assert loaded.session.sweep.match_norm
    loaded.controller.start_sweep()
    wait_idle(qtbot, loaded)
    header = dict(loaded.session.sweep_header)
    assert "typical token norm" in header["sweep"]
    assert header["model"].count("(") <= 1


def test_silent_settings_are_said(qtbot, loaded) -> None:
    panel = loaded.generate_panel
    panel.nokens.setPlainText("")
    panel.prompt.setText("Black cats and")
    panel.rules.setPlainText('White = {"token": " dog"}')  # mid-sentence it is " White"
    panel.max_new.setValue(3)
    loaded.controller.start_generate()
    wait_idle(qtbot, loaded)
    notes = panel.notes.text()
    assert not panel.notes.isHidden() and "'White' has no leading space" in notes
    fired = loaded.session.history[-1].substituted
    assert ("no rule fired" in notes) == (not fired)
    panel.rules.setPlainText("")
    panel.compare.setChecked(True)
    panel.penalty.setValue(1.3)  # no noken: nothing to replace, and it says so
    loaded.controller.start_generate()
    wait_idle(qtbot, loaded)
    assert "no noken to replace" in panel.baseline_label.text()


def test_a_generation_ended_by_a_model_switch_is_kept(qtbot, loaded, tiny_dirs) -> None:
    panel = loaded.generate_panel
    panel.nokens.setPlainText("")
    panel.prompt.setText("The cat sat")
    panel.max_new.setValue(40)
    panel.min_new.setValue(40)
    before = len(loaded.session.history)
    switched: list[bool] = []

    def switch_once_streaming() -> None:  # the first streamed token: another model, now
        output = loaded.session.output
        if not switched and output is not None and output.streamed:
            switched.append(True)
            loaded.load_model(tiny_dirs["gpt2"])

    when(loaded, "output", switch_once_streaming)
    loaded.controller.start_generate()
    qtbot.waitUntil(lambda: bool(switched), timeout=LOAD_TIMEOUT)
    assert len(loaded.session.history) == before + 1
    kept = loaded.session.history[-1]
    assert kept.stopped and kept.text and kept.prompt == "The cat sat"
    assert "generation stopped" in loaded.session.message
    qtbot.waitUntil(lambda: loaded.session.vocab.info["arch"] == "gpt2", timeout=LOAD_TIMEOUT)
    wait_idle(qtbot, loaded)
    assert panel.history.count() == before + 1


def test_the_local_view_labels_and_enlarges_its_nearest_tokens(qtbot, loaded) -> None:
    cat = loaded.session.vocab.tokens.index(" cat")
    loaded.controller.select([cat])
    loaded.controller.set_projection(kind="local", centre=cat)
    qtbot.waitUntil(lambda: loaded.session.fitted.shape == "local", timeout=LOAD_TIMEOUT)
    wait_idle(qtbot, loaded)
    near = loaded.view.near
    assert len(near.data) > 0 and near.opts["size"] == 10  # drawn large, over the cloud
    shown = {item.toPlainText() for item in loaded.view.labels if isinstance(item, pg.TextItem)}
    labels = loaded.session.vocab.labels
    nearest = [labels[i] for i in local_nearest(loaded.session.fitted.coords)]
    assert len(shown & set(nearest)) >= 3  # the nearest tokens are named


def test_colour_scales_and_hover_values(qtbot, loaded) -> None:
    from PySide6.QtCore import QPointF

    lens, attention = loaded.lens_panel, loaded.attention_panel
    assert lens.scale.isVisible() and attention.scale.isVisible()
    box = lens.heat.getPlotItem().getViewBox()
    lens._hovered(box.mapViewToScene(QPointF(0.0, 1.0)))  # position 0, layer 1
    assert lens.hover.text().startswith("layer 1, position 0") and "p = " in lens.hover.text()
    box = attention.plot.getPlotItem().getViewBox()
    attention._hovered(box.mapViewToScene(QPointF(0.0, 1.0)))  # key 0, query 1
    assert attention.hover.text().startswith("query 1") and "→ key 0" in attention.hover.text()
    heat = lens.heat.getPlotItem().getViewBox().sceneBoundingRect()
    cell = heat.width() / loaded.session.trace.heat_probs.shape[1]
    assert all(t.boundingRect().width() <= cell for t in lens.texts)  # cell text is fitted


@pytest.mark.parametrize("size", [(1280, 800), (1600, 1000)])
def test_every_dock_fits_a_small_screen(qtbot, loaded, size) -> None:
    from PySide6.QtWidgets import QScrollArea

    loaded.resize(*size)
    for dock in loaded.findChildren(QDockWidget):
        dock.raise_()
        qtbot.wait(50)
        widget = dock.widget()
        inner = widget.widget() if isinstance(widget, QScrollArea) else widget
        if isinstance(widget, QScrollArea):
            assert not widget.horizontalScrollBar().isVisible(), dock.windowTitle()
        assert inner.minimumSizeHint().width() <= dock.width() + 2, dock.windowTitle()
    norms = loaded.lens_panel.norms
    (x0, x1), _ = norms.getPlotItem().getViewBox().viewRange()
    layers = loaded.session.trace.norms.shape[0]
    assert x0 <= 0 and x1 >= layers - 1  # every layer on the axis
    assert norms.getPlotItem().sceneBoundingRect().width() <= norms.width() + 1  # not cut


def test_the_window_opens_within_the_screen(qtbot, qt_settings) -> None:
    from nokenviz.gui.window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    screen = window.screen().availableGeometry()
    assert window.width() <= screen.width() and window.height() <= screen.height()
    window.close()


def test_search_says_when_several_tokens_match_and_steps_through_them(qtbot, loaded) -> None:
    tokens = loaded.session.vocab.tokens
    loaded.controller.search("cat")
    first = loaded.session.selection[-1]
    assert tokens[first].strip() == "cat"  # the case typed first, ignoring the space
    assert "matches" in loaded.session.message and "Enter for the next" in loaded.session.message
    loaded.controller.search("cat")
    second = loaded.session.selection[-1]
    assert second != first and "cat" in tokens[second].casefold()


def test_the_busy_bar_says_what_runs(qtbot, loaded) -> None:
    status = loaded.status
    loaded.controller.start_generate()
    assert status.work_label.text()  # set at once, shown once the work lasts
    wait_idle(qtbot, loaded)


def test_the_guiding_tokens_say_how_many_layers_they_average(loaded) -> None:
    assert "both layers" in loaded.attention_panel.guides.text()  # the tiny llama has 2


def test_a_rare_norm_is_not_rounded_to_zero_percent() -> None:
    from nokenviz.gui.inspector import share_text

    assert [share_text(s) for s in (0.0015, 0.08, 0.9999, 0.0, 1.0)] == [
        "0.15%", "8%", "99.99%", "0%", "100%",
    ]  # fmt: skip


def test_the_inspector_and_hover_say_what_kind_of_token_it_is(qtbot, loaded) -> None:
    cat = loaded.session.vocab.tokens.index(" cat")
    loaded.controller.select([cat])
    qtbot.waitUntil(lambda: "#" + str(cat) in loaded.inspector.title.text(), timeout=LOAD_TIMEOUT)
    assert "word start · lower · Latin · 4 characters" in loaded.inspector.title.text()
    loaded.layers._token_hovered(cat)
    assert loaded.status.hover_label.text().endswith("word start · lower · Latin · 4 characters")
