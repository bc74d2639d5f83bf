"""A long-lived worker thread that runs jobs one at a time and relays how they go.

The thread runs `state.job.execute`; Qt only carries jobs in (a queued signal is the queue)
and started / progress / partial / ended back to the GUI thread, where the `JobSink` (the
controller) hears them. Every job submitted ends exactly once.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import QObject, QThread, Signal, Slot

from nokenviz.state.job import Job, Outcome, execute


class JobSink(Protocol):
    def job_started(self, job: Job) -> None: ...
    def job_progress(self, job: Job, fraction: float, message: str) -> None: ...
    def job_partial(self, job: Job, value: Any) -> None: ...
    def job_ended(self, job: Job, outcome: Outcome) -> None: ...


class _Runner(QObject):
    """Lives in the worker thread; `run` executes there because it is invoked by a signal."""

    started = Signal(object)  # Job
    progress = Signal(object, float, str)  # Job, fraction, message
    partial = Signal(object, object)  # Job, a piece of the result
    ended = Signal(object, object)  # Job, Outcome

    def __init__(self) -> None:
        super().__init__()
        self.state: dict[str, Any] = {}

    @Slot(object)
    def run(self, job: Job) -> None:
        job.task.progress = lambda fraction, message: self.progress.emit(job, fraction, message)
        job.task.on_partial = lambda value: self.partial.emit(job, value)
        try:
            outcome = execute(job, self.state, lambda: self.started.emit(job))
        finally:
            # Both refer to the job: left in place, the job (and what its function holds, a
            # model's weights) would wait for a garbage collection instead of going at once.
            job.task.progress = job.task.on_partial = None
        self.ended.emit(job, outcome)


class Worker(QObject):
    """A thread plus a job queue; `sink` hears every job's progress and end in the GUI thread."""

    submit_job = Signal(object)

    def __init__(self, name: str, sink: JobSink | None = None) -> None:
        super().__init__()
        self.sink = sink
        self.qthread = QThread()
        self.qthread.setObjectName(name)
        self.runner = _Runner()
        self.runner.moveToThread(self.qthread)
        self.submit_job.connect(self.runner.run)
        # Methods of this object (which lives in the GUI thread): queued there, never direct.
        self.runner.started.connect(self._started)
        self.runner.progress.connect(self._progress)
        self.runner.partial.connect(self._partial)
        self.runner.ended.connect(self._ended)
        self.in_flight: set[Job] = set()
        self.qthread.start()

    def submit(self, job: Job) -> None:
        self.in_flight.add(job)
        self.submit_job.emit(job)

    @property
    def busy(self) -> bool:
        return bool(self.in_flight)

    def stop(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything and end the thread; False if a job would not stop in time."""
        for job in self.in_flight:
            job.cancel()
        self.qthread.quit()
        return self.qthread.wait(timeout_ms)

    def _started(self, job: Job) -> None:
        if self.sink is not None:
            self.sink.job_started(job)

    def _progress(self, job: Job, fraction: float, message: str) -> None:
        if self.sink is not None:
            self.sink.job_progress(job, fraction, message)

    def _partial(self, job: Job, value: object) -> None:
        if self.sink is not None:
            self.sink.job_partial(job, value)

    def _ended(self, job: Job, outcome: Outcome) -> None:
        self.in_flight.discard(job)
        if self.sink is not None:
            self.sink.job_ended(job, outcome)
