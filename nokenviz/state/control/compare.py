"""Comparing the shown model with another checkpoint: what changed, token by token, and the
other model's own map drawn on this one's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from nokenviz.core.models.model_spec import same_model
from nokenviz.state import work
from nokenviz.state.control.base import ControlBase
from nokenviz.state.session import MapMeasures, Part

if TYPE_CHECKING:
    from nokenviz.api.vocabulary_results import ModelComparison
    from nokenviz.core.maps.projections import Projection
    from nokenviz.core.scenes.scene import ComparePart


class CompareControl(ControlBase):
    def _compare_handlers(self) -> None:
        self.handlers.update(compare=self._on_compare, other_map=self._on_other_map)
        self.failure_handlers.update(other_map=self._other_map_failed)
        self._recolour = True  # the comparison in flight colours the map by change

    def compare_with(self, other: str, recolour: bool = True) -> None:
        """Compare the model shown (A) with `other` (B: a checkpoint folder or .gguf file), on
        the matrix shown; the map is then coloured by how far each token moved (unless a
        scene says how to colour it)."""
        s = self.session
        self._recolour = recolour
        if s.vocab is None:
            s.error = "compare failed: no model is loaded yet"
            self._notify("error")
            return
        matrix: Literal["W_E", "W_U"] = "W_U" if s.matrix == "W_U" else "W_E"
        self._submit("compare", f"comparing with {other}", work.compare(other, matrix))

    def _restore_comparison(self, part: ComparePart | None) -> None:
        """A scene's comparison: the one shown is kept when it is the scene's, else it is made
        again (a scene without one ends the one shown: it is not part of what was saved)."""
        s = self.session
        found = s.comparison
        same = part is not None and found is not None and same_model(found.other, part.model)
        if not same:
            self._drop_job("compare")
            self._show_own_map()
            s.comparison, s.other_map = None, False
        if part is None:
            return
        s.movers_shown, s.other_map = part.movers, part.other_map
        if not same:
            self.compare_with(part.model, recolour=False)
        elif not part.other_map:
            self._show_own_map()

    def show_movers(self, shown: bool) -> None:
        """Draw (or not) lines from the most changed tokens to their places in the other model
        (the selected token's line is always drawn)."""
        self.session.movers_shown = shown
        self._notify("comparison")

    def show_other_map(self, shown: bool) -> None:
        """Draw the compared model's map (every token where B has it, placed by this map's
        projection) or this model's own again: flipping between them shows what moved."""
        s = self.session
        found = s.compared
        if shown and (found is None or not found.comparison.aligned):
            why = "compare with another model first" if found is None else found.comparison.note
            s.message = f"the compared model's map cannot be drawn: {why}"
            self._notify("message", "comparison")  # the checkbox shows the map kept
            return
        s.other_map = shown
        changed = self._place_other_map() if shown else self._show_own_map()
        self._notify("comparison", *changed)

    def _place_other_map(self) -> set[Part]:
        """Ask for B's map on this model's map (once both are there)."""
        s = self.session
        found, own = s.compared, s.own_fitted
        if found is None or own is None or not found.comparison.aligned:
            return set()
        fn = work.other_map(found, own)
        title = f"placing {found.other_name}'s tokens on this map"
        self._submit("other_map", title, fn, runner="projection", needs_model=False)
        return set()

    def _on_other_map(self, value: tuple[ModelComparison, Projection, Projection]) -> set[Part]:
        found, own, drawn = value
        s = self.session
        if not s.other_map or found is not s.compared or own is not s.own_fitted:
            return set()  # made for a map or a comparison since replaced, or no longer wanted
        if s.own_map is None:
            s.own_map = MapMeasures(own, s.faithfulness, s.recall, s.regions)
        s.fitted, s.faithfulness, s.recall, s.regions = drawn, None, None, None
        if s.projection.regions:
            self._name_regions()  # B's regions, on B's map
        return {"fitted", "recall", "regions"}

    def _show_own_map(self) -> set[Part]:
        """This model's map again, with the measures it had."""
        s = self.session
        self._drop_job("other_map")
        if s.own_map is None:
            return set()
        own, s.own_map = s.own_map, None
        s.fitted, s.faithfulness, s.recall, s.regions = (
            own.fitted,
            own.faithfulness,
            own.recall,
            own.regions,
        )
        if s.projection.regions and s.regions is None:
            self._name_regions()
        return {"fitted", "recall", "regions"}

    def _other_map_failed(self, current: bool) -> set[Part]:
        """Stopped or failed while under way: this model's map stays drawn, and the checkbox
        says so (one superseded by a newer placing or a new model changes nothing)."""
        if not current:
            return set()
        self.session.other_map = False
        return {"comparison"}

    def _on_compare(self, found: ModelComparison) -> set[Part]:
        s = self.session
        changed = self._show_own_map()  # lines and places are measured from this model's map
        s.comparison = found
        if self._recolour:
            s.projection = s.projection.model_copy(update={"colour": "change"})
        if s.other_map:
            changed |= self._place_other_map()
        return {"comparison", "projection", *changed}
