"""P3: generation from nokens runs at >= 0.95x the tokens/s of `model.generate(input_ids)`.

Method: the app's window (offscreen Qt) on the default model, CPU: the Generate panel's default
prompt "{x} whippets are" with the 50/50 White/Black mix noken; its Generate button is clicked
and the clock stops when the panel has shown the finished run, so the time includes the
controller, the model worker, the streamed tokens crossing to the GUI thread and the panel's
text updates. Baseline: a job on
the same worker calling `model.generate(input_ids)` on "White whippets are", timed the same
way (submit to result shown). Both are greedy and produce exactly 64 new tokens (min = max).
One warm-up each, then 7 alternating repetitions; the ratio of the median tokens/s is judged.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

NEW_TOKENS = 64
REPEATS = 7
TARGET_RATIO = 0.95


def run() -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from nokenviz.gui.window import MainWindow
    from nokenviz.state.job import Job

    app = QApplication.instance() or QApplication([])

    def wait(done: Any) -> None:
        while not done():
            app.processEvents()
            time.sleep(0.001)

    window = MainWindow()
    window.show()
    window.load_model("default")
    session, panel = window.session, window.generate_panel
    wait(lambda: session.vocab is not None and not session.running)
    panel.compare.setChecked(False)
    panel.max_new.setValue(NEW_TOKENS)
    panel.min_new.setValue(NEW_TOKENS)

    def ours() -> float:
        start = time.perf_counter()
        panel.generate_button.click()
        wait(lambda: "generate" not in session.running)
        seconds = time.perf_counter() - start
        assert len(session.history[-1].token_ids) == NEW_TOKENS
        return NEW_TOKENS / seconds

    def baseline() -> float:
        job = Job("benchmark", "generate(input_ids)", _generate_from_ids, needs_model=False)
        start = time.perf_counter()
        window.model_worker.submit(job)
        wait(lambda: not window.model_worker.busy)
        seconds = time.perf_counter() - start
        assert generated == [NEW_TOKENS]
        generated.clear()
        return NEW_TOKENS / seconds

    ours(), baseline()  # warm-up
    ours_tps, base_tps = [], []
    for _ in range(REPEATS):
        ours_tps.append(ours())
        base_tps.append(baseline())
    window.close()
    ratio = statistics.median(ours_tps) / statistics.median(base_tps)
    return {
        "measured": {
            "panel_noken_tokens_per_s": round(statistics.median(ours_tps), 2),
            "generate_input_ids_tokens_per_s": round(statistics.median(base_tps), 2),
            "ratio": round(ratio, 3),
            "new_tokens": NEW_TOKENS,
            "repeats": REPEATS,
        },
        "target": {"ratio_at_least": TARGET_RATIO},
        "met": ratio >= TARGET_RATIO,
    }


generated: list[int] = []


def _generate_from_ids(state: dict[str, Any], _task: Any) -> None:
    """The baseline on the model worker: plain `model.generate(input_ids)`, greedy."""
    import torch

    loaded = state["model"]
    ids = loaded.tokenizer("White whippets are", return_tensors="pt").input_ids
    with torch.no_grad():
        out = loaded.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=NEW_TOKENS,
            min_new_tokens=NEW_TOKENS,
            pad_token_id=loaded.tokenizer.eos_token_id,
        )
    generated.append(out.shape[1] - ids.shape[1])
