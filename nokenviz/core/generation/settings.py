"""Generation settings: the one definition that the command line, the Python API, the panels
and scene files share (the decoding settings, and the readout's default identity prompt).

Torch-free, so a scene can be read before torch is imported. Each bad value gets one sentence
that names the control, as a `NokenvizError` (a scene file reports it as its decoding
settings').
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nokenviz.errors import NokenvizError

MAX_TOKENS = 4096
# Patchscopes: the identity prompt a vector is read in, at its last "?" (a few-shot "x -> x")
READOUT_TARGET = "cat -> cat; 1135 -> 1135; hello -> hello; ? ->"


class DecodingSettings(BaseModel):
    """Greedy unless a temperature > 0 is set; `seed` makes sampling reproducible.

    `repetition_penalty` > 1 divides the logits of tokens already in the prompt or the output
    (transformers' rule); `ban` lists texts the output may never contain (each is tokenized as
    written, so mind leading spaces; a text of several tokens bans that sequence)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    max_new_tokens: int = 30
    min_new_tokens: int = 0
    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    repetition_penalty: float = 1.0
    ban: tuple[str, ...] = Field((), strict=False)  # a list is fine too

    @model_validator(mode="after")
    def _check(self) -> DecodingSettings:
        """A `NokenvizError` (not a ValueError) leaves pydantic as it is: one sentence."""
        problem = _problem(self)
        if problem:
            raise NokenvizError(problem)
        return self

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def generate_kwargs(self, pad_token_id: int | None) -> dict[str, Any]:
        """The keyword arguments of transformers' `generate` that carry these settings."""
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "min_new_tokens": self.min_new_tokens,
            "do_sample": not self.greedy,
            "pad_token_id": pad_token_id,
            # a model's own generation_config may set these; ours come from `logits_processors`
            "repetition_penalty": None,
            "no_repeat_ngram_size": None,
        }
        if not self.greedy:
            kwargs.update(
                temperature=self.temperature, top_k=self.top_k or 0, top_p=self.top_p or 1.0
            )
        else:  # silence generation_config defaults meant for sampling
            kwargs.update(temperature=None, top_k=None, top_p=None)
        return kwargs

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _problem(s: DecodingSettings) -> str:
    """What is wrong with the settings, in the words of the controls ("" if nothing)."""
    checks = [
        (
            1 <= s.max_new_tokens <= MAX_TOKENS,
            f"max new tokens must be at least 1 and at most {MAX_TOKENS}",
        ),
        (
            0 <= s.min_new_tokens <= s.max_new_tokens,
            "min new tokens must be between 0 and max new tokens",
        ),
        (0 <= s.temperature <= 5, f"temperature must be 0 to 5, not {s.temperature}"),
        (s.top_k is None or s.top_k >= 1, f"top-k must be at least 1, not {s.top_k}"),
        (s.top_p is None or 0 < s.top_p <= 1, f"top-p must be in (0, 1], not {s.top_p}"),
        (s.seed is None or s.seed >= 0, f"the seed must be >= 0, not {s.seed}"),
        (
            0 < s.repetition_penalty <= 10 and math.isfinite(s.repetition_penalty),
            f"repetition penalty must be a positive number up to 10 (1 = off), not "
            f"{s.repetition_penalty}",
        ),
        (all(s.ban), "a banned text is empty; give the exact text, e.g. ' war'"),
    ]
    return next((message for ok, message in checks if not ok), "")
