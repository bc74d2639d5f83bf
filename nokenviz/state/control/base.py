"""What the features ask of each other: each abstract method here is defined by exactly one
feature module (a `Controller` that lacks one cannot be made) and reached through the joined
`Controller`."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np

from nokenviz.core.scenes.scene import ComparePart, GeneratePart
from nokenviz.state.board import JobBoard
from nokenviz.state.session import Part

BAND_PERCENTILE = 99.0  # a new model starts with its largest 1% of norms highlighted


class ControlBase(JobBoard):
    def _default_band(self) -> tuple[float, float]:
        norms = self.session.norms
        return float(np.percentile(norms, BAND_PERCENTILE)), float(norms.max())

    @abstractmethod
    def refresh(self) -> None:
        """Defined by the models feature."""

    @abstractmethod
    def request_projection(self) -> None:
        """Defined by the maps feature."""

    @abstractmethod
    def select(self, ids: Iterable[int]) -> None:
        """Defined by the maps feature."""

    @abstractmethod
    def _request_neighbours(self) -> None:
        """Defined by the maps feature."""

    @abstractmethod
    def _name_regions(self) -> None:
        """Defined by the maps feature."""

    @abstractmethod
    def _place_other_map(self) -> set[Part]:
        """Defined by the compare feature."""

    @abstractmethod
    def _restore_comparison(self, part: ComparePart | None) -> set[Part]:
        """Defined by the compare feature."""

    @abstractmethod
    def _drop_job(self, kind: str) -> set[Part]:
        """Defined by the models feature."""

    @abstractmethod
    def request_trace(self) -> None:
        """Defined by the trace feature."""

    @abstractmethod
    def composer_spec(self) -> dict[str, Any] | None:
        """Defined by the composer feature."""

    @abstractmethod
    def request_preview(self) -> None:
        """Defined by the composer feature."""

    @abstractmethod
    def _request_noken_readout(self) -> None:
        """Defined by the composer feature."""

    @abstractmethod
    def request_noken_length(self) -> None:
        """Defined by the composer feature."""

    @abstractmethod
    def set_generate(self, part: GeneratePart) -> None:
        """Defined by the generation feature."""

    @abstractmethod
    def start_generate(self, soft: bool = False) -> None:
        """Defined by the generation feature."""

    @abstractmethod
    def start_sweep(self) -> None:
        """Defined by the generation feature."""

    @abstractmethod
    def _keep_stopped_output(self, why: str) -> None:
        """Defined by the generation feature."""
