"""The map as a researcher asks it what a region holds: colour by kind or script with a legend
that counts, a token filter that dims what it leaves out and narrows the norm band, the neighbour
map from the View menu, and all of it carried into a saved scene and its figure."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction

from nokenviz.core.figures.overlays import NAMES
from nokenviz.core.maps.contours import density_contours
from nokenviz.core.models.token_kinds import KINDS
from nokenviz.core.scenes.scene import load_scene, save_scene
from nokenviz.gui.token_paint import DIM_ALPHA
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
