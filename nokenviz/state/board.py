"""The job board: the one place where jobs are submitted, superseded, stopped and ended.

Rules that make the window's old bugs impossible rather than patched:
- one job per kind in flight (`session.running`); a newer one supersedes the older;
- every job carries the model generation it was made for; a result for another generation is
  dropped, and a model job never runs on another model (`job.execute`);
- every job ends exactly once (returned, errored or stopped) and leaves `running` then, or
  at once when the user stops it before it started; controls derive from `running`.

What a job's result does to the session is not decided here: each feature registers, for its
kinds of job, a handler of the result (`handlers`) and, where needed, of a failure or a stop
(`failure_handlers`: what a job that did not return leaves behind).
"""

from __future__ import annotations

import gc
import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from nokenviz.state.job import Errored, Job, JobFn, Outcome, Returned, Runner
from nokenviz.state.session import Part, Session

Listener = Callable[[frozenset[Part]], None]
Handler = Callable[[Any], set[Part]]  # a current job's result into the session
# A job that failed or was stopped (and whether it was still the current one of its kind).
FailureHandler = Callable[[bool], set[Part]]
# Jobs that keep their result when the model changes (a figure the user asked for).
MODEL_FREE_KINDS = ("load", "export")


class JobBoard(ABC):
    def __init__(self, session: Session, model: Runner, projection: Runner) -> None:
        self.session = session
        self.runners = {"model": model, "projection": projection}
        self.listeners: list[Listener] = []
        self.handlers: dict[str, Handler] = {}
        self.failure_handlers: dict[str, FailureHandler] = {}
        self._generations = itertools.count(session.generation + 1)

    def listen(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def _notify(self, *parts: Part) -> None:
        changed = frozenset(parts)
        for listener in self.listeners:
            listener(changed)

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
            handler = self.handlers.get(job.kind)
            changed |= set() if handler is None else handler(outcome.value)
        elif isinstance(outcome, Errored):
            s.error = f"{job.title} failed: {outcome.message}"
            changed.add("error")
        else:
            said = f"cancelled {job.title}"
            if said not in s.message:  # a Cancel of every job said it, with what it left
                s.message = said
            changed.add("message")
        if not isinstance(outcome, Returned):
            changed |= self.after_failure(job, current)
        if job.kind == "load":
            # The replaced (or a cancelled, half-built) model may sit in reference cycles: free
            # its memory now, and here on the GUI thread. This collection used to run on the
            # worker, where it finalized dead Qt objects and deadlocked with painting (Python's
            # own automatic collections can still start on any thread, far less often).
            gc.collect()
        self._notify(*changed)

    @abstractmethod
    def _loaded(self, job: Job, vocab: Any) -> set[Part]:
        """A finished load: the session shows the new model (the models feature)."""

    def after_failure(self, job: Job, current: bool) -> set[Part]:
        """What a job that failed or was stopped leaves behind (nothing unless a feature says)."""
        handler = self.failure_handlers.get(job.kind)
        return set() if handler is None else handler(current)

    def cancel_all(self) -> None:
        """The user's Cancel (Esc): every job in flight stops."""
        jobs = list(self.session.running.values())
        if jobs:  # first, so that what a stop leaves behind can add to it
            self.session.message = "cancelled " + ", ".join(job.title for job in jobs)
            self._notify("message")
        for job in jobs:
            self._stop(job)
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
        if changed := self.after_failure(job, current=False):
            self._notify(*changed)
        return True

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
