"""What the features ask of each other: each method here is defined by exactly one feature
module and reached through the joined `Controller`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from nokenviz.core.scenes.scene import GeneratePart
from nokenviz.state.board import JobBoard

BAND_PERCENTILE = 99.0  # a new model starts with its largest 1% of norms highlighted


class ControlBase(JobBoard):
    def _default_band(self) -> tuple[float, float]:
        norms = self.session.norms
        return float(np.percentile(norms, BAND_PERCENTILE)), float(norms.max())

    def refresh(self) -> None:  # models
        raise NotImplementedError

    def request_projection(self) -> None:  # maps
        raise NotImplementedError

    def select(self, ids: Iterable[int]) -> None:  # maps
        raise NotImplementedError

    def _request_neighbours(self) -> None:  # maps
        raise NotImplementedError

    def request_trace(self) -> None:  # trace
        raise NotImplementedError

    def composer_spec(self) -> dict[str, Any] | None:  # composer
        raise NotImplementedError

    def request_preview(self) -> None:  # composer
        raise NotImplementedError

    def _request_noken_readout(self) -> None:  # composer
        raise NotImplementedError

    def request_noken_length(self) -> None:  # composer
        raise NotImplementedError

    def set_generate(self, part: GeneratePart) -> None:  # generation
        raise NotImplementedError
