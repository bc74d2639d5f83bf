"""The served model: one Ray actor that holds the loaded model and runs the jobs clients send.

A job is the same plain function the app's model worker runs, `job(state, task) -> result`:
the client ships it through Ray's authenticated channel and the actor runs it with that
client's own `state` (the loaded model, plus whatever the client's jobs keep between calls,
such as the composer's prefix cache). So serving is a transport: no operation is written twice.

Jobs on the model run one at a time (forward hooks of one run must never see another's);
`wait` and `cancel` run beside them, so progress and streamed pieces reach the client while a
job runs and Stop reaches the job that is running.
"""

from __future__ import annotations

import itertools
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nokenviz.core.task import Task
from nokenviz.errors import Cancelled, NokenvizError
from nokenviz.version import __version__

ACTOR_NAME = "nokenviz-model"
NAMESPACE = "nokenviz"
HEARTBEAT_SECONDS = 5.0  # how often a connected client pings the server
FORGET_SECONDS = 60.0  # a client silent this long has vanished: its state and jobs are dropped
StateJob = Callable[[dict[str, Any], Task], Any]


class Forgotten(NokenvizError):
    """This client is not (or no longer) known to the server: it fell silent for longer than
    `FORGET_SECONDS`, or the server restarted. Its link is over: the client connects again."""


@dataclass
class _Run:
    """One job's life on the server: what it streamed so far and how it ended."""

    client: str
    task: Task
    events: list[tuple[str, Any]] = field(default_factory=list)
    done: bool = False
    result: Any = None
    error: str | None = None
    cancelled: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition)

    def add(self, kind: str, value: Any) -> None:
        with self.changed:
            self.events.append((kind, value))
            self.changed.notify_all()


@dataclass(frozen=True)
class Progress:
    """What `wait` answers: the events since the client's last look, and the end if reached."""

    events: list[tuple[str, Any]]
    done: bool
    result: Any = None
    error: str | None = None
    cancelled: bool = False


def identity(loaded: Any) -> str:
    """What names the served weights for the client's vocabulary cache: the model's spec and
    description and a strided sample of its embedding, so a retrained checkpoint of the same
    name is not taken for the one cached."""
    import hashlib
    import json

    W_E = loaded.adapter.W_E
    sample = W_E[:: max(1, len(W_E) // 512)].detach().float().cpu().numpy()
    digest = hashlib.sha256(json.dumps(loaded.info(), sort_keys=True, default=str).encode())
    digest.update(sample.tobytes())
    return digest.hexdigest()[:24]


class ModelServer:
    """The actor's class (made a Ray actor by `serve`): the model, each client's state and the
    jobs under way. Every method is called by Ray, which checks the cluster token first."""

    def __init__(self, spec: str, options: Any) -> None:
        import os

        import torch

        from nokenviz.core.models.loading import load_model

        # Ray gives an actor one CPU thread (OMP_NUM_THREADS=1); the model is this node's work.
        affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every core
        torch.set_num_threads(len(affinity(0)) if affinity else os.cpu_count() or 1)

        self.loaded = load_model(spec, options, Task(what=f"loading {spec}"))
        self.identity = identity(self.loaded)
        self.model_lock = threading.Lock()
        self.clients: dict[str, dict[str, Any]] = {}
        self.last_seen: dict[str, float] = {}
        self.runs: dict[int, _Run] = {}
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        threading.Thread(target=self._forget_vanished, daemon=True).start()

    def hello(self, client: str, version: str) -> dict[str, Any]:
        """Check the client's nokenviz version, register it, and say what is served."""
        if version != __version__:
            raise NokenvizError(
                f"this client runs nokenviz {version} and the server nokenviz {__version__}: "
                "install the same version on both"
            )
        with self.lock:
            self.clients.setdefault(client, {"model": self.loaded, "generation": 0})
            self.last_seen[client] = time.monotonic()
        import ray

        return {
            "info": self.loaded.info(),
            "host": platform.node(),
            "identity": self.identity,
            "version": __version__,
            "ray": ray.__version__,
            "clients": len(self.clients),
        }

    def ping(self, client: str | None = None) -> float:
        """A round trip; from a client, also its heartbeat (it is still there)."""
        if client is not None:
            with self.lock:
                if client not in self.clients:
                    raise Forgotten("the server no longer knows this client")
                self.last_seen[client] = time.monotonic()
        return time.time()

    def forget_silent(self, now: float) -> list[str]:
        """A client whose process died (or whose laptop closed) never says `leave`: once its
        heartbeat has been silent for `FORGET_SECONDS`, it is left for it. Returns those."""
        with self.lock:
            silent = [c for c, t in self.last_seen.items() if now - t > FORGET_SECONDS]
        for client in silent:
            self.leave(client)
        return silent

    def _forget_vanished(self) -> None:
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            self.forget_silent(time.monotonic())

    def start(self, client: str, job: StateJob, timeout: float) -> tuple[int, Progress]:
        """Run `job` with `client`'s state on a thread of its own: its id for `wait`, and
        what `wait` would answer first (a short job's whole answer in one round trip)."""
        with self.lock:
            if client not in self.clients:
                raise Forgotten("the server no longer knows this client")
            run_id = next(self.ids)
            run = self.runs[run_id] = _Run(client, Task(what="the remote job"))
        run.task.progress = lambda fraction, message: run.add("progress", (fraction, message))
        run.task.on_partial = lambda value: run.add("partial", value)
        threading.Thread(target=self._run, args=(run_id, run, job), daemon=True).start()
        return run_id, self.wait(run_id, 0, timeout)

    def _run(self, run_id: int, run: _Run, job: StateJob) -> None:
        try:
            state = self.clients.get(run.client)
            if state is None:
                raise Forgotten("the server no longer knows this client")
            while not self.model_lock.acquire(timeout=0.1):
                run.task.check()  # cancelled while another client's job has the model
            try:
                result = job(state, run.task)
            finally:
                self.model_lock.release()
            end: dict[str, Any] = {"result": result}
        except Cancelled:
            end = {"cancelled": True}
        except NokenvizError as exc:
            end = {"error": str(exc)}
        except Exception as exc:  # a bug, not bad input: said to the client, the server lives
            end = {"error": f"internal error on the server: {type(exc).__name__}: {exc}"}
        with run.changed:
            run.result, run.error = end.get("result"), end.get("error")
            run.cancelled, run.done = bool(end.get("cancelled")), True
            run.changed.notify_all()
        with self.lock:
            if run.client not in self.clients:  # it left: nobody will collect this end
                self.runs.pop(run_id, None)

    def wait(self, run_id: int, seen: int, timeout: float) -> Progress:
        """The events after the first `seen`, as soon as there is one or the job ended (or
        `timeout` seconds passed). The ended job is forgotten once its end is handed over."""
        run = self.runs[run_id]
        with run.changed:
            run.changed.wait_for(lambda: run.done or len(run.events) > seen, timeout)
            answer = Progress(run.events[seen:], run.done, run.result, run.error, run.cancelled)
        if answer.done:
            with self.lock:
                self.runs.pop(run_id, None)
        return answer

    def cancel(self, client: str, run_id: int) -> None:
        """Stop one of `client`'s own jobs (another client's are never touched)."""
        run = self.runs.get(run_id)
        if run is not None and run.client == client:
            run.task.cancel()

    def leave(self, client: str) -> None:
        """A client closing: its jobs are stopped and its state dropped."""
        with self.lock:
            self.clients.pop(client, None)
            self.last_seen.pop(client, None)
            for run_id, run in list(self.runs.items()):
                if run.client == client:
                    run.task.cancel()  # a running one is dropped at its end, in `_run`
                    if run.done:
                        del self.runs[run_id]
