"""The app's state in one typed, Qt-free object (in the spirit of napari's `ViewerModel`).

Two halves: the settings a scene file holds (the scene's own frozen parts), and what the
workers computed for the model of `generation` (vocabulary, projection, trace, previews,
outputs), plus the jobs in flight. The window is a view of this object; the controller is
the only writer. Whatever can be derived is derived, never stored twice: the highlighted
tokens come from the band, what a control may do from the model and the jobs in flight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

from nokenviz.core.models.model_spec import LoadOptions
from nokenviz.core.scenes.scene import (
    ComparePart,
    ComposerPart,
    GeneratePart,
    ProjectionPart,
    Scene,
    SweepPart,
    TracePart,
    ViewPart,
)
from nokenviz.state.job import Job

if TYPE_CHECKING:
    from nokenviz.api.results import (
        GenerationResult,
    )
    from nokenviz.api.vocabulary_results import (
        ModelComparison,
    )
    from nokenviz.core.generation.patchscope import Readout
    from nokenviz.core.generation.sweeps import SweepRow
    from nokenviz.core.maps.contours import Contours
    from nokenviz.core.maps.faithfulness import Faithfulness
    from nokenviz.core.maps.geometry import Neighbours
    from nokenviz.core.maps.projections import Projection
    from nokenviz.core.maps.regions import Region
    from nokenviz.core.maps.vocabulary import Vocabulary
    from nokenviz.core.nokens.inversion import Inversion
    from nokenviz.core.residual.lens import Trace
    from nokenviz.core.residual.vector_length import LengthSweep
    from nokenviz.core.scenes.scene import GeneratePart
    from nokenviz.state.work import OtherMap, PreviewResult

Figure = Literal["sphere", "lens", "attention", "sweep", "length", "generate"]
# What changed, as the controller tells the views.
Part = Literal[
    "model",
    "jobs",
    "progress",
    "projection",
    "fitted",
    "recall",
    "regions",
    "selection",
    "neighbours",
    "band",
    "trace",
    "trace_settings",
    "composer",
    "preview",
    "generate",
    "output",
    "sweep",
    "sweep_rows",
    "length",
    "readout",
    "inversion",
    "comparison",
    "title",
    # events: something just happened (shown once), not state to render again
    "message",
    "error",
    "exported",
]
EVENTS: frozenset[Part] = frozenset({"message", "error", "exported"})
# Every part of the session's state (a new model changes all of them); events are not state.
EVERYTHING: frozenset[Part] = frozenset(get_args(Part)) - EVENTS
# What a scene sets, before its model is loaded.
SETTINGS: frozenset[Part] = frozenset(
    {"title", "projection", "trace_settings", "composer", "selection", "generate", "sweep"}
)
# Actions that need a causal LM.
CAUSAL_ACTIONS = ("trace", "preview", "generate", "sweep", "length", "readout", "invert")


@dataclass
class Output:
    """The Generate panel's current run: streamed text first, the result at the end."""

    mode: Literal["generate", "soft"]
    prompt: str
    streamed: str = ""
    result: GenerationResult | None = None
    part: GeneratePart | None = None  # the settings it runs

    @property
    def text(self) -> str:
        """The prompt and what followed it, as the output box shows it."""
        tag = " [soft]" if self.mode == "soft" else ""
        if self.result is None:
            return f"{self.prompt}{tag}{self.streamed}"
        return f"{self.prompt}{tag}{self.result.text}"


@dataclass
class MapMeasures:
    """A map and what was measured of it: kNN recall on a sample and of every token, and its
    named regions (this model's map, kept while the compared model's is drawn)."""

    fitted: Projection
    faithfulness: Faithfulness | None = None
    recall: np.ndarray | None = None
    regions: list[Region] | None = None


@dataclass
class Session:
    # ---- what a scene file holds
    title: str = ""
    figure: Figure = "sphere"
    model_spec: str = "default"
    projection: ProjectionPart = field(default_factory=ProjectionPart)
    view: ViewPart | None = None
    selection: tuple[int, ...] = ()
    trace_settings: TracePart = field(default_factory=TracePart)
    composer: ComposerPart = field(default_factory=ComposerPart)
    generate: GeneratePart = field(default_factory=GeneratePart)
    sweep: SweepPart = field(default_factory=SweepPart)
    # ---- how models load (command line, menus)
    load_options: LoadOptions = field(default_factory=LoadOptions)
    # ---- what the workers computed for the model of `generation`
    generation: int = 0
    vocab: Vocabulary | None = None
    band: tuple[float, float] | None = None  # norms highlighted in the view
    fitted: Projection | None = None
    faithfulness: Faithfulness | None = None  # kNN recall of `fitted` on a sample of tokens
    recall: np.ndarray | None = None  # kNN recall of every token in `fitted` (on demand)
    regions: list[Region] | None = None  # named regions of `fitted` (when shown)
    restore_view: bool = False  # a scene was opened: show its `view` (None: all) once drawn
    run_on_show: str = ""  # a scene about a run ("generate", "sweep"): run it once shown
    trace: Trace | None = None
    traced: tuple[str, int] | None = None  # the prompt and position `trace` is of
    trace_asked: tuple[str, int] | None = None  # those of the trace in flight
    neighbours: Neighbours | None = None  # of the last selected token
    preview: PreviewResult | None = None
    output: Output | None = None
    history: list[GenerationResult] = field(default_factory=list)
    sweep_rows: list[SweepRow] = field(default_factory=list)
    sweep_header: tuple[tuple[str, str], ...] = ()  # what the rows were made from
    sweep_made_from: SweepPart | None = None  # the settings of the rows shown
    # next-token distribution vs the length of the traced final residual / composer's noken
    trace_length: LengthSweep | str | None = None
    noken_length: LengthSweep | None = None
    noken_readout: Readout | str | None = None  # what the model reads the previewed noken as
    readouts: list[Readout] | None = None  # the trace's position read at every layer
    inversion: Inversion | None = None  # the closest hard prompt to the composer's noken
    comparison: ModelComparison | None = None  # what changed from this model to another
    movers_shown: bool = True  # the most changed tokens' lines to their places in the other
    other_map: bool = False  # draw the compared model's map: each token where B has it
    # while B's map is drawn (`fitted`): this model's own map and its measures, to go back to
    own_map: MapMeasures | None = None
    other_drawn: OtherMap | None = None  # B's map last drawn, and what it was drawn on
    compare_asked: ComparePart | None = None  # a scene's comparison, until it lands
    # ---- work in flight, and what the user was last told
    running: dict[str, Job] = field(default_factory=dict)
    progress: tuple[float | None, str] | None = None  # fraction (None: not known), message
    message: str = ""
    error: str = ""
    exported: str = ""  # the last figure written
    # the filter's matches, kept while the model, matrix and query they were read for are shown
    _matches: tuple[tuple[int, str, str], np.ndarray] | None = field(default=None, repr=False)
    _contours: tuple[tuple[object, object], Contours | None] | None = field(
        default=None, repr=False
    )
    _moved: tuple[tuple[object, ...], tuple[list[int], np.ndarray]] | None = field(
        default=None, repr=False
    )

    # ------------------------------------------------------------ derived

    @property
    def causal(self) -> bool:
        return self.vocab is not None and bool(self.vocab.info["causal"])

    @property
    def length(self) -> LengthSweep | str | None:
        """The length sweep the scene asks for (`trace_settings.length_of`)."""
        if self.trace_settings.length_of == "noken":
            return self.noken_length
        return self.trace_length

    @property
    def trace_stale(self) -> str:
        """What the residual-stream views add to their titles when the prompt or position
        typed is not the one they show ("" when it is)."""
        part = self.trace_settings
        if self.trace is None or self.traced == (part.prompt, part.position):
            return ""
        return "out of date: Trace (Enter) to update"

    @property
    def loading(self) -> str | None:
        job = self.running.get("load")
        return None if job is None else job.spec

    @property
    def matrix(self) -> str:
        """The matrix shown: the scene's choice when this model has it, else W_E."""
        if self.vocab is not None and self.projection.matrix in self.vocab.matrices:
            return self.projection.matrix
        return "W_E"

    @property
    def norms(self) -> np.ndarray:
        assert self.vocab is not None
        return self.vocab.norms[self.matrix]

    @property
    def matched(self) -> np.ndarray | None:
        """The tokens the filter query selects (ids, ascending); None when there is no filter.
        Read once per model, matrix (a query may name norms) and query."""
        query = self.projection.filter.strip()
        if self.vocab is None or self.vocab.kinds is None or not query:
            return None
        key = (self.generation, self.matrix, query)
        if self._matches is None or self._matches[0] != key:
            from nokenviz.core.models.token_kinds import select

            ids = select(query, self.vocab.tokens, self.vocab.kinds, self.norms)
            self._matches = (key, ids)
        return self._matches[1]

    @property
    def contours(self) -> Contours | None:
        """The drawn map's density contours (of the filter's matches, when filtered), when
        asked for; kept while the map and the matches they were drawn from are shown."""
        if not self.projection.contours or self.fitted is None:
            return None
        matched = self.matched
        drawn = self._contours
        if drawn is None or drawn[0][0] is not self.fitted or drawn[0][1] is not matched:
            from nokenviz.core.maps.contours import density_contours

            drawn = (self.fitted, matched), density_contours(self.fitted.coords, matched)
            self._contours = drawn
        return drawn[1]

    @property
    def own_fitted(self) -> Projection | None:
        """This model's own map: `fitted`, unless the compared model's map is drawn."""
        return self.fitted if self.own_map is None else self.own_map.fitted

    @property
    def compared(self) -> ModelComparison | None:
        """The comparison, when it was made on the matrix shown (W_E or W_U)."""
        found = self.comparison
        return found if found is not None and found.matrix == self.matrix else None

    @property
    def change(self) -> tuple[np.ndarray, str] | None:
        """The comparison's value per token (for colouring by change) and what it is."""
        return None if self.compared is None else self.compared.comparison.per_token()

    @property
    def moved(self) -> tuple[list[int], np.ndarray] | None:
        """The selected token (first) and, when shown, the most changed tokens, with their
        vectors in the compared model turned into this one's space ([k], [k, d])."""
        compared = self.compared
        if compared is None:
            return None
        key = (compared, tuple(self.selection[-1:]), self.movers_shown)
        kept = self._moved
        if kept is None or kept[0][0] is not compared or kept[0][1:] != key[1:]:
            kept = key, compared.lines(self.selection, self.movers_shown)
            self._moved = kept  # a drag or a keystroke redraws labels: not these products
        return kept[1]

    @property
    def highlight(self) -> np.ndarray:
        """Every token whose norm is in the band (ids, ascending), of those the filter keeps:
        the band and the filter select together."""
        if self.vocab is None or self.band is None:
            return np.zeros(0, dtype=np.int64)
        low, high = self.band
        ids = np.flatnonzero((self.norms >= low) & (self.norms <= high))
        matched = self.matched
        return ids if matched is None else np.intersect1d(ids, matched, assume_unique=True)

    def disabled(self, action: str) -> str:
        """Why `action` cannot be done now ('' when it can): the tooltip of its control."""
        if self.vocab is None:
            return "no model is loaded yet"
        if action in CAUSAL_ACTIONS and not self.causal:
            return f"{self.vocab.info['name']} is not a causal LM: no {action} (geometry only)"
        if action == "generate" and "generate" in self.running:
            return "a generation is running (Stop ends it)"
        if action == "sweep" and "sweep" in self.running:
            return "a sweep is running (Stop ends it)"
        if action == "invert" and "invert" in self.running:
            return "an inversion is running (Esc stops it, keeping the best found)"
        if action == "readout" and self.trace is None:
            return "trace a prompt first"
        return ""

    # ------------------------------------------------------------ scenes

    def to_scene(self) -> Scene:
        """The session as a scene file's content (what a user made, nothing computed)."""
        return Scene(
            title=self.title,
            model=self.vocab.info["model"] if self.vocab is not None else self.model_spec,
            figure=self.figure,
            projection=self.projection,
            view=self.view,
            selection=self.selection,
            trace=self.trace_settings,
            composer=self.composer,
            generate=self.generate,
            sweep=self.sweep,
            compare=self._compare_part(),
        )

    def _compare_part(self) -> ComparePart | None:
        """The comparison shown, or the one a scene asked for that has not landed (still being
        made, or failed: a scene saved meanwhile keeps it)."""
        found = self.comparison
        if found is None:
            return self.compare_asked
        return ComparePart(model=found.other, movers=self.movers_shown, other_map=self.other_map)

    def restore_settings(self, scene: Scene) -> None:
        """Everything of a scene that does not index a vocabulary (that waits for its model;
        the projection too, whose token plane names tokens)."""
        self.title, self.figure, self.model_spec = scene.title, scene.figure, scene.model
        self.trace_settings, self.generate, self.sweep = scene.trace, scene.generate, scene.sweep
        self.view, self.restore_view = scene.view, True  # no view: the whole drawing

    def restore_tokens(self, scene: Scene) -> None:
        """The scene's token ids (checked against the vocabulary by the caller)."""
        self.projection = scene.projection
        self.selection = scene.selection
        self.composer = scene.composer
