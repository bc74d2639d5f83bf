"""Long-lived worker threads that run jobs one at a time, napari/superqt style.

A job is a plain function `fn(state, task) -> result`; `state` is a dict the worker keeps
between jobs (the model worker keeps the loaded model there, so only its thread touches
torch: MPS crashes when two threads use it). Qt only relays progress, results and errors.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from nokenviz.core.task import Task
from nokenviz.errors import Cancelled, NokenvizError

JobFn = Callable[[dict[str, Any], Task], Any]


@dataclass
class Job:
    name: str
    fn: JobFn
    task: Task = field(default_factory=Task)
    on_result: Callable[[Any], None] | None = None
    on_partial: Callable[[Any], None] | None = None
    superseded: bool = False  # cancelled because a newer job of the same name replaced it


class _Runner(QObject):
    """Lives in the worker thread; `run` executes there because it is invoked by a signal."""

    started = Signal(object)  # Job
    progress = Signal(object, float, str)  # Job, fraction, message
    partial = Signal(object, object)  # Job, a piece of the result
    returned = Signal(object, object)  # Job, result
    errored = Signal(object, str)  # Job, message
    cancelled = Signal(object)  # Job

    def __init__(self) -> None:
        super().__init__()
        self.state: dict[str, Any] = {}

    @Slot(object)
    def run(self, job: Job) -> None:
        if job.task.cancelled:
            self.cancelled.emit(job)
            return
        self.started.emit(job)
        job.task.progress = lambda fraction, message: self.progress.emit(job, fraction, message)
        job.task.on_partial = lambda value: self.partial.emit(job, value)
        try:
            result = job.fn(self.state, job.task)
        except Cancelled:
            self.cancelled.emit(job)
        except NokenvizError as exc:
            self.errored.emit(job, str(exc))
        except Exception as exc:  # a bug, not bad input: keep the app alive and say so
            traceback.print_exc()
            self.errored.emit(job, f"internal error in {job.name}: {type(exc).__name__}: {exc}")
        else:
            self.returned.emit(job, result)


class Worker(QObject):
    """A thread plus a job queue (Qt's queued signal connection is the queue)."""

    submit_job = Signal(object)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.thread = QThread()
        self.thread.setObjectName(name)
        self.runner = _Runner()
        self.runner.moveToThread(self.thread)
        self.submit_job.connect(self.runner.run)
        self.runner.returned.connect(self._deliver)
        self.runner.partial.connect(self._deliver_partial)
        self.runner.started.connect(self._track)
        for signal in (self.runner.returned, self.runner.errored, self.runner.cancelled):
            signal.connect(self._untrack)
        self.current: Job | None = None
        self.pending: list[Job] = []
        self.thread.start()

    def submit(
        self,
        name: str,
        fn: JobFn,
        on_result: Callable[[Any], None] | None = None,
        on_partial: Callable[[Any], None] | None = None,
    ) -> Job:
        job = Job(name, fn, on_result=on_result, on_partial=on_partial)
        self.pending.append(job)
        self.submit_job.emit(job)
        return job

    def cancel(self) -> None:
        """Cancel the running and queued jobs (the user asked)."""
        for job in [self.current, *self.pending]:
            if job is not None:
                job.task.cancel()

    def supersede(self, name: str) -> None:
        """Cancel earlier jobs called `name` because a newer one replaces them (not the user)."""
        for job in [self.current, *self.pending]:
            if job is not None and job.name == name:
                job.superseded = True
                job.task.cancel()

    @property
    def busy(self) -> bool:
        return self.current is not None or bool(self.pending)

    def stop(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything and end the thread; False if a job would not stop in time."""
        self.cancel()
        self.thread.quit()
        return self.thread.wait(timeout_ms)

    def _track(self, job: Job) -> None:
        self.current = job
        if job in self.pending:
            self.pending.remove(job)

    def _untrack(self, job: Job, *_: object) -> None:
        if self.current is job:
            self.current = None
        if job in self.pending:
            self.pending.remove(job)

    def _deliver(self, job: Job, result: object) -> None:
        # A job stopped by the user may still return what it has (a stopped generation);
        # one replaced by a newer job is stale and dropped.
        if job.on_result is not None and not job.superseded:
            job.on_result(result)

    def _deliver_partial(self, job: Job, value: object) -> None:
        if job.on_partial is not None and not job.superseded:
            job.on_partial(value)
