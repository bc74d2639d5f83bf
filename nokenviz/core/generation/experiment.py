"""One generation as an experiment: a prompt with nokens, what the run changes (a whole-prompt
transform, substitution rules, injections into the residual stream), and the baseline it is
read against, run side by side. The CLI's `generate` and the app's Generate panel both call
`run_generation`, so they give the same texts for the same settings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from nokenviz.core.generation.generate import Generation, OnToken, generate, token_spans
from nokenviz.core.generation.injection import InjectionSpec, parse_injection, resolve_injections
from nokenviz.core.generation.rules import RuleSpec, parse_rule, resolve_rules
from nokenviz.core.generation.settings import DecodingSettings
from nokenviz.core.generation.transforms import TransformSpec, apply_transform, parse_transform
from nokenviz.core.models.loading import LoadedModel
from nokenviz.core.models.tokens import spacing_note
from nokenviz.core.nokens.prompts import (
    PreparedInput,
    baseline_replacements,
    prepare_prompt,
    prepare_token_ids,
    prompt_token_ids,
)
from nokenviz.core.nokens.specs import NokenSpec


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


def soft_conflicts(settings: DecodingSettings, experiment: Experiment) -> str:
    """Why soft feedback cannot run with these settings ("" if it can): it feeds back a
    distribution's embedding, never a token, so token-level controls have nothing to act on."""
    asked = [
        name
        for name, on in (
            ("a transform, rules or injections", not experiment.empty),
            ("banned texts", bool(settings.ban)),
            ("a repetition penalty", settings.repetition_penalty != 1.0),
        )
        if on
    ]
    if not asked:
        return ""
    return (
        f"soft feedback feeds back distributions, not tokens: it takes no {' or '.join(asked)} "
        "(clear them first)"
    )


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

    prepared: PreparedInput  # the prompt as the model got it (transformed positions marked ~)
    result: Generation
    baseline: Generation | None
    baseline_note: str  # what the baseline is, or why there is none
    notes: list[str] = field(default_factory=list)  # settings that did nothing, and why

    @property
    def stopped(self) -> bool:
        """Stopped by the user, in the run or in its baseline."""
        return self.result.cancelled or (self.baseline is not None and self.baseline.cancelled)

    def marks(self, tokenizer: Any) -> list[tuple[int, int, str]]:
        """(start, end, rule) in the run's text of each token a rule followed with its noken."""
        if not self.result.substituted:
            return []
        spans = token_spans(tokenizer, self.result.token_ids)
        return [(*spans[i], rule) for i, rule in self.result.substituted]


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
    """Generate with the experiment, then its baseline (`baseline_input`)."""
    cancel = cancel or threading.Event()
    prepared = prepare_prompt(loaded, prompt, nokens)
    changed = prepared
    if experiment.transform is not None:
        changed = apply_transform(loaded, prepared, experiment.transform)
    rules = resolve_rules(loaded, experiment.rules)
    injections = resolve_injections(loaded, changed, experiment.injections)
    result = generate(loaded, changed, settings, on_token, cancel, rules, injections)
    plain, note = baseline_input(loaded, prompt, nokens, prepared, experiment, compare)
    baseline = None
    if plain is not None and not cancel.is_set():
        baseline = generate(loaded, plain, settings, cancel=cancel)
        if baseline.cancelled:
            note += " (stopped)"
    return Run(
        changed, result, baseline, note, silent_settings(loaded, settings, experiment, result)
    )


def silent_settings(
    loaded: LoadedModel, settings: DecodingSettings, experiment: Experiment, result: Generation
) -> list[str]:
    """The rules and bans that did nothing in this run, said instead of silently ignored: a
    rule that never fired, and a rule or ban whose text lacks the leading space its token has
    mid-sentence."""
    notes = [spacing_note(loaded.tokenizer, text, "the ban") for text in settings.ban]
    for rule in experiment.rules:
        if isinstance(rule.trigger, str):
            notes.append(spacing_note(loaded.tokenizer, rule.trigger, "the rule's token"))
    fired = {text for _index, text in result.substituted}
    idle = [r for r in experiment.rules if r.step is None and r.text not in fired]
    if idle:
        shown = ", ".join(r.text.partition("=")[0].strip() for r in idle)
        notes.append(f"no rule fired for {shown}: the model never emitted it")
    return [n for n in notes if n]


def baseline_input(
    loaded: LoadedModel,
    prompt: str,
    nokens: dict[str, NokenSpec],
    prepared: PreparedInput,
    experiment: Experiment,
    compare: bool,
) -> tuple[PreparedInput | None, str]:
    """The baseline's input and what it is (None and "" when there is nothing to compare).

    With an experiment, the baseline is the same prompt, nokens and all, without it: one
    change at a time. Without one, `compare` replaces each noken by the token it names."""
    if not experiment.empty:
        return prepared, f"baseline: without {experiment.describe()}"
    if not compare:
        return None, ""
    if not nokens:
        return None, "no baseline: the prompt has no noken to replace by a token"
    replacements = baseline_replacements(loaded, nokens)
    if replacements is None:
        return None, "no baseline: a noken names no plain token (random or raw vector)"
    ids = prompt_token_ids(loaded, prompt, replacements)
    named = ", ".join(f"{{{n}}} → {loaded.token_labels[i]}" for n, i in replacements.items())
    note = f"baseline: each noken replaced by the token it names ({named})"
    return prepare_token_ids(loaded, ids), note


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
