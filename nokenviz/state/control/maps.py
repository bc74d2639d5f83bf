"""The map: projection, view, norm band, selection, neighbours and how well the map keeps
them (kNN recall)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from nokenviz.core.scenes.scene import ProjectionPart, ViewPart
from nokenviz.state import work
from nokenviz.state.control.base import ControlBase
from nokenviz.state.job import JobFn
from nokenviz.state.session import Part

if TYPE_CHECKING:
    import numpy as np

    from nokenviz.core.maps.faithfulness import Faithfulness
    from nokenviz.core.maps.geometry import Neighbours
    from nokenviz.core.maps.projections import Projection
    from nokenviz.core.maps.regions import Region


SEARCH_SHOWN = 50  # matches a search steps through


class MapControl(ControlBase):
    def _map_handlers(self) -> None:
        self._last_search: tuple[str, int] = ("", -1)  # the query and the match it showed
        self.handlers.update(
            projection=self._on_projection,
            recall=self._on_recall,
            faithfulness=self._on_faithfulness,
            regions=self._on_regions,
            neighbours=self._on_neighbours,
        )
        self.failure_handlers.update(projection=self._projection_failed, recall=self._recall_failed)

    def set_projection(
        self,
        kind: str | None = None,
        centred: bool | None = None,
        matrix: str | None = None,
        centre: int | str | None = None,
        exact: bool | None = None,
    ) -> None:
        """Change the projection; a token plane spans the last two selected tokens, a local
        view is centred on `centre` (a token id or "noken"), by default the selected token;
        `exact` fits UMAP on every token of a large vocabulary."""
        s = self.session
        part = s.projection
        kind = part.kind if kind is None else kind
        plane = part.plane_tokens if kind == "plane" else None
        if kind == "plane" and part.kind != "plane":
            if len(s.selection) < 2:
                s.message = "Token plane: select two tokens first (Ctrl+click the second)"
                self._notify("message", "projection")
                return
            plane = (s.selection[-2], s.selection[-1])
        if kind == "local":
            centre = self._local_centre(part, centre)
            if centre is None:
                s.message = "Local view: select a token or compose a noken first"
                self._notify("message", "projection")
                return
        s.projection = ProjectionPart.model_validate(
            {
                **part.model_dump(),  # colour, filter, region labels: kept
                "kind": kind,
                "centred": part.centred if centred is None else centred,
                "matrix": part.matrix if matrix is None else matrix,
                "plane_tokens": plane,
                "centre": centre if kind == "local" else None,
                "exact": part.exact if exact is None else exact,
            }
        )
        changed: set[Part] = {"projection"}
        if s.projection.kind != part.kind and s.title:
            s.title = ""  # the scene's title named the view it was made with
            changed.add("title")
        if matrix is not None and matrix != part.matrix and s.vocab is not None:
            s.band = self._default_band()
            changed |= {"band", "selection"}
            if s.selection:
                self._request_neighbours()
        self._notify(*changed)
        self.request_projection()

    def _local_centre(self, part: ProjectionPart, asked: int | str | None) -> int | str | None:
        """The local view's centre: as asked, else the selected token, else the one shown."""
        s = self.session
        if asked == "noken":
            return "noken" if s.preview is not None else None
        if asked is not None:
            return asked
        if s.selection:
            return s.selection[-1]
        return part.centre if part.kind == "local" else None

    def request_projection(self) -> None:
        s = self.session
        if s.vocab is None:
            return
        part = s.projection
        centre = None
        if part.centre == "noken":
            if s.preview is None:
                s.error = "local view: the noken is not computed yet; compose one first"
                self._notify("error")
                return
            centre = s.preview.vector
        spec = part.spec(s.vocab.labels)
        fn = work.project(s.vocab.matrices[s.matrix], spec, centre)
        self._submit("projection", "projection", fn, runner="projection", needs_model=False)

    def set_view(self, x: tuple[float, float], y: tuple[float, float]) -> None:
        """The user's pan/zoom (or a restored scene's ranges, once shown)."""
        if x[0] < x[1] and y[0] < y[1]:
            self.session.view = ViewPart(x=x, y=y)
        self.session.restore_view = False

    def set_band(self, low: float, high: float) -> None:
        self.session.band = (min(low, high), max(low, high))
        self._notify("band")

    def select(self, ids: Iterable[int]) -> None:
        s = self.session
        if s.vocab is None:
            return
        size = len(s.vocab.tokens)
        s.selection = tuple(dict.fromkeys(int(i) for i in ids if 0 <= i < size))
        self._notify("selection")
        if s.selection:
            self._request_neighbours()
        if s.composer.kind == "neighbors" and not s.composer.anchors:
            self.request_preview()
        plane = s.selection[-2:]
        if s.projection.kind == "plane" and len(plane) == 2 and plane != s.projection.plane_tokens:
            s.projection = s.projection.model_copy(update={"plane_tokens": plane})
            self._notify("projection")
            self.request_projection()

    def search(self, query: str) -> None:
        from nokenviz.core.models.tokens import find_tokens

        s = self.session
        if s.vocab is None or not query:
            return
        found = find_tokens(s.vocab.tokens, query, limit=SEARCH_SHOWN)
        if not found:
            s.message = f"no token matches {query!r}"
            self._notify("message")
            return
        last_query, last_token = self._last_search
        index = 0  # Enter again with the same query (the match still selected): the next one
        if query == last_query and s.selection[-1:] == (last_token,) and last_token in found:
            index = (found.index(last_token) + 1) % len(found)
        token = found[index]
        self._last_search = (query, token)
        self.select([token])
        if len(found) > 1:
            labels = s.vocab.labels
            more = "+" if len(found) == SEARCH_SHOWN else ""
            listed = ", ".join(labels[i] for i in found[:6]) + ("…" if len(found) > 6 else "")
            s.message = (
                f"{query!r} matches {len(found)}{more} tokens ({listed}): showing "
                f"{labels[token]}, {index + 1} of {len(found)}{more}; Enter for the next"
            )
            self._notify("message")

    def _request_neighbours(self) -> None:
        s = self.session
        token = s.selection[-1]
        own = s.own_fitted  # its recall is of this model's neighbours, on its own map
        coords = None if own is None else own.coords
        norms = None if s.vocab is None else s.vocab.norms[s.matrix]
        fn = work.neighbours(token, s.matrix, coords, norms)
        self._submit("neighbours", "neighbours", fn)

    def set_filter(self, query: str) -> None:
        """Keep the tokens `query` selects bright (`core/models/token_kinds.py` reads it) and
        dim the others; the norm band highlights only matching tokens. A query that cannot be
        read is said in one line and the filter shown stays."""
        from pydantic import ValidationError

        s = self.session
        try:  # the scene schema reads the query (a scene file's filter is checked the same way)
            update = {**s.projection.model_dump(), "filter": query.strip()}
            s.projection = ProjectionPart.model_validate(update)
        except ValidationError as exc:
            s.error = "filter failed: " + str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            self._notify("error")
            return
        self._notify("projection", "band")

    def set_regions(self, on: bool) -> None:
        """Label the map's regions by what they hold (named once per drawn map)."""
        s = self.session
        s.projection = s.projection.model_copy(update={"regions": on})
        self._notify("projection", "regions")
        if on and s.regions is None:
            self._name_regions()

    def set_contours(self, on: bool) -> None:
        """Outline where the tokens (the filter's matches, when filtered) are densest."""
        s = self.session
        s.projection = s.projection.model_copy(update={"contours": on})
        self._notify("projection")

    def _name_regions(self) -> None:
        s = self.session
        if s.fitted is None or s.vocab is None or s.vocab.kinds is None:
            return
        fn = work.regions(s.vocab.kinds, s.fitted)
        self._submit(
            "regions", "naming the map's regions", fn, runner="projection", needs_model=False
        )

    def _on_regions(self, value: tuple[Projection, list[Region]]) -> set[Part]:
        fitted, found = value
        if self._kept_for(fitted, regions=found):
            return set()
        if fitted is not self.session.fitted:  # named on a projection since replaced
            return set()
        self.session.regions = found
        return {"regions"}

    def _kept_for(self, fitted: Projection, **measured: Any) -> bool:
        """A measure of this model's own map that ended while the compared model's is drawn:
        kept with it, for when the user flips back."""
        own = self.session.own_map
        if own is None or fitted is not own.fitted:
            return False
        for name, value in measured.items():
            setattr(own, name, value)
        return True

    def set_colour(self, colour: str) -> None:
        """Colour the points by norm, kind, script or length, or by how well each keeps its
        neighbours (kNN recall, measured when first asked for)."""
        s = self.session
        if colour == "recall" and s.fitted is not None and s.fitted.other:
            s.message = "kNN recall of every token is measured on this model's own map (Ctrl+B)"
            self._notify("message", "projection")
            return
        if colour == "change" and s.compared is None:
            s.message = "Colour by change: compare with another model first (File menu)"
            self._notify("message", "projection")  # the colour menus show the colour kept
            return
        s.projection = s.projection.model_copy(update={"colour": colour})
        self._notify("projection")
        if colour == "recall" and s.recall is None:
            self._measure("recall", "kNN recall of every token", work.recall)

    def _measure(self, kind: str, title: str, make: Callable[..., JobFn]) -> None:
        """A measurement of the drawn projection, on the projection worker."""
        s = self.session
        if s.fitted is None or s.vocab is None:
            return
        fn = make(s.vocab.matrices[s.matrix], s.fitted)
        self._submit(kind, title, fn, runner="projection", needs_model=False)

    def _keep_drawn_projection(self) -> set[Part]:
        """A projection that failed or was cancelled: the settings go back to what is drawn."""
        s = self.session
        if s.fitted is None:
            return set()
        spec = s.fitted.spec
        centre = spec.centre if spec.centre is not None or spec.kind != "local" else "noken"
        update = {
            "kind": spec.kind,
            "centred": spec.centred,
            "plane_tokens": spec.plane_tokens,
            "centre": centre,
        }
        s.projection = s.projection.model_copy(update=update)
        return {"projection"}

    def _colour_by_norm_unless_measuring(self) -> set[Part]:
        """Colouring by recall that was stopped or failed goes back to norms (the menu with it)."""
        s = self.session
        if s.recall is not None or "recall" in s.running or s.projection.colour != "recall":
            return set()
        s.projection = s.projection.model_copy(update={"colour": "norm"})
        return {"projection"}

    def _projection_failed(self, current: bool) -> set[Part]:
        """The settings go back to the projection drawn (a stop before it ran changes none)."""
        return self._keep_drawn_projection() if current else set()

    def _recall_failed(self, _current: bool) -> set[Part]:
        return self._colour_by_norm_unless_measuring()

    def _on_projection(self, fitted: Projection) -> set[Part]:
        s = self.session
        s.fitted, s.recall, s.faithfulness, s.regions = fitted, None, None, None
        s.own_map = None  # the compared model's map drawn was on the map now replaced
        self._measure("faithfulness", "measuring the map", work.faithfulness)
        if s.projection.regions:
            self._name_regions()
        if s.projection.colour == "recall":
            self._measure("recall", "kNN recall of every token", work.recall)
        if s.selection:  # its recall is measured again, on this map
            self._request_neighbours()
        return {"fitted", "recall", "regions", *self._place_other_map()}  # B's, on this map

    def _on_recall(self, value: tuple[Projection, np.ndarray]) -> set[Part]:
        fitted, recall = value
        if self._kept_for(fitted, recall=recall):
            return set()
        if fitted is not self.session.fitted:  # measured on a projection since replaced
            return set()
        self.session.recall = recall
        return {"recall"}

    def _on_faithfulness(self, value: tuple[Projection, Faithfulness]) -> set[Part]:
        fitted, score = value
        if self._kept_for(fitted, faithfulness=score):
            return set()
        if fitted is not self.session.fitted:
            return set()
        self.session.faithfulness = score
        return {"recall"}

    def _on_neighbours(self, found: Neighbours) -> set[Part]:
        self.session.neighbours = found
        return {"neighbours"}
