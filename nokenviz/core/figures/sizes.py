"""Figure size presets for print (no matplotlib import: the export dialog lists them).

A figure is made at its printed width, with fonts in points that stay legible there, so a
one-column figure is not an 8-inch figure shrunk until its labels are 4 pt.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

FONTS: dict[Any, Any] = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs on every machine
    "svg.fonttype": "none",  # text stays <text> in SVG
    "pdf.fonttype": 42,  # TrueType in PDF (journals reject Type 3): editable, searchable
    "ps.fonttype": 42,
}


@dataclass(frozen=True)
class FigureSize:
    """A figure's printed width, its body font size and the PNG resolution it is made for."""

    width: float  # inches
    font: float  # points
    dpi: int

    def rc(self) -> dict[Any, Any]:  # matplotlib types the keys as its rcParams names
        """The paper theme at this size: fonts sized for print, never below 6 pt."""
        small = max(self.font - 1, 6.0)
        return {
            **FONTS,
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "font.size": self.font,
            "axes.titlesize": self.font + 1,
            "figure.titlesize": self.font + 1,
            "axes.labelsize": self.font,
            "xtick.labelsize": small,
            "ytick.labelsize": small,
            "legend.fontsize": small,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.linewidth": 0.6,
        }

    def wrap(self, text: str, fraction: float = 1.0) -> str:
        """A title wrapped to `fraction` of the figure's width (about 0.55 em per character)."""
        per_line = max(int(fraction * self.width * 72 / (0.55 * (self.font + 1))), 16)
        return "\n".join(_balanced(line, per_line) for line in text.split("\n"))


SIZES = {
    "screen": FigureSize(8.0, 9.0, 100),  # the app's export; scale 1 = 800 px wide
    "column": FigureSize(3.5, 7.0, 300),  # one journal column
    "page": FigureSize(7.0, 8.0, 300),  # two columns, the full text width
}


def _balanced(text: str, width: int) -> str:
    """`text` in as few lines of at most `width` characters as fit, of even length (no lone
    last word)."""
    lines = len(textwrap.wrap(text, width)) or 1
    even = -(-len(text) // lines)
    while len(textwrap.wrap(text, even)) > lines:
        even += 1
    return textwrap.fill(text, even)
