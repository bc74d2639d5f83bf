"""Figures a journal accepts: TrueType fonts in PDF, text as text in SVG, PNG at the asked
resolution, print sizes with legible fonts, a legend for the marks, labels that avoid each
other and the marks, and a frame that fits what is shown."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.text import Text
from PIL import Image

from nokenviz.core.figures.overlays import NAMES, Label
from nokenviz.core.figures.plots import SIZES, lens_figure, png_dpi, save_figure, table_figure
from nokenviz.core.figures.sphere import SphereLayers, sphere_figure
from nokenviz.core.maps.colouring import TokenColours
from nokenviz.errors import NokenvizError


def _layers(view=None) -> SphereLayers:
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, 3000)
    radius = np.sqrt(rng.uniform(0, 1, 3000))
    coords = np.stack([2.8 * radius * np.cos(angle), 1.4 * radius * np.sin(angle)], 1)
    trajectory = np.stack([np.linspace(-1, 0.5, 12), 0.3 * np.sin(np.linspace(0, 3, 12))], 1)
    labels = [Label(trajectory[i], f"L{i} ␣the", 50 + i, "trajectory") for i in range(12)]
    labels += [Label(coords[i], f"␣tok{i}", 90, "selection") for i in range(3)]
    return SphereLayers(
        coords=coords.astype(np.float32),
        colours=TokenColours("token norm", "viridis", rng.uniform(2, 5, 3000), (2.0, 5.0)),
        title="a title long enough to need wrapping at the width of one journal column, surely",
        shape="map",
        labels=labels,
        selection=coords[:3],
        anchors=coords[3:6],
        trajectory=trajectory,
        noken=np.array([0.2, 0.1]),
        view=view,
    )


def _pdf_font_types(path: Path) -> set[str]:
    data = path.read_bytes()
    fonts = re.findall(rb"/Type\s*/Font\b[^>]*?/Subtype\s*/(\w+)", data)
    fonts += re.findall(rb"/Subtype\s*/(\w+)[^>]*?/Type\s*/Font\b", data)
    return {f.decode() for f in fonts}


@pytest.mark.parametrize("size", ["screen", "column", "page"])
def test_pdf_embeds_truetype_and_svg_keeps_text(tmp_path: Path, size: str) -> None:
    figure = sphere_figure(_layers(), SIZES[size])
    pdf = save_figure(figure, tmp_path / "f.pdf")
    types = _pdf_font_types(pdf)
    assert types and "Type3" not in types
    assert types <= {"TrueType", "Type0", "CIDFontType2"}
    svg = save_figure(figure, tmp_path / "f.svg").read_text()
    assert len(re.findall(r"<text\b", svg)) >= 10
    assert "␣tok0" in svg  # a label is searchable text, not glyph paths


def test_png_is_written_at_the_asked_resolution(tmp_path: Path) -> None:
    figure = sphere_figure(_layers(), SIZES["column"])
    path = save_figure(figure, tmp_path / "f.png", png_dpi(SIZES["column"]))
    with Image.open(path) as image:
        assert image.size[0] == round(3.5 * 300)
        assert round(image.info["dpi"][0]) == 300
    assert png_dpi(SIZES["screen"], 2.0) == 200 and png_dpi(SIZES["page"], dpi=600) == 600
    with pytest.raises(NokenvizError, match="50 to 1200"):
        save_figure(figure, tmp_path / "g.png", 20)
    with pytest.raises(NokenvizError, match="scale goes from 1 to 4"):
        png_dpi(SIZES["screen"], 9)


@pytest.mark.parametrize("size", ["column", "page"])
def test_print_sizes_have_their_width_and_legible_fonts(size: str) -> None:
    preset = SIZES[size]
    heat = np.random.default_rng(0).uniform(size=(31, 6))
    text = [["␣the"] * 6 for _ in range(31)]
    figures = [
        sphere_figure(_layers(), preset),
        lens_figure(heat, text, np.ones((31, 6)), 5, ["The", "␣sun"] * 3, preset),
        table_figure(("t", "text"), [("0.0", "word " * 60)], "LERP", preset),
    ]
    for figure in figures:
        figure.draw_without_rendering()
        assert figure.get_figwidth() == preset.width
        sizes = [t.get_fontsize() for t in figure.findobj(Text) if t.get_text().strip()]
        assert min(sizes) >= 5.0, size
        # no title, label, caption or annotation runs off the page
        page = figure.bbox
        written = [*figure.texts, *(t for legend in figure.legends for t in legend.get_texts())]
        for axes in figure.axes:
            written += [*axes.texts, axes.title, axes.xaxis.label, axes.yaxis.label]
        if figure._suptitle is not None:
            written.append(figure._suptitle)
        for artist in written:
            if artist.get_text().strip() and artist.get_visible():
                box = artist.get_window_extent()
                assert box.x0 >= page.x0 - 1 and box.x1 <= page.x1 + 1, artist.get_text()


def test_the_legend_names_each_mark_and_the_caption_explains_the_token_marks() -> None:
    figure = sphere_figure(_layers())
    legend = figure.legends[0]
    names = {t.get_text() for t in legend.get_texts()}
    roles = ("selection", "anchors", "noken", "trajectory")
    assert {NAMES[r] for r in roles} <= names
    assert "␣ space" in legend.get_title().get_text()


def test_categories_filter_and_a_compared_token_reach_the_figure() -> None:
    from nokenviz.core.maps.colouring import categories
    from nokenviz.core.models.token_kinds import token_kinds

    layers = _layers()
    texts = [" word", "ing", "123", " слово"] * 750
    found = categories("script", token_kinds(texts, texts, set()))
    layers.colours = TokenColours("script", "viridis", np.zeros(3000), (0.0, 1.0), found)
    layers.matched = np.arange(3, 3000, 4)  # the Cyrillic ones
    layers.filter = "script:Cyrillic"
    layers.moved = np.array([[[0.0, 0.0], [1.0, 0.5]], [[0.2, 0.1], [-0.4, 0.3]]])
    layers.contours = (np.array([[0.0, 0.0], [0.5, 0.5], [0.0, 0.5], [0.0, 0.0]]),)
    figure = sphere_figure(layers)
    legend = figure.legends[0]
    names = {t.get_text() for t in legend.get_texts()}
    assert {"Latin  1,500", "Common  750", "Cyrillic  750", NAMES["moved"]} <= names
    assert NAMES["density"] in names
    assert "filter 'script:Cyrillic': 750 of 3,000 tokens" in legend.get_title().get_text()
    bright = figure.axes[0].collections[1]  # drawn over the dimmed vocabulary
    assert len(bright.get_offsets()) == 750 and figure.axes[0].collections[0].get_alpha() < 0.2


def _label_boxes(figure) -> list:
    axes = figure.axes[0]
    return [t.get_window_extent() for t in axes.texts if t.get_text().startswith(("L", "␣"))]


def test_labels_overlap_neither_each_other_nor_the_marks() -> None:
    layers = _layers()
    figure = sphere_figure(layers)
    boxes = _label_boxes(figure)
    assert len(boxes) >= 6
    for i, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[i + 1 :])
    axes = figure.axes[0]
    for point in axes.transData.transform(layers.marks()):
        for box in boxes:
            assert not box.contains(*point)


def test_the_frame_fits_the_points_and_marks_of_the_view_with_an_inset() -> None:
    # a view reaching far past the map's left edge: the frame is cut to what is there
    layers = _layers(view=((-6.0, 0.0), (-0.6, 0.6)))
    layers.selection = layers.anchors = layers.noken = None
    layers.labels = [label for label in layers.labels if label.role == "trajectory"]
    axes = sphere_figure(layers).axes[0]
    x0, x1 = axes.get_xlim()
    assert x0 > -2.9  # not the empty space left of the map
    assert x1 >= layers.trajectory[:, 0].max()  # every mark stays in the frame
    assert len(axes.child_axes) == 1  # the whole sphere, small, with the frame drawn on it
    whole = sphere_figure(_layers())
    assert whole.axes[0].child_axes == []


def test_a_scene_coloured_by_recall_has_its_own_scale_and_caption(llama) -> None:
    from nokenviz.api.render import compute_scene
    from nokenviz.core.figures.render import scene_figure
    from nokenviz.core.scenes.scene import ProjectionPart, Scene
    from nokenviz.core.task import Task

    scene = Scene(projection=ProjectionPart(colour="recall"))
    data = compute_scene(scene, llama, Task())
    assert data.recall.shape == (llama.vocab_size,)
    assert data.recall.min() >= 0.0 and data.recall.max() <= 1.0
    figure = scene_figure(scene, data)
    labels = [axes.get_ylabel() for axes in figure.axes]
    assert "kNN recall@10 of each token" in labels
    caption = figure.legends[0].get_title().get_text()
    assert caption.startswith("neighbours kept: kNN recall@10 ")


def test_a_local_view_scene_centred_on_its_noken(llama) -> None:
    from nokenviz.api.render import compute_scene
    from nokenviz.core.figures.render import scene_figure
    from nokenviz.core.scenes.scene import ComposerPart, ProjectionPart, Scene
    from nokenviz.core.task import Task

    local = ProjectionPart(kind="local", centre="noken")
    with pytest.raises(NokenvizError, match="centred on the noken, but the scene has none"):
        compute_scene(Scene(projection=local), llama, Task())
    composer = ComposerPart(anchors=(5, 9), weights=(0.5, 0.5))
    scene = Scene(projection=local, composer=composer)
    data = compute_scene(scene, llama, Task())
    assert np.allclose(data.projection.project(data.noken), 0.0, atol=0.05)
    figure = scene_figure(scene, data)
    assert "local view centred on the noken" in figure.get_suptitle()


@pytest.mark.parametrize("shape", ["map", "plane", "local"])
def test_a_figure_of_points_alone(tmp_path: Path, shape: str) -> None:
    layers = _layers(view=((-1.0, 1.0), (-0.5, 0.5)))
    layers.shape = shape
    layers.selection = layers.anchors = layers.trajectory = layers.noken = None
    layers.labels = []
    assert layers.marks().shape == (0, 2)
    figure = sphere_figure(layers)
    assert figure.legends == []  # nothing to explain
    save_figure(figure, tmp_path / "points.png")


def _overlaps(boxes: list) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i, box in enumerate(boxes)
        for j in range(i + 1, len(boxes))
        if box.overlaps(boxes[j])
    ]


@pytest.mark.parametrize(("layers", "positions"), [(5, 4), (31, 8), (31, 14), (13, 30)])
def test_a_column_lens_figure_is_readable_at_print_size(layers: int, positions: int) -> None:
    rng = np.random.default_rng(layers)
    words = ["␣the", "␣question", "␣dismantling", ",", "<0xE2><0x80>", "␣Paris"]
    text = [[words[(i + j) % len(words)] for j in range(positions)] for i in range(layers)]
    labels = [words[j % len(words)] for j in range(positions)]
    norms = rng.uniform(1, 100, (layers, positions))
    figure = lens_figure(
        rng.uniform(size=(layers, positions)), text, norms, 1, labels, SIZES["column"]
    )
    figure.draw_without_rendering()
    heat, curves = figure.axes[0], figure.axes[1]
    cells = [t for t in heat.texts if t.get_text()]
    if positions <= 14:  # wide enough cells carry their token, cut with a marked ellipsis
        assert len(cells) == layers * positions
        shown = {t.get_text() for t in cells}
        assert "␣the" in shown
        cut = shown - set(words)
        assert all(s.endswith("…") and any(w.startswith(s[:-1]) for w in words) for s in cut)
        assert cut or positions < 8  # long tokens are cut in narrow cells
    boxes = [t.get_window_extent() for t in cells]
    assert _overlaps(boxes) == []
    page = figure.bbox
    for axes in (heat, curves):
        (x0, x1), (y0, y1) = sorted(axes.get_xlim()), sorted(axes.get_ylim())
        ticks = [t for t in axes.get_xticklabels() if x0 <= t.get_position()[0] <= x1]
        ticks += [t for t in axes.get_yticklabels() if y0 <= t.get_position()[1] <= y1]
        for tick in ticks:
            box = tick.get_window_extent()
            assert page.x0 <= box.x0 and box.x1 <= page.x1, tick.get_text()
    shown_y = [t for t in heat.get_yticklabels() if t.get_text()]
    assert len(shown_y) >= 3 and _overlaps([t.get_window_extent() for t in shown_y]) == []
    assert _overlaps([t.get_window_extent() for t in curves.get_xticklabels()]) == []
    # the heatmap's position labels are rotated 45°: apart by more than a line across
    anchors = [heat.transData.transform((x, 0))[0] for x in heat.get_xticks()]
    line = heat.get_xticklabels()[0].get_fontsize() * figure.dpi / 72
    assert all((b - a) * 0.7071 >= line for a, b in itertools.pairwise(anchors))
    layer_ticks = [
        float(t.get_text().replace("−", "-")) for t in curves.get_xticklabels() if t.get_text()
    ]
    assert max(layer_ticks) >= layers - 1 - 5 and len(layer_ticks) >= 3  # the last layers show
    colourbar = figure.axes[2]
    assert not colourbar.yaxis.label.get_window_extent().overlaps(curves.get_tightbbox())


def test_a_figure_without_titles_gives_their_room_back_and_a_deep_lens_fits_a_page() -> None:
    from nokenviz.core.figures.plots import strip_titles

    rng = np.random.default_rng(0)
    text = [["␣the"] * 10 for _ in range(81)]
    figure = lens_figure(rng.uniform(size=(81, 10)), text, rng.uniform(1, 9, (81, 10)), 1,
                         ["x"] * 10, SIZES["column"])  # fmt: skip
    assert figure.get_figheight() <= 10  # 81 layers: every other row written, not 12 inches
    written = {round(t.get_position()[1]) for t in figure.axes[0].texts}
    assert len(written) >= 30 and 80 in written
    figure.draw_without_rendering()
    top = figure.axes[0].get_position().y1
    caption = strip_titles(figure)
    figure.draw_without_rendering()
    assert "logit lens" in caption and "norm per layer" in caption
    assert figure.axes[0].get_position().y1 > top  # no blank band where the title was
    assert not any(axes.get_title() for axes in figure.axes) and not figure.get_suptitle()


def test_a_long_colour_scale_name_stays_along_its_bar_in_one_column() -> None:
    """A comparison's scale name ran past the bar into the title of a one-column figure."""
    from dataclasses import replace

    name = "overlap of the 10 nearest tokens with the other model"
    rng = np.random.default_rng(0)
    layers = replace(
        _layers(), colours=TokenColours(name, "magma", rng.uniform(0, 1, 3000), (0, 1))
    )
    for size in ("column", "page", "screen"):
        figure = sphere_figure(layers, SIZES[size])
        figure.canvas.draw()
        bar = figure.axes[-1]
        label = bar.yaxis.label
        assert label.get_text().replace("\n", " ") == name
        extent, frame = label.get_window_extent(), bar.get_window_extent()
        assert extent.height <= frame.height * 1.05, (size, extent.height, frame.height)
