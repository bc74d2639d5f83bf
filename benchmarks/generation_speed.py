"""P3: generation from nokens runs at >= 0.95x the tokens/s of `model.generate(input_ids)`.

Method: the default model on the CPU; the prompt "{x} whippets are" with a 50/50 White/Black
mix noken, generated through `nokenviz.core.generation.generate` with a streaming callback (the
panel's path), against `model.generate(input_ids)` on "White whippets are" with the same greedy
settings. Both produce exactly 64 new tokens (min = max). One warm-up each, then 7 alternating
repetitions; the ratio of the median tokens/s is compared with the target.
"""

from __future__ import annotations

import statistics
import time

import torch

from nokenviz.core.generation import DecodingSettings, generate
from nokenviz.core.loading import load_model
from nokenviz.core.nokens import parse_noken
from nokenviz.core.prompts import prepare_prompt

NEW_TOKENS = 64
REPEATS = 7
TARGET_RATIO = 0.95


def run() -> dict:
    loaded = load_model("default")
    torch.set_grad_enabled(False)
    settings = DecodingSettings(max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS)
    mix = parse_noken('{"mix": {"White": 0.5, "Black": 0.5}}')
    prepared = prepare_prompt(loaded, "{x} whippets are", {"x": mix})
    ids = loaded.tokenizer("White whippets are", return_tensors="pt").input_ids

    def ours() -> float:
        streamed: list[str] = []
        result = generate(
            loaded, prepared, settings, on_token=lambda _i, text: streamed.append(text)
        )
        assert len(result.token_ids) == NEW_TOKENS
        return NEW_TOKENS / result.seconds

    def baseline() -> float:
        start = time.perf_counter()
        out = loaded.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=NEW_TOKENS,
            min_new_tokens=NEW_TOKENS,
            pad_token_id=2,
        )
        seconds = time.perf_counter() - start
        assert out.shape[1] - ids.shape[1] == NEW_TOKENS
        return NEW_TOKENS / seconds

    ours(), baseline()  # warm-up
    ours_tps, base_tps = [], []
    for _ in range(REPEATS):
        ours_tps.append(ours())
        base_tps.append(baseline())
    ratio = statistics.median(ours_tps) / statistics.median(base_tps)
    return {
        "measured": {
            "noken_tokens_per_s": round(statistics.median(ours_tps), 2),
            "generate_input_ids_tokens_per_s": round(statistics.median(base_tps), 2),
            "ratio": round(ratio, 3),
            "new_tokens": NEW_TOKENS,
            "repeats": REPEATS,
        },
        "target": {"ratio_at_least": TARGET_RATIO},
        "met": ratio >= TARGET_RATIO,
    }
