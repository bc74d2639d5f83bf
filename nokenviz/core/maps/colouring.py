"""What the map's colour shows: a number per token on a colour scale (norm, kNN recall, length
in characters), or a category per token (kind, script) from a colour-blind-safe palette, with
the counts the legend gives.

The palette is Okabe and Ito's (distinguishable with every common colour-vision deficiency);
past its seven colours the least frequent categories share one grey, "other".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from nokenviz.core.models.token_kinds import KINDS, TokenKinds

ColourBy = Literal["norm", "recall", "kind", "script", "length", "change"]
CATEGORICAL = ("kind", "script")
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
PALETTE = tuple(
    OKABE_ITO[name] for name in ("orange", "sky", "green", "blue", "vermillion", "purple", "yellow")
)  # categories, in this order
OTHER, OTHER_COLOUR = "other", "#999999"
SCALES = {  # what a number's colour scale is called, and its (perceptually uniform) colour map
    "norm": ("token norm", "viridis"),
    "recall": ("kNN recall@10 of each token", "cividis"),
    "length": ("length in characters", "plasma"),
    "change": ("", "magma"),  # named by the comparison (what the value is)
}


@dataclass(frozen=True)
class TokenColours:
    """What every token's colour shows: `values` on the colour map between `levels` (named by
    `label`), or `categories` when colouring by kind or script."""

    label: str
    colour_map: str
    values: np.ndarray  # [V] float32
    levels: tuple[float, float]
    categories: Categories | None = None


@dataclass(frozen=True)
class Categories:
    """Each token's category (`codes` index `names`), with a colour and a count per name."""

    names: tuple[str, ...]
    colours: tuple[str, ...]  # "#rrggbb", one per name
    counts: tuple[int, ...]  # tokens of each name (among the matching ones, when filtered)
    codes: np.ndarray  # [V] int16

    def legend(self) -> list[tuple[str, str]]:
        """(colour, "name  count") per category present, most frequent first as named."""
        return [
            (colour, f"{name}  {count:,}")
            for name, colour, count in zip(self.names, self.colours, self.counts, strict=True)
            if count
        ]

    def rgba(self) -> np.ndarray:
        """[len(names), 4] uint8 colours, for images and point brushes."""
        return np.array([_rgba(c) for c in self.colours], dtype=np.uint8)


def categories(by: str, kinds: TokenKinds, within: np.ndarray | None = None) -> Categories:
    """Every token's kind (in the fixed order of `KINDS`) or script (most frequent first, the
    rest "other"); counts only the tokens `within` (a bool mask) when given."""
    labels = np.asarray(kinds.kinds if by == "kind" else kinds.scripts)
    names, codes = np.unique(labels, return_inverse=True)
    totals = np.bincount(codes, minlength=len(names))
    if by == "kind":
        order = [list(names).index(k) for k in KINDS if k in names]
    else:
        order = list(np.argsort(-totals, kind="stable"))
    kept = order[: len(PALETTE)]
    remap = np.full(len(names), len(kept), dtype=np.int16)
    remap[kept] = np.arange(len(kept))
    shown = tuple(str(names[i]) for i in kept) + ((OTHER,) if len(kept) < len(order) else ())
    colours = PALETTE[: len(kept)] + ((OTHER_COLOUR,) if len(shown) > len(kept) else ())
    token_codes = remap[codes]
    counted = token_codes if within is None else token_codes[within]
    counts = tuple(int(c) for c in np.bincount(counted, minlength=len(shown)))
    return Categories(shown, colours, counts, token_codes)


def token_colours(
    by: str,
    norms: np.ndarray,
    norm_levels: tuple[float, float],
    kinds: TokenKinds | None,
    recall: np.ndarray | None = None,
    matched: np.ndarray | None = None,
    change: tuple[np.ndarray, str] | None = None,
) -> TokenColours:
    """The colours for colouring `by` (a `ColourBy`); recall not yet measured, kinds not
    known or no comparison made colour by norm. Category counts are of the `matched` ids when
    a filter is set. `change` is a comparison's value per token and its name."""
    if by == "change" and change is not None:
        values, label = change
        low = float(np.nanmin(values)) if np.isfinite(values).any() else 0.0  # the most moved
        return TokenColours(label, SCALES["change"][1], values, (min(low, 0.99), 1.0))
    if by == "recall" and recall is not None:
        return TokenColours(*SCALES["recall"], recall.astype(np.float32), (0.0, 1.0))
    if by == "length" and kinds is not None:
        lengths = kinds.lengths.astype(np.float32)
        top = max(float(np.percentile(lengths, 99)), 2.0)
        return TokenColours(*SCALES["length"], lengths, (1.0, top))
    values = norms.astype(np.float32)
    if by in CATEGORICAL and kinds is not None:
        within = None
        if matched is not None:
            within = np.zeros(len(norms), dtype=bool)
            within[matched] = True
        found = categories(by, kinds, within)
        return TokenColours(by, "viridis", values, norm_levels, found)
    label = SCALES["norm"][0]
    if by == "change":  # a scene or a new model asks for it before any comparison
        label += " (no comparison yet: File > Compare with model)"
    return TokenColours(label, SCALES["norm"][1], values, norm_levels)


def _rgba(colour: str) -> tuple[int, int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16), 255)
