"""The composer: anchors and weights, the noken they define, and what follows it (preview,
readout, length sweep, inversion)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nokenviz.core.nokens.composer import composer_spec
from nokenviz.core.scenes.scene import ComposerPart
from nokenviz.state import work
from nokenviz.state.control.base import ControlBase
from nokenviz.state.session import Part

if TYPE_CHECKING:
    from nokenviz.core.generation.patchscope import Readout
    from nokenviz.core.nokens.inversion import Inversion
    from nokenviz.core.residual.vector_length import LengthSweep
    from nokenviz.state.work import NokenKey, PreviewResult


class ComposerControl(ControlBase):
    def _composer_handlers(self) -> None:
        self.handlers.update(
            preview=self._on_preview,
            length=self._on_length,
            readout=self._on_readout,
            invert=self._on_invert,
        )

    def set_composer(self, part: ComposerPart) -> None:
        s = self.session
        s.composer = part
        stale: set[Part] = {"composer"}  # a sweep or inversion of the noken before this change
        if s.noken_length is not None:
            s.noken_length = None
            stale.add("length")
        if s.inversion is not None:
            s.inversion = None
            stale.add("inversion")
        self._notify(*stale)  # (only what changed: this runs at every step of a drag)
        self.request_preview()

    def add_anchor(self) -> None:
        """The last selected token becomes an anchor; the blend starts on it."""
        s = self.session
        part = s.composer
        if not s.selection or s.selection[-1] in part.anchors:
            return
        anchors = (*part.anchors, s.selection[-1])
        weights = tuple(float(w) for w in np.eye(len(anchors))[-1])
        self.set_composer(part.model_copy(update={"anchors": anchors, "weights": weights}))

    def clear_anchors(self) -> None:
        part = self.session.composer.model_copy(update={"anchors": (), "weights": ()})
        self.session.preview = None
        self._notify("preview")
        self.set_composer(part)

    def composer_spec(self) -> dict[str, Any] | None:
        s = self.session
        if s.vocab is None:
            return None
        selected = s.selection[-1] if s.selection else None
        return composer_spec(s.composer, s.vocab.stats["W_E"].median, selected)

    def request_preview(self) -> None:
        s = self.session
        spec = self.composer_spec()
        if spec is None and s.preview is not None:  # no noken now: the last one is not drawn
            self._drop_job("preview")
            s.preview = s.noken_readout = None
            self._notify("preview", "readout")
        if spec is None or s.disabled("preview"):
            return
        self._submit("preview", "preview", work.preview(s.composer.prompt, spec))

    def _request_noken_readout(self) -> None:
        s = self.session
        if s.preview is None:
            return
        target = s.trace_settings.readout_target
        fn = work.read_noken(s.preview.vector, target)
        self._submit("readout", "reading the noken", fn)

    def request_noken_length(self) -> None:
        """Scale the composer's noken in its prompt and plot the next-token distribution."""
        s = self.session
        spec = self.composer_spec()
        if spec is None or s.disabled("length"):
            return
        self._submit("length", "length sweep", work.length_noken(s.composer.prompt, spec))

    def request_inversion(self, length: int) -> None:
        """Search the hard tokens that predict most like the composer's noken (progress, Esc)."""
        s = self.session
        spec = self.composer_spec()
        if spec is None or s.disabled("invert"):
            return
        s.inversion = None
        self._notify("inversion")
        self._submit("invert", "inversion", work.invert(s.composer.prompt, spec, length))

    def use_in_generate(self) -> None:
        import json

        spec = self.composer_spec()
        if spec is not None:
            line = f"x = {json.dumps(spec, ensure_ascii=False)}"
            prompt = self.session.composer.prompt
            self.set_generate(
                self.session.generate.model_copy(update={"prompt": prompt, "nokens": (line,)})
            )

    def _made_for_this_noken(self, key: NokenKey) -> bool:
        return key == (self.session.composer.prompt, self.composer_spec())

    def _on_preview(self, preview: PreviewResult) -> set[Part]:
        self.session.preview = preview
        return {"preview"}

    def _on_length(self, value: tuple[NokenKey, LengthSweep]) -> set[Part]:
        made_for, sweep = value
        if not self._made_for_this_noken(made_for):  # the noken changed since
            return set()
        self.session.noken_length = sweep
        return {"length"}

    def _on_readout(self, value: tuple[np.ndarray, Readout | str]) -> set[Part]:
        s = self.session
        read, readout = value
        if s.preview is None or read is not s.preview.vector:
            return set()
        s.noken_readout = readout
        return {"readout"}

    def _on_invert(self, value: tuple[NokenKey, Inversion]) -> set[Part]:
        s = self.session
        made_for, found = value
        if not self._made_for_this_noken(made_for):
            s.message = "the inversion was of the noken before your last change: run it again"
            return {"message"}
        s.inversion = found
        if found.cancelled:
            s.message = f"stopped the inversion: the best found so far (KL {found.kl:.3f})"
            return {"inversion", "message"}
        return {"inversion"}
