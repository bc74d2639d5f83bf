"""Noken inversion: the hard-token prompt a plain text API would accept instead of a noken.

A noken prompt has a next-token distribution at its last position; the search looks for 1-3
real tokens that, put in the noken's slot, give the closest distribution (KL(p_noken || p_hard)
in nats). Token choices are discrete, so the search is HotFlip / GCG style: the gradient of the
KL with respect to the slot's input vectors, projected on every row of W_E, ranks the tokens
whose swap should lower the KL most to first order; that ranking is only a guess, so the best
few per position are then evaluated exactly, as batches of whole prompts, and the best swap is
kept; when none improves, the ranking's next candidates are tried (up to `WIDEST` per
position). It stops when even those do not improve, at `max_steps`, at `time_limit` or when the
user cancels.

Everything before the slot never changes during the search, so it is run once and its KV cache
is reused (copied to the batch size) by every pass; only the slot and what follows it are run.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from nokenviz.core.maps.geometry import neighbours
from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.models.token_labels import token_json
from nokenviz.core.nokens.prompts import PreparedInput, prepare_prompt
from nokenviz.core.nokens.specs import NokenSpec
from nokenviz.core.nokens.template import check_slot
from nokenviz.core.task import Task
from nokenviz.errors import Cancelled, NokenvizError, PromptError

MAX_LENGTH = 3
# Starting points tried: sequences of the noken's nearest tokens, about one step's worth.
START_PROMPTS = 64
# Candidate prompts per forward pass: large enough to amortise reading the weights, small
# enough that cancel and the time limit are noticed within about a second.
BATCH = 64
# When no proposed swap improves, the next best proposals are tried, up to this many per
# position, before the search ends (the gradient's ranking is only a first-order guess).
WIDEST = 512
# A swap must lower the KL by more than float noise to count as progress; a KL below it is
# already a match, with nothing left to search for.
MIN_GAIN = 1e-6


@dataclass(frozen=True)
class Inversion:
    """The best hard tokens found for a slot, and how the search went."""

    token_ids: list[int]  # the hard tokens found for the slot, in order
    texts: list[str]  # the raw text of each
    labels: list[str]  # loaded.token_labels of them
    text: str  # tokenizer.decode(token_ids)
    kl: float  # KL(p_noken || p_hard) in nats at the last position
    start_kl: float  # KL of the starting point (before search)
    steps: int  # search iterations done
    evaluated: int  # candidate prompts evaluated exactly
    seconds: float
    cancelled: bool  # stopped by the user: the best found so far is returned

    def to_json(self) -> dict[str, Any]:
        """The tokens found as raw text, id and label, then how the search went."""
        found = zip(self.texts, self.token_ids, self.labels, strict=True)
        document = {"tokens": [token_json(*t) for t in found], **asdict(self)}
        del document["texts"]
        return document


def invert_noken(
    loaded: LoadedModel,
    prompt: str,
    nokens: dict[str, NokenSpec],
    slot: str,
    length: int = 2,
    task: Task | None = None,
    candidates: int = 64,
    max_steps: int = 30,
    time_limit: float = 60.0,
) -> Inversion:
    """Find `length` real tokens for `slot` whose prompt's next-token distribution is closest
    to the noken prompt's; the other slots keep their nokens.

    Cancelling through `task` does not raise: the best tokens found so far come back with
    `cancelled=True`, since a partial search still answers the question approximately.
    """
    started = time.perf_counter()
    loaded.require_causal("noken inversion")
    _check_settings(length, candidates, max_steps, time_limit)
    prepared, position = _prepare(loaded, prompt, nokens, slot, length)
    task = task or Task(what="the noken inversion")
    search = _Search(loaded, prepared, position, length)

    def stop() -> bool:
        return task.cancelled or time.perf_counter() - started > time_limit

    ids, best = search.start(prepared.embeds[0, position], START_PROMPTS)
    start_kl, steps, width = best, 0, candidates
    widest = max(candidates, WIDEST)
    while steps < max_steps and best > MIN_GAIN and not stop():
        rows = search.swaps(ids, width)
        if rows.numel() == 0:  # every proposable swap has been evaluated
            break
        kls = search.evaluate(rows, stop)
        steps += 1
        improved = kls.numel() > 0 and float(kls.min()) < best - MIN_GAIN
        if improved:
            index = int(kls.argmin())
            ids, best, width = rows[index], float(kls[index]), candidates
        if not _report(task, steps / max_steps, f"step {steps}/{max_steps}: KL {best:.3f}"):
            break
        if not improved:  # the gradient's first guesses failed: try its next ones, then stop
            if width >= widest:
                break
            width = min(width * 2, widest)
    token_ids = [int(i) for i in ids]
    return Inversion(
        token_ids=token_ids,
        texts=[loaded.token_strings[i] for i in token_ids],
        labels=[loaded.token_labels[i] for i in token_ids],
        text=loaded.tokenizer.decode(token_ids),
        kl=best,
        start_kl=start_kl,
        steps=steps,
        evaluated=search.evaluated,
        seconds=time.perf_counter() - started,
        cancelled=task.cancelled,
    )


def _check_settings(length: int, candidates: int, max_steps: int, time_limit: float) -> None:
    if not 1 <= length <= MAX_LENGTH:
        raise NokenvizError(
            f"the hard prompt for a slot is 1 to {MAX_LENGTH} tokens long, not {length}"
        )
    if candidates < 1:
        raise NokenvizError(f"candidates per position must be at least 1, not {candidates}")
    if max_steps < 0:
        raise NokenvizError(f"the number of search steps must be >= 0, not {max_steps}")
    if not time_limit > 0:
        raise NokenvizError(
            f"the time limit must be a positive number of seconds, not {time_limit}"
        )


def _prepare(
    loaded: LoadedModel, prompt: str, nokens: dict[str, NokenSpec], slot: str, length: int
) -> tuple[PreparedInput, int]:
    """The noken prompt embedded, and the position of the slot to invert (used once)."""
    check_slot(prompt, slot, "invert")
    prepared = prepare_prompt(loaded, prompt, nokens)
    positions = prepared.slot_positions[slot]
    if len(positions) > 1:
        raise PromptError(
            f"the slot {{{slot}}} appears {len(positions)} times in the prompt; inverting a "
            "slot used more than once is not supported, give each use its own name"
        )
    limit = loaded.context_length
    hard_length = prepared.length - 1 + length
    if limit is not None and hard_length > limit:
        raise PromptError(
            f"with {length} tokens in {{{slot}}} the prompt is {hard_length} tokens, longer "
            f"than the model's context of {limit} tokens; shorten the prompt or the inversion"
        )
    return prepared, positions[0]


def _report(task: Task, fraction: float, message: str) -> bool:
    """Progress; False once the user has cancelled (the search then ends, it does not raise)."""
    try:
        task.report(fraction, message)
    except Cancelled:
        return False
    return True


class _Search:
    """One inversion's fixed parts (the target distribution, the cached prefix, the suffix,
    which tokens may be proposed) and the prompts evaluated so far, never evaluated twice."""

    @torch.no_grad()
    def __init__(
        self, loaded: LoadedModel, prepared: PreparedInput, position: int, length: int
    ) -> None:
        self.loaded = loaded
        self.length = length
        self.w_e = loaded.adapter.W_E.detach()  # the model's own weights: no float32 copy
        embeds = prepared.embeds
        out = loaded.model(inputs_embeds=embeds, use_cache=False, logits_to_keep=1)
        self.target = F.log_softmax(out.logits[0, -1].float(), dim=-1)
        self.suffix = embeds[:, position + 1 :]
        self.prefix: DynamicCache | None = None
        if position > 0:
            self.prefix = DynamicCache(config=loaded.model.config)
            loaded.forward_cached(embeds[:, :position], self.prefix)
        self.allowed = _proposable_tokens(loaded)
        self.evaluated = 0
        self.seen: set[tuple[int, ...]] = set()

    def _log_probs(self, slot_inputs: torch.Tensor) -> torch.Tensor:
        """Next-token log-probabilities [B, V] with `slot_inputs` [B, length, d] (model input
        units) in the slot."""
        batch = slot_inputs.shape[0]
        inputs = torch.cat([slot_inputs, self.suffix.expand(batch, -1, -1)], dim=1)
        if self.prefix is None:
            out = self.loaded.model(inputs_embeds=inputs, use_cache=False, logits_to_keep=1)
        else:
            cache = copy.deepcopy(self.prefix)
            cache.batch_repeat_interleave(batch)
            out = self.loaded.forward_cached(inputs, cache, logits_to_keep=1)
        return F.log_softmax(out.logits[:, -1].float(), dim=-1)

    def _kl(self, log_probs: torch.Tensor) -> torch.Tensor:
        """KL(p_noken || p_hard) per row, in nats."""
        target = self.target.expand_as(log_probs)
        return F.kl_div(log_probs, target, reduction="none", log_target=True).sum(dim=-1)

    @torch.no_grad()
    def evaluate(
        self, rows: torch.Tensor, stop: Callable[[], bool] = lambda: False
    ) -> torch.Tensor:
        """Exact KLs of the prompts with the token rows [N, length] in the slot, in batches;
        when `stop` turns true only the rows evaluated so far are returned."""
        kls: list[torch.Tensor] = []
        for chunk in rows.split(BATCH):
            if kls and stop():
                break
            slot_inputs = self.loaded.adapter.embedding(chunk.to(self.w_e.device))
            kls.append(self._kl(self._log_probs(slot_inputs)).cpu())
            self.evaluated += chunk.shape[0]
            self.seen.update(map(tuple, chunk.tolist()))
        return torch.cat(kls) if kls else torch.zeros(0)

    def start(self, noken: torch.Tensor, budget: int) -> tuple[torch.Tensor, float]:
        """The best slot filling made of the noken's nearest tokens by cosine: every sequence of
        `length` of the nearest n, n as large as `budget` prompts allow (8 for two tokens: a mix
        of two tokens is near both, in either order). Returns (token ids [length], KL)."""
        count = max(1, int(budget ** (1 / self.length) + 1e-9))
        exclude = tuple(torch.nonzero(~self.allowed).flatten().tolist())
        near = [n.id for n in neighbours(self.w_e, noken, count, "cosine", exclude).top]
        rows = torch.cartesian_prod(*[torch.tensor(near)] * self.length).reshape(-1, self.length)
        kls = self.evaluate(rows)
        index = int(kls.argmin())
        return rows[index], float(kls[index])

    def swaps(self, ids: torch.Tensor, candidates: int) -> torch.Tensor:
        """The single-position swaps to the `candidates` tokens the gradient ranks best at each
        position, leaving out special tokens and prompts already evaluated: rows [N, length]."""
        scores = self._swap_scores(ids)
        scores[:, ~self.allowed] = torch.inf
        scores[torch.arange(self.length), ids.to(scores.device)] = torch.inf  # no-op swaps
        for position, token in self._seen_swaps(ids):  # none beats the current best
            scores[position, token] = torch.inf
        values, proposed = torch.topk(scores, min(candidates, scores.shape[1]), largest=False)
        blocks = []
        for position in range(self.length):
            tokens = proposed[position][values[position].isfinite()].cpu()
            block = ids.repeat(tokens.numel(), 1)
            block[:, position] = tokens
            blocks.append(block)
        return torch.cat(blocks)

    def _seen_swaps(self, ids: torch.Tensor) -> list[tuple[int, int]]:
        """(position, token) of the swaps from `ids` that were evaluated at an earlier step: after
        a swap at one position, the last step's proposals at the others are the same prompts."""
        current = tuple(ids.tolist())
        found = []
        for row in self.seen:
            differ = [p for p in range(self.length) if row[p] != current[p]]
            if len(differ) == 1:
                found.append((differ[0], row[differ[0]]))
        return found

    def _swap_scores(self, ids: torch.Tensor) -> torch.Tensor:
        """First-order change of the KL for putting each token at each slot position, up to a
        per-position constant: grad_e(KL) . W_E[v], with e the slot's vectors in W_E units."""
        with torch.enable_grad():
            vectors = self.w_e[ids.to(self.w_e.device)].float().requires_grad_()
            slot_inputs = self.loaded.adapter.to_input(vectors)[None]
            kl = self._kl(self._log_probs(slot_inputs))[0]
            (grad,) = torch.autograd.grad(kl, vectors)
        return (grad.to(self.w_e.dtype) @ self.w_e.T).float()


def _proposable_tokens(loaded: LoadedModel) -> torch.Tensor:
    """Mask of the ids a hard prompt may use: tokens that are text on their own. Not special
    tokens (BOS, EOS, chat markers), not rows past the tokenizer's vocabulary (''), and not
    stray bytes of a multi-byte character (decoded as U+FFFD), which no text prompt can hold."""
    allowed = torch.tensor(["\ufffd" not in t and t != "" for t in loaded.token_strings])
    specials = [i for i in loaded.tokenizer.all_special_ids if i < loaded.vocab_size]
    allowed[specials] = False
    if not allowed.any():
        raise NokenvizError("the tokenizer has no ordinary tokens to build a hard prompt from")
    return allowed.to(loaded.adapter.W_E.device)
