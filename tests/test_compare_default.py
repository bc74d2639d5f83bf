"""The comparison example on the real default model: `default-perturbed` is built once and
compared, its three moved tokens rank first, and a scene draws either model's map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nokenviz.api import vocabulary_operations
from nokenviz.api.render import compute_scene
from nokenviz.api.requests import CompareRequest
from nokenviz.core.models.example_copy import DONE, MOVED_PIECES, PERTURBED, SHIFT
from nokenviz.core.models.model_spec import resolve_model
from nokenviz.core.scenes.scene import ComparePart, Scene, SceneError, parse_scene
from nokenviz.core.task import Task

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def moved_ids(smol) -> list[int]:
    return [smol.tokenizer.convert_tokens_to_ids(piece) for piece in MOVED_PIECES]


def test_the_perturbed_copy_is_built_once_and_its_moved_tokens_rank_first(smol, moved_ids) -> None:
    found = vocabulary_operations.compare(smol, CompareRequest(PERTURBED, 5, "W_E"))
    built = Path(resolve_model(PERTURBED).source) / DONE
    stamp = built.stat().st_mtime_ns
    assert sorted(m.id for m in found.moved[:3]) == sorted(moved_ids)
    c = found.comparison
    others = np.setdiff1d(c.ids_a, moved_ids)
    assert c.aligned and np.median(c.cosine[others]) > 0.999  # the rotation is seen through
    again = vocabulary_operations.compare(smol, CompareRequest(PERTURBED, 5, "W_E"))
    assert [m.id for m in again.moved] == [m.id for m in found.moved]
    assert built.stat().st_mtime_ns == stamp  # built once


def test_a_scene_draws_the_compared_models_map_with_lines_from_this_ones(smol, moved_ids) -> None:
    paris = moved_ids[2]
    part = ComparePart(model=PERTURBED, other_map=True)
    scene = Scene(selection=(paris,), compare=part)
    assert parse_scene(scene.to_json()) == scene  # the comparison is saved with the scene
    mine = compute_scene(Scene(selection=(paris,)), smol, Task())
    own = mine.projection.coords
    data = compute_scene(scene, smol, Task())
    drawn = data.projection
    assert drawn.other == PERTURBED and drawn.describe().startswith(f"{PERTURBED}'s tokens")
    np.testing.assert_allclose(drawn.own_coords, own)
    # ␣Paris is drawn where the token 7,000 ids on is in this model; the line starts at its own
    np.testing.assert_allclose(drawn.coords[paris], own[paris + SHIFT], atol=0.02)
    assert data.moved is not None and data.moved[0][0] == paris
    assert np.median(np.linalg.norm(drawn.coords - own, axis=1)) < 1e-3
    assert data.change is not None and data.change[0][paris] < 0.5
    # B's map keeps B's neighbours as this map keeps this model's: B is this model turned,
    # but for three tokens
    assert data.faithfulness is not None and mine.faithfulness is not None
    assert data.faithfulness.mean == pytest.approx(mine.faithfulness.mean, abs=0.002)


def test_a_scene_comparison_without_a_model_gets_one_line() -> None:
    text = Scene(compare=ComparePart(model="x")).to_json().replace('"model": "x"', '"model": ""')
    with pytest.raises(SceneError, match="field 'compare.model'"):
        parse_scene(text)


def test_a_copy_built_meanwhile_by_another_process_is_kept_and_nothing_is_left(
    tmp_path, monkeypatch
) -> None:
    from nokenviz.core.models import example_copy
    from nokenviz.core.models.loading import load_model

    folder = tmp_path / "examples" / PERTURBED
    build = example_copy._build

    def slower(source: Path, out: Path) -> None:  # the other process finishes first
        build(source, out)
        if not folder.exists():
            build(source, folder)

    monkeypatch.setattr(example_copy, "_build", slower)
    assert example_copy.ensure_perturbed(folder, Task()) == folder
    assert (folder / DONE).is_file() and [p.name for p in folder.parent.iterdir()] == [PERTURBED]
    loaded = load_model(PERTURBED)  # a model too (its layers were not turned with it)
    assert loaded.resolved.spec == PERTURBED and loaded.adapter.W_E.shape[0] == 49_152
