"""What kind of token each vocabulary row is, and which script it is written in, and the
query language that selects tokens by them (`script:Cyrillic and not kind:number`).

A token's kind is the first that fits, in this order: `special`, `byte` (a byte piece or a
partial UTF-8 character), `whitespace`, `number`, `punctuation`, `word start` (a leading
space), `continuation`. Its case (`capitalised`, `all caps`, `lower`, or none) is kept beside
it, and `kind:` also matches a case. Its script is the Unicode script of its letters (Latin,
Cyrillic, Greek, Arabic, Hebrew, Devanagari, CJK, Hangul, ...; `Mixed` for several, `Common`
for none), from `unicodedata` character names.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import regex

from nokenviz.core.models.token_labels import BYTE_PIECE
from nokenviz.errors import NokenvizError

KINDS = (
    "special",
    "byte",
    "whitespace",
    "number",
    "punctuation",
    "word start",
    "continuation",
)
CASES = ("capitalised", "all caps", "lower")
REGEX_SECONDS = 1.0  # a filter's /pattern/ over the whole vocabulary, at most
# Unicode name prefixes that name a script differently from their first word.
_SCRIPT_NAMES = {"CJK": "CJK", "HIRAGANA": "Japanese", "KATAKANA": "Japanese"}


@dataclass(frozen=True)
class TokenKinds:
    """Per vocabulary row: kind, case, script and length in characters (of the raw text)."""

    kinds: list[str]
    cases: list[str]
    scripts: list[str]
    lengths: np.ndarray  # [V] int

    def row(self, token: int) -> dict[str, object]:
        return {
            "kind": self.kinds[token],
            "case": self.cases[token],
            "script": self.scripts[token],
            "length": int(self.lengths[token]),
        }


def token_kinds(pieces: list[str], texts: list[str], specials: set[int]) -> TokenKinds:
    """Classify every row from its vocabulary piece and its decoded text."""
    kinds = [
        token_kind(p, t, i in specials) for i, (p, t) in enumerate(zip(pieces, texts, strict=True))
    ]
    return TokenKinds(
        kinds=kinds,
        cases=[token_case(t) for t in texts],
        scripts=[
            script_of(t) if k not in ("special", "byte") else "Common"
            for t, k in zip(texts, kinds, strict=True)
        ],
        lengths=np.array([len(t) for t in texts], dtype=np.int64),
    )


def token_kind(piece: str, text: str, special: bool) -> str:
    if special:
        return "special"
    if BYTE_PIECE.fullmatch(piece) or "\ufffd" in text:
        return "byte"
    core = text.strip()
    if not core:
        return "whitespace"
    if all(unicodedata.category(c) == "Nd" or c in ".,_" for c in core) and any(
        unicodedata.category(c) == "Nd" for c in core
    ):
        return "number"
    if all(unicodedata.category(c)[0] in "PS" for c in core):
        return "punctuation"
    return "word start" if text[:1].isspace() else "continuation"


def token_case(text: str) -> str:
    letters = [c for c in text if c.isalpha() and (c.isupper() or c.islower())]
    if not letters:
        return ""
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return "all caps"
    return "capitalised" if letters[0].isupper() else "lower"


def script_of(text: str) -> str:
    found = {_script(c) for c in text if c.isalpha()}
    found.discard("")
    if not found:
        return "Common"
    return found.pop() if len(found) == 1 else "Mixed"


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    first = name.split(" ")[0] if name else ""
    return _SCRIPT_NAMES.get(first, first.capitalize())


# ------------------------------------------------------------------ the query language

_TOKEN = re.compile(r"\s*(\(|\)|/(?:\\.|[^/])*/|[^\s()]+)")
_FIELD = re.compile(r"(kind|script|case):(.+)|(len|norm|id)(<=|>=|<|>|=)(-?[0-9.]+)")


def select(query: str, texts: list[str], kinds: TokenKinds, norms: np.ndarray) -> np.ndarray:
    """The ids matching `query`: terms `kind:number`, `script:Cyrillic`, `case:all_caps`,
    `len>8`, `norm<=2.5`, `id<100`, `/regex/` on the raw text, or bare text (a substring),
    combined with `and`, `or`, `not` and parentheses (`and` binds tighter than `or`; terms
    side by side mean `and`). A query that cannot be read gets one line saying where."""
    parts = [m.group(1) for m in _TOKEN.finditer(query)]
    if not parts:
        raise NokenvizError("the token query is empty; e.g. 'script:Cyrillic and not kind:number'")
    parser = _Parser(parts, texts, kinds, norms)
    mask = parser.either()
    if parser.at < len(parts):
        raise NokenvizError(f"token query: unexpected {parts[parser.at]!r} in {query!r}")
    return np.flatnonzero(mask)


def check_query(query: str) -> None:
    """Raise `NokenvizError` (one line) if `query` cannot be read, before any vocabulary is at
    hand (a scene file's filter, a typed filter)."""
    one = TokenKinds([""], [""], [""], np.zeros(1, dtype=np.int64))
    select(query, [""], one, np.zeros(1, dtype=np.float32))


class _Parser:
    def __init__(self, parts: list[str], texts: list[str], kinds: TokenKinds, norms: np.ndarray):
        self.parts, self.at = parts, 0
        self.texts, self.kinds, self.norms = texts, kinds, norms

    def _peek(self) -> str | None:
        return self.parts[self.at] if self.at < len(self.parts) else None

    def either(self) -> np.ndarray:
        mask = self.both()
        while self._peek() == "or":
            self.at += 1
            mask = mask | self.both()
        return mask

    def both(self) -> np.ndarray:
        mask = self.negated()
        while (word := self._peek()) is not None and word not in ("or", ")"):
            if word == "and":
                self.at += 1
            mask = mask & self.negated()
        return mask

    def negated(self) -> np.ndarray:
        if self._peek() == "not":
            self.at += 1
            return ~self.negated()
        return self.term()

    def term(self) -> np.ndarray:
        word = self._peek()
        if word is None:
            raise NokenvizError("token query: a term is missing at the end")
        self.at += 1
        if word == "(":
            mask = self.either()
            if self._peek() != ")":
                raise NokenvizError("token query: a '(' is not closed")
            self.at += 1
            return mask
        if word in ("and", "or", ")"):
            raise NokenvizError(f"token query: {word!r} where a term should be")
        return self._match(word)

    def _match(self, word: str) -> np.ndarray:
        if len(word) > 1 and word.startswith("/") and word.endswith("/"):
            return _regex_matches(word, self.texts)
        field = _FIELD.fullmatch(word)
        if field is None:
            if ":" in word.strip(":") and not word.startswith(":"):
                raise NokenvizError(
                    f"token query: unknown field in {word!r} (kind:, script:, case:, len, norm, id)"
                )
            return np.array([word in t for t in self.texts])
        name, value = field.group(1), field.group(2)
        if name is not None:
            return self._category(name, value.replace("_", " "), word)
        try:
            number = float(field.group(5))
        except ValueError:
            raise NokenvizError(
                f"token query: {field.group(5)!r} in {word!r} is not a number"
            ) from None
        return _compare(self._numbers(field.group(3)), field.group(4), number)

    def _category(self, name: str, value: str, word: str) -> np.ndarray:
        k = self.kinds
        if name == "kind":
            if value not in KINDS and value not in CASES:
                names = ", ".join(n.replace(" ", "_") for n in KINDS + CASES)
                raise NokenvizError(f"token query: kind is one of {names}, not {word!r}")
            column = k.cases if value in CASES else k.kinds
            return np.array([v == value for v in column])
        if name == "case":
            return np.array([v == value for v in k.cases])
        wanted = value.casefold()
        return np.array([v.casefold() == wanted for v in k.scripts])

    def _numbers(self, name: str) -> Any:
        if name == "len":
            return self.kinds.lengths
        if name == "norm":
            return self.norms
        return np.arange(len(self.texts))


def _regex_matches(word: str, texts: Sequence[str]) -> np.ndarray:
    """Which texts `/pattern/` finds something in, within `REGEX_SECONDS` for them all: a
    pattern that backtracks without end (`/(a|aa)+$/`) is refused in a line, not left to freeze
    the app (the `regex` module can stop a search; `re` cannot)."""
    try:
        pattern = regex.compile(word[1:-1])
    except regex.error as exc:
        raise NokenvizError(f"token query: bad regex {word}: {exc}") from None
    deadline = time.monotonic() + REGEX_SECONDS
    found = np.zeros(len(texts), dtype=bool)
    try:
        for i, text in enumerate(texts):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            found[i] = pattern.search(text, timeout=left) is not None
    except TimeoutError:
        raise NokenvizError(
            f"token query: {word} takes over {REGEX_SECONDS:g} s on the vocabulary (a pattern "
            "that backtracks, such as (a|aa)+): simplify it"
        ) from None
    return found


def _compare(values: np.ndarray, op: str, number: float) -> np.ndarray:
    if op == "<":
        return values < number
    if op == "<=":
        return values <= number
    if op == ">":
        return values > number
    if op == ">=":
        return values >= number
    return values == number
