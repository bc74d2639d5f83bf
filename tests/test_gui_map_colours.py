"""The map as a researcher asks it what a region holds: colour by kind or script with a legend
that counts, a token filter that dims what it leaves out and narrows the norm band, the neighbour
map from the View menu, and all of it carried into a saved scene and its figure."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction

from nokenviz.core.figures.overlays import COLOURS, NAMES
from nokenviz.core.maps.contours import density_contours
from nokenviz.core.models.token_kinds import KINDS
from nokenviz.core.scenes.scene import MOVERS_DRAWN, load_scene, save_scene
from nokenviz.gui.token_paint import DIM_ALPHA
from tests.test_compare import rotated_copy
from tests.test_gui import wait_idle


def _action(window, text: str) -> QAction:
    return next(a for a in window.findChildren(QAction) if a.text().replace("&", "") == text)


def test_colour_by_kind_draws_the_palette_with_counted_legend(qtbot, loaded) -> None:
    s, view, bar = loaded.session, loaded.view, loaded.filter_bar
    bar.colour_box.setCurrentIndex(bar.colour_box.findData("kind"))
    assert s.projection.colour == "kind" and not view.colorbar.isVisible()
    kinds = s.vocab.kinds.kinds
    rows = [item[1].text for item in view.categories.items]
    expected = [k for k in KINDS if k in kinds]
    assert [row.split("  ")[0] for row in rows] == expected
    assert [int(row.split("  ")[1].replace(",", "")) for row in rows] == [
        kinds.count(k) for k in expected
    ]
    assert view.paint.codes is not None and len(view.paint.codes) == len(kinds)
    _action(loaded, "script").trigger()
    assert s.projection.colour == "script" and bar.colour_box.currentData() == "script"
    _action(loaded, "script").trigger()  # unchecked: back to norms, with the colour bar
    assert s.projection.colour == "norm" and view.paint.codes is None
    assert view.colorbar.isVisible() and not view.categories.isVisible()


def test_filter_dims_the_rest_counts_matches_and_narrows_the_band(qtbot, loaded, tmp_path) -> None:
    s, view, bar = loaded.session, loaded.view, loaded.filter_bar
    band_before = len(s.highlight)
    qtbot.keyClicks(bar.filter, "kind:word_start")
    qtbot.keyClick(bar.filter, Qt.Key.Key_Return)
    matched = s.matched
    word_starts = [i for i, k in enumerate(s.vocab.kinds.kinds) if k == "word start"]
    assert matched is not None and matched.tolist() == word_starts
    total = len(s.vocab.tokens)
    assert bar.count.text().strip() == f"{len(matched):,} of {total:,} tokens"
    assert f"{len(matched):,} of {total:,} tokens" in view.title_text()
    assert set(s.highlight) <= set(matched) and len(s.highlight) <= band_before
    view.plotItem.vb.setRange(xRange=(-3, 3), yRange=(-1.5, 1.5), padding=0)
    view.rebin()
    brushes = view.points.data["brush"] if len(view.points.data) else []
    shown = view.points.data["data"] if len(view.points.data) else []
    alphas = {int(i): b.color().alpha() for i, b in zip(shown, brushes, strict=True)}
    assert alphas and all((a == 255) == (i in set(matched)) for i, a in alphas.items())
    assert DIM_ALPHA in alphas.values()

    path = tmp_path / "filtered.nokenviz.json"
    save_scene(s.to_scene(), path)  # a scene keeps the filter
    assert load_scene(path).projection.filter == "kind:word_start"
    bar.filter.clear()  # the clear button empties the box: the filter goes at once
    assert s.matched is None and s.projection.filter == ""
    qtbot.keyClicks(bar.filter, "kind:(")
    qtbot.keyClick(bar.filter, Qt.Key.Key_Return)
    assert "token query" in s.error and s.projection.filter == ""


def test_the_neighbour_map_from_the_view_menu_is_flat_and_scored(qtbot, loaded) -> None:
    s = loaded.session
    with qtbot.waitSignal(loaded.projection_ready, timeout=120_000):
        _action(loaded, "Neighbour map").trigger()
    wait_idle(qtbot, loaded)
    assert s.fitted.spec.kind == "neighbors" and s.fitted.shape == "flat"
    title = loaded.view.title_text()
    assert "neighbour map" in title and "kNN recall@10" in title
    assert loaded.toolbar.projection_box.currentData() == "neighbors"
    assert s.to_scene().projection.kind == "neighbors"
    assert np.isfinite(s.fitted.coords).all()


def _drawn(item) -> bool:
    x = item.getData()[0]
    return x is not None and len(x) > 0


def test_density_contours_outline_the_tokens_or_the_filters_matches(
    qtbot, loaded, tmp_path
) -> None:
    s, view, bar = loaded.session, loaded.view, loaded.filter_bar
    assert not any(_drawn(item) for item in view.contours)
    _action(loaded, "Density contours").trigger()
    assert s.projection.contours
    every = [item.getData()[0].copy() for item in view.contours]
    assert all(len(x) > 10 for x in every)  # the densest 50, 80 and 95% of all tokens
    assert NAMES["density"] in [label.text for _, label in view.legend.items]
    qtbot.keyClicks(bar.filter, "kind:word_start")
    qtbot.keyClick(bar.filter, Qt.Key.Key_Return)
    matched = s.matched
    assert matched is not None
    expected = density_contours(s.fitted.coords, matched)
    assert expected is not None
    x, _ = view.contours[0].getData()  # the matches' own lines now
    np.testing.assert_array_equal(x, expected.lines[0][:, 0])
    path = tmp_path / "contours.nokenviz.json"
    save_scene(s.to_scene(), path)  # a scene keeps them
    assert load_scene(path).projection.contours
    _action(loaded, "Density contours").trigger()
    assert not any(_drawn(item) for item in view.contours)


def test_region_labels_name_the_drawn_map_and_follow_a_new_projection(qtbot, loaded) -> None:
    s, view = loaded.session, loaded.view
    _action(loaded, "Region labels").trigger()
    wait_idle(qtbot, loaded)
    assert s.projection.regions and s.regions
    shown = [text for _, text, _, colour in view.label_items if colour == "#222222"]
    assert shown and all(":" in text for text in shown)
    assert shown[0] == s.regions[0].text(s.vocab.labels)  # the largest region first
    first = s.regions
    loaded.controller.set_projection(centred=not s.projection.centred)
    wait_idle(qtbot, loaded)
    assert s.regions is not None and s.regions is not first  # named again on the new map
    _action(loaded, "Region labels").trigger()
    assert not s.projection.regions
    assert not [t for _, t, _, colour in view.label_items if colour == "#222222"]


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
    movers = [m.id for m in found.moved[:MOVERS_DRAWN]]
    assert np.isnan(x).sum() == 1 + len(movers)  # one line each, broken by a NaN
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
    assert "compare with another model first" in s.message and not s.other_map
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
    title = view.plotItem.titleLabel.text
    assert "rotated's tokens (aligned)" in title and "measured on this model's own map" in title
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
