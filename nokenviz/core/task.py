"""Progress and cancel hooks that a worker thread drives, in the spirit of Orange's TaskState.

Core functions take an optional `Task`; the CLI passes none, the GUI passes one whose progress
callback emits a Qt signal and whose event the Cancel button sets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nokenviz.errors import Cancelled

ProgressFn = Callable[[float, str], None]


@dataclass
class Task:
    """Progress sink (fraction in [0, 1], message) plus a cancel flag checked between steps."""

    progress: ProgressFn | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    what: str = "the job"
    on_partial: Callable[[Any], None] | None = None  # streamed pieces of the result

    def partial(self, value: Any) -> None:
        """Hand a piece of the result over before the job ends (a generated token, a row)."""
        if self.on_partial is not None:
            self.on_partial(value)

    def report(self, fraction: float, message: str) -> None:
        self.check()
        if self.progress is not None:
            self.progress(min(max(fraction, 0.0), 1.0), message)

    def scaled(self, low: float, high: float) -> Task:
        """The same task seen as a stage: its 0..1 maps to low..high of this one's progress."""

        def progress(fraction: float, message: str) -> None:
            self.report(low + (high - low) * fraction, message)

        return Task(progress, self.cancel_event, self.what, self.on_partial)

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        """Raise `Cancelled` if the user asked to stop; call it between units of work."""
        if self.cancel_event.is_set():
            raise Cancelled(self.what)
