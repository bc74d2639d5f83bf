"""Patchscopes readouts: "what does this vector mean?", answered by the model in words.

The vector replaces the residual stream at a placeholder in an identity prompt
(`cat -> cat; ... ? ->`) and the model continues greedily: a model that has learnt to repeat
the left side says what it reads at the placeholder. The readout is the continuation up to the
first ';' or newline.

A trajectory is read layer by layer with the same target, so the target's positions before the
placeholder (which an injection there cannot change) are run once and their KV cache reused.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import StoppingCriteriaList, StopStringCriteria

from nokenviz.core.generation.generate import pad_token_id
from nokenviz.core.generation.injection import Injection, check_layer, check_vector, injected
from nokenviz.core.generation.settings import READOUT_TARGET
from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.nokens.prompts import (
    PreparedInput,
    check_fits,
    prepare_token_ids,
    special_prefix,
)
from nokenviz.core.task import Task
from nokenviz.errors import NokenvizError, PromptError

DEFAULT_TARGET = READOUT_TARGET  # the scene's default, so a new scene reads the same way
PLACEHOLDER = "?"
STOPS = (";", "\n")


@dataclass(frozen=True)
class Readout:
    """What the model said about a vector read at `layer`."""

    layer: int
    text: str  # the continuation up to the first ';' or newline, stripped
    token_ids: list[int]  # generated ids (generation stops once the text reaches a stop)


@dataclass(frozen=True)
class Target:
    """A target prompt ready for readouts: its embeddings and the placeholder's position."""

    prepared: PreparedInput
    placeholder: int


def prepare_target(loaded: LoadedModel, target: str = DEFAULT_TARGET) -> Target:
    """Tokenize the target after the special prefix; the placeholder is the token covering the
    target's last '?' (found with the fast tokenizer's offsets, so ' ?' or '?:' tokens work)."""
    spot = target.rfind(PLACEHOLDER)
    if spot < 0:
        raise PromptError(
            f"the readout target {target!r} has no '?' placeholder; put a '?' where the vector "
            "goes, e.g. 'cat -> cat; ? ->'"
        )
    tokenizer = loaded.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise NokenvizError("Patchscopes readouts need a fast tokenizer (tokenizer.json)")
    encoded = tokenizer(target, add_special_tokens=False, return_offsets_mapping=True)
    covering = [i for i, (a, b) in enumerate(encoded["offset_mapping"]) if a <= spot < b]
    prefix = special_prefix(tokenizer)
    prepared = prepare_token_ids(loaded, [*prefix, *encoded["input_ids"]])
    return Target(prepared, len(prefix) + covering[0])


def read_vector(
    loaded: LoadedModel,
    vector: torch.Tensor,
    layer: int,
    target: str = DEFAULT_TARGET,
    max_new_tokens: int = 6,
) -> Readout:
    """Read a vector in residual units at `layer` (0 = the input), written over the
    placeholder."""
    loaded.require_causal("the Patchscopes readout")
    check_layer(loaded, layer)
    return _Reader(loaded, target, max_new_tokens).read(vector, layer)


def read_noken(
    loaded: LoadedModel,
    vector_we: torch.Tensor,
    target: str = DEFAULT_TARGET,
    max_new_tokens: int = 6,
) -> Readout:
    """Read a noken (W_E units) at layer 0, where it enters like any input vector."""
    scaled = loaded.adapter.residual_units(vector_we)
    return read_vector(loaded, scaled, 0, target, max_new_tokens)


def read_trajectory(
    loaded: LoadedModel,
    raw: np.ndarray,
    target: str = DEFAULT_TARGET,
    max_new_tokens: int = 6,
    task: Task | None = None,
) -> list[Readout]:
    """Read a traced position's hidden states (`[L+1, d]`, lens layout, before the final norm),
    entry l at layer l; progress per layer, `Cancelled` when the task is cancelled.

    The last entry changes nothing downstream (the last block's output feeds only its own
    position's final norm), so its readout is the target's own continuation."""
    loaded.require_causal("the Patchscopes readout")
    task = task or Task(what="the Patchscopes readout")
    expected = (loaded.n_layers + 1, loaded.d_model)
    if raw.shape != expected:
        raise NokenvizError(
            f"a trajectory to read has shape {expected} for this model, not {raw.shape}"
        )
    reader = _Reader(loaded, target, max_new_tokens)
    states = torch.from_numpy(np.asarray(raw, dtype=np.float32))
    readouts = []
    for layer in range(len(states)):
        task.report(
            layer / len(states), f"reading layer {layer} ({layer + 1} of {len(states)} states)"
        )
        readouts.append(reader.read(states[layer], layer))
    task.report(1.0, "read")
    return readouts


class _Reader:
    """One target for any number of readouts; the KV cache of the positions before the
    placeholder is computed on first use and copied for each readout, and the stop criterion
    (which indexes the whole vocabulary) is built once."""

    def __init__(self, loaded: LoadedModel, target: str, max_new_tokens: int) -> None:
        if max_new_tokens < 1:
            raise NokenvizError("a readout needs max new tokens of at least 1")
        self.loaded = loaded
        self.target = prepare_target(loaded, target)
        self.max_new_tokens = max_new_tokens
        check_fits(loaded, self.target.prepared, max_new_tokens)
        self._prefix_cache: Any = None
        self.stops = StoppingCriteriaList([StopStringCriteria(loaded.tokenizer, list(STOPS))])

    def prefix_cache(self) -> Any:
        """The KV cache of the target before the placeholder (None if nothing precedes it)."""
        placeholder = self.target.placeholder
        if self._prefix_cache is None and placeholder > 0:
            before = self.target.prepared.embeds[:, :placeholder]
            self._prefix_cache = self.loaded.cache_of(self.loaded.forward_cached(before, None))
        return self._prefix_cache

    @torch.no_grad()
    def read(self, vector: torch.Tensor, layer: int) -> Readout:
        loaded = self.loaded
        check_vector(loaded, vector)
        device = loaded.adapter.W_E.device
        placeholder = self.target.placeholder
        injection = Injection(layer, placeholder, vector.float().to(device), "replace")
        cache = copy.deepcopy(self.prefix_cache())
        cached = placeholder if cache is not None else 0
        with injected(loaded, self.target.prepared, [injection], cached) as prepared:
            ids = self._generate(prepared.embeds, cache)
        text = loaded.tokenizer.decode(ids, skip_special_tokens=True)
        for stop in STOPS:
            text = text.split(stop, 1)[0]
        return Readout(layer, text.strip(), ids)

    def _generate(self, embeds: torch.Tensor, cache: Any) -> list[int]:
        loaded = self.loaded
        cache_kwargs = {loaded.cache_keyword: cache} if cache is not None else {}
        output = loaded.model.generate(
            inputs_embeds=embeds,
            attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device),
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            temperature=None,
            top_k=None,
            top_p=None,
            pad_token_id=pad_token_id(loaded),
            stopping_criteria=self.stops,
            **cache_kwargs,
        )
        return [int(i) for i in output[0].tolist()]
