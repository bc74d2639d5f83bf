"""Comparing the shown model with another checkpoint: what changed, token by token, and the
other model's own map drawn on this one's.

`session.other_map` is the user's wish to see B's map; what is drawn is `session.fitted`
(B's map when `fitted.other` names B). The wish waits for a comparison or a projection in
flight, and ends, said in one line, whenever B's map cannot be drawn: no comparison on the
matrix shown, models of different widths, a placing that failed or was stopped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from nokenviz.core.models.model_spec import same_model
from nokenviz.state import work
from nokenviz.state.control.base import ControlBase
from nokenviz.state.session import MapMeasures, Part

if TYPE_CHECKING:
    from nokenviz.api.vocabulary_results import ModelComparison
    from nokenviz.core.scenes.scene import ComparePart

MAP_PARTS: set[Part] = {"fitted", "recall", "regions"}


class CompareControl(ControlBase):
    def _compare_handlers(self) -> None:
        self.handlers.update(compare=self._on_compare, other_map=self._on_other_map)
        self.failure_handlers.update(compare=self._compare_failed, other_map=self._other_map_failed)

    def compare_with(self, other: str) -> None:
        """Compare the model shown (A) with `other` (B: a checkpoint folder or .gguf file), on
        the matrix shown; the map is then coloured by how far each token moved."""
        self.session.compare_asked = None  # the user's own comparison, not a scene's
        self._start_compare(other)

    def _start_compare(self, other: str) -> None:
        s = self.session
        if s.vocab is None:
            s.error = "compare failed: no model is loaded yet"
            self._notify("error")
            return
        matrix: Literal["W_E", "W_U"] = "W_U" if s.matrix == "W_U" else "W_E"
        self._submit("compare", f"comparing with {other}", work.compare(other, matrix))

    def _restore_comparison(self, part: ComparePart | None) -> set[Part]:
        """A scene's comparison: the one shown is kept when it is the scene's (the same model,
        on the matrix shown), else it is made again; a scene without one ends the one shown.
        The scene's part is kept until its comparison lands, so saving meanwhile (or after it
        failed) keeps it."""
        s = self.session
        found = s.comparison
        same = (
            part is not None
            and found is not None
            and same_model(found.other, part.model)
            and found.matrix == s.matrix
        )
        changed: set[Part] = {"comparison"}
        if not same:
            changed |= self._drop_job("compare") | self._show_own_map()
            s.comparison, s.other_map = None, False
        s.compare_asked = None if same else part
        if part is None:
            return changed
        s.movers_shown, s.other_map = part.movers, part.other_map
        if not same:
            self._start_compare(part.model)
        elif not part.other_map:
            changed |= self._show_own_map()
        return changed

    def show_movers(self, shown: bool) -> None:
        """Draw (or not) lines from the tokens that moved most to their places in the other
        model (the selected token's line is always drawn)."""
        self.session.movers_shown = shown
        self._notify("comparison")

    def show_other_map(self, shown: bool) -> None:
        """Draw the compared model's map (every token where B has it, placed by this map's
        projection) or this model's own again: flipping between them shows what moved."""
        self.session.other_map = shown
        changed = self._place_other_map() if shown else self._show_own_map()
        self._notify("comparison", *changed)

    def _place_other_map(self) -> set[Part]:
        """Draw B's map on this model's map, when wished for: at once when it was drawn on
        this map before, else once both are there; the wish ends (said) when it cannot be."""
        s = self.session
        found, own = s.compared, s.own_fitted
        if not s.other_map or own is None:
            return set()  # not wished for, or this model's map is still being fitted
        why = ""
        if found is None and "compare" not in s.running:
            why = f"compare with another model on {s.matrix} first (File > Compare with model)"
        elif found is not None and not found.comparison.aligned:
            why = found.comparison.note
        if why:
            s.other_map = False
            s.message = f"the compared model's map cannot be drawn: {why}"
            return {"comparison", "message"}
        if found is None:
            return set()  # drawn when the comparison lands
        kept = s.other_drawn
        if kept is not None and kept[0] is found and kept[1] is own:
            return set() if s.fitted is kept[2] else self._on_other_map(kept)
        fn = work.other_map(found, own)
        title = f"placing {found.other_name}'s tokens on this map"
        self._submit("other_map", title, fn, runner="projection", needs_model=False)
        return set()

    def _on_other_map(self, value: work.OtherMap) -> set[Part]:
        found, own, drawn, score = value
        s = self.session
        if not s.other_map or found is not s.compared or own is not s.own_fitted:
            return set()  # made for a map or a comparison since replaced, or no longer wanted
        s.other_drawn = value  # flipping back and forth draws it again at once
        if s.own_map is None:
            s.own_map = MapMeasures(own, s.faithfulness, s.recall, s.regions)
        s.fitted, s.faithfulness, s.recall, s.regions = drawn, score, None, None
        if s.projection.regions:
            self._name_regions()  # B's regions, on B's map
        return set(MAP_PARTS)

    def _show_own_map(self) -> set[Part]:
        """This model's map again, with the measures it had."""
        s = self.session
        changed = self._drop_job("other_map")
        if s.own_map is None:
            return changed
        own, s.own_map = s.own_map, None
        s.fitted, s.faithfulness = own.fitted, own.faithfulness
        s.recall, s.regions = own.recall, own.regions
        if s.projection.regions and s.regions is None:
            self._name_regions()
        return changed | MAP_PARTS

    def _other_map_failed(self, _current: bool) -> set[Part]:
        """A placing that failed or was stopped (before or after it started), with no other
        in flight and B's map not drawn: the wish ends, and the checkbox says so."""
        s = self.session
        if "other_map" in s.running or s.fitted is None or s.fitted.other or not s.other_map:
            return set()  # superseded, or made for a model since replaced (which refits)
        s.other_map = False
        shown = "the compared model's map was not drawn: this model's map is shown"
        s.message = f"{s.message}; {shown}" if s.message else shown
        return {"comparison", "message"}

    def _compare_failed(self, _current: bool) -> set[Part]:
        """No comparison came (a scene's is kept, for saving): a wish for B's map that waited
        for it ends, unless a comparison is still there to draw it from."""
        return set() if "compare" in self.session.running else self._place_other_map()

    def _on_compare(self, found: ModelComparison) -> set[Part]:
        s = self.session
        changed = self._show_own_map()  # lines and places are measured from this model's map
        if s.compare_asked is None:  # the user's comparison: the map shows the change
            s.projection = s.projection.model_copy(update={"colour": "change"})
        s.comparison, s.compare_asked = found, None
        return {"comparison", "projection", *changed, *self._place_other_map()}
