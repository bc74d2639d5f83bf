"""Names for the map's regions: what kind of tokens live where.

The drawn map is cut into regions by k-means on the flat coordinates (scikit-learn's
mini-batch k-means: about a second at 262k tokens), so a region is what the eye sees as one
area of this map, whichever projection it is. Each region is named by its dominant kind and
script (when at least half its tokens share one) and a few of its most central tokens of that
kind; the label sits on the token nearest the region's centre, so it is never in empty space.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nokenviz.core.models.token_kinds import TokenKinds

REGIONS = 12
EXAMPLES = 3
DOMINANT = 0.5  # a kind or script names a region when at least this share of it has it


@dataclass(frozen=True)
class Region:
    anchor: int  # the token the label sits on (nearest the region's centre)
    size: int
    kind: str  # "" when no kind has DOMINANT of the region
    script: str  # "" when no script does (or it is "Common")
    examples: tuple[int, ...]  # central tokens of the dominant kind

    def text(self, labels: Sequence[str]) -> str:
        """ "word start · Cyrillic: ␣слово ␣и ␣на" (what the region holds, then examples)."""
        name = " · ".join(part for part in (self.kind, self.script) if part) or "mixed"
        return f"{name}: {' '.join(labels[i] for i in self.examples)}"


def find_regions(
    coords: np.ndarray, kinds: TokenKinds, count: int = REGIONS, seed: int = 0
) -> list[Region]:
    """About `count` regions of the drawn map (fewer for a small vocabulary), largest first."""
    from sklearn.cluster import MiniBatchKMeans

    count = max(1, min(count, len(coords) // 20))
    fit = MiniBatchKMeans(n_clusters=count, random_state=seed, n_init=3, batch_size=4096)
    cluster = fit.fit_predict(np.asarray(coords, dtype=np.float32))
    found = [_region(np.flatnonzero(cluster == c), coords, fit.cluster_centers_[c], kinds)
             for c in range(count)]  # fmt: skip
    return sorted((r for r in found if r is not None), key=lambda r: -r.size)


def _region(
    members: np.ndarray, coords: np.ndarray, centre: np.ndarray, kinds: TokenKinds
) -> Region | None:
    if not len(members):
        return None
    order = members[np.argsort(np.linalg.norm(coords[members] - centre, axis=1))]
    kind = _dominant([kinds.kinds[i] for i in members])
    script = _dominant([kinds.scripts[i] for i in members])
    typical = [i for i in order if not kind or kinds.kinds[i] == kind]
    return Region(
        int(order[0]),
        len(members),
        kind,
        "" if script == "Common" else script,
        tuple(int(i) for i in typical[:EXAMPLES]),
    )


def _dominant(values: list[str]) -> str:
    value, times = Counter(values).most_common(1)[0]
    return value if times >= DOMINANT * len(values) else ""
