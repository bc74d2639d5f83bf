"""The logits processors of transformers that carry out the decoding settings.

A prompt given as embeddings has no token ids, so `generate` hands its logits processors only
the ids generated so far. A repetition penalty or a banned phrase should also see the prompt's
own tokens, as they do for a token prompt: `WithPromptTokens` puts the prompt's real token ids
(noken positions have none) in front of what the processor sees. The processors themselves are
transformers' own.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    NoBadWordsLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
)

from nokenviz.core.generation.settings import DecodingSettings
from nokenviz.core.models.token_labels import SPACE
from nokenviz.core.models.tokens import resolve_token
from nokenviz.errors import NokenvizError


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
