"""The residual stream of the traced prompt: trace, lens, readouts and the length sweep's
choice of vector."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nokenviz.core.scenes.scene import TracePart
from nokenviz.state import work
from nokenviz.state.control.base import ControlBase
from nokenviz.state.session import Part

if TYPE_CHECKING:
    import numpy as np

    from nokenviz.core.generation.patchscope import Readout
    from nokenviz.core.residual.lens import Trace
    from nokenviz.core.residual.vector_length import LengthSweep


class TraceControl(ControlBase):
    def _trace_handlers(self) -> None:
        self.handlers.update(trace=self._on_trace, readouts=self._on_readouts)

    def set_trace_settings(self, part: TracePart) -> None:
        s = self.session
        changed: set[Part] = {"trace_settings"}
        if part.readout_target != s.trace_settings.readout_target:  # readouts of another target
            s.readouts = s.noken_readout = None
            changed.add("readout")
        if part.length_of != s.trace_settings.length_of:
            changed.add("length")
        s.trace_settings = part
        self._notify(*changed)
        if "readout" in changed and s.preview is not None:
            self._request_noken_readout()

    def preview_settled(self) -> None:
        """The noken has stopped changing (the composer waits for a pause in a drag): what is
        too slow for every drag step follows it now, the readout and, when plotted, the
        length sweep. On the model worker they would hold up the next preview."""
        if self.session.preview is None:
            return
        self._request_noken_readout()
        if self.session.trace_settings.length_of == "noken":
            self.request_noken_length()

    def set_length_of(self, what: str) -> None:
        """Plot the traced final residual's length sweep or the noken's (made if missing)."""
        s = self.session
        self.set_trace_settings(s.trace_settings.model_copy(update={"length_of": what}))
        if what == "noken" and s.noken_length is None:
            self.request_noken_length()

    def request_trace(self) -> None:
        s = self.session
        if s.disabled("trace"):
            return
        part = s.trace_settings
        if "readouts" in s.running:  # they would be of the trace this one replaces
            self._stop(s.running["readouts"])
        s.trace_asked = (part.prompt, part.position)
        self._submit("trace", "trace", work.trace(part.prompt, part.position))

    def request_readouts(self) -> None:
        """Read the traced position's hidden state at every layer (Patchscopes)."""
        s = self.session
        if s.disabled("readout") or s.trace is None:
            return
        target = s.trace_settings.readout_target
        self._submit("readouts", "Patchscopes readout", work.read_trajectory(s.trace.raw, target))

    def _on_trace(self, value: tuple[Trace, LengthSweep | str]) -> set[Part]:
        s = self.session
        (s.trace, s.trace_length), s.readouts = value, None
        s.traced = s.trace_asked
        if not s.selection:  # start the inspector on the model's prediction
            self.select([s.trace.entries[-1].top[0][0]])
        return {"trace", "readout", "length"}

    def _on_readouts(self, value: tuple[np.ndarray, list[Readout]]) -> set[Part]:
        s = self.session
        raw, readouts = value
        if s.trace is None or raw is not s.trace.raw:  # read for an older trace
            return set()
        s.readouts = readouts
        return {"readout"}
