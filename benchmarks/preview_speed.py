"""P2: a drag step of the noken composer — handle moved -> nearest tokens and next-token top-10
updated — in <= 50 ms (median), on the default model with a 32-token prompt.

Method: the app's window (offscreen Qt) with the default model; the composer's prompt below is
33 tokens with the noken slot {x} at position 29 (a blend being tuned inside a sentence), its
anchors ' White' and ' Black'. A scripted drag moves the composer's handle along the segment
between them in 60 steps. Each step is timed from the handle's move to the moment the preview
is back in the session and drawn (the weights, the `mix` spec the composer sends, the model
worker's preview with its cached prefix, the nearest-token and next-token tables and the noken
marker), one step at a time as a user's drag is. 5 warm-up steps, then the median of 60.
Baseline in the same run: what a preview costs without the cached prefix, a full forward pass
of the whole prompt with hidden states on the same worker (median of 20). The drag is also
measured with the model loaded in bfloat16 (reported, not judged); the target is judged on the
default (float32 on CPU). Machines differ (memory bandwidth above all): the ratio to the
full forward must hold on every machine; the 50 ms is judged on the faster kind, recognised by
its full forward of at most `FAST_FULL_FORWARD_MS`.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

PROMPT = (
    "In the old kennel by the river, the breeder kept two litters of racing dogs, and the "
    "champion of the season was a young {x} whippet"
)
TARGET_MS = 50.0
TARGET_RATIO = 0.55
FAST_FULL_FORWARD_MS = 110.0
STEPS, WARMUP = 60, 5


def _wait(app: Any, done: Any) -> None:
    while not done():
        app.processEvents()
        time.sleep(0.0005)


def _window(app: Any, dtype: str) -> Any:
    """The app's window with the default model loaded and the composer set up."""
    from nokenviz.core.models.model_spec import LoadOptions
    from nokenviz.gui.window import MainWindow

    window = MainWindow(LoadOptions(dtype=dtype))
    window.resize(1400, 900)
    window.show()
    window.load_model("default")
    _wait(app, lambda: window.session.vocab is not None and not window.session.running)
    controller, tokens = window.controller, window.session.vocab.tokens
    part = window.session.composer.model_copy(update={"prompt": PROMPT})
    controller.set_composer(part)
    for text in (" White", " Black"):
        controller.select([tokens.index(text)])
        controller.add_anchor()
    _wait(app, lambda: not window.session.running)
    return window


def _drag_ms(app: Any, window: Any) -> list[float]:
    session, handle = window.session, window.view.handle
    a, b = session.fitted.coords[list(session.composer.anchors)].astype(float)

    def step(t: float) -> float:
        x, y = a + (b - a) * t
        start = time.perf_counter()
        handle.setPos(float(x), float(y))  # as a drag does, through sigPositionChanged
        _wait(app, lambda: "preview" not in session.running)
        elapsed = (time.perf_counter() - start) * 1000
        assert session.preview is not None and "mix" in session.preview.spec
        assert window.composer.next_tokens.rowCount() == 10
        return elapsed

    for t in range(WARMUP):
        step(0.1 + 0.1 * t)
    return [step(i / (STEPS - 1)) for i in range(STEPS)]


def _full_forward_ms(app: Any, window: Any) -> list[float]:
    """The baseline, as a job on the same model worker."""
    from nokenviz.state.job import Job

    times: list[float] = []

    def forward(state: dict[str, Any], _task: Any) -> None:
        import torch

        from nokenviz.core.nokens.prompts import prepare_prompt
        from nokenviz.core.nokens.specs import parse_noken

        loaded = state["model"]
        full = prepare_prompt(loaded, PROMPT, {"x": parse_noken('{"token": " White"}')})
        with torch.no_grad():
            for _ in range(20):
                start = time.perf_counter()
                loaded.model(inputs_embeds=full.embeds, output_hidden_states=True)
                times.append((time.perf_counter() - start) * 1000)

    job = Job("benchmark", "full forward", forward, needs_model=False)
    window.model_worker.submit(job)
    _wait(app, lambda: not window.model_worker.busy)
    return times


def run() -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    window = _window(app, "bfloat16")
    bf16_steps = _drag_ms(app, window)
    window.close()
    window = _window(app, "auto")
    steps = _drag_ms(app, window)
    baseline = _full_forward_ms(app, window)
    preview = window.model_worker.runner.state["preview"]
    window.close()
    median, full = statistics.median(steps), statistics.median(baseline)
    ms_judged = full <= FAST_FULL_FORWARD_MS
    measured = {
        "prompt_tokens": preview.prefix_length + preview.suffix.shape[1],
        "slot_position": preview.prefix_length,
        "drag_step_median_ms": round(median, 2),
        "drag_step_p90_ms": round(sorted(steps)[int(0.9 * len(steps))], 2),
        "full_forward_with_hidden_states_ms": round(full, 2),
        "ratio_to_full_forward": round(median / full, 3),
        "ms_target_judged_on_this_machine": ms_judged,
        "bfloat16_drag_step_median_ms": round(statistics.median(bf16_steps), 2),
        "path": "handle moved -> composer mix spec -> model worker -> tables and marker drawn",
    }
    return {
        "measured": measured,
        "target": {
            "ratio_at_most": TARGET_RATIO,
            "drag_step_median_ms_at_most": TARGET_MS,
            "ms_judged_when_full_forward_ms_at_most": FAST_FULL_FORWARD_MS,
        },
        "met": median / full <= TARGET_RATIO and (median <= TARGET_MS or not ms_judged),
    }
