"""Text generation from `inputs_embeds`: decoding settings, streaming, cancel, soft feedback.

Generation goes through `model.generate` itself (its streamer and stopping-criteria hooks), so
noken prompts decode exactly like token prompts and at the same speed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, set_seed
from transformers.generation.streamers import BaseStreamer

from nokenviz.core.loading import LoadedModel
from nokenviz.core.nokens import NokenSpec
from nokenviz.core.prompts import (
    PreparedInput,
    baseline_replacements,
    check_fits,
    prepare_token_ids,
    prompt_token_ids,
)
from nokenviz.errors import NokenvizError

OnToken = Callable[[int, str], None]  # (token id, text it added)


@dataclass(frozen=True)
class DecodingSettings:
    """Greedy unless a temperature > 0 is set; `seed` makes sampling reproducible."""

    max_new_tokens: int = 30
    min_new_tokens: int = 0
    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None

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

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def generate_kwargs(self, pad_token_id: int | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "min_new_tokens": self.min_new_tokens,
            "do_sample": not self.greedy,
            "pad_token_id": pad_token_id,
        }
        if not self.greedy:
            kwargs.update(
                temperature=self.temperature, top_k=self.top_k or 0, top_p=self.top_p or 1.0
            )
        else:  # silence generation_config defaults meant for sampling
            kwargs.update(temperature=None, top_k=None, top_p=None)
        return kwargs

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Generation:
    text: str
    token_ids: list[int]
    cancelled: bool
    seconds: float

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
) -> Generation:
    """Generate from a prepared prompt's embeddings; stream tokens; stop when `cancel` is set."""
    loaded.require_causal("generation")
    settings = settings or DecodingSettings()
    check_fits(loaded, prepared, settings.max_new_tokens)
    if settings.seed is not None:
        set_seed(settings.seed)
    cancel = cancel or threading.Event()
    streamer = TokenStreamer(loaded.tokenizer, on_token) if on_token else None
    start = time.perf_counter()
    output = loaded.model.generate(
        inputs_embeds=prepared.embeds,
        attention_mask=torch.ones(
            prepared.embeds.shape[:2], dtype=torch.long, device=prepared.embeds.device
        ),
        streamer=streamer,
        stopping_criteria=StoppingCriteriaList([CancelCriteria(cancel)]),
        **settings.generate_kwargs(pad_token_id(loaded)),
    )
    seconds = time.perf_counter() - start
    ids = [int(i) for i in output[0].tolist()]  # only new tokens: the prompt was embeddings
    text = loaded.tokenizer.decode(ids, skip_special_tokens=True)
    return Generation(text, ids, cancel.is_set(), seconds)


def generate_baseline(
    loaded: LoadedModel,
    prompt: str,
    nokens: dict[str, NokenSpec],
    settings: DecodingSettings | None = None,
    cancel: threading.Event | None = None,
) -> Generation | None:
    """The same prompt with each noken replaced by the plain token it names (`--compare`);
    None when a noken names no token (random, raw vector)."""
    replacements = baseline_replacements(loaded, nokens)
    if replacements is None:
        return None
    ids = prompt_token_ids(loaded, prompt, replacements)
    return generate(loaded, prepare_token_ids(loaded, ids), settings, cancel=cancel)


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
    """Feed back E^T softmax(logits / T) instead of a sampled token (seed 002, question 2).

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
        past = out.past_key_values
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
