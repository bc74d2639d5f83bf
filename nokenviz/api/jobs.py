"""Operations as jobs: `job(state, task) -> result`, the one shape of work that runs where the
model is, in this process (`state["model"]` is the loaded model) or on a server that serves it
(`nokenviz serve`, which runs the same function on its own copy of `state`).

A job streams through `task.partial` and stops on `task.cancel_event`; the caller's callbacks
stay on the caller's side (`streamed`), so a job holds nothing that cannot travel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from nokenviz.api import operations
from nokenviz.api.requests import GenerateRequest, SweepRequest
from nokenviz.api.results import GenerationResult, Sweep
from nokenviz.core.task import Task

T = TypeVar("T")
Job = Callable[[dict[str, Any], Task], T]


def call(operation: Callable[..., T], *args: Any) -> Job[T]:
    """The job `operation(model, *args)`."""

    def job(state: dict[str, Any], task: Task) -> T:
        return operation(state["model"], *args)

    return job


def call_with_task(operation: Callable[..., T], *args: Any) -> Job[T]:
    """The job `operation(model, *args, task)`, for operations with progress and cancel."""

    def job(state: dict[str, Any], task: Task) -> T:
        return operation(state["model"], *args, task)

    return job


def generate(request: GenerateRequest) -> Job[GenerationResult]:
    """A generation whose tokens stream as `(id, text)` partials."""

    def job(state: dict[str, Any], task: Task) -> GenerationResult:
        def on_token(token_id: int, text: str) -> None:
            task.partial((token_id, text))

        return operations.generate(state["model"], request, on_token, task.cancel_event)

    return job


def sweep(request: SweepRequest) -> Job[Sweep]:
    """A sweep whose rows stream as partials."""

    def job(state: dict[str, Any], task: Task) -> Sweep:
        return operations.sweep(state["model"], request, task.partial, task.cancel_event)

    return job


def streamed(on_item: Callable[..., None] | None, spread: bool = False) -> Callable[[Any], None]:
    """The caller's side of a stream: each partial handed to `on_item` (as arguments when
    `spread`); nothing when there is no `on_item`."""
    if on_item is None:
        return lambda item: None
    return (lambda item: on_item(*item)) if spread else on_item
