"""How each token is painted on the map: its colour (a number on a colour scale, or a category
from the palette), dimmed when the filter leaves it out, as RGBA for the density images and for
the points. Computed here, not by pyqtgraph's lookup tables, so both kinds of colour and the
dimming go through one path."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from nokenviz.core.maps.density import bin_points, dominant

DIM_ALPHA = 38  # of 255: tokens the filter leaves out stay visible as context
UNKNOWN_RGBA = (190, 190, 190, 255)  # a token without a value (not in the compared model)
_LUT_SIZE = 256


@dataclass(frozen=True)
class TokenPaint:
    """A number per token on `colormap` between `levels`, or (with `codes`) a category per
    token coloured by `palette` ([n, 4] uint8); `matched` (ids) are bright, others dim."""

    values: np.ndarray  # [V] float32
    levels: tuple[float, float]
    colormap: pg.ColorMap
    codes: np.ndarray | None = None  # [V] category index
    palette: np.ndarray | None = None  # [categories, 4] uint8
    matched: np.ndarray | None = None  # ids; None: no filter
    _mask: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _table: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table = self.colormap.getLookupTable(nPts=_LUT_SIZE, mode="byte", alpha=True)
        object.__setattr__(self, "_table", np.asarray(table, dtype=np.uint8))
        if self.matched is not None:
            mask = np.zeros(len(self.values), dtype=bool)
            mask[self.matched] = True
            object.__setattr__(self, "_mask", mask)

    def points(self, ids: np.ndarray) -> list[QColor]:
        """The brushes of the tokens `ids`, the filtered-out ones dimmed."""
        rgba = self._colours(ids)
        if self._mask is not None:
            rgba[~self._mask[ids], 3] = DIM_ALPHA
        return [QColor(*row) for row in rgba.tolist()]

    def cells(
        self,
        coords: np.ndarray,
        ids: np.ndarray | None,
        x: tuple[float, float],
        y: tuple[float, float],
        shape: tuple[int, int],
    ) -> np.ndarray:
        """An RGBA image [height, width, 4] of the tokens `ids` (None: all): per cell the mean
        value's colour, or the most frequent category's; empty cells transparent."""
        xy = coords if ids is None else coords[ids]
        if self.codes is not None and self.palette is not None:
            codes = self.codes if ids is None else self.codes[ids]
            found = dominant(xy, codes, len(self.palette), x, y, shape)
            rgba = self.palette[np.maximum(found, 0)].copy()
            rgba[found < 0, 3] = 0
            return rgba
        values = self.values if ids is None else self.values[ids]
        binned = bin_points(xy, values, x, y, shape)
        rgba = self._lookup(binned.mean_value)
        rgba[binned.counts == 0, 3] = 0
        return rgba

    def composite(
        self,
        coords: np.ndarray,
        x: tuple[float, float],
        y: tuple[float, float],
        shape: tuple[int, int],
        overlay: bool,
    ) -> np.ndarray:
        """One RGBA image of every token, dimmed when a filter is set, with (`overlay`) the
        matches' own cells over it at full strength: one image to pan, as without a filter."""
        image = self.cells(coords, None, x, y, shape)
        if self.matched is None:
            return image
        image[..., 3] = (image[..., 3].astype(np.uint16) * DIM_ALPHA // 255).astype(np.uint8)
        if overlay:
            matches = self.cells(coords, self.matched, x, y, shape)
            found = matches[..., 3] > 0
            image[found] = matches[found]
        return image

    def _colours(self, ids: np.ndarray) -> np.ndarray:
        if self.codes is not None and self.palette is not None:
            return self.palette[self.codes[ids]].copy()
        return self._lookup(self.values[ids])

    def _lookup(self, values: np.ndarray) -> np.ndarray:
        """Values -> RGBA through a 256-entry table (the colour map's own interpolation on
        every cell would cost tens of milliseconds a redraw)."""
        low, high = self.levels
        scaled = np.nan_to_num((values - low) / max(high - low, 1e-9))
        index = np.clip(scaled * (_LUT_SIZE - 1), 0, _LUT_SIZE - 1).astype(np.intp)
        rgba = self._table[index]
        rgba[np.isnan(values)] = UNKNOWN_RGBA
        return rgba
