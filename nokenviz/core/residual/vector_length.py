"""How a vector's length changes the next-token distribution (entropy, top-1, top-k mass).

Norms inside the network only see directions, but the final norm's output goes straight into
the unembedding: its length is the logits' scale, so a longer final vector sharpens the
next-token distribution and a shorter one flattens it (`scale_final`). An input noken's length
is something else: its weight against what later layers add to the residual stream
(`scale_noken`). Both sweeps give the same `LengthSweep`, drawn by `figures/length.py`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.distributions import Categorical

from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.models.token_labels import token_json
from nokenviz.core.nokens.prompts import PreparedInput, check_position, prepare_prompt
from nokenviz.core.nokens.specs import NokenSpec
from nokenviz.core.nokens.template import check_slot
from nokenviz.core.residual.lens import lens_space, residual_stream
from nokenviz.errors import NokenvizError

# 2 ** (i / 4) for i in -12..12: a quarter octave apart, with 0.5, 1 and 2 exactly on the grid.
DEFAULT_FACTORS: tuple[float, ...] = tuple(2.0 ** (i / 4) for i in range(-12, 13))


@dataclass(frozen=True)
class LengthSweep:
    """The next-token distribution's shape at each length factor of one vector."""

    what: str  # what was scaled, for titles: "final residual at position 5 (␣are)"
    factors: np.ndarray  # [F] increasing
    entropy: np.ndarray  # [F] bits
    top1: np.ndarray  # [F] probability of the most likely token
    topk_mass: np.ndarray  # [F] total probability of the k most likely tokens
    k: int
    top_ids: np.ndarray  # [F, k] ids of the k most likely tokens, most likely first
    # the k most likely tokens at the factor nearest to 1: raw text, id and label of each
    top_tokens: list[dict[str, object]]

    @property
    def top_labels(self) -> list[str]:
        return [str(t["label"]) for t in self.top_tokens]

    def to_json(self) -> dict[str, Any]:
        """Plain lists and numbers, one row per factor, for `--json` and exported files."""
        return {
            "what": self.what,
            "k": self.k,
            "top_tokens": self.top_tokens,
            "rows": [
                {
                    "factor": float(f),
                    "entropy_bits": float(h),
                    "top1": float(p),
                    "topk_mass": float(m),
                    "top_ids": [int(i) for i in ids],
                }
                for f, h, p, m, ids in zip(
                    self.factors, self.entropy, self.top1, self.topk_mass, self.top_ids, strict=True
                )
            ],
        }


def scale_final(
    loaded: LoadedModel,
    prepared: PreparedInput,
    factors: Sequence[float] = DEFAULT_FACTORS,
    position: int = -1,
    k: int = 5,
) -> LengthSweep:
    """Scale the final residual at `position` after the final norm (what W_U sees) and unembed
    it at each factor: one forward pass, then one small unembedding for the whole sweep."""
    grid = _check_factors(factors)
    _check_k(loaded, k)
    index = check_position(position, prepared.length)
    stream = residual_stream(loaded, prepared)
    final = lens_space(loaded, stream, index)[-1]  # [d] float32
    scaled = torch.as_tensor(grid, dtype=torch.float32)[:, None] * final[None]
    with torch.no_grad():
        logits = loaded.adapter.unembed(scaled.to(device=loaded.device, dtype=loaded.dtype))
    what = f"final residual at position {index} ({prepared.labels[index]})"
    return _sweep(loaded, what, grid, logits, k)


def scale_noken(
    loaded: LoadedModel,
    prompt: str,
    nokens: dict[str, NokenSpec],
    slot: str,
    factors: Sequence[float] = DEFAULT_FACTORS,
    k: int = 5,
) -> LengthSweep:
    """Scale the noken in `slot` (every place it occurs), all else unchanged, and read the
    distribution at the last position; the factors are one batch of a single forward pass."""
    loaded.require_causal("the length sweep")
    grid = _check_factors(factors)
    _check_k(loaded, k)
    check_slot(prompt, slot, "scale")
    prepared = prepare_prompt(loaded, prompt, nokens)
    batch = prepared.embeds.expand(len(grid), -1, -1).clone()
    positions = prepared.slot_positions[slot]
    scale = torch.as_tensor(grid, dtype=torch.float32, device=batch.device)[:, None, None]
    batch[:, positions] = (prepared.embeds[:, positions].float() * scale).to(batch.dtype)
    with torch.no_grad():
        out = loaded.model(inputs_embeds=batch, use_cache=False, logits_to_keep=1)
    what = f"noken {{{slot}}} in {_shorten(prompt)!r}"
    return _sweep(loaded, what, grid, out.logits[:, -1], k)


def _shorten(text: str, limit: int = 60) -> str:
    """A prompt short enough for a title: its end kept, since the next token follows it."""
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def _sweep(
    loaded: LoadedModel, what: str, grid: np.ndarray, logits: torch.Tensor, k: int
) -> LengthSweep:
    """Entropy and top-k of each row of `logits` [F, V], in float64 on the CPU."""
    exact = logits.detach().to(device="cpu", dtype=torch.float64)
    entropy = Categorical(logits=exact).entropy() / math.log(2)
    values, ids = torch.topk(torch.softmax(exact, dim=-1), k, dim=-1)
    unit = int(np.argmin(np.abs(np.log(grid))))
    return LengthSweep(
        what=what,
        factors=grid,
        entropy=entropy.numpy(),
        top1=values[:, 0].numpy(),
        topk_mass=values.sum(dim=-1).numpy(),
        k=k,
        top_ids=ids.numpy(),
        top_tokens=[
            token_json(loaded.token_strings[i], i, loaded.token_labels[i])
            for i in map(int, ids[unit])
        ],
    )


def _check_factors(factors: Sequence[float]) -> np.ndarray:
    """The factors sorted and without repeats (a curve against the factor), or one message."""
    try:
        grid = np.asarray(factors, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise NokenvizError(f"length factors must be numbers, not {factors!r}") from exc
    if grid.ndim != 1 or grid.size == 0:
        raise NokenvizError("give at least one length factor, e.g. 0.5,1,2")
    bad = grid[~(np.isfinite(grid) & (grid > 0))]
    if bad.size:
        raise NokenvizError(
            f"length factors must be finite and greater than 0, not {bad[0]:g}; "
            "use e.g. 0.5 to halve the vector, 2 to double it"
        )
    return np.unique(grid)


def _check_k(loaded: LoadedModel, k: int) -> None:
    if not 1 <= k <= loaded.vocab_size:
        raise NokenvizError(f"k must be from 1 to the vocabulary size {loaded.vocab_size}, not {k}")
