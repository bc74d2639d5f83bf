"""Region names against a map built to have known regions."""

from __future__ import annotations

import numpy as np

from nokenviz.core.figures.overlays import region_labels
from nokenviz.core.maps.regions import find_regions
from nokenviz.core.models.token_kinds import token_kinds


def test_regions_are_named_by_their_dominant_kind_and_script_and_central_tokens() -> None:
    rng = np.random.default_rng(0)
    groups = {
        (0.0, 0.0): [f" слово{i}" for i in range(300)],  # Cyrillic word starts
        (50.0, 0.0): [str(i % 10) for i in range(300)],  # digits
        (0.0, 50.0): [f"ing{i}" for i in range(300)],  # Latin continuations
    }
    pieces, coords = [], []
    for (x, y), texts in groups.items():
        pieces += texts
        coords.append(rng.normal(size=(len(texts), 2)) + np.array([x, y]))
    xy = np.vstack(coords).astype(np.float32)
    kinds = token_kinds(pieces, pieces, set())
    found = find_regions(xy, kinds, count=3)
    names = {(r.kind, r.script) for r in found}
    assert names == {("word start", "Cyrillic"), ("number", ""), ("continuation", "Latin")}
    for region in found:
        centre = np.array(list(groups)[region.anchor // 300])
        assert np.linalg.norm(xy[region.anchor] - centre) < 1.0  # the label sits in its region
        assert {i // 300 for i in region.examples} == {region.anchor // 300}
        assert len(region.examples) == 3 and region.size == 300
    labels = region_labels(xy, found, pieces)
    assert all(label.role == "region" for label in labels)
    assert any(label.text.startswith("word start · Cyrillic:  слово") for label in labels)
