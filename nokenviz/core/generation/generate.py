"""Text generation from `inputs_embeds`: decoding settings, streaming, cancel, soft feedback.

Generation goes through `model.generate` itself (its streamer and stopping-criteria hooks), so
noken prompts decode exactly like token prompts and at the same speed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, set_seed
from transformers.generation.streamers import BaseStreamer

from nokenviz.core.generation.decoding import logits_processors
from nokenviz.core.generation.injection import Injection, injected
from nokenviz.core.generation.rules import Rule, substituting
from nokenviz.core.generation.settings import DecodingSettings
from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.nokens.prompts import (
    PreparedInput,
    check_fits,
)
from nokenviz.errors import NokenvizError

OnToken = Callable[[int, str], None]  # (token id, text it added)


@dataclass
class Generation:
    text: str
    token_ids: list[int]
    cancelled: bool
    seconds: float
    # (index in token_ids whose input a rule replaced, the rule), in order
    substituted: list[tuple[int, str]] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return len(self.token_ids) / self.seconds if self.seconds > 0 else 0.0


class TokenStreamer(BaseStreamer):
    """Calls `on_token(id, new_text)` for every generated token.

    Written here rather than using `TextStreamer` because that one holds text back until a word
    ends; the GUI wants every token. Text is decoded cumulatively so multi-byte characters split
    over tokens come out whole.
    """

    def __init__(self, tokenizer: Any, on_token: OnToken) -> None:
        self.tokenizer = tokenizer
        self.on_token = on_token
        self.ids: list[int] = []
        self.emitted = 0
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate() first puts the prompt (empty for inputs_embeds)
            self.prompt_seen = True
            return
        for token_id in value.reshape(-1).tolist():
            self.ids.append(int(token_id))
            text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
            new = "" if text.endswith("\ufffd") else text[self.emitted :]
            self.emitted += len(new)
            self.on_token(int(token_id), new)

    def end(self) -> None:
        return None


class CancelCriteria(StoppingCriteria):
    """Stops `generate` between tokens once the event is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(
        self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any
    ) -> torch.Tensor:
        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )


def pad_token_id(loaded: LoadedModel) -> int | None:
    tokenizer = loaded.tokenizer
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


@torch.no_grad()
def generate(
    loaded: LoadedModel,
    prepared: PreparedInput,
    settings: DecodingSettings | None = None,
    on_token: OnToken | None = None,
    cancel: threading.Event | None = None,
    rules: Sequence[Rule] = (),
    injections: Sequence[Injection] = (),
) -> Generation:
    """Generate from a prepared prompt's embeddings; stream tokens; stop when `cancel` is set.

    `rules` swap the input after chosen tokens (`rules.py`); `injections` change the residual
    stream of prompt positions (`injection.py`). Both act inside `model.generate`."""
    loaded.require_causal("generation")
    settings = settings or DecodingSettings()
    check_fits(loaded, prepared, settings.max_new_tokens)
    if settings.seed is not None:
        set_seed(settings.seed)
    cancel = cancel or threading.Event()
    streamer = TokenStreamer(loaded.tokenizer, on_token) if on_token else None
    processors = logits_processors(
        settings, loaded.tokenizer, prepared.token_ids, loaded.vocab_size
    )
    start = time.perf_counter()
    with injected(loaded, prepared, injections) as ready, substituting(loaded, list(rules)) as done:
        output = loaded.model.generate(
            inputs_embeds=ready.embeds,
            attention_mask=torch.ones(
                ready.embeds.shape[:2], dtype=torch.long, device=ready.embeds.device
            ),
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([CancelCriteria(cancel)]),
            logits_processor=processors,
            **settings.generate_kwargs(pad_token_id(loaded)),
        )
    seconds = time.perf_counter() - start
    ids = [int(i) for i in output[0].tolist()]  # only new tokens: the prompt was embeddings
    text = loaded.tokenizer.decode(ids, skip_special_tokens=True)
    return Generation(text, ids, cancel.is_set(), seconds, done.steps)


def token_spans(tokenizer: Any, ids: list[int]) -> list[tuple[int, int]]:
    """Where each token's text starts and ends in `decode(ids)` (a token that only completes a
    character split over several tokens gets the span of that character)."""
    spans, previous = [], 0
    for end in range(1, len(ids) + 1):
        length = len(tokenizer.decode(ids[:end], skip_special_tokens=True).rstrip("\ufffd"))
        spans.append((min(previous, length), length))
        previous = length
    return spans


@dataclass
class SoftRun:
    """Soft feedback: the argmax "shadow" and the probability-weighted inputs it fed back."""

    shadow_ids: list[int]
    shadow_text: str
    vectors: torch.Tensor  # [steps, d_model] float32: the inputs appended at each step
    top_probs: list[float]  # probability of the argmax at each step
    cancelled: bool


@torch.no_grad()
def soft_feedback(
    loaded: LoadedModel,
    prepared: PreparedInput,
    steps: int = 20,
    temperature: float = 1.0,
    cancel: threading.Event | None = None,
    on_step: OnToken | None = None,
) -> SoftRun:
    """Feed back E^T softmax(logits / T) instead of a sampled token.

    T = 0 is the limit T -> 0: the distribution is one-hot on the argmax, so the input fed
    back is that token's embedding (greedy decoding through embeddings)."""
    loaded.require_causal("soft feedback")
    if temperature < 0:
        raise NokenvizError("soft feedback needs a temperature >= 0")
    check_fits(loaded, prepared, steps)
    w_e = loaded.adapter.W_E.detach()
    cancel = cancel or threading.Event()
    inputs, past = prepared.embeds, None
    shadow, vectors, top_probs = [], [], []
    for _ in range(steps):
        if cancel.is_set():
            break
        out = loaded.forward_cached(inputs, past)
        past = loaded.cache_of(out)
        logits = out.logits[0, -1].float()
        if temperature > 0:
            probs = torch.softmax(logits / temperature, dim=-1)
        else:
            probs = torch.nn.functional.one_hot(logits.argmax(), logits.numel()).float()
        vector = probs.to(w_e.dtype) @ w_e
        top = int(probs.argmax())
        shadow.append(top)
        top_probs.append(float(probs[top]))
        vectors.append(vector.float().cpu())
        if on_step is not None:
            on_step(top, loaded.token_strings[top])
        inputs = loaded.adapter.to_input(vector)[None, None]
    text = loaded.tokenizer.decode(shadow, skip_special_tokens=True)
    stacked = torch.stack(vectors) if vectors else torch.zeros(0, loaded.d_model)
    return SoftRun(shadow, text, stacked, top_probs, cancel.is_set())
