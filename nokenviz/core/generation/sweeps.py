"""Sweeps: LERP/SLERP between two prompts over t, and random nokens over seeds."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from nokenviz.core.generation.generate import generate
from nokenviz.core.generation.settings import DecodingSettings
from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.nokens.prompts import PreparedInput, prepare_prompt
from nokenviz.core.nokens.specs import NokenSpec, lerp, parse_noken, slerp
from nokenviz.errors import Cancelled, NokenvizError, PromptError
from nokenviz.version import __version__


@dataclass(frozen=True)
class SweepRow:
    key: str  # "t" or "seed"
    value: float | int
    text: str

    def to_json(self) -> dict[str, float | int | str]:
        return {self.key: self.value, "text": self.text}


OnRow = Callable[[SweepRow], None]


def sweep_values(steps: int) -> list[float]:
    """`steps` evenly spaced values of t from 0 to 1 inclusive."""
    if steps < 2:
        raise NokenvizError("a sweep needs at least 2 steps")
    return [round(i / (steps - 1), 6) for i in range(steps)]


def parse_seed_range(text: str) -> list[int]:
    """`3`, `0-9` or `1,4,7` -> a list of seeds."""
    try:
        seeds: list[int] = []
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            seeds.extend(range(int(low), int(high or low) + 1))
    except ValueError as exc:
        raise NokenvizError(f"seeds are written like 0-9 or 1,4,7, not {text!r}") from exc
    if not seeds or min(seeds) < 0:
        raise NokenvizError(f"seeds must be integers >= 0 and the range non-empty, not {text!r}")
    return seeds


def lerp_sweep(
    loaded: LoadedModel,
    prompt_a: str,
    prompt_b: str,
    steps: int = 11,
    spherical: bool = False,
    settings: DecodingSettings | None = None,
    on_row: OnRow | None = None,
    cancel: threading.Event | None = None,
) -> list[SweepRow]:
    """Generate from (1-t)*A + t*B position by position; both prompts need the same length."""
    a, b = prepare_prompt(loaded, prompt_a), prepare_prompt(loaded, prompt_b)
    if a.length != b.length:
        raise PromptError(
            f"the two prompts must have the same number of tokens: {a.length} {a.labels} vs "
            f"{b.length} {b.labels}"
        )
    blend = slerp if spherical else lerp
    rows = []
    for t in sweep_values(steps):
        embeds = blend(a.embeds.float(), b.embeds.float(), t).to(a.embeds.dtype)
        mixed = PreparedInput(embeds, a.token_ids, a.labels, a.slot_positions)
        rows.append(_run_row(loaded, mixed, "t", t, settings, on_row, cancel))
    return rows


def seed_sweep(
    loaded: LoadedModel,
    prompt: str,
    slot: str,
    seeds: list[int],
    nokens: dict[str, NokenSpec] | None = None,
    match_norm: bool = False,
    settings: DecodingSettings | None = None,
    on_row: OnRow | None = None,
    cancel: threading.Event | None = None,
) -> list[SweepRow]:
    """Generate with a seeded random noken in `slot`, one row per seed."""
    rows = []
    for seed in seeds:
        spec = parse_noken({"random": {"seed": seed, **({"norm": "match"} if match_norm else {})}})
        prepared = prepare_prompt(loaded, prompt, {**(nokens or {}), slot: spec})
        rows.append(_run_row(loaded, prepared, "seed", seed, settings, on_row, cancel))
    return rows


def _run_row(
    loaded: LoadedModel,
    prepared: PreparedInput,
    key: str,
    value: float | int,
    settings: DecodingSettings | None,
    on_row: OnRow | None,
    cancel: threading.Event | None,
) -> SweepRow:
    if cancel is not None and cancel.is_set():
        raise Cancelled("the sweep")
    settings = settings or DecodingSettings()
    if settings.seed is None and not settings.greedy:
        settings = settings.model_copy(
            update={"seed": 0}
        )  # every row samples from the same random stream
    result = generate(loaded, prepared, settings, cancel=cancel)
    row = SweepRow(key, value, result.text)
    if on_row is not None:
        on_row(row)
    return row


Header = tuple[tuple[str, str], ...]


def sweep_header(
    kind: str,
    prompts: tuple[str, str],
    steps: int,
    seeds: str,
    max_new_tokens: int,
    model: str,
    when: datetime,
    match_norm: bool = False,
) -> Header:
    """What a table of rows was made from, so an exported file still says it on its own."""
    if kind == "seeds":
        scale = "scaled to the typical token norm" if match_norm else "raw N(0, 1)"
        sweep = f"random nokens ({scale}) in {prompts[0]!r}, seeds {seeds}"
    else:
        sweep = f"{kind.upper()} from {prompts[0]!r} to {prompts[1]!r}, {steps} steps of t"
    return (
        ("model", model),
        ("sweep", sweep),
        ("decoding", f"greedy, {max_new_tokens} new tokens per row"),
        ("date", when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("made with", f"nokenviz {__version__}"),
    )


def rows_as_text(rows: list[SweepRow], fmt: str, header: Header = ()) -> str:
    """A sweep as CSV (the header as leading `#` lines) or as a Markdown table (the header as a
    list above it), like the seed texts' tables."""
    if not rows:
        raise NokenvizError("the sweep has no rows yet")
    key = rows[0].key
    if fmt == "csv":
        out = io.StringIO()
        out.writelines(f"# {name}: {value}\n" for name, value in header)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([key, "text"])
        writer.writerows([row.value, row.text] for row in rows)
        return out.getvalue()
    if fmt == "md":
        lines = [f"- {name}: {_markdown_cell(value)}" for name, value in header]
        lines += [""] if header else []
        lines += [f"| {key} | text |", "|---|---|"]
        lines += [f"| {row.value} | {_markdown_cell(row.text)} |" for row in rows]
        return "\n".join(lines) + "\n"
    raise NokenvizError(f"unknown table format {fmt!r}; use csv or md")


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()
