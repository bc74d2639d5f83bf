"""Decoding settings, and the logits processors of transformers that carry them out.

A prompt given as embeddings has no token ids, so `generate` hands its logits processors only
the ids generated so far. A repetition penalty or a banned phrase should also see the prompt's
own tokens, as they do for a token prompt: `WithPromptTokens` puts the prompt's real token ids
(noken positions have none) in front of what the processor sees. The processors themselves are
transformers' own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    NoBadWordsLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
)

from nokenviz.core.token_labels import SPACE
from nokenviz.core.tokens import resolve_token
from nokenviz.errors import NokenvizError


@dataclass(frozen=True)
class DecodingSettings:
    """Greedy unless a temperature > 0 is set; `seed` makes sampling reproducible.

    `repetition_penalty` > 1 divides the logits of tokens already in the prompt or the output
    (transformers' rule); `ban` lists texts the output may never contain (each is tokenized as
    written, so mind leading spaces; a text of several tokens bans that sequence)."""

    max_new_tokens: int = 30
    min_new_tokens: int = 0
    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    repetition_penalty: float = 1.0
    ban: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise NokenvizError("max new tokens must be at least 1")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise NokenvizError("min new tokens must be between 0 and max new tokens")
        if not self.temperature >= 0:
            raise NokenvizError(f"temperature must be >= 0, not {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise NokenvizError(f"top-k must be at least 1, not {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise NokenvizError(f"top-p must be in (0, 1], not {self.top_p}")
        if not 0 < self.repetition_penalty < float("inf"):
            raise NokenvizError(
                f"repetition penalty must be a positive number (1 = off), not "
                f"{self.repetition_penalty}"
            )
        if any(not text for text in self.ban):
            raise NokenvizError("a banned text is empty; give the exact text, e.g. ' war'")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def generate_kwargs(self, pad_token_id: int | None) -> dict[str, Any]:
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
        document = asdict(self)
        document["ban"] = list(self.ban)
        return document


class WithPromptTokens(LogitsProcessor):
    """Runs a transformers processor on the prompt's token ids followed by the generated ones."""

    def __init__(self, processor: LogitsProcessor, prompt_ids: list[int]) -> None:
        self.processor = processor
        self.prompt = torch.tensor([prompt_ids], dtype=torch.long)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        prompt = self.prompt.to(input_ids.device).expand(input_ids.shape[0], -1)
        return self.processor(torch.cat([prompt, input_ids], dim=1), scores)


def banned_sequences(tokenizer: Any, texts: tuple[str, ...], vocab_size: int) -> list[list[int]]:
    """Each banned text as the token ids it is written with (`␣` may stand for a space,
    `#123` for a token id). The end-of-text token cannot be banned (transformers would skip
    it without a word): min new tokens is the way to keep a text going."""
    sequences = []
    for text in texts:
        if text.startswith("#") and text[1:].isdigit():
            ids = [resolve_token(tokenizer, int(text[1:]), vocab_size)]
        else:
            ids = tokenizer.encode(text.replace(SPACE, " "), add_special_tokens=False)
        if not ids:
            raise NokenvizError(f"the banned text {text!r} is no token at all")
        if ids == [tokenizer.eos_token_id]:
            raise NokenvizError(
                f"{text!r} is the end-of-text token, which cannot be banned; set min new "
                "tokens to make the text longer"
            )
        sequences.append([int(i) for i in ids])
    return sequences


def logits_processors(
    settings: DecodingSettings, tokenizer: Any, prompt_ids: list[int | None], vocab_size: int
) -> LogitsProcessorList:
    """The repetition penalty and the bans, seeing the prompt's tokens (nokens have none)."""
    real = [int(i) for i in prompt_ids if i is not None]
    processors = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        processors.append(
            WithPromptTokens(RepetitionPenaltyLogitsProcessor(settings.repetition_penalty), real)
        )
    if settings.ban:
        banned = banned_sequences(tokenizer, settings.ban, vocab_size)
        processors.append(
            WithPromptTokens(NoBadWordsLogitsProcessor(banned, tokenizer.eos_token_id), real)
        )
    return processors
