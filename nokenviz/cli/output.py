"""How the command line writes: one JSON document, aligned tables, progress on a terminal."""

from __future__ import annotations

import json
import sys


def emit_json(document: dict[str, object]) -> int:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def show_progress(quiet: bool) -> bool:
    """Progress goes to a terminal's stderr, never into `--json` or a pipe."""
    return sys.stderr.isatty() and not quiet


def progress(fraction: float, message: str) -> None:
    print(f"\r\033[K{fraction:4.0%} {message}", end="", file=sys.stderr, flush=True)


def clear_progress(quiet: bool) -> None:
    if show_progress(quiet):
        print("\r\033[K", end="", file=sys.stderr)


def print_plan(plan: object) -> None:
    """A spread load's device plan as a line of its own, above the progress line."""
    clear = "\r\033[K" if sys.stderr.isatty() else ""
    print(f"{clear}nokenviz: device plan: {plan}", file=sys.stderr)


class Echo:
    """Streams generated text after the prompt, printed with the first token (so bad input
    found before generation starts leaves stdout empty)."""

    def __init__(self, prompt: str) -> None:
        self.prompt: str | None = prompt

    def __call__(self, _id: int, text: str) -> None:
        if self.prompt is not None:
            print(self.prompt, end="")
            self.prompt = None
        print(text, end="", flush=True)
