"""N7: noken inversion of a two-token slot on the default model finishes in <= 60 s on the CPU.

Method: the default model (SmolLM2-135M-Instruct, float32 on the CPU), the prompt
"{x} whippets are" with x the 50/50 White/Black mix, `invert_noken` with its defaults (length 2,
64 candidates per position, at most 30 steps) but its time limit raised to 600 s, so the
search ends on its own (no swap improves, or 30 steps) and the time judged is its natural
length, not the limit's. One run, after one model load and the vocabulary labels are built (the
app has them by then). Also reported: the KL from start to end, the tokens found, steps and
prompts evaluated. Baseline in the same run: what exact evaluation would cost without batching
and the prefix cache, `model(input_ids=...)` on each of 32 candidate hard prompts in turn,
against the search's own cost per evaluated prompt (which also includes its gradient passes).
The machine's load average is reported: other jobs on the same cores slow everything down.
"""

from __future__ import annotations

import os
import statistics
import time

PROMPT = "{x} whippets are"
NOKEN = {"mix": {" White": 0.5, " Black": 0.5}}
TARGET_S = 60.0
BASELINE_PROMPTS = 32


def run() -> dict:
    import torch

    from nokenviz.core.models.loading import load_model
    from nokenviz.core.nokens.inversion import invert_noken
    from nokenviz.core.nokens.specs import parse_noken

    loaded = load_model("default")
    vocabulary = len(loaded.token_labels)  # the labels are built when the app loads a model
    load_before = os.getloadavg()[0]
    result = invert_noken(loaded, PROMPT, {"x": parse_noken(NOKEN)}, "x", time_limit=600.0)
    load_after = os.getloadavg()[0]

    suffix = loaded.tokenizer.encode(" whippets are", add_special_tokens=False)
    plain = []
    with torch.no_grad():
        for token in range(1000, 1000 + BASELINE_PROMPTS):
            ids = torch.tensor([[token, *result.token_ids[1:], *suffix]])
            start = time.perf_counter()
            loaded.model(input_ids=ids, use_cache=False)
            plain.append(time.perf_counter() - start)
    per_prompt_ms = 1000 * result.seconds / max(result.evaluated, 1)
    measured = {
        "seconds": round(result.seconds, 1),
        "vocabulary": vocabulary,
        "kl_start": round(result.start_kl, 4),
        "kl_end": round(result.kl, 4),
        "tokens": result.labels,
        "text": result.text,
        "steps": result.steps,
        "evaluated": result.evaluated,
        "search_ms_per_evaluated_prompt": round(per_prompt_ms, 1),
        "plain_input_ids_ms_per_prompt": round(1000 * statistics.median(plain), 1),
        "load_average_before_after": [round(load_before, 2), round(load_after, 2)],
    }
    return {
        "measured": measured,
        "target": {"seconds_at_most": TARGET_S},
        "met": result.seconds <= TARGET_S,
    }
