"""The only writer of the session: user intents become jobs, job ends become session changes.

Rules that make the window's old bugs impossible rather than patched:
- one job per kind in flight (`session.running`); a newer one supersedes the older;
- every job carries the model generation it was made for; a result for another generation is
  dropped, and a model job never runs on another model (`job.execute`);
- every job ends exactly once (returned, errored or stopped) and leaves `running` then, or
  at once when the user stops it before it started; controls derive from `running`;
- a load supersedes loads; a scene opened during a load rides on the load of its model.
Views subscribe with `listen` and get the set of session parts that changed.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

import numpy as np

from nokenviz.core.composer import composer_spec
from nokenviz.core.model_spec import LoadOptions, same_model
from nokenviz.core.scene import (
    ComposerPart,
    GeneratePart,
    ProjectionPart,
    Scene,
    SceneError,
    SweepPart,
    TracePart,
    ViewPart,
    check_token_ids,
)
from nokenviz.state import work
from nokenviz.state.job import Errored, Job, JobFn, Outcome, Returned, Runner
from nokenviz.state.session import EVENTS, SETTINGS, Output, Part, Session

Listener = Callable[[frozenset[Part]], None]
# Every part of the session's state (a new model changes all of them); events are not state.
EVERYTHING: frozenset[Part] = frozenset(get_args(Part)) - EVENTS
# Jobs that keep their result when the model changes (a figure the user asked for).
MODEL_FREE_KINDS = ("load", "export")
BAND_PERCENTILE = 99.0  # a new model starts with its largest 1% of norms highlighted


class Controller:
    def __init__(self, session: Session, model: Runner, projection: Runner) -> None:
        self.session = session
        self.runners = {"model": model, "projection": projection}
        self.listeners: list[Listener] = []
        self._generations = itertools.count(session.generation + 1)

    def listen(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def _notify(self, *parts: Part) -> None:
        changed = frozenset(parts)
        for listener in self.listeners:
            listener(changed)

    # ------------------------------------------------------------ jobs

    def _submit(
        self, kind: str, title: str, fn: JobFn, runner: str = "model", **fields: Any
    ) -> Job:
        s = self.session
        fields.setdefault("generation", s.generation)
        job = Job(kind, title, fn, **fields)
        older = s.running.get(kind)
        if older is not None:
            older.cancel()
        s.running[kind] = job
        self.runners[runner].submit(job)
        self._notify("jobs")
        return job

    def _current(self, job: Job) -> bool:
        """`job` is still the one in flight for its kind: not superseded by a newer one, not
        stopped while queued, not made for a model that has since been replaced."""
        return self.session.running.get(job.kind) is job

    def job_started(self, job: Job) -> None:
        if self._current(job):
            self.session.progress = (None, f"{job.title}…")
            self._notify("progress")

    def job_progress(self, job: Job, fraction: float, message: str) -> None:
        if self._current(job):
            self.session.progress = (fraction, message)
            self._notify("progress")

    def job_partial(self, job: Job, value: Any) -> None:
        if not self._current(job):
            return
        s = self.session
        if job.kind == "generate" and s.output is not None:
            s.output.streamed += value
            self._notify("output")
        elif job.kind == "sweep":
            s.sweep_rows.append(value)
            self._notify("sweep_rows")

    def job_ended(self, job: Job, outcome: Outcome) -> None:
        s = self.session
        current = self._current(job)
        if current:
            del s.running[job.kind]
        if not s.running:
            s.progress = None
        changed: set[Part] = {"jobs", "progress"}
        if job.kind == "load" and isinstance(outcome, Returned) and job.target > s.generation:
            # The worker holds this model now, even if a newer load superseded it too late to
            # stop it: the session follows the worker (the newer load replaces it in turn).
            changed |= self._loaded(job, outcome.value)
        elif not current:
            pass  # superseded, stopped while queued, or made for a replaced model: dropped
        elif isinstance(outcome, Returned):
            changed |= self._apply(job, outcome.value)
        elif isinstance(outcome, Errored):
            s.error = f"{job.title} failed: {outcome.message}"
            changed.add("error")
        else:
            s.message = f"cancelled {job.title}"
            changed.add("message")
        if current and job.kind == "projection" and not isinstance(outcome, Returned):
            changed |= self._keep_drawn_projection()
        if job.kind == "recall" and not isinstance(outcome, Returned):
            changed |= self._colour_by_norm_unless_measuring()
        if job.kind == "load":
            # The replaced (or a cancelled, half-built) model may sit in reference cycles: free
            # its memory now, and here on the GUI thread. This collection used to run on the
            # worker, where it finalized dead Qt objects and deadlocked with painting (Python's
            # own automatic collections can still start on any thread, far less often).
            gc.collect()
        self._notify(*changed)

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

    def _apply(self, job: Job, value: Any) -> set[Part]:
        """A current job's result into the session; the parts it changed."""
        s = self.session
        if job.kind == "projection":
            s.fitted, s.recall, s.faithfulness = value, None, None
            self._measure("faithfulness", "measuring the map", work.faithfulness)
            if s.projection.colour == "recall":
                self._measure("recall", "kNN recall of every token", work.recall)
            if s.selection:  # its recall is measured again, on this map
                self._request_neighbours()
            return {"fitted", "recall"}
        if job.kind in ("recall", "faithfulness"):
            fitted, measured = value
            if fitted is not s.fitted:  # measured on a projection since replaced
                return set()
            setattr(s, job.kind, measured)
            return {"recall"}
        if job.kind == "neighbours":
            s.neighbours = value
            return {"neighbours"}
        if job.kind == "trace":
            (s.trace, s.trace_length), s.readouts = value, None
            if not s.selection:  # start the inspector on the model's prediction
                self.select([s.trace.entries[-1].top[0][0]])
            return {"trace", "readout", "length"}
        if job.kind == "preview":
            s.preview = value
            return {"preview"}
        if job.kind == "length":
            made_for, sweep = value
            if made_for != (s.composer.prompt, self.composer_spec()):  # the noken changed since
                return set()
            s.noken_length = sweep
            return {"length"}
        if job.kind == "readout":
            read, readout = value
            if s.preview is None or read is not s.preview.vector:
                return set()
            s.noken_readout = readout
            return {"readout"}
        if job.kind == "readouts":
            raw, readouts = value
            if s.trace is None or raw is not s.trace.raw:  # read for an older trace
                return set()
            s.readouts = readouts
            return {"readout"}
        if job.kind == "invert":
            made_for, found = value
            if made_for != (s.composer.prompt, self.composer_spec()):
                s.message = "the inversion was of the noken before your last change: run it again"
                return {"message"}
            s.inversion = found
            if found.cancelled:
                s.message = f"stopped the inversion: the best found so far (KL {found.kl:.3f})"
                return {"inversion", "message"}
            return {"inversion"}
        if job.kind == "generate" and s.output is not None:
            s.output.result = value
            s.history.append(value)
            return {"output"}
        if job.kind == "export":
            size = Path(value).stat().st_size / 1e6
            s.message, s.exported = f"wrote {value} ({size:.2f} MB)", value
            return {"message", "exported"}
        return set()

    def cancel_all(self) -> None:
        """The user's Cancel (Esc): every job in flight stops."""
        jobs = list(self.session.running.values())
        for job in jobs:
            self._stop(job)
        if jobs:
            self.session.message = "cancelled " + ", ".join(job.title for job in jobs)
            self._notify("message")
        self._notify("jobs", "progress")

    def _stop(self, job: Job) -> bool:
        """Cancel `job`; True if it had not started (then it is over at once, whenever its
        worker gets to it). Cancel first, read `started` after: see `Job.started`."""
        job.cancel()
        if job.started:
            return False
        self.session.running.pop(job.kind, None)
        if not self.session.running:
            self.session.progress = None
        if job.kind == "recall":
            self._notify(*self._colour_by_norm_unless_measuring())
        return True

    def _colour_by_norm_unless_measuring(self) -> set[Part]:
        """Colouring by recall that was stopped or failed goes back to norms (the menu with it)."""
        s = self.session
        if s.recall is not None or "recall" in s.running or s.projection.colour != "recall":
            return set()
        s.projection = s.projection.model_copy(update={"colour": "norm"})
        return {"projection"}

    def stop(self, kind: str) -> None:
        job = self.session.running.get(kind)
        if job is not None:
            if self._stop(job):
                self.session.message = f"{job.title} stopped before it started"
                self._notify("message")
            self._notify("jobs", "progress")

    def _drop_model_jobs(self) -> None:
        """Every job made for the model shown now is superseded (a model switch)."""
        for kind, job in list(self.session.running.items()):
            if kind not in MODEL_FREE_KINDS:
                job.cancel()
                del self.session.running[kind]

    # ------------------------------------------------------------ models and scenes

    def load_model(
        self, spec: str, options: LoadOptions | None = None, scene: Scene | None = None
    ) -> None:
        s = self.session
        if options is not None:
            s.load_options = options
        self._drop_model_jobs()  # the worker is free for the load at once
        target = next(self._generations)
        fn = work.load(spec, s.load_options, target)
        self._submit(
            "load",
            f"loading {spec}",
            fn,
            generation=0,
            needs_model=False,
            target=target,
            scene=scene,
            spec=spec,
        )

    def _loaded(self, job: Job, vocab: Any) -> set[Part]:
        s = self.session
        self._drop_model_jobs()  # anything asked of the old model since
        s.generation, s.vocab, s.model_spec = job.target, vocab, vocab.info["model"]
        s.fitted = s.recall = s.faithfulness = None
        s.trace = s.neighbours = s.preview = s.output = None
        s.trace_length = s.noken_length = s.noken_readout = s.readouts = s.inversion = None
        s.sweep_rows = []  # the history keeps every run, each naming its model
        s.selection = ()
        s.projection = s.projection.without_tokens()
        s.composer = s.composer.model_copy(update={"anchors": (), "weights": ()})
        if job.scene is None:
            s.title = ""  # a scene's title describes it on its own model, not on this one
        self._show_scene_tokens(job.scene)
        return set(EVERYTHING)

    def _default_band(self) -> tuple[float, float]:
        norms = self.session.norms
        return float(np.percentile(norms, BAND_PERCENTILE)), float(norms.max())

    def _show_scene_tokens(self, scene: Scene | None) -> None:
        """The scene's token ids (if they fit the model shown), a fresh band, and every job
        that what is shown needs."""
        s = self.session
        if scene is not None:
            try:
                check_token_ids(scene, len(s.vocab.tokens))
            except SceneError as exc:
                s.error = f"open scene failed: {exc}"
                self._notify("error")
            else:
                s.restore_tokens(scene)
        s.band = self._default_band()
        self.refresh()

    def open_scene(self, scene: Scene, model: str | None = None) -> None:
        """Show `scene` on `model` (default: the scene's own), loading it only if needed."""
        s = self.session
        wanted = model or scene.model
        s.restore_settings(scene)
        s.model_spec = wanted
        load = s.running.get("load")
        if load is not None and same_model(load.spec, wanted):
            load.scene = scene  # applied when the load it belongs to is done
        elif s.vocab is not None and same_model(s.vocab.info["model"], wanted):
            if load is not None and self._stop(load) is False:
                load.scene = None  # a load already under way replaces the model: not ours
            self._show_scene_tokens(scene)
            self._notify(*SETTINGS, "band")
            return
        else:
            self.load_model(wanted, scene=scene)
        self._notify(*SETTINGS)

    def refresh(self) -> None:
        """Ask for everything the session shows of the current model."""
        s = self.session
        self.request_projection()
        if s.selection:
            self._request_neighbours()
        if s.causal:
            self.request_trace()
            self.request_preview()

    # ------------------------------------------------------------ projection and view

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
        s.projection = ProjectionPart(
            kind=kind,
            centred=part.centred if centred is None else centred,
            matrix=part.matrix if matrix is None else matrix,
            plane_tokens=plane,
            centre=centre if kind == "local" else None,
            colour=part.colour,
            exact=part.exact if exact is None else exact,
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

    # ------------------------------------------------------------ selection

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
        from nokenviz.core.tokens import find_tokens

        s = self.session
        if s.vocab is None or not query:
            return
        found = find_tokens(s.vocab.tokens, query, limit=1)
        if found:
            self.select([found[0]])
        else:
            s.message = f"no token matches {query!r}"
            self._notify("message")

    def _request_neighbours(self) -> None:
        s = self.session
        token = s.selection[-1]
        coords = None if s.fitted is None else s.fitted.coords
        vectors = None if s.vocab is None else s.vocab.matrices[s.matrix]
        norms = None if s.vocab is None else s.vocab.norms[s.matrix]
        fn = work.neighbours(token, s.matrix, vectors, coords, norms)
        self._submit("neighbours", "neighbours", fn)

    def set_colour(self, colour: str) -> None:
        """Colour the points by norm, or by how well each keeps its neighbours (kNN recall)."""
        s = self.session
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

    # ------------------------------------------------------------ trace

    def set_trace_settings(self, part: TracePart) -> None:
        s = self.session
        changed: set[Part] = {"trace_settings"}
        if part.readout_target != s.trace_settings.readout_target:  # readouts of another target
            s.readouts = s.noken_readout = None
            changed.add("readout")
        if part.length_of != s.trace_settings.length_of:
            changed.add("length")
        s.trace_settings = part
        self._notify(*changed)
        if "readout" in changed and s.preview is not None:
            self._request_noken_readout()

    def preview_settled(self) -> None:
        """The noken has stopped changing (the composer waits for a pause in a drag): what is
        too slow for every drag step follows it now, the readout and, when plotted, the
        length sweep. On the model worker they would hold up the next preview."""
        if self.session.preview is None:
            return
        self._request_noken_readout()
        if self.session.trace_settings.length_of == "noken":
            self.request_noken_length()

    def set_length_of(self, what: str) -> None:
        """Plot the traced final residual's length sweep or the noken's (made if missing)."""
        s = self.session
        self.set_trace_settings(s.trace_settings.model_copy(update={"length_of": what}))
        if what == "noken" and s.noken_length is None:
            self.request_noken_length()

    def request_trace(self) -> None:
        s = self.session
        if s.disabled("trace"):
            return
        part = s.trace_settings
        if "readouts" in s.running:  # they would be of the trace this one replaces
            self._stop(s.running["readouts"])
        self._submit("trace", "trace", work.trace(part.prompt, part.position))

    # ------------------------------------------------------------ composer

    def set_composer(self, part: ComposerPart) -> None:
        s = self.session
        s.composer = part
        stale: set[Part] = {"composer"}  # a sweep or inversion of the noken before this change
        if s.noken_length is not None:
            s.noken_length = None
            stale.add("length")
        if s.inversion is not None:
            s.inversion = None
            stale.add("inversion")
        self._notify(*stale)  # (only what changed: this runs at every step of a drag)
        self.request_preview()

    def add_anchor(self) -> None:
        """The last selected token becomes an anchor; the blend starts on it."""
        s = self.session
        part = s.composer
        if not s.selection or s.selection[-1] in part.anchors:
            return
        anchors = (*part.anchors, s.selection[-1])
        weights = tuple(float(w) for w in np.eye(len(anchors))[-1])
        self.set_composer(part.model_copy(update={"anchors": anchors, "weights": weights}))

    def clear_anchors(self) -> None:
        part = self.session.composer.model_copy(update={"anchors": (), "weights": ()})
        self.session.preview = None
        self._notify("preview")
        self.set_composer(part)

    def composer_spec(self) -> dict[str, Any] | None:
        s = self.session
        if s.vocab is None:
            return None
        selected = s.selection[-1] if s.selection else None
        return composer_spec(s.composer, s.vocab.stats["W_E"].median, selected)

    def request_preview(self) -> None:
        s = self.session
        spec = self.composer_spec()
        if spec is None or s.disabled("preview"):
            return
        self._submit("preview", "preview", work.preview(s.composer.prompt, spec))

    def _request_noken_readout(self) -> None:
        s = self.session
        target = s.trace_settings.readout_target
        fn = work.read_noken(s.preview.vector, target)
        self._submit("readout", "reading the noken", fn)

    def request_noken_length(self) -> None:
        """Scale the composer's noken in its prompt and plot the next-token distribution."""
        s = self.session
        spec = self.composer_spec()
        if spec is None or s.disabled("length"):
            return
        self._submit("length", "length sweep", work.length_noken(s.composer.prompt, spec))

    def request_inversion(self, length: int) -> None:
        """Search the hard tokens that predict most like the composer's noken (progress, Esc)."""
        s = self.session
        spec = self.composer_spec()
        if spec is None or s.disabled("invert"):
            return
        s.inversion = None
        self._notify("inversion")
        self._submit("invert", "inversion", work.invert(s.composer.prompt, spec, length))

    def request_readouts(self) -> None:
        """Read the traced position's hidden state at every layer (Patchscopes)."""
        s = self.session
        if s.disabled("readout"):
            return
        target = s.trace_settings.readout_target
        self._submit("readouts", "Patchscopes readout", work.read_trajectory(s.trace.raw, target))

    def use_in_generate(self) -> None:
        import json

        spec = self.composer_spec()
        if spec is not None:
            line = f"x = {json.dumps(spec, ensure_ascii=False)}"
            prompt = self.session.composer.prompt
            self.set_generate(
                self.session.generate.model_copy(update={"prompt": prompt, "nokens": (line,)})
            )

    # ------------------------------------------------------------ generate and sweeps

    def set_generate(self, part: GeneratePart) -> None:
        self.session.generate = part
        self._notify("generate")

    def start_generate(self, soft: bool = False) -> None:
        s = self.session
        if s.disabled("generate"):
            return
        part = s.generate
        if soft and (conflict := self._soft_conflict(part)):
            s.error = conflict
            self._notify("error")
            return
        s.output = Output("soft" if soft else "generate", part.prompt)
        if soft:
            steps, temperature = part.decoding.max_new_tokens, part.decoding.temperature
            fn = work.soft(part.prompt, part.nokens, steps, temperature)
        else:
            fn = work.generate(part)
        self._notify("output")
        self._submit("generate", "soft feedback" if soft else "generation", fn)

    @staticmethod
    def _soft_conflict(part: GeneratePart) -> str:
        """Why soft feedback cannot run with the panel's settings ("" if it can); lines that
        do not parse are left to the generation's own message."""
        from nokenviz.core.decoding import DecodingSettings
        from nokenviz.core.experiment import parse_experiment, soft_conflicts
        from nokenviz.errors import NokenvizError

        try:
            settings = DecodingSettings(**part.decoding.model_dump())
            experiment = parse_experiment(part.transform, part.rules, part.injections)
        except NokenvizError as exc:
            return str(exc)
        return soft_conflicts(settings, experiment)

    def set_sweep(self, part: SweepPart) -> None:
        self.session.sweep = part
        self._notify("sweep")

    def start_sweep(self) -> None:
        s = self.session
        if s.disabled("sweep"):
            return
        from nokenviz.core.sweeps import sweep_header

        part = s.sweep
        s.sweep_rows = []
        prompts = (part.prompt_a, part.prompt_b)
        model = f"{s.vocab.info['name']} ({s.model_spec})"
        s.sweep_header = sweep_header(
            part.kind, prompts, part.steps, part.seeds, part.max_new_tokens, model, datetime.now()
        )
        fn = work.sweep(
            part.kind, (part.prompt_a, part.prompt_b), part.steps, part.seeds, part.max_new_tokens
        )
        self._notify("sweep_rows")
        self._submit("sweep", "sweep", fn)

    # ------------------------------------------------------------ figures

    def _generation_rows(self) -> list[tuple[str, str]] | None:
        """The Generate panel's last finished run and its baseline, as a figure's rows."""
        from nokenviz.core.experiment import generation_rows

        output = self.session.output
        result = None if output is None else output.result
        if not isinstance(result, work.GenerateResult) or result.part != self.session.generate:
            return None  # a figure of the scene shows a run of the scene's own settings
        return generation_rows(
            result.prompt, result.text, result.marks, result.baseline_text, result.baseline_note
        )

    def export(
        self, figure: str, path: str, size: str = "screen", dpi: float | None = None
    ) -> None:
        """Draw `figure` of the current state to `path` on the projection worker, at a figure
        size preset (screen, column, page) and, for PNG, `dpi` (default: the size's own)."""
        from nokenviz.core.render import SceneData

        s = self.session
        if s.fitted is None or s.vocab is None:
            s.error = "export failed: nothing to export yet: the model is still loading"
            self._notify("error")
            return
        if figure != s.figure and s.title:  # the scene's title names its own figure
            s.title = ""
            self._notify("title")
        s.figure = figure  # type: ignore[assignment]
        stats = s.vocab.stats[s.matrix]
        data = SceneData(
            labels=s.vocab.labels,
            norms=s.norms,
            levels=(stats.p01, stats.p99),
            projection=s.fitted,
            trace=s.trace,
            noken=None if s.preview is None else s.preview.vector,
            recall=s.recall,
            faithfulness=s.faithfulness,
            sweep_rows=list(s.sweep_rows),
            length=s.length,
            generation=self._generation_rows(),
        )
        fn = work.export(s.to_scene(), data, path, size, dpi)
        self._submit("export", f"export {figure}", fn, runner="projection", needs_model=False)
