"""Live preview of a noken while it is being composed (benchmark P2): its nearest tokens and the
next-token distribution of the prompt with the noken in its slot.

The tokens before the slot never change while the user drags, so they are run once and their
KV cache is kept; each preview runs only the slot and what follows it, then crops the cache
back to the prefix. Nearest tokens of a blend need no pass over the vocabulary either: its
direction lies in the span of its anchors, so its cosines are combinations of the anchors'
cosines, computed once per set of anchors.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from nokenviz.core.maps.geometry import Neighbour, row_norms
from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.models.tokens import resolve_token
from nokenviz.core.nokens.prompts import prepare_prompt
from nokenviz.core.nokens.specs import NokenSpec

_RESCORED = 32  # candidates beyond k rescored in float32 when the weights are not float32
# Kinds whose vector is a combination of the tokens they name (a norm only rescales it).
_SPANNED_KINDS = ("token", "mix", "lerp", "slerp")


@dataclass(frozen=True)
class Preview:
    nearest: list[Neighbour]  # by cosine against W_E
    next_tokens: list[tuple[int, float]]  # (token id, probability), most likely first


class NokenPreview:
    """Previews for one prompt and slot; call it with each new noken vector (W_E units)."""

    @torch.no_grad()
    def __init__(
        self,
        loaded: LoadedModel,
        prompt: str,
        slot: str,
        others: dict[str, NokenSpec] | None = None,
    ) -> None:
        loaded.require_causal("the preview")
        self.loaded = loaded
        self.prompt = prompt
        placeholder = torch.zeros(loaded.d_model)
        prepared = prepare_prompt(loaded, prompt, others, vectors={slot: placeholder})
        self.prefix_length = prepared.slot_positions[slot][0]
        self.suffix = prepared.embeds[:, self.prefix_length :].clone()
        self.offsets = [p - self.prefix_length for p in prepared.slot_positions[slot]]
        self.cache = DynamicCache(config=loaded.model.config)
        self.cache.activate_past_recording()  # sliding-window layers can then be cropped too
        if self.prefix_length:
            prefix = prepared.embeds[:, : self.prefix_length]
            loaded.forward_cached(prefix, self.cache)
        self.w_e = loaded.adapter.W_E.detach()  # the model's own weights: no copy
        self.inverse_norms = 1.0 / row_norms(self.w_e).clamp_min(1e-12)
        self._span: tuple[tuple[int, ...], torch.Tensor, torch.Tensor] | None = None

    @torch.no_grad()
    def __call__(self, vector: torch.Tensor, k: int = 10, span: tuple[int, ...] = ()) -> Preview:
        """`span`: token ids whose embeddings the vector is a combination of (`span_of`), if any."""
        adapter = self.loaded.adapter
        suffix = self.suffix.clone()
        suffix[0, self.offsets] = adapter.to_input(vector)
        try:
            # logits of the last position only: all a preview needs
            out = self.loaded.forward_cached(suffix, self.cache, logits_to_keep=1)
        finally:
            self.cache.crop(-suffix.shape[1])  # back to the prefix for the next preview
        probs = torch.softmax(out.logits[0, -1].float(), dim=-1)
        values, ids = torch.topk(probs, k)
        near_values, near_ids = self._nearest(vector.float(), span, k)
        return Preview(
            nearest=[
                Neighbour(int(i), float(v)) for v, i in zip(near_values, near_ids, strict=True)
            ],
            next_tokens=[(int(i), float(v)) for v, i in zip(values, ids, strict=True)],
        )

    def _nearest(
        self, vector: torch.Tensor, span: tuple[int, ...], k: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The k tokens of highest cosine. Products in bfloat16 are rounded (about 1e-3), so
        there a wider top is rescored in float32: the same tokens and scores as the inspector's
        float32 search."""
        cosines = self._cosines(vector, span)
        if self.w_e.dtype == torch.float32:
            return torch.topk(cosines, k)
        _, candidates = torch.topk(cosines, min(k + _RESCORED, len(cosines)))
        rows = self.w_e[candidates].float()
        exact = F.cosine_similarity(rows, vector.to(rows.device)[None], dim=1)
        values, order = torch.topk(exact, k)
        return values, candidates[order]

    def _cosines(self, vector: torch.Tensor, span: tuple[int, ...]) -> torch.Tensor:
        """Cosine of every token with `vector`; through the anchors' cosines when it is in their
        span (checked: a vector off the span falls back to the full product)."""
        vector = vector.to(self.w_e.device)
        length = torch.linalg.vector_norm(vector)
        if length == 0:
            return torch.zeros(self.w_e.shape[0], device=vector.device)
        if span:
            if self._span is None or self._span[0] != span:
                basis = self.w_e[list(span)].float()
                self._span = (span, basis, self._unit_products(basis.T))
            _, basis, anchor_cosines = self._span
            coefficients = torch.linalg.lstsq(basis.T, vector[:, None]).solution
            off_span = torch.linalg.vector_norm(basis.T @ coefficients - vector[:, None])
            if off_span <= 1e-5 * length:
                return (anchor_cosines @ coefficients)[:, 0] / length
        return self._unit_products(vector[:, None] / length)[:, 0]

    def _unit_products(self, columns: torch.Tensor) -> torch.Tensor:
        """Every token's unit direction times `columns` [d, n], in the weights' own dtype."""
        products = self.w_e @ columns.to(self.w_e.dtype)
        return products.float() * self.inverse_norms[:, None]


def span_of(spec: NokenSpec, loaded: LoadedModel) -> tuple[int, ...]:
    """Token ids whose embeddings `spec`'s vector is a combination of; () for other kinds."""
    if spec.kind not in _SPANNED_KINDS:
        return ()
    vocab = loaded.adapter.W_E.shape[0]
    return tuple(resolve_token(loaded.tokenizer, ref, vocab) for ref in spec.tokens)
