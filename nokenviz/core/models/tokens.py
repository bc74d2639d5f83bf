"""Token text <-> id, with the error a researcher needs when text is not one token."""

from __future__ import annotations

from typing import Any

from nokenviz.core.models.token_labels import SPACE
from nokenviz.errors import NokenvizError


def single_token_id(tokenizer: Any, text: str) -> int:
    """The id of `text` if it is exactly one token; otherwise say how it splits.

    Leading spaces matter (" cat" and "cat" are different tokens in most vocabularies), so the
    text is encoded as given, without special tokens.
    """
    if text == "":
        raise NokenvizError("empty token text; give the token's exact text, e.g. ' cat'")
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) == 1:
        return int(ids[0])
    pieces = [tokenizer.decode([i]) for i in ids]
    raise NokenvizError(
        f"{text!r} is {len(ids)} tokens, not one: {' + '.join(repr(p) for p in pieces)}; "
        "use one of them, or a mix of several"
    )


def resolve_token(tokenizer: Any, ref: str | int, vocab_size: int) -> int:
    """A token given as text (one token) or as an id in range."""
    if isinstance(ref, bool) or not isinstance(ref, (str, int)):
        raise NokenvizError(f"a token is given as text or an id, not {ref!r}")
    if isinstance(ref, int):
        if not 0 <= ref < vocab_size:
            raise NokenvizError(f"token id {ref} is outside the vocabulary (0..{vocab_size - 1})")
        return ref
    return single_token_id(tokenizer, ref)


def parse_token_query(tokenizer: Any, query: str, vocab_size: int) -> int:
    """CLI/GUI search: `#123` or a bare integer that is not itself one token means an id; a
    label typed back (`␣question`) means its token."""
    query = query.replace(SPACE, " ")
    stripped = query.strip()
    if stripped.startswith("#") and stripped[1:].isdigit():
        return resolve_token(tokenizer, int(stripped[1:]), vocab_size)
    try:
        return single_token_id(tokenizer, query)
    except NokenvizError:
        if stripped.isdigit():
            return resolve_token(tokenizer, int(stripped), vocab_size)
        raise


def find_tokens(token_strings: list[str], query: str, limit: int = 50) -> list[int]:
    """Search the vocabulary's display strings: `#id`, then exact text, then exact ignoring
    surrounding spaces (the same case first), then substrings; at most `limit` ids, best
    first."""
    query = query.replace(SPACE, " ")  # a label typed back (`␣question`) finds its token
    stripped = query.strip()
    if stripped.startswith("#") and stripped[1:].isdigit():
        index = int(stripped[1:])
        return [index] if index < len(token_strings) else []
    if not query:
        return []
    folded = stripped.casefold()
    exact = [i for i, t in enumerate(token_strings) if t == query]
    loose = [
        i for i, t in enumerate(token_strings) if t.strip().casefold() == folded and t != query
    ]
    loose.sort(key=lambda i: token_strings[i].strip() != stripped)  # "queen" before "Queen"
    found = exact + loose
    if len(found) < limit and folded:
        seen = set(found)
        found += [
            i for i, t in enumerate(token_strings) if folded in t.casefold() and i not in seen
        ]
    return found[:limit]


def spacing_note(tokenizer: Any, text: str, what: str) -> str:
    """Why a rule's or a ban's text may never match: it has no leading space, and with one it
    is a token of its own, the one a model writes mid-sentence ('' when that is not so)."""
    text = text.replace(SPACE, " ")
    if not text.strip() or text.startswith((" ", "#", "@")):
        return ""
    if len(tokenizer.encode(" " + text, add_special_tokens=False)) != 1:
        return ""
    return (
        f"{what} {text!r} has no leading space: mid-sentence the model writes {' ' + text!r} "
        f"(write {SPACE}{text} or ' {text}' to match it)"
    )
