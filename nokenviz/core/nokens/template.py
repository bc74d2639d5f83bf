"""Prompt templates: text with `{NAME}` noken slots and `{{`/`}}` for literal braces.

Kept free of torch so the GUI can show a prompt's slots as the user types, before (and
without) any model work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nokenviz.errors import PromptError

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")


@dataclass(frozen=True)
class Slot:
    name: str


Segment = str | Slot


def parse_template(prompt: str) -> list[Segment]:
    """Split a prompt into text and slots; a stray brace is an error that says where."""
    segments: list[Segment] = []
    text: list[str] = []
    position = 0
    for match in _TOKEN.finditer(prompt):
        text.append(prompt[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            text.append(token[0])
        elif match.group(1):
            segments.append("".join(text))
            text = []
            segments.append(Slot(match.group(1)))
        else:
            raise PromptError(
                f"stray {token!r} at character {match.start() + 1} of the prompt; slots are "
                "written {name} and literal braces {{ and }}"
            )
    segments.append("".join(text) + prompt[position:])
    return [s for s in segments if s != ""]


def slot_names(prompt: str) -> list[str]:
    """The slots a prompt uses, in order of first appearance."""
    return list(dict.fromkeys(s.name for s in parse_template(prompt) if isinstance(s, Slot)))


def check_slot(prompt: str, slot: str, purpose: str) -> None:
    """`slot` is one of the prompt's slots, or one message says which slots it has."""
    names = slot_names(prompt)
    if slot not in names:
        found = ", ".join("{" + name + "}" for name in names) or "none"
        raise PromptError(f"the prompt has no {{{slot}}} slot to {purpose} (its slots: {found})")
