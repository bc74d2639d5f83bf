"""Every example scene's figure against a stored image, so a change that breaks a figure fails.

The stored images (tests/golden/*.png) are the figures as reviewed. To accept a deliberate
change, regenerate them with `make golden`, look at every image, and commit them.

The comparison is by pixels with a tolerance, in the spirit of pyqtgraph's image tests: a
pixel differs when a channel is off by more than 48 of 255, and up to 0.3% of the pixels may
differ (points of the rasterised sphere may move by a pixel between CPUs; a moved label, a
lost legend or changed text moves far more).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nokenviz.api.render import compute_scene
from nokenviz.core.figures.plots import save_figure
from nokenviz.core.figures.render import scene_figure
from nokenviz.core.scenes.scene import load_scene
from nokenviz.core.task import Task

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.json"))
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("NOKENVIZ_UPDATE_GOLDEN") == "1"
CHANNEL_TOLERANCE = 48
PIXEL_SHARE = 0.003


def differing_share(image: np.ndarray, reference: np.ndarray) -> float:
    """The share of pixels where some channel differs by more than the tolerance."""
    if image.shape != reference.shape:
        return 1.0
    diff = np.abs(image.astype(np.int16) - reference.astype(np.int16)).max(axis=2)
    return float((diff > CHANNEL_TOLERANCE).mean())


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_the_comparison_sees_a_moved_label_but_not_a_moved_point() -> None:
    base = np.full((100, 200, 3), 255, np.uint8)
    base[40:44, 20:120] = 0  # a line of text
    moved_point = base.copy()
    moved_point[90, 190] = 0
    assert differing_share(moved_point, base) < PIXEL_SHARE
    moved_text = np.full_like(base, 255)
    moved_text[60:64, 20:120] = 0
    assert differing_share(moved_text, base) > PIXEL_SHARE
    assert differing_share(base[:50], base) == 1.0


@pytest.mark.real_model
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_figure_matches_its_golden_image(example: Path, smol, tmp_path) -> None:
    scene = load_scene(example)
    out = tmp_path / f"{example.stem}.png"
    save_figure(scene_figure(scene, compute_scene(scene, smol, Task())), out, 100)
    golden = GOLDEN / out.name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        shutil.copyfile(out, golden)
        return
    assert golden.exists(), f"no stored image for {example.name}: run `make golden`"
    share = differing_share(_pixels(out), _pixels(golden))
    assert share < PIXEL_SHARE, (
        f"{example.name}: {share:.2%} of pixels differ from {golden} (see {out}); if the "
        "change is meant, run `make golden`, look at the images and commit them"
    )
