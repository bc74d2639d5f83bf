"""The session and its controller without a display and without a model: fake runners hold
the jobs, and the tests decide how and in which order they end."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from nokenviz.core.maps.geometry import NormStats
from nokenviz.core.maps.projections import ProjectionSpec, fit_projection
from nokenviz.core.maps.vocabulary import Vocabulary
from nokenviz.core.residual.lens import LensEntry, Trace
from nokenviz.core.scenes.scene import ComposerPart, Scene, parse_scene
from nokenviz.state.controller import Controller
from nokenviz.state.job import Errored, Job, Returned, Stopped, execute
from nokenviz.state.session import Session

# Two fake models: A is a causal LM of 50 tokens, B an encoder of 30 (geometry only).
MODELS = {"A": (50, True), "B": (30, False)}


class FakeRunner:
    """Jobs wait here in order until a test starts and ends them, one at a time, first in
    first out, as a worker thread does."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def submit(self, job: Job) -> None:
        self.jobs.append(job)


def fake_vocabulary(spec: str) -> Vocabulary:
    size, causal = MODELS[spec]
    rng = np.random.default_rng(size)
    matrix = rng.normal(size=(size, 8)).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1)
    p01, p99 = np.percentile(norms, [1, 99])
    stats = NormStats(
        float(norms.mean()), float(np.median(norms)), 0.1, float(norms.min()),
        float(norms.max()), float(p01), float(p99), 0.2,
    )  # fmt: skip
    info = {"model": spec, "name": spec, "causal": causal}
    names = [f"t{i}" for i in range(size)]
    return Vocabulary(names, names, {"W_E": matrix}, {"W_E": norms},
                      {"W_E": stats}, info)  # fmt: skip


def fake_trace(size: int) -> Trace:
    entries = [LensEntry(layer, 1.0, [(size - 1, 0.9)], 0) for layer in range(3)]
    zeros = np.zeros((3, 2))
    return Trace(["a", "b"], 1, np.zeros((3, 8)), np.zeros((3, 8)), entries, zeros,
                 zeros.astype(int), zeros, np.zeros((2, 1, 2, 2)))  # fmt: skip


class Fixture:
    """A session, its controller and the two fake runners."""

    def __init__(self) -> None:
        self.session = Session()
        self.model, self.projection = FakeRunner(), FakeRunner()
        self.controller = Controller(self.session, self.model, self.projection)
        self.changes: list[frozenset[str]] = []
        self.worker_generation = 0  # the model the fake worker holds
        self.controller.listen(self.changes.append)

    @property
    def outstanding(self) -> list[Job]:
        return self.model.jobs + self.projection.jobs

    def result_for(self, job: Job) -> object:
        """What the real job would return, tagged with the generation it was made for."""
        if job.kind == "load":
            value = fake_vocabulary(job.title.removeprefix("loading "))
            value.made_for = job.target
            return value
        tagged = type("Result", (), {"made_for": job.generation, "kl": 0.1, "cancelled": False})()
        if job.kind == "readout":  # (the vector read, its readout)
            preview = self.session.preview
            return (None if preview is None else preview.vector), tagged
        if job.kind == "readouts":
            trace = self.session.trace
            return (None if trace is None else trace.raw), [tagged]
        if job.kind in ("length", "invert"):  # (the noken it was made for, the result)
            s = self.session
            return (s.composer.prompt, self.controller.composer_spec()), tagged
        if job.kind == "trace":  # (the trace, its length sweep)
            value = fake_trace(len(self.session.vocab.tokens))
            value.made_for = job.generation
            return value, tagged
        else:
            value = type("Result", (), {})()
            value.text, value.vector = "", np.zeros(8, np.float32)
        value.made_for = job.generation
        return value

    def start(self, job: Job) -> bool:
        """The worker takes `job` (as `execute` does): False if it was cancelled before or
        was made for another model than the one the worker holds."""
        if job.started:
            return True
        job.started = True
        stale = job.needs_model and job.generation != self.worker_generation
        if job.task.cancelled or stale:
            return False
        self.controller.job_started(job)
        return True

    def end(self, job: Job, how: str = "return") -> None:
        """End `job` as its worker would: a job cancelled before it started never runs."""
        for runner in (self.model, self.projection):
            if job in runner.jobs:
                runner.jobs.remove(job)
        if not self.start(job):
            self.controller.job_ended(job, Stopped())
            return
        if how == "return" and job.kind in ("projection", "faithfulness", "recall"):
            outcome = execute(job, {})  # the real function: it may refuse its input
            if isinstance(outcome, Returned) and job.kind == "projection":
                outcome.value.made_for = job.generation
            self.controller.job_ended(job, outcome)
            return
        if how == "return" and job.kind == "load":
            self.worker_generation = job.target  # the worker installed the model
        outcome = {
            "return": lambda: Returned(self.result_for(job)),
            "error": lambda: Errored("it broke"),
            "stop": Stopped,
        }[how]()
        self.controller.job_ended(job, outcome)

    def settle(self) -> None:
        """Let every job run to its end, in order (including those they start)."""
        while self.outstanding:
            self.end(self.outstanding[0])

    def head(self, pick: int) -> Job:
        """The job a worker runs now: the oldest of one runner (the first runner with jobs
        at or after `pick` % 2)."""
        runners = [self.model, self.projection]
        busy = [r for r in runners[pick % 2 :] + runners[: pick % 2] if r.jobs]
        return busy[0].jobs[0]


@pytest.fixture
def app() -> Fixture:
    return Fixture()


def test_a_load_shows_the_model_and_asks_for_its_views(app: Fixture) -> None:
    app.controller.load_model("A")
    assert app.session.loading == "A" and app.session.disabled("generate")
    app.settle()
    s = app.session
    assert s.vocab.info["model"] == "A" and s.generation == 1
    assert s.fitted is not None and s.trace is not None
    assert s.selection == (49,)  # the inspector starts on the model's prediction
    assert not s.running and s.progress is None and not s.disabled("generate")
    assert len(s.highlight) == 1  # the largest 1% of 50 norms


def test_a_stopped_queued_generation_frees_generate_at_once(app: Fixture) -> None:
    app.controller.load_model("A")
    app.settle()
    app.controller.request_trace()
    app.controller.start_generate()
    assert app.session.disabled("generate")
    app.controller.stop("generate")  # still queued behind the trace
    assert not app.session.disabled("generate") and "generate" not in app.session.running
    app.settle()
    assert not app.session.running and not app.session.history


def test_colouring_by_recall_follows_the_map_and_stops_with_esc(app: Fixture) -> None:
    c, s = app.controller, app.session
    c.load_model("A")
    app.settle()
    assert s.faithfulness is not None and s.faithfulness.vocab_size == 50  # measured after
    c.set_colour("recall")
    app.settle()
    first = s.recall
    assert first is not None and first.shape == (50,)
    c.set_projection(centred=False)  # a new map: still coloured by recall, measured again
    assert s.projection.colour == "recall" and s.recall is first  # until the new map is drawn
    app.settle()
    assert s.projection.colour == "recall" and s.recall is not first and s.recall.shape == (50,)
    c.set_projection(centred=True)
    app.end(next(j for j in app.projection.jobs if j.kind == "projection"))
    assert "recall" in s.running and s.recall is None  # queued behind the map's measure
    c.cancel_all()  # Esc before it started: back to norms at once
    assert s.projection.colour == "norm"
    app.settle()
    assert s.projection.colour == "norm" and s.recall is None


def test_a_new_model_leaves_a_local_view_and_the_old_title(app: Fixture) -> None:
    c, s = app.controller, app.session
    c.open_scene(Scene(model="A", title="On A", selection=(3,)))
    app.settle()
    assert s.title == "On A"
    c.set_projection(kind="local")
    app.settle()
    assert s.projection.centre == 3 and s.fitted.shape == "local" and s.title == ""
    c.load_model("B")
    app.settle()
    assert s.projection.kind == "pca" and s.projection.centre is None


@pytest.mark.parametrize("kind", ["invert", "length"])
def test_results_for_a_noken_since_changed_are_dropped(app: Fixture, kind: str) -> None:
    c, s = app.controller, app.session
    c.load_model("A")
    app.settle()
    c.set_composer(s.composer.model_copy(update={"kind": "random"}))
    app.settle()
    made_for = (s.composer.prompt, c.composer_spec())
    c.request_inversion(2) if kind == "invert" else c.request_noken_length()
    job = next(j for j in app.model.jobs if j.kind == kind)
    c.set_composer(s.composer.model_copy(update={"seed": 9}))  # while it runs
    app.model.jobs.remove(job)
    app.start(job)
    c.job_ended(job, Returned((made_for, app.result_for(job)[1])))
    assert s.inversion is None and s.noken_length is None
    assert kind == "length" or "before your last change" in s.message


def test_results_for_an_older_model_are_dropped(app: Fixture) -> None:
    app.controller.load_model("A")
    app.settle()
    app.controller.search("#3")
    neighbours = next(j for j in app.model.jobs if j.kind == "neighbours")
    app.controller.load_model("B")
    app.end(next(j for j in app.model.jobs if j.kind == "load"))
    assert neighbours.task.cancelled and "neighbours" not in app.session.running
    app.end(neighbours)  # it may still finish: its result is not applied
    assert app.session.neighbours is None and app.session.generation == 2


def test_a_scene_opened_during_its_load_rides_on_it(app: Fixture) -> None:
    scene = Scene(model="A", selection=(3, 7), composer=ComposerPart(anchors=(3,), weights=(1.0,)))
    app.controller.load_model("A")
    app.controller.open_scene(scene)
    assert [j.kind for j in app.model.jobs] == ["load"]  # not loaded twice
    app.settle()
    assert app.session.selection == (3, 7) and app.session.composer.anchors == (3,)


def test_a_scene_for_another_model_supersedes_the_load(app: Fixture) -> None:
    app.controller.load_model("B")
    first = app.model.jobs[0]
    app.controller.open_scene(Scene(model="A", selection=(40,)))
    assert first.task.cancelled
    app.settle()
    assert app.session.vocab.info["model"] == "A" and app.session.selection == (40,)


def test_a_scene_whose_model_fails_is_forgotten(app: Fixture) -> None:
    app.controller.load_model("B")
    app.settle()
    app.controller.open_scene(Scene(model="A", selection=(40,)))
    app.end(app.model.jobs[0], "error")
    assert app.session.error == "loading A failed: it broke"
    app.controller.load_model("A")
    app.settle()
    assert app.session.selection == (49,)  # the scene's selection did not land here


def test_token_ids_outside_the_vocabulary_are_named(app: Fixture) -> None:
    app.controller.open_scene(Scene(model="B", selection=(45,)))
    app.settle()
    assert "field 'selection': token id 45" in app.session.error
    assert app.session.vocab.info["model"] == "B" and app.session.selection == ()


def test_a_non_causal_model_asks_for_geometry_only(app: Fixture) -> None:
    app.controller.load_model("B")
    app.settle()
    s = app.session
    assert s.fitted is not None and s.trace is None
    for action in ("trace", "preview", "generate", "sweep"):
        assert "not a causal LM" in s.disabled(action)
    app.controller.start_generate()
    app.controller.request_trace()
    assert not app.outstanding


def test_the_session_round_trips_through_a_scene_file(app: Fixture) -> None:
    app.controller.load_model("A")
    app.settle()
    app.controller.select([4, 9])
    app.controller.add_anchor()
    app.controller.set_view((-1.0, 2.0), (-0.5, 0.25))
    assert _round_trip(app.session) == app.session.to_scene()


def _round_trip(session: Session) -> Scene:
    scene = parse_scene(session.to_scene().to_json())
    restored = Session()
    restored.restore_settings(scene)
    restored.restore_tokens(scene)
    return restored.to_scene()


class Interleavings(RuleBasedStateMachine):
    """Any order of user actions and job ends keeps the app's promises."""

    def __init__(self) -> None:
        super().__init__()
        self.app = Fixture()

    @property
    def s(self) -> Session:
        return self.app.session

    @rule(spec=st.sampled_from(sorted(MODELS)))
    def load(self, spec: str) -> None:
        self.app.controller.load_model(spec)

    @rule(spec=st.sampled_from(sorted(MODELS)), ids=st.lists(st.integers(0, 29), max_size=3))
    def open_scene(self, spec: str, ids: list[int]) -> None:
        weights = (1.0,) if ids else ()
        part = ComposerPart(anchors=tuple(ids[:1]), weights=weights)
        self.app.controller.open_scene(Scene(model=spec, selection=tuple(ids), composer=part))

    @rule(ids=st.lists(st.integers(0, 60), min_size=1, max_size=3))
    def select(self, ids: list[int]) -> None:
        self.app.controller.select(ids)

    @rule(low=st.floats(0, 5), high=st.floats(0, 5))
    def brush(self, low: float, high: float) -> None:
        self.app.controller.set_band(low, high)

    @rule(kind=st.sampled_from(["pca", "plane", "local"]))
    def project(self, kind: str) -> None:
        self.app.controller.set_projection(kind=kind)

    @rule(colour=st.sampled_from(["norm", "recall"]))
    def colour(self, colour: str) -> None:
        self.app.controller.set_colour(colour)

    @rule()
    def anchor(self) -> None:
        self.app.controller.add_anchor()

    @rule()
    def trace(self) -> None:
        self.app.controller.request_trace()

    @rule(what=st.sampled_from(["readouts", "invert", "noken", "final", "settled"]))
    def read_invert_or_scale(self, what: str) -> None:
        c = self.app.controller
        {
            "readouts": c.request_readouts,
            "invert": lambda: c.request_inversion(2),
            "noken": lambda: c.set_length_of("noken"),
            "final": lambda: c.set_length_of("final"),
            "settled": c.preview_settled,
        }[what]()

    @rule(soft=st.booleans())
    def generate(self, soft: bool) -> None:
        self.app.controller.start_generate(soft)

    @rule()
    def stop(self) -> None:
        self.app.controller.stop("generate")

    @rule()
    def cancel_all(self) -> None:
        self.app.controller.cancel_all()

    @precondition(lambda self: self.app.outstanding)
    @rule(pick=st.integers(0, 1))
    def job_starts(self, pick: int) -> None:
        job = self.app.head(pick)
        if not self.app.start(job):
            self.app.end(job)

    @precondition(lambda self: self.app.outstanding)
    @rule(pick=st.integers(0, 1), how=st.sampled_from(["return", "error", "stop"]))
    def job_ends(self, pick: int, how: str) -> None:
        job = self.app.head(pick)
        history = len(self.s.history)
        stale = job.kind != "load" and job.generation != self.s.generation
        self.app.end(job, how)
        if stale:
            assert len(self.s.history) == history  # an older model's output is not applied

    @invariant()
    def nothing_is_stuck(self) -> None:
        outstanding = set(self.app.outstanding)
        assert all(job in outstanding for job in self.s.running.values())
        if not self.app.outstanding:
            assert not self.s.running and self.s.progress is None
            generate_blocked = self.s.disabled("generate")
            assert bool(generate_blocked) == (not self.s.causal)

    @invariant()
    def only_the_current_model_is_shown(self) -> None:
        s = self.s
        assert s.generation == self.app.worker_generation  # the session shows the worker's model
        readouts = s.readouts or [None]
        for value in (
            s.fitted,
            s.trace,
            s.neighbours,
            s.preview,
            s.trace_length,
            s.noken_length,
            s.noken_readout,
            s.inversion,
            *readouts,
        ):
            assert value is None or value.made_for == s.generation
        if s.vocab is not None:
            assert s.vocab.made_for == s.generation
            size = len(s.vocab.tokens)
            assert all(i < size for i in (*s.selection, *s.composer.anchors))
            if s.fitted is not None:
                assert len(s.fitted.coords) == size
            if s.recall is not None:  # measured on the projection shown, for every token
                assert s.recall.shape == (size,)
        if s.fitted is None:
            assert s.recall is None and s.faithfulness is None
        elif s.faithfulness is not None:
            assert s.faithfulness.vocab_size == len(s.fitted.coords)

    @invariant()
    def the_highlight_is_the_band(self) -> None:
        s = self.s
        if s.vocab is None:
            assert len(s.highlight) == 0
            return
        low, high = s.band
        expected = [i for i, norm in enumerate(s.norms) if low <= norm <= high]
        assert s.highlight.tolist() == expected

    @invariant()
    def the_session_serialises(self) -> None:
        assert _round_trip(self.s) == self.s.to_scene()


TestInterleavings = Interleavings.TestCase
TestInterleavings.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip


def test_projection_jobs_carry_a_real_spec(app: Fixture) -> None:
    """The fake projection result above is the real function's (keeps the fakes honest)."""
    matrix = fake_vocabulary("A").matrices["W_E"]
    fitted = fit_projection(matrix, ProjectionSpec())
    app.controller.load_model("A")
    app.settle()
    assert np.allclose(app.session.fitted.coords, fitted.coords)
