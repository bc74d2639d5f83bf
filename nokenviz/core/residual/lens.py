"""The residual stream layer by layer: hidden states, norms, logit lens and attention.

Entry 0 is the embedding output and entry L the last layer's output *before* the final norm
(captured with a hook, so the norm-growth curve has no jump at the end). The logit lens applies
the final norm and the unembedding to every entry; for entry L that is exactly what the model
does, so its top-1 is the model's own prediction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

import numpy as np
import torch

from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.nokens.prompts import PreparedInput

_LOGITS_PER_CHUNK = 2**24  # float32 logits per chunk of unembedded rows: 64 MB


@dataclass
class ResidualStream:
    """Hidden states of one prompt at every layer and position, plus the model's own logits."""

    labels: list[str]
    raw: torch.Tensor  # [L+1, T, d_model] float32 on CPU, before the final norm
    final_logits: torch.Tensor  # [T, vocab] float32 on CPU
    attention: np.ndarray | None = None  # [layers, heads, query, key] when asked for

    @property
    def n_entries(self) -> int:
        return int(self.raw.shape[0])

    def position_index(self, position: int) -> int:
        length = self.raw.shape[1]
        if not -length <= position < length:
            raise IndexError(f"position {position} is outside the prompt (0..{length - 1})")
        return position % length

    def norms(self) -> np.ndarray:
        """Norm of the raw hidden state, [L+1, T]: how it grows, per position."""
        return torch.linalg.vector_norm(self.raw, dim=-1).numpy()


@dataclass(frozen=True)
class LensEntry:
    layer: int
    norm: float
    top: list[tuple[int, float]]  # (token id, probability)
    final_rank: int  # rank of the model's final prediction at this layer (0 = top)


@torch.no_grad()
def residual_stream(
    loaded: LoadedModel, prepared: PreparedInput, with_attention: bool = False
) -> ResidualStream:
    """One forward pass with hidden states; the final norm's input is captured by a hook.

    `with_attention` runs that same pass with the eager attention implementation (fused
    kernels return no weights) and keeps the weights, so a trace needs one pass, not two.
    """
    loaded.require_causal("the logit lens")
    captured: list[torch.Tensor] = []
    norm = loaded.adapter.final_norm
    handle = (
        norm.register_forward_pre_hook(lambda _m, args: captured.append(args[0].detach()))
        if norm is not None
        else None
    )
    model = loaded.model
    previous = model.config._attn_implementation
    if with_attention:
        model.set_attn_implementation("eager")
    try:
        out = model(
            inputs_embeds=prepared.embeds,
            output_hidden_states=True,
            output_attentions=with_attention,
            use_cache=False,
        )
    finally:
        if handle is not None:
            handle.remove()
        if with_attention:
            model.set_attn_implementation(previous)
    states = [h[0].float().cpu() for h in out.hidden_states]
    if captured:
        states[-1] = captured[-1][0].float().cpu()
    weights = (
        torch.stack([a[0].float().cpu() for a in out.attentions]).numpy()
        if with_attention
        else None
    )
    return ResidualStream(
        prepared.labels, torch.stack(states), out.logits[0].float().cpu(), weights
    )


@torch.no_grad()
def lens_space(loaded: LoadedModel, stream: ResidualStream, position: int) -> torch.Tensor:
    """The chosen position's trajectory after the final norm, [L+1, d]: what W_U sees."""
    index = stream.position_index(position)
    raw = stream.raw[:, index].to(device=loaded.device, dtype=loaded.dtype)
    return loaded.adapter.to_lens_space(raw).float().cpu()


@torch.no_grad()
def _lens_logits(loaded: LoadedModel, entries: torch.Tensor) -> Iterator[torch.Tensor]:
    """Logits of raw entries [n, d] (final norm and unembedding applied), in float32 chunks of
    rows: each chunk is one pass over W_U, which dominates at a lab model's vocabulary (a 256k
    x 2304 unembedding is 1.2 GB read per pass, whatever the number of rows)."""
    rows = max(1, _LOGITS_PER_CHUNK // loaded.vocab_size)
    adapter = loaded.adapter
    for chunk in entries.split(rows):
        hidden = chunk.to(device=loaded.device, dtype=loaded.dtype)
        yield adapter.unembed(adapter.to_lens_space(hidden)).float().cpu()


def logit_lens(
    loaded: LoadedModel, stream: ResidualStream, position: int = -1, k: int = 5
) -> list[LensEntry]:
    """Top-k tokens with probabilities at every layer for one position, and the final's rank;
    the last entry uses the model's own logits."""
    index = stream.position_index(position)
    norms = stream.norms()[:, index]
    final = stream.final_logits[index]
    prediction = int(final.argmax())
    layers = [*_lens_logits(loaded, stream.raw[:-1, index]), final[None]]
    entries = []
    for layer, logits in enumerate(torch.cat(layers)):
        probs = torch.softmax(logits, dim=-1)
        values, ids = torch.topk(probs, k)
        rank = int((logits > logits[prediction]).sum())
        top = [(int(i), float(v)) for v, i in zip(values, ids, strict=True)]
        entries.append(LensEntry(layer, float(norms[layer]), top, rank))
    return entries


def lens_heatmap(loaded: LoadedModel, stream: ResidualStream) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 token id and its probability at every (layer, position): two [L+1, T] arrays."""
    layers, length, d = stream.raw.shape
    chunks = chain(_lens_logits(loaded, stream.raw[:-1].reshape(-1, d)), [stream.final_logits])
    best = [torch.softmax(logits, dim=-1).max(dim=-1) for logits in chunks]  # one chunk at a time
    probs = torch.cat([b.values for b in best]).reshape(layers, length)
    ids = torch.cat([b.indices for b in best]).reshape(layers, length)
    return ids.numpy().astype(np.int64), probs.numpy().astype(np.float32)


def attention(loaded: LoadedModel, prepared: PreparedInput) -> np.ndarray:
    """Attention weights [layers, heads, query, key] of a prompt."""
    weights = residual_stream(loaded, prepared, with_attention=True).attention
    assert weights is not None
    return weights


GUIDING_LAYERS = 4  # the last layers whose heads are averaged for the guiding tokens


def guiding_layers(weights: np.ndarray) -> str:
    """What the guiding tokens average, said as it is ("last 4 layers", "both layers")."""
    count = min(GUIDING_LAYERS, len(weights))
    if count == len(weights):
        return {1: "the one layer", 2: "both layers"}.get(count, f"all {count} layers")
    return f"last {count} layers"


def guiding_tokens(
    weights: np.ndarray, position: int = -1, last_layers: int = GUIDING_LAYERS
) -> np.ndarray:
    """How much the query at `position` attends to each key, averaged over the last layers'
    heads (the "guiding tokens"); one weight per key position."""
    return weights[-last_layers:, :, position, :].mean(axis=(0, 1))


@dataclass
class Trace:
    """Everything the residual-stream views draw for one prompt, as plain arrays."""

    labels: list[str]
    position: int
    raw: np.ndarray  # [L+1, d] the position's hidden state per layer, before the final norm
    lens: np.ndarray  # [L+1, d] the same after the final norm (what W_U sees)
    entries: list[LensEntry]
    norms: np.ndarray  # [L+1, T]
    heat_ids: np.ndarray  # [L+1, T] logit-lens top-1 per layer and position
    heat_probs: np.ndarray  # [L+1, T]
    attention: np.ndarray  # [L, heads, T, T]

    def guiding(self) -> np.ndarray:
        """Attention of the traced position to each key, last layers' heads averaged."""
        return guiding_tokens(self.attention, self.position)


def trace_prompt(
    loaded: LoadedModel, prepared: PreparedInput, position: int = -1, k: int = 5
) -> Trace:
    """Residual stream, logit lens (at `position` and as a heatmap) and attention of a prompt."""
    stream = residual_stream(loaded, prepared, with_attention=True)
    index = stream.position_index(position)
    heat_ids, heat_probs = lens_heatmap(loaded, stream)
    assert stream.attention is not None  # asked for above
    return Trace(
        labels=prepared.labels,
        position=index,
        raw=stream.raw[:, index].numpy(),
        lens=lens_space(loaded, stream, index).numpy(),
        entries=logit_lens(loaded, stream, index, k),
        norms=stream.norms(),
        heat_ids=heat_ids,
        heat_probs=heat_probs,
        attention=stream.attention,
    )
