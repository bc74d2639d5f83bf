"""Models and scenes: loading a model (or taking one in memory), and opening a scene on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nokenviz.core.models.model_spec import LoadOptions, same_model
from nokenviz.core.scenes.scene import Scene, SceneError, check_token_ids
from nokenviz.state import work
from nokenviz.state.control.base import ControlBase
from nokenviz.state.job import Job
from nokenviz.state.session import EVERYTHING, SETTINGS, Part

if TYPE_CHECKING:
    from nokenviz.core.maps.vocabulary import Vocabulary
    from nokenviz.core.models.loading import LoadedModel


class ModelControl(ControlBase):
    def load_model(
        self,
        spec: str,
        options: LoadOptions | None = None,
        scene: Scene | None = None,
        preloaded: LoadedModel | None = None,
    ) -> None:
        """Load `spec` on the model worker, or hand it `preloaded`, a model already in memory
        (`nokenviz.show`)."""
        s = self.session
        if options is not None:
            s.load_options = options
        self._keep_stopped_output(f"{spec} is loading")
        if scene is None:  # a scene's run is for the scene's load only
            s.run_on_show = ""
        self._drop_model_jobs()  # the worker is free for the load at once
        target = next(self._generations)
        fn = work.load(spec, s.load_options, target, preloaded)
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

    def _loaded(self, job: Job, vocab: Vocabulary) -> set[Part]:
        s = self.session
        self._drop_model_jobs()  # anything asked of the old model since
        # The same model again (reconnected to its server, say): what the user made stays.
        same = s.vocab is not None and _identity(s.vocab) == _identity(vocab)
        kept = (s.selection, s.projection, s.composer, s.comparison, s.other_map)
        s.generation, s.vocab, s.model_spec = job.target, vocab, vocab.info["model"]
        s.fitted = s.recall = s.faithfulness = s.regions = None
        s.trace = s.neighbours = s.preview = s.output = None
        s.trace_length = s.noken_length = s.noken_readout = s.readouts = s.inversion = None
        s.comparison, s.other_map, s.own_map = None, False, None  # of the previous model
        s.compare_asked = s.other_drawn = None
        s.sweep_rows = []  # the history keeps every run, each naming its model
        s.selection = ()
        s.projection = s.projection.without_tokens()
        s.composer = s.composer.model_copy(update={"anchors": (), "weights": ()})
        if same:
            s.selection, s.projection, s.composer, s.comparison, s.other_map = kept
        if job.scene is None:
            s.title = ""  # a scene's title describes it on its own model, not on this one
        self._show_scene_tokens(job.scene)
        return set(EVERYTHING)

    def _show_scene_tokens(self, scene: Scene | None) -> None:
        """The scene's token ids (if they fit the model shown), a fresh band, and every job
        that what is shown needs."""
        s = self.session
        if scene is not None and s.vocab is not None:
            try:
                check_token_ids(scene, len(s.vocab.tokens))
            except SceneError as exc:
                s.error = f"open scene failed: {exc}"
                self._notify("error")
            else:
                s.restore_tokens(scene)
                self._notify(*self._restore_comparison(scene.compare))
        s.band = self._default_band()
        self.refresh()
        run, s.run_on_show = s.run_on_show, ""
        if run == "generate":  # the scene is about a run: show it, not an empty panel
            self.start_generate()
        elif run == "sweep":
            self.start_sweep()

    def open_scene(self, scene: Scene, model: str | None = None) -> None:
        """Show `scene` on `model` (default: the scene's own), loading it only if needed."""
        s = self.session
        wanted = model or scene.model
        stale = self._clear_stale_results(scene)
        s.restore_settings(scene)
        s.model_spec = wanted
        s.run_on_show = scene.figure if scene.figure in ("generate", "sweep") else ""
        load = s.running.get("load")
        if load is not None and same_model(load.spec, wanted):
            load.scene = scene  # applied when the load it belongs to is done
        elif s.vocab is not None and same_model(s.vocab.info["model"], wanted):
            if load is not None and self._stop(load) is False:
                load.scene = None  # a load already under way replaces the model: not ours
            self._show_scene_tokens(scene)
            self._notify(*SETTINGS, *stale, "band")
            return
        else:
            self.load_model(wanted, scene=scene)
        self._notify(*SETTINGS, *stale)

    def _clear_stale_results(self, scene: Scene) -> set[Part]:
        """The Generate output and the sweep rows made from other settings than the scene's
        are not of it: cleared, and a run of other settings still going is stopped (the
        history keeps every run, a stopped one too)."""
        s, stale = self.session, set[Part]()
        output, made = s.output, s.sweep_made_from
        if output is not None and output.part != scene.generate:
            self._keep_stopped_output("a scene with other Generate settings was opened")
            stale |= self._drop_job("generate")
            s.output = None
            stale.add("output")
        if (s.sweep_rows or "sweep" in s.running) and made != scene.sweep:
            stale |= self._drop_job("sweep")
            s.sweep_rows, s.sweep_header = [], ()
            stale.add("sweep_rows")
        return stale

    def _drop_job(self, kind: str) -> set[Part]:
        """Stop the `kind` job at once and forget it (its result, if it comes, is dropped),
        so that the scene's own run can start."""
        s = self.session
        job = s.running.pop(kind, None)
        if job is None:
            return set()
        job.cancel()
        if not s.running:
            s.progress = None
        return {"jobs", "progress"}

    def refresh(self) -> None:
        """Ask for everything the session shows of the current model."""
        s = self.session
        self.request_projection()
        if s.selection:
            self._request_neighbours()
        if s.causal:
            self.request_trace()
            self.request_preview()


def _identity(vocab: Vocabulary) -> tuple[object, ...]:
    """What makes two loads the same model for the user's work: its spec, its shape and its
    tokens, and for a served model the identity of its weights (another checkpoint served
    at the same address after a restart is another model)."""
    info = vocab.info
    shape = (info.get("d_model"), info.get("n_layers"), vocab.tokens)
    return (info.get("model"), info.get("served_identity"), *shape)
