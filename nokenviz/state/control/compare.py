"""Comparing the shown model with another checkpoint: what changed, token by token."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from nokenviz.state import work
from nokenviz.state.control.base import ControlBase
from nokenviz.state.session import Part

if TYPE_CHECKING:
    from nokenviz.api.vocabulary_results import (
        ModelComparison,
    )


class CompareControl(ControlBase):
    def _compare_handlers(self) -> None:
        self.handlers.update(compare=self._on_compare)

    def compare_with(self, other: str) -> None:
        """Compare the model shown (A) with `other` (B: a checkpoint folder or .gguf file), on
        the matrix shown; the map is then coloured by how far each token moved."""
        s = self.session
        if s.vocab is None:
            s.error = "compare failed: no model is loaded yet"
            self._notify("error")
            return
        matrix: Literal["W_E", "W_U"] = "W_U" if s.matrix == "W_U" else "W_E"
        self._submit("compare", f"comparing with {other}", work.compare(other, matrix))

    def show_movers(self, shown: bool) -> None:
        """Draw (or not) lines from the most changed tokens to their places in the other model
        (the selected token's line is always drawn)."""
        self.session.movers_shown = shown
        self._notify("comparison")

    def _on_compare(self, found: ModelComparison) -> set[Part]:
        s = self.session
        s.comparison = found
        s.projection = s.projection.model_copy(update={"colour": "change"})
        return {"comparison", "projection"}
