"""The window as a reader of figures sees it: the local view and neighbour recall from the View
menu, role colours with a legend, exports at print sizes, and docks that fit 1400x900 and
1280x800."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget

from nokenviz.gui.plots import rows_height
from nokenviz.gui.window import MainWindow
from tests.test_figures import _pdf_font_types
from tests.test_gui import LOAD_TIMEOUT, wait_idle


def _action(window: MainWindow, text: str) -> QAction:
    return next(a for a in window.findChildren(QAction) if a.text().replace("&", "") == text)


def _show_dock(qtbot, window: MainWindow, title: str) -> None:
    dock = next(d for d in window.findChildren(QDockWidget) if d.windowTitle() == title)
    dock.raise_()
    qtbot.wait(50)


def test_the_docks_fit_1400x900_and_1280x800(qtbot, window) -> None:
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.size().height() == 900)
    table = window.inspector.table
    assert table.height() >= rows_height(table, 8) - 2  # eight neighbours in view
    _show_dock(qtbot, window, "Compose")
    weights = window.composer.weights
    assert weights.isVisible() and weights.height() >= rows_height(weights, 6) - 2
    _show_dock(qtbot, window, "Generate")
    output = window.generate_panel.output
    lines = output.viewport().height() / output.fontMetrics().lineSpacing()
    assert output.isVisible() and lines >= 6
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.size() == window.size().__class__(1280, 800))
    assert window.attention_panel.plot.height() >= 150  # the attention plot keeps its shape
    assert window.lens_panel.heat.height() >= 150
    assert window.view.height() >= 300


def test_local_view_and_recall_from_the_view_menu(qtbot, loaded) -> None:
    s = loaded.session
    cat = s.vocab.tokens.index(" cat")
    loaded.controller.select([cat])
    wait_idle(qtbot, loaded)
    _action(loaded, "Local view").trigger()
    wait_idle(qtbot, loaded)
    assert s.projection.kind == "local" and s.projection.centre == cat
    assert s.fitted.shape == "local" and np.allclose(s.fitted.coords[cat], 0.0, atol=0.05)
    title = loaded.view.title_text()
    assert "local view centred on ␣cat" in title and "kNN recall@10" in title
    assert "are among its 10 nearest on screen" in loaded.inspector.title.text()
    assert s.neighbours.recall == 1.0  # the centre's neighbours are its nearest points
    _action(loaded, "neighbour recall").trigger()
    wait_idle(qtbot, loaded)
    assert s.recall is not None and s.recall.shape == (len(s.vocab.tokens),)
    assert s.recall[cat] == 1.0
    assert "kNN recall" in loaded.view.colorbar.getAxis("left").labelText
    assert np.array_equal(loaded.view.paint.values, s.recall.astype(np.float32))
    _action(loaded, "neighbour recall").trigger()  # unchecked: back to norms
    assert np.array_equal(loaded.view.paint.values, s.norms.astype(np.float32))


def test_local_view_on_the_noken_needs_a_noken(qtbot, loaded) -> None:
    s, c = loaded.session, loaded.controller
    _action(loaded, "Local view centred on the noken").trigger()
    assert s.projection.kind != "local"
    assert "compose a noken first" in loaded.status.status.currentMessage()
    for token in (" cat", " dog"):
        c.select([s.vocab.tokens.index(token)])
        c.add_anchor()
    c.set_composer(s.composer.model_copy(update={"weights": (0.5, 0.5)}))
    wait_idle(qtbot, loaded)
    assert s.preview is not None
    _action(loaded, "Local view centred on the noken").trigger()
    wait_idle(qtbot, loaded)
    assert s.projection.centre == "noken"
    assert np.allclose(s.fitted.project(s.preview.vector), 0.0, atol=0.05)
    assert "centred on the noken" in loaded.view.title_text()


def test_the_legend_names_what_is_drawn(qtbot, loaded) -> None:
    names = [label.text for _, label in loaded.view.legend.items]
    assert "residual stream (layer 0 → last)" in names and "selected token" in names
    assert "composer anchor" not in names  # no anchors yet: no legend row for them
    loaded.controller.add_anchor()
    names = [label.text for _, label in loaded.view.legend.items]
    assert "composer anchor" in names


def test_a_window_closed_in_a_local_view_starts_again_on_the_sphere(qtbot, loaded) -> None:
    loaded.controller.select([5])
    loaded.controller.set_projection(kind="local")
    wait_idle(qtbot, loaded)
    loaded.close()
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.session.projection.kind == "pca"
    again.close()


def test_export_at_a_print_size_keeps_text_as_truetype(qtbot, loaded, tmp_path) -> None:
    path = tmp_path / "column.pdf"
    with qtbot.waitSignal(loaded.exported, timeout=LOAD_TIMEOUT):
        loaded.controller.export("sphere", str(path), "column")
    data = path.read_bytes()
    assert re.search(rb"/MediaBox \[ ?0 0 252 ", data)  # 3.5 in
    assert "Type3" not in _pdf_font_types(path)


@pytest.mark.parametrize("title", ["Token Alchemy, local"])
def test_the_scene_title_is_the_window_title(qtbot, loaded, tmp_path, title: str) -> None:
    from nokenviz.core.scenes.scene import save_scene

    scene = loaded.session.to_scene().model_copy(update={"title": title})
    save_scene(scene, tmp_path / "s.json")
    assert loaded.scenes.open(tmp_path / "s.json")
    qtbot.waitUntil(lambda: loaded.windowTitle().startswith(title), timeout=LOAD_TIMEOUT)


def test_labels_on_screen_overlap_neither_each_other_nor_the_marks(qtbot, loaded) -> None:
    import pyqtgraph as pg
    from PySide6.QtCore import QPointF

    c, s = loaded.controller, loaded.session
    c.select([s.vocab.tokens.index(" cat"), s.vocab.tokens.index(" dog")])
    c.add_anchor()
    wait_idle(qtbot, loaded)
    view = loaded.view
    texts = [item for item in view.labels if isinstance(item, pg.TextItem)]
    assert len(texts) >= 3  # the selection, an anchor, trajectory nodes
    rects = [text.sceneBoundingRect().adjusted(1, 1, -1, -1) for text in texts]
    for i, rect in enumerate(rects):
        assert not any(rect.intersects(other) for other in rects[i + 1 :])
    vb = view.plotItem.vb
    clear = [rect.adjusted(-4, -4, 4, 4) for rect in rects]  # a mark stays a few pixels off
    for x, y in view.marks():
        point = vb.mapViewToScene(QPointF(float(x), float(y)))
        assert not any(rect.contains(point) for rect in clear)


def test_a_large_vocabulary_gets_a_sampled_umap_and_an_exact_one_after_an_estimate(
    qtbot, loaded, monkeypatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    from nokenviz.core.maps import projections
    from nokenviz.gui import toolbar

    monkeypatch.setattr(projections, "UMAP_SAMPLE", 100)  # the tiny vocabulary counts as large
    monkeypatch.setattr(toolbar, "UMAP_SAMPLE", 100)
    s, bar = loaded.session, loaded.toolbar
    count = len(s.vocab.tokens)
    assert not bar.exact_action.isVisible()
    bar.projection_box.setCurrentIndex(bar.projection_box.findData("umap"))
    wait_idle(qtbot, loaded)
    assert f"approximate: fitted on 100 of {count:,} tokens" in loaded.view.title_text()
    assert bar.exact_action.isVisible()
    asked: list[str] = []

    def answer(button: QMessageBox.StandardButton):
        return lambda _parent, _title, text: asked.append(text) or button

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    bar.exact_box.click()
    assert not bar.exact_box.isChecked() and not s.projection.exact and not s.running
    assert re.search(rf"exact UMAP sphere of {count:,} tokens takes about \d+ min", asked[0])
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    bar.exact_box.click()
    wait_idle(qtbot, loaded)
    assert s.projection.exact and not s.fitted.sampled
    assert "fitted on" not in loaded.view.title_text()
    bar.projection_box.setCurrentIndex(bar.projection_box.findData("pca"))
    wait_idle(qtbot, loaded)
    assert not bar.exact_action.isVisible()
