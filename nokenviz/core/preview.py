"""Live preview of a noken while it is being composed (N3, P2): its nearest tokens and the
next-token distribution of the prompt with the noken in its slot.

The tokens before the slot never change while the user drags, so they are run once and their
KV cache is kept; each preview runs only the slot and what follows it, then crops the cache
back to the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from nokenviz.core.geometry import Neighbour
from nokenviz.core.loading import LoadedModel
from nokenviz.core.nokens import NokenSpec
from nokenviz.core.prompts import prepare_prompt


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
            loaded.model(inputs_embeds=prefix, past_key_values=self.cache, use_cache=True)
        self.unit_vocabulary = F.normalize(loaded.adapter.W_E.detach().float(), dim=1)

    @torch.no_grad()
    def __call__(self, vector: torch.Tensor, k: int = 10) -> Preview:
        adapter = self.loaded.adapter
        suffix = self.suffix.clone()
        suffix[0, self.offsets] = adapter.to_input(vector)
        try:
            out = self.loaded.model(  # logits of the last position only: all a preview needs
                inputs_embeds=suffix, past_key_values=self.cache, use_cache=True, logits_to_keep=1
            )
        finally:
            self.cache.crop(-suffix.shape[1])  # back to the prefix for the next preview
        probs = torch.softmax(out.logits[0, -1].float(), dim=-1)
        values, ids = torch.topk(probs, k)
        cosine = self.unit_vocabulary @ F.normalize(
            vector.float().to(self.unit_vocabulary.device), dim=0
        )
        near_values, near_ids = torch.topk(cosine, k)
        return Preview(
            nearest=[
                Neighbour(int(i), float(v)) for v, i in zip(near_values, near_ids, strict=True)
            ],
            next_tokens=[(int(i), float(v)) for v, i in zip(values, ids, strict=True)],
        )
