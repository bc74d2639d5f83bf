"""Generation, sweeps and figures: the Generate and Sweeps panels' runs, and exports."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from nokenviz.core.scenes.scene import GeneratePart, SweepPart
from nokenviz.state import work
from nokenviz.state.control.base import ControlBase
from nokenviz.state.session import Output, Part

if TYPE_CHECKING:
    from nokenviz.api.results import GenerationResult


class GenerateControl(ControlBase):
    def _generate_handlers(self) -> None:
        self.handlers.update(generate=self._on_generate, export=self._on_export)

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
        s.output = Output("soft" if soft else "generate", part.prompt, part=part)
        fn = work.generate(part, soft)
        self._notify("output")
        self._submit("generate", "soft feedback" if soft else "generation", fn)

    @staticmethod
    def _soft_conflict(part: GeneratePart) -> str:
        """Why soft feedback cannot run with the panel's settings ("" if it can); lines that
        do not parse are left to the generation's own message."""
        from nokenviz.core.generation.experiment import parse_experiment, soft_conflicts
        from nokenviz.errors import NokenvizError

        try:
            experiment = parse_experiment(part.transform, part.rules, part.injections)
        except NokenvizError as exc:
            return str(exc)
        return soft_conflicts(part.decoding, experiment)

    def set_sweep(self, part: SweepPart) -> None:
        self.session.sweep = part
        self._notify("sweep")

    def start_sweep(self) -> None:
        s = self.session
        if s.disabled("sweep") or s.vocab is None:
            return
        from nokenviz.core.generation.sweeps import sweep_header

        part = s.sweep
        s.sweep_rows = []
        prompts = (part.prompt_a, part.prompt_b)
        model = s.vocab.info["name"]
        if not model.endswith(f"({s.model_spec})"):  # "… (default)" says it already
            model += f" ({s.model_spec})"
        s.sweep_header = sweep_header(
            part.kind,
            prompts,
            part.steps,
            part.seeds,
            part.max_new_tokens,
            model,
            datetime.now(),
            part.match_norm,
        )
        s.sweep_made_from = part
        fn = work.sweep(part)
        self._notify("sweep_rows")
        self._submit("sweep", "sweep", fn)

    def _generation_rows(self) -> list[tuple[str, str]] | None:
        """The Generate panel's last finished run and its baseline, as a figure's rows."""
        from nokenviz.core.generation.experiment import generation_rows

        output = self.session.output
        result = None if output is None else output.result
        if output is None or result is None or result.soft or output.part != self.session.generate:
            return None  # a figure of the scene shows a run of the scene's own settings
        return generation_rows(
            result.prompt, result.text, result.marks, result.baseline_text, result.baseline_note
        )

    def export(
        self, figure: str, path: str, size: str = "screen", dpi: float | None = None
    ) -> None:
        """Draw `figure` of the current state to `path` on the projection worker, at a figure
        size preset (screen, column, page) and, for PNG, `dpi` (default: the size's own)."""
        from nokenviz.core.figures.render import SceneData

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
            kinds=s.vocab.kinds,
            matched=s.matched,
            change=s.change,
            moved=s.moved,
        )
        fn = work.export(s.to_scene(), data, path, size, dpi)
        self._submit("export", f"export {figure}", fn, runner="projection", needs_model=False)

    def _on_generate(self, run: GenerationResult) -> set[Part]:
        s = self.session
        if s.output is None:
            return set()
        s.output.result = run
        s.history.append(run)
        return {"output"}

    def _keep_stopped_output(self, why: str) -> None:
        """A generation cut off by a model switch or a scene: the text it had streamed goes
        into the history (marked stopped) and the user is told why, so no run vanishes."""
        from nokenviz.api.requests import GenerateRequest
        from nokenviz.api.results import GenerationResult
        from nokenviz.errors import NokenvizError

        s, output = self.session, self.session.output
        if "generate" not in s.running or output is None or output.result is not None:
            return
        if output.part is None or s.vocab is None:
            return
        try:
            request = GenerateRequest.from_part(output.part, output.mode == "soft").to_json()
        except NokenvizError:  # it ran, so it parsed: only a changed parser could refuse it
            request = {"prompt": output.prompt}
        stopped = GenerationResult(
            model=s.vocab.info["model"],
            request=request,
            tokens=[],
            text=output.streamed,
            token_ids=[],
            tokens_per_second=0.0,
            stopped=True,
            soft=output.mode == "soft",
        )
        s.history.append(stopped)
        s.output = None
        s.message = f"generation stopped: {why} (its text so far is in the history)"
        self._notify("output", "message")

    def _on_export(self, path: str) -> set[Part]:
        s = self.session
        size = Path(path).stat().st_size / 1e6
        s.message, s.exported = f"wrote {path} ({size:.2f} MB)", path
        return {"message", "exported"}
