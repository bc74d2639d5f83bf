"""The names of the projections, kept free of torch so the command line, scene files and the
window's first paint can name them without importing the fitting code."""

from __future__ import annotations

from typing import Literal, get_args

MapKind = Literal["pca", "umap", "neighbors"]  # maps of the whole vocabulary
MAP_KINDS: tuple[MapKind, ...] = get_args(MapKind)
Kind = Literal[MapKind, "plane", "local"]
Shape = Literal["map", "flat", "plane", "local"]  # how a projection's flat coordinates read
