"""One generation as an experiment: a prompt with nokens, what the run changes (a whole-prompt
transform, substitution rules, injections into the residual stream), and the baseline it is
read against, run side by side. The CLI's `generate` and the app's Generate panel both call
`run_generation`, so they give the same texts for the same settings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from nokenviz.core.decoding import DecodingSettings
from nokenviz.core.generation import Generation, OnToken, generate
from nokenviz.core.injection import InjectionSpec, parse_injection, resolve_injections
from nokenviz.core.loading import LoadedModel
from nokenviz.core.nokens import NokenSpec
from nokenviz.core.prompts import (
    PreparedInput,
    baseline_replacements,
    prepare_prompt,
    prepare_token_ids,
    prompt_token_ids,
)
from nokenviz.core.rules import RuleSpec, parse_rule, resolve_rules
from nokenviz.core.transforms import TransformSpec, apply_transform, parse_transform


@dataclass(frozen=True)
class Experiment:
    """What a run changes against its baseline (all optional)."""

    transform: TransformSpec | None = None
    rules: tuple[RuleSpec, ...] = ()
    injections: tuple[InjectionSpec, ...] = ()

    @property
    def empty(self) -> bool:
        return self.transform is None and not self.rules and not self.injections

    def describe(self) -> str:
        """What the baseline goes without ("the transform and 2 rules")."""
        parts = []
        if self.transform is not None:
            parts.append(f"the transform ({self.transform.describe()})")
        for items, name in ((self.rules, "rule"), (self.injections, "injection")):
            if items:
                parts.append(f"{len(items)} {name}{'s' * (len(items) > 1)}")
        return " and ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "transform": None if self.transform is None else self.transform.to_json(),
            "rules": [r.to_text() for r in self.rules],
            "injections": [i.to_text() for i in self.injections],
        }


def parse_experiment(
    transform: str | None = None, rules: tuple[str, ...] = (), injections: tuple[str, ...] = ()
) -> Experiment:
    """The CLI's `--transform`, `--rule` and `--inject` values (or the panel's lines), checked
    without a model."""
    return Experiment(
        transform=parse_transform(transform) if transform else None,
        rules=tuple(parse_rule(r) for r in rules),
        injections=tuple(parse_injection(i) for i in injections),
    )


@dataclass
class Run:
    """A generation and its baseline (None when there is nothing to compare with)."""

    labels: list[str]  # the prompt as the model got it (transformed positions marked ~)
    result: Generation
    baseline: Generation | None
    baseline_note: str  # what the baseline is, or why there is none


def run_generation(
    loaded: LoadedModel,
    prompt: str,
    nokens: dict[str, NokenSpec],
    settings: DecodingSettings,
    experiment: Experiment = Experiment(),
    compare: bool = False,
    on_token: OnToken | None = None,
    cancel: threading.Event | None = None,
) -> Run:
    """Generate with the experiment, then the baseline: the same prompt without it (and, with
    `compare`, each noken replaced by the token it names)."""
    cancel = cancel or threading.Event()
    prepared = prepare_prompt(loaded, prompt, nokens)
    changed = prepared
    if experiment.transform is not None:
        changed = apply_transform(loaded, prepared, experiment.transform)
    rules = resolve_rules(loaded, experiment.rules)
    injections = resolve_injections(loaded, changed, experiment.injections)
    result = generate(loaded, changed, settings, on_token, cancel, rules, injections)
    plain, note = _baseline_input(loaded, prompt, nokens, prepared, experiment, compare)
    baseline = None
    if plain is not None and not cancel.is_set():
        baseline = generate(loaded, plain, settings, cancel=cancel)
    return Run(changed.labels, result, baseline, note)


def _baseline_input(
    loaded: LoadedModel,
    prompt: str,
    nokens: dict[str, NokenSpec],
    prepared: PreparedInput,
    experiment: Experiment,
    compare: bool,
) -> tuple[PreparedInput | None, str]:
    """The baseline's input and what it is ("" and None when there is nothing to compare)."""
    replacements = baseline_replacements(loaded, nokens) if compare and nokens else None
    parts = [f"without {experiment.describe()}"] if not experiment.empty else []
    if replacements is not None:
        parts.append("each noken replaced by the token it names")
    elif compare and nokens:
        if experiment.empty:
            return None, "no baseline: a noken names no plain token (random or raw vector)"
        parts.append("nokens kept (one names no plain token)")
    if not parts:
        return None, ""
    plain = (
        prepared
        if replacements is None
        else prepare_token_ids(loaded, prompt_token_ids(loaded, prompt, replacements))
    )
    return plain, "baseline: " + "; ".join(parts)


OPEN, CLOSE = "⟦", "⟧"  # around a token whose next input a rule replaced


def generation_rows(
    prompt: str,
    text: str,
    marks: list[tuple[int, int, str]],
    baseline: str | None,
    note: str,
) -> list[tuple[str, str]]:
    """A run and its baseline as the rows of a figure's table, substituted tokens marked."""
    marked = text
    for start, end, _rule in sorted(marks, reverse=True):
        marked = f"{marked[:start]}{OPEN}{marked[start:end]}{CLOSE}{marked[end:]}"
    rows = [("run", prompt + marked)]
    if baseline is not None:
        rows.append(("baseline", prompt + baseline))
    if note:
        rows.append(("", note + (f"; {OPEN} {CLOSE}: a rule fed its noken next" if marks else "")))
    return rows
