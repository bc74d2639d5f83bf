"""Scene files, figures and headless rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from PIL import Image

from nokenviz.cli import main
from nokenviz.core.figures.plots import save_figure
from nokenviz.core.files import write_atomic
from nokenviz.core.scenes.scene import Scene, SceneError, load_scene, parse_scene, save_scene
from nokenviz.errors import NokenvizError

EXAMPLES = sorted((Path(__file__).parent.parent / "resources" / "examples").glob("*.json"))
A_SCENE = Scene.model_validate_json(
    json.dumps(
        {
            "nokenviz_scene": 1,
            "title": "cat and dog",
            "selection": [5, 9],
            "view": {"x": [-1.0, 1.5], "y": [-0.5, 0.5]},
            "trace": {"prompt": "The cat", "lens_space": True, "attention_head": 1},
            "composer": {"anchors": [5, 9], "weights": [0.25, 0.75], "norm": "custom"},
            "generate": {"prompt": "{x} sat", "nokens": ['x = {"token": " cat"}']},
            "sweep": {"kind": "seeds", "prompt_a": "{x} is", "seeds": "1,4"},
        }
    )
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(data: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path into a JSON document (where a fuzzed value can be put)."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


VALID = json.loads(A_SCENE.to_json())
PATHS = _paths(VALID)


def _replace(document: object, path: tuple, value: object) -> object:
    if not path:
        return value
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


def _only_scene_errors(text: str) -> None:
    try:
        assert isinstance(parse_scene(text), Scene)
    except SceneError as exc:
        assert str(exc) and "\n" not in str(exc)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=JSON)
def test_fuzzed_fields_only_ever_raise_scene_errors(path: tuple, value: object) -> None:
    _only_scene_errors(json.dumps(_replace(VALID, path, value)))


@settings(max_examples=300, deadline=None)
@given(document=JSON)
def test_fuzzed_documents_only_ever_raise_scene_errors(document: object) -> None:
    _only_scene_errors(json.dumps(document))


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_fuzzed_text_only_ever_raises_scene_errors(text: str) -> None:
    _only_scene_errors(text)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "scene.json"
    save_scene(A_SCENE, path)
    assert load_scene(path) == A_SCENE
    assert json.loads(path.read_text())["nokenviz_scene"] == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON at line 1"),
        ("[1]", "a JSON object with a 'nokenviz_scene' version"),
        (
            '{"title": "x"}',
            "field 'nokenviz_scene': this nokenviz reads scene version 1, the file has no version",
        ),
        ('{"nokenviz_scene": 2}', "the file has version 2"),
        ('{"nokenviz_scene": 1, "colour": 1}', "field 'colour': Extra inputs"),
        ('{"nokenviz_scene": 1, "figure": "pie"}', "field 'figure': Input should be 'sphere'"),
        ('{"nokenviz_scene": 1, "selection": [1.5]}', "field 'selection.0'"),
        ('{"nokenviz_scene": 1, "projection": {"kind": "plane"}}', "field 'projection': a token"),
        (
            '{"nokenviz_scene": 1, "composer": {"anchors": [1, 2], "weights": [1.0]}}',
            "field 'composer.weights': 2 anchors need 2 weights",
        ),
        ('{"nokenviz_scene": 1, "view": {"x": [1, 0], "y": [0, 1]}}', "field 'view': view range"),
        ('{"nokenviz_scene": 1, "sweep": {"steps": 1}}', "field 'sweep.steps'"),
        ('{"nokenviz_scene": 1, "composer": {"\\n": 1}}', "field 'composer.\"\\n\"': Extra"),
    ],
)
def test_bad_scenes_name_the_field(text: str, message: str) -> None:
    with pytest.raises(SceneError) as info:
        parse_scene(text)
    assert message in str(info.value)


def test_a_failure_mid_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "scene.json"
    save_scene(A_SCENE, path)
    before = path.read_bytes()

    def half_then_fail(file) -> None:
        file.write(before[: len(before) // 2])
        raise OSError(28, "No space left on device")

    with pytest.raises(NokenvizError, match="No space left on device"):
        write_atomic(path, half_then_fail)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["scene.json"]  # no temporary left behind


def test_an_unwritable_place_gets_a_message(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a folder path through a file: unwritable even for root
    with pytest.raises(NokenvizError, match="could not write"):
        save_scene(A_SCENE, blocker / "scene.json")
    with pytest.raises(NokenvizError, match="could not write"):
        save_figure(Figure(), blocker / "figure.pdf")


def test_render_writes_png_svg_and_pdf_headless(tmp_path: Path, tiny_dirs, capsys) -> None:
    scene = A_SCENE.model_copy(update={"model": tiny_dirs["llama"]})
    path = tmp_path / "scene.json"
    save_scene(scene, path)
    signatures = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "pdf": b"%PDF-"}
    for figure in ("sphere", "lens", "attention"):
        save_scene(scene.model_copy(update={"figure": figure}), path)
        for fmt, signature in signatures.items():
            out = tmp_path / f"{figure}.{fmt}"
            assert main(["render", str(path), "--out", str(out), "--scale", "2"]) == 0
            assert out.read_bytes().startswith(signature), out
    assert b"%%EOF" in (tmp_path / "sphere.pdf").read_bytes()[-32:]
    assert "<svg" in (tmp_path / "sphere.svg").read_text()


def test_render_refuses_bad_output_before_loading(tmp_path: Path, capsys) -> None:
    path = tmp_path / "scene.json"
    save_scene(A_SCENE.model_copy(update={"model": str(tmp_path / "no-such-model")}), path)
    assert main(["render", str(path), "--out", str(tmp_path / "x.gif")]) == 1
    assert "figures are written as .png, .svg or .pdf" in capsys.readouterr().err
    assert main(["render", str(path), "--out", str(tmp_path / "x.png"), "--scale", "8"]) == 1
    assert "the scale goes from 1 to 4" in capsys.readouterr().err
    assert main(["render", str(tmp_path / "missing.json"), "--out", "x.png"]) == 1
    assert "could not read the scene" in capsys.readouterr().err


def test_token_ids_of_another_model_get_a_message(tmp_path: Path, tiny_dirs, capsys) -> None:
    path = tmp_path / "scene.json"
    save_scene(
        A_SCENE.model_copy(update={"model": tiny_dirs["llama"], "selection": (7, 99_999)}), path
    )
    assert main(["render", str(path), "--out", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "field 'selection': token id 99999 is outside this model's vocabulary" in err


def test_every_example_is_a_valid_scene() -> None:
    assert len(EXAMPLES) >= 6
    figures = {load_scene(path).figure for path in EXAMPLES}
    assert figures == {"sphere", "lens", "attention", "sweep", "length", "generate"}


@pytest.mark.real_model
def test_an_example_renders_from_the_command_line_at_a_print_size(tmp_path: Path) -> None:
    example = next(p for p in EXAMPLES if p.stem == "local_view")
    out = tmp_path / "local_view.png"
    args = ["render", str(example), "--out", str(out), "--size", "column", "--dpi", "200"]
    assert main(args) == 0
    with Image.open(out) as image:
        assert image.size[0] == 700  # 3.5 in at 200 dpi


@pytest.mark.real_model
def test_the_full_sphere_stays_small_as_a_vector_file(tmp_path: Path) -> None:
    scene = tmp_path / "sphere.json"
    save_scene(Scene(), scene)  # the whole 49k-token map, default model
    for fmt in ("svg", "pdf"):
        out = tmp_path / f"sphere.{fmt}"
        assert main(["render", str(scene), "--out", str(out)]) == 0
        assert out.stat().st_size < 10_000_000


def test_the_wheel_ships_the_examples_and_the_icon(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).parent.parent
    command = [sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--quiet"]
    command += ["--no-build-isolation", "--wheel-dir", str(tmp_path)]
    subprocess.run(command, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("nokenviz-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"nokenviz/resources/examples/{p.name}" for p in EXAMPLES} <= names
    assert {"nokenviz/resources/nokenviz.png", "nokenviz/resources/nokenviz.svg"} <= names


def test_a_scene_with_several_bad_fields_names_each() -> None:
    text = '{"nokenviz_scene": 1, "figure": "pie", "colour": 1, "selection": [1.5]}'
    with pytest.raises(SceneError) as info:
        parse_scene(text)
    message = str(info.value)
    assert message.startswith("field '")
    assert all(name in message for name in ("figure", "colour", "selection.0"))
    assert "more)" not in message and "\n" not in message
