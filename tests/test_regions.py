"""Region names against a map built to have known regions, and the category colours they
are read with."""

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


def test_scripts_past_the_palette_share_one_grey_other_and_counts_follow_the_filter() -> None:
    from nokenviz.core.maps.colouring import OTHER, OTHER_COLOUR, PALETTE, categories

    words = ["a", "б", "γ", "א", "ع", "क", "中", "한", "ก"]  # nine scripts
    texts = [w for n, w in enumerate(words) for _ in range(20 - n)]  # the first most frequent
    kinds = token_kinds(texts, texts, set())
    found = categories("script", kinds)
    assert found.names[:2] == ("Latin", "Cyrillic") and found.names[-1] == OTHER
    assert len(found.names) == len(PALETTE) + 1 and found.colours[-1] == OTHER_COLOUR
    assert found.counts[-1] == 13 + 12  # Hangul and Thai, the two least frequent
    within = np.array([t == "б" for t in texts])
    assert categories("script", kinds, within).legend() == [(PALETTE[1], "Cyrillic  19")]
