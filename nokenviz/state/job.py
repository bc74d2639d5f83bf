"""A unit of work for a worker thread, and how it ends, without Qt.

A job is a plain function `fn(state, task) -> result` (Orange's TaskState style): `state` is
the dict its worker keeps between jobs (the model worker keeps the loaded model there, so only
that thread touches torch), `task` carries progress and cancel. Every job ends in exactly one
`Outcome`: returned, errored or cancelled. A model job made for one model generation never
runs on another: `execute` cancels it as stale instead.
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from nokenviz.core.scenes.scene import Scene
from nokenviz.core.task import Task
from nokenviz.errors import Cancelled, NokenvizError

JobFn = Callable[[dict[str, Any], Task], Any]
_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    """`kind` names the slot a job fills (one job per kind at a time); `generation` is the
    model generation it was made for, and a job that `needs_model` runs only on that model;
    a load job's `target` is the generation its model becomes, and `scene` what to restore
    once it is there."""

    kind: str
    title: str
    fn: JobFn
    generation: int = 0
    needs_model: bool = True
    target: int = 0
    spec: str = ""  # a load's model spec
    scene: Scene | None = None
    task: Task = field(default_factory=Task)
    id: int = field(default_factory=lambda: next(_ids))
    # Set by the worker thread as it takes the job, before it looks at the cancel flag; the
    # GUI thread cancels first and reads this after: one of them always sees the other.
    started: bool = False

    def cancel(self) -> None:
        self.task.cancel()


@dataclass(frozen=True)
class Returned:
    value: Any


@dataclass(frozen=True)
class Errored:
    message: str


@dataclass(frozen=True)
class Stopped:
    """Cancelled before or while running (by the user, a newer job or a model switch)."""


Outcome = Returned | Errored | Stopped


def execute(job: Job, state: dict[str, Any], on_start: Callable[[], None] | None = None) -> Outcome:
    """Run `job` on a worker's `state`; never raises. Called in the worker's thread;
    `on_start` is called once the job is known to run."""
    job.started = True
    if job.task.cancelled or (job.needs_model and state.get("generation") != job.generation):
        return Stopped()
    if on_start is not None:
        on_start()
    remote = state.get("remote") if job.needs_model else None
    try:
        if remote is not None:  # a served model: the job runs on its server
            return Returned(remote.run(job.fn, job.task))
        return Returned(job.fn(state, job.task))
    except Cancelled:
        return Stopped()
    except NokenvizError as exc:
        return Errored(str(exc))
    except Exception as exc:  # a bug, not bad input: keep the app alive and say so
        traceback.print_exc()
        return Errored(f"internal error in {job.title}: {type(exc).__name__}: {exc}")


class Runner(Protocol):
    """Where the controller sends jobs: a worker thread in the app, a list in tests."""

    def submit(self, job: Job) -> None: ...
