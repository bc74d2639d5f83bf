"""The worker thread without a model: every job ends exactly once, in the GUI thread, as
returned, errored or stopped; cancel works queued and running; stale jobs never run."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

pytest.importorskip("pytestqt")

from nokenviz.errors import NokenvizError
from nokenviz.gui.worker import Worker
from nokenviz.state.job import Errored, Job, Returned, Stopped


class Sink:
    """Records what the controller would hear, and in which thread."""

    def __init__(self) -> None:
        self.ended: list[tuple[Job, Any]] = []
        self.started: list[Job] = []
        self.partials: list[Any] = []
        self.threads: set[threading.Thread] = set()

    def job_started(self, job: Job) -> None:
        self.started.append(job)

    def job_progress(self, job: Job, fraction: float, message: str) -> None:
        self.threads.add(threading.current_thread())

    def job_partial(self, job: Job, value: Any) -> None:
        self.partials.append(value)

    def job_ended(self, job: Job, outcome: Any) -> None:
        self.threads.add(threading.current_thread())
        self.ended.append((job, outcome))

    def outcome(self, job: Job) -> Any:
        found = [outcome for ended, outcome in self.ended if ended is job]
        assert len(found) == 1, f"{job.title} ended {len(found)} times"
        return found[0]


@pytest.fixture
def worker(qtbot):
    sink = Sink()
    worker = Worker("test", sink)
    yield worker
    worker.stop()


def _wait_all(qtbot, worker: Worker) -> None:
    qtbot.waitUntil(lambda: not worker.busy, timeout=10_000)


def test_a_job_returns_with_progress_and_partials_in_the_gui_thread(qtbot, worker) -> None:
    def fn(_state, task) -> int:
        task.report(0.5, "half")
        task.partial("piece")
        return 42

    job = Job("x", "x", fn, needs_model=False)
    worker.submit(job)
    _wait_all(qtbot, worker)
    assert worker.sink.outcome(job) == Returned(42)
    assert worker.sink.partials == ["piece"] and worker.sink.started == [job]
    assert worker.sink.threads == {threading.main_thread()}


def test_cancelling_a_queued_job_means_it_never_runs(qtbot, worker) -> None:
    release, ran = threading.Event(), []
    first = Job("a", "blocking", lambda _s, _t: release.wait(10), needs_model=False)
    second = Job("b", "queued", lambda _s, _t: ran.append(1), needs_model=False)
    worker.submit(first)
    worker.submit(second)
    second.cancel()
    release.set()
    _wait_all(qtbot, worker)
    assert worker.sink.outcome(second) == Stopped() and not ran
    assert second not in worker.sink.started
    assert worker.sink.outcome(first) == Returned(True)


def test_cancelling_a_running_job_stops_it_between_steps(qtbot, worker) -> None:
    def loop(_state, task) -> None:
        while True:
            task.check()
            time.sleep(0.005)

    job = Job("loop", "loop", loop, needs_model=False)
    worker.submit(job)
    qtbot.waitUntil(lambda: job in worker.sink.started, timeout=5_000)
    job.cancel()  # a newer job replaces it, or the user stops it
    _wait_all(qtbot, worker)
    assert worker.sink.outcome(job) == Stopped() and job.started


def test_errors_are_one_message_and_bugs_are_named(qtbot, worker, capsys) -> None:
    def bad_input(_s, _t) -> None:
        raise NokenvizError("token text is several tokens")

    def bug(_s, _t) -> None:
        raise IndexError("index 2767 is out of bounds")

    jobs = [
        Job("a", "input", bad_input, needs_model=False),
        Job("b", "bug", bug, needs_model=False),
    ]
    for job in jobs:
        worker.submit(job)
    _wait_all(qtbot, worker)
    assert worker.sink.outcome(jobs[0]) == Errored("token text is several tokens")
    assert worker.sink.outcome(jobs[1]) == Errored(
        "internal error in bug: IndexError: index 2767 is out of bounds"
    )
    worker.submit(after := Job("c", "after", lambda _s, _t: "alive", needs_model=False))
    _wait_all(qtbot, worker)
    assert worker.sink.outcome(after) == Returned("alive")  # the thread survived both


def test_a_job_made_for_another_model_never_runs(qtbot, worker) -> None:
    """Queued behind a load, a job for the previous model is stopped, not run on the new one."""
    ran = []

    def load(state, _task) -> None:
        state.update(model="new", generation=2)

    stale = Job("neighbours", "neighbours", lambda s, t: ran.append(s["model"]), generation=1)
    fresh = Job("trace", "trace", lambda s, t: s["model"], generation=2)
    worker.runner.state.update(model="old", generation=1)
    worker.submit(Job("load", "load", load, needs_model=False))
    worker.submit(stale)
    worker.submit(fresh)
    _wait_all(qtbot, worker)
    assert worker.sink.outcome(stale) == Stopped() and not ran
    assert worker.sink.outcome(fresh) == Returned("new")
