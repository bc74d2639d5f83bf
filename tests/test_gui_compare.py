"""Comparing the model shown with another checkpoint, in the app: the map coloured by change,
the movers' table and lines, the compared model's own map flipped to and from (Ctrl+B), and a
scene that keeps the comparison; every way the wish for B's map cannot be met ends it, said."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction

from nokenviz.core.figures.overlays import COLOURS
from nokenviz.core.maps.faithfulness import token_recall
from nokenviz.core.scenes.scene import ComparePart, load_scene, save_scene
from tests.test_compare import rotated_copy
from tests.test_gui import wait_idle
from tests.tiny_models import build_model_dir


def _action(window, text: str) -> QAction:
    return next(a for a in window.findChildren(QAction) if a.text().replace("&", "") == text)


def _compared(qtbot, window, tmp_path) -> str:
    """The tiny model compared with a rotated copy whose token 10 was replaced."""
    other = rotated_copy(window.session.model_spec, tmp_path / "rotated")
    window.controller.compare_with(other)
    wait_idle(qtbot, window)
    return other


def _scene_with(window, tmp_path, name: str, **update) -> str:
    path = tmp_path / name
    save_scene(window.session.to_scene().model_copy(update=update), path)
    return str(path)


def test_compare_with_a_model_colours_the_map_and_lists_the_movers(qtbot, loaded, tmp_path) -> None:
    s, panel = loaded.session, loaded.compare_panel
    other = rotated_copy(s.model_spec, tmp_path / "rotated")
    panel.other.setText(other)
    qtbot.keyClick(panel.other, Qt.Key.Key_Return)
    wait_idle(qtbot, loaded)
    found = s.comparison
    assert found is not None and found.comparison.aligned and not s.error
    assert (
        s.projection.colour == "change" and loaded.filter_bar.colour_box.currentData() == "change"
    )
    assert "cosine to the other model" in loaded.view.colorbar.getAxis("left").labelText
    assert panel.table.rowCount() == len(found.moved) and found.moved[0].id == 10
    assert panel.table.item(0, 0).text() == s.vocab.labels[10]
    assert "shared tokens" in panel.summary.text()
    panel.table.cellClicked.emit(0, 0)
    wait_idle(qtbot, loaded)
    assert s.selection == (10,)
    x, y = loaded.view.moved.getData()  # token 10 and where it went in B: far apart
    far = np.hypot(x[1] - x[0], y[1] - y[0])
    loaded.controller.select([11])  # a token B only rotated stays about where it is
    x, y = loaded.view.moved.getData()  # 11's line first, then the most changed tokens'
    near = np.hypot(x[1] - x[0], y[1] - y[0])
    assert near < 0.1 * far, (near, far)
    movers = found.comparison.moved_most(12)  # those whose direction moved: 10 alone
    assert movers.tolist() == [10] and np.isnan(x).sum() == 2  # a line each, broken by NaN
    moved_labels = {t for _, t, _, colour in loaded.view.label_items if colour == COLOURS["moved"]}
    assert s.vocab.labels[10] in moved_labels  # the most changed are named on the map
    panel.movers.setChecked(False)  # the selected token's line alone
    x, _ = loaded.view.moved.getData()
    assert np.isnan(x).sum() == 1 and not s.movers_shown
    panel.other.setText(str(tmp_path))  # not a model: one clear line, the comparison kept
    qtbot.keyClick(panel.other, Qt.Key.Key_Return)
    wait_idle(qtbot, loaded)
    assert "no config.json" in s.error and s.comparison is found


def test_the_compared_models_map_flips_with_ctrl_b_and_is_kept_in_the_scene(
    qtbot, loaded, tmp_path
) -> None:
    s, panel, view = loaded.session, loaded.compare_panel, loaded.view
    flip = _action(loaded, "Flip to the compared model's map")
    flip.trigger()  # nothing to compare with yet: said, and nothing drawn
    assert "compare with another model on W_E first" in s.message and not s.other_map
    assert not panel.other_map.isEnabled()
    loaded.controller.compare_with(rotated_copy(s.model_spec, tmp_path / "rotated"))
    wait_idle(qtbot, loaded)
    own, score = s.fitted, s.faithfulness
    loaded.controller.select([10])  # the token B replaced
    wait_idle(qtbot, loaded)
    panel.other_map.setChecked(True)
    wait_idle(qtbot, loaded)
    drawn = s.fitted
    assert s.other_map and drawn.other == "rotated" and s.own_fitted is own
    assert view.coords is drawn.coords and drawn.own_coords is own.coords
    moved = np.linalg.norm(drawn.coords - own.coords, axis=1)
    assert moved[10] > 20 * np.median(moved)  # B replaced 10's row; it rotated the others
    x, y = view.moved.getData()  # 10's line: from its place here to where B has it
    np.testing.assert_allclose([x[0], y[0]], own.coords[10], atol=1e-5)
    np.testing.assert_allclose([x[1], y[1]], drawn.coords[10], atol=1e-4)
    title = view.title_text()
    assert "rotated's tokens (aligned)" in title and "neighbours kept: kNN recall@10" in title
    assert s.faithfulness is not score and s.faithfulness.vocab_size == len(s.vocab.tokens)
    loaded.scenes.path = tmp_path / "b.json"
    loaded.scenes.save()
    saved = load_scene(tmp_path / "b.json").compare
    assert saved is not None and saved.other_map and saved.model.endswith("rotated")
    flip.trigger()  # back to this model's map, with the measures it had
    wait_idle(qtbot, loaded)
    assert s.fitted is own and s.faithfulness is score and not panel.other_map.isChecked()
    assert view.coords is own.coords
    flip.trigger()
    loaded.controller.set_projection(kind="pca", centred=False)  # B's map follows a new map
    wait_idle(qtbot, loaded)
    assert s.fitted.other == "rotated" and not s.fitted.spec.centred
    flip.trigger()
    wait_idle(qtbot, loaded)
    assert not s.fitted.other and not s.fitted.spec.centred and s.faithfulness is not None
    loaded.scenes.open(tmp_path / "b.json")  # the scene draws B's map again
    wait_idle(qtbot, loaded)
    assert s.fitted.other == "rotated" and panel.other_map.isChecked()
    save_scene(
        load_scene(tmp_path / "b.json").model_copy(update={"compare": None}), tmp_path / "a.json"
    )
    loaded.scenes.open(tmp_path / "a.json")  # a scene without a comparison ends the one shown
    wait_idle(qtbot, loaded)
    assert s.comparison is None and not s.fitted.other and not panel.other_map.isEnabled()


def test_on_b_map_the_inspector_and_recall_colour_stay_with_this_models_map(
    qtbot, loaded, tmp_path
) -> None:
    s, c = loaded.session, loaded.controller
    _compared(qtbot, loaded, tmp_path)
    own = s.fitted
    c.show_other_map(True)
    c.select([10])
    wait_idle(qtbot, loaded)
    assert s.fitted.other == "rotated"
    # the selected token's recall: this model's neighbours, on this model's own map
    matrix = s.vocab.matrices[s.matrix]
    assert s.neighbours.recall == token_recall(matrix, own.coords, 10, norms=s.norms)
    c.set_colour("recall")  # refused on B's map, said, the colour kept
    assert s.projection.colour == "change" and "own map" in s.message
    c.show_other_map(False)
    c.set_colour("recall")
    wait_idle(qtbot, loaded)
    assert s.projection.colour == "recall" and s.recall is not None


def test_the_wish_for_b_map_ends_said_when_it_cannot_be_met(qtbot, loaded, tmp_path) -> None:
    s, c, panel = loaded.session, loaded.controller, loaded.compare_panel
    _compared(qtbot, loaded, tmp_path)
    c.set_projection(kind="umap")
    c.show_other_map(True)
    c.cancel_all()  # stopped before or after it started: this model's map, and unticked
    wait_idle(qtbot, loaded)
    assert not s.other_map and not s.fitted.other and not panel.other_map.isChecked()
    assert "cancelled" in s.message and "this model's map is shown" in s.message
    c.set_projection(kind="pca")
    c.show_other_map(True)
    wait_idle(qtbot, loaded)
    assert s.fitted.other == "rotated"
    c.set_projection(matrix="W_U")  # the comparison is of W_E: no B's map of W_U
    wait_idle(qtbot, loaded)
    assert not s.other_map and "compare with another model on W_U first" in s.message
    assert not s.fitted.other and s.to_scene().compare.other_map is False
    c.set_projection(matrix="W_E")
    wide = str(build_model_dir("llama", tmp_path / "wide", hidden_size=48))
    part = ComparePart(model=wide, other_map=True)
    loaded.scenes.open(_scene_with(loaded, tmp_path, "wide.json", compare=part))
    wait_idle(qtbot, loaded)
    assert s.comparison.other == wide and not s.other_map and "widths differ" in s.message
    assert not panel.other_map.isEnabled()


def test_a_scenes_comparison_is_kept_until_it_lands_and_ended_by_one_without(
    qtbot, loaded, tmp_path
) -> None:
    s, panel = loaded.session, loaded.compare_panel
    missing = ComparePart(model=str(tmp_path / "nope"), other_map=True)
    loaded.scenes.open(_scene_with(loaded, tmp_path, "missing.json", compare=missing))
    wait_idle(qtbot, loaded)
    assert "model path not found" in s.error and not s.other_map
    assert s.to_scene().compare == missing  # saved again, the scene still asks for it
    other = _compared(qtbot, loaded, tmp_path)
    assert s.to_scene().compare.model == other and panel.table.rowCount() > 0
    assert panel.other.text() == other  # the box names the model compared with
    # the same B on the other matrix is another comparison: made again
    part = ComparePart(model=other)
    projection = s.projection.model_copy(update={"matrix": "W_U"})
    loaded.scenes.open(_scene_with(loaded, tmp_path, "u.json", compare=part, projection=projection))
    wait_idle(qtbot, loaded)
    assert s.compared is not None and s.compared.matrix == "W_U"
    loaded.scenes.open(_scene_with(loaded, tmp_path, "none.json", compare=None))
    assert s.comparison is None and panel.table.rowCount() == 0  # told at once
    assert panel.other.text() == ""
    wait_idle(qtbot, loaded)


def test_the_map_title_is_text_wrapped_to_the_plot() -> None:
    """A token such as <issue_comment> in a title is text, not a tag that vanishes, and a title
    wider than the plot (another model's local view) wraps instead of pushing the colour bar
    out of the window."""
    from nokenviz.gui.sphere_layers import TITLE_CHAR_PIXELS, title_html

    long = "W_E: B's tokens (aligned) on this model's local view centred on <issue_comment> " * 3
    title = title_html([long, "neighbours kept: 0.002"], width=600)
    rows = title.split("<br>")
    assert "&lt;issue_comment&gt;" in title and "<issue_comment>" not in title
    assert len(rows) >= 4 and rows[-1] == "neighbours kept: 0.002"
    assert max(len(r.replace("&lt;", "<").replace("&gt;", ">")) for r in rows) <= max(
        60, 600 / TITLE_CHAR_PIXELS
    )
