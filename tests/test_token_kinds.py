"""Token kinds, scripts and the token query language, against crafted vocabularies; and
`nokenviz tokens` on a tiny model against an independent count."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest

from nokenviz.cli import main
from nokenviz.core.models.token_kinds import REGEX_SECONDS, select, token_kinds
from nokenviz.errors import NokenvizError

# (piece, decoded text, special): byte-level BPE pieces (Ġ = space) and SentencePiece pieces
VOCAB = [
    ("<|endoftext|>", "<|endoftext|>", True),
    ("Ġthe", " the", False),
    ("ing", "ing", False),
    ("ĠThe", " The", False),
    ("ĠNASA", " NASA", False),
    ("Ġ2024", " 2024", False),
    ("3.14", "3.14", False),
    ("...", "...", False),
    ("ĊĊ", "\n\n", False),
    ("Ġ", " ", False),
    ("âĢ", "\ufffd", False),  # byte-level: a partial UTF-8 character
    ("<0xE2>", "\ufffd", False),  # SentencePiece byte fallback
    ("Ġпривет", " привет", False),
    ("Ġλόγος", " λόγος", False),
    ("Ġשלום", " שלום", False),
    ("Ġمرحبا", " مرحبا", False),
    ("नमस्ते", "नमस्ते", False),
    ("中文", "中文", False),
    ("한국어", "한국어", False),
    ("カタカナ", "カタカナ", False),
    ("Ġunderstanding", " understanding", False),
    ("Ġcafé", " café", False),
    ("abcпр", "abcпр", False),
]
PIECES = [p for p, _, _ in VOCAB]
TEXTS = [t for _, t, _ in VOCAB]
SPECIALS = {i for i, (_, _, s) in enumerate(VOCAB) if s}
KINDS = token_kinds(PIECES, TEXTS, SPECIALS)
NORMS = np.linspace(1.0, 3.2, len(VOCAB)).astype(np.float32)


def test_every_kind_case_and_script() -> None:
    kind = dict(zip(TEXTS, KINDS.kinds, strict=False))
    assert KINDS.kinds[0] == "special"
    assert kind[" the"] == "word start" and kind["ing"] == "continuation"
    assert kind[" 2024"] == kind["3.14"] == "number"
    assert kind["..."] == "punctuation"
    assert kind["\n\n"] == kind[" "] == "whitespace"
    assert KINDS.kinds[10] == KINDS.kinds[11] == "byte"  # both tokenizer families
    cases = dict(zip(TEXTS, KINDS.cases, strict=False))
    assert (cases[" The"], cases[" NASA"], cases[" the"], cases[" 2024"]) == (
        "capitalised", "all caps", "lower", "",
    )  # fmt: skip
    script = dict(zip(TEXTS, KINDS.scripts, strict=False))
    assert [script[t] for t in (" привет", " λόγος", " שלום", " مرحبا", "नमस्ते")] == [
        "Cyrillic", "Greek", "Hebrew", "Arabic", "Devanagari",
    ]  # fmt: skip
    assert [script[t] for t in ("中文", "한국어", "カタカナ", " café")] == [
        "CJK", "Hangul", "Japanese", "Latin",
    ]  # fmt: skip
    assert script["abcпр"] == "Mixed" and script["..."] == "Common"
    assert KINDS.row(12) == {
        "kind": "word start",
        "case": "lower",
        "script": "Cyrillic",
        "length": 7,
    }


def ids(query: str) -> list[int]:
    return [int(i) for i in select(query, TEXTS, KINDS, NORMS)]


def test_the_query_language_against_plain_python() -> None:
    def where(test) -> list[int]:
        return [i for i in range(len(VOCAB)) if test(i)]

    words = where(lambda i: KINDS.kinds[i] == "word start")
    assert ids("kind:word_start") == words
    assert ids("script:cyrillic or script:Greek") == where(
        lambda i: KINDS.scripts[i] in ("Cyrillic", "Greek")
    )
    assert ids("kind:word_start and not script:Latin") == where(
        lambda i: i in words and KINDS.scripts[i] != "Latin"
    )
    assert ids("len>8") == where(lambda i: len(TEXTS[i]) > 8)
    assert ids("norm<=1.5 kind:special") == where(lambda i: NORMS[i] <= 1.5 and i == 0)
    assert ids("/^ [A-Z]/") == where(lambda i: re.search(r"^ [A-Z]", TEXTS[i]) is not None)
    assert ids("not (kind:byte or kind:whitespace) and id<12") == where(
        lambda i: i < 12 and KINDS.kinds[i] not in ("byte", "whitespace")
    )
    assert ids("kind:all_caps") == [4] and ids("case:capitalised") == [3]
    assert ids("stand") == [20]  # bare text: a substring of the raw text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("kind:numbr", "kind is one of special, byte"),
        ("(kind:byte", "'(' is not closed"),
        ("kind:byte or", "missing at the end"),
        ("/[/", "bad regex"),
        ("colour:red", "unknown field"),
        ("and kind:byte", "where a term should be"),
        ("len>1.2.3", "'1.2.3' in 'len>1.2.3' is not a number"),
    ],
)
def test_a_bad_query_is_one_line(query: str, message: str) -> None:
    with pytest.raises(NokenvizError, match=re.escape(message)) as info:
        ids(query)
    assert "\n" not in str(info.value)


def test_a_regex_that_backtracks_without_end_is_refused_within_seconds() -> None:
    """`(a|aa)+$` against a long run of a's and then a mismatch backtracks for exponential
    time: the filter gives up after its budget with one line, the app stays live."""
    texts = ["a" * 40 + "!"] * 100 + [" word"]  # one search alone runs past the budget
    kinds = token_kinds(texts, texts, set())
    start = time.monotonic()
    with pytest.raises(NokenvizError, match=r"takes over 1 s on the vocabulary.*simplify it"):
        select("/(a|aa)+$/ or kind:word_start", texts, kinds, np.ones(len(texts)))
    assert time.monotonic() - start < REGEX_SECONDS + 1.0
    assert list(select("/^ w/", texts, kinds, np.ones(len(texts)))) == [100]
    many = ["a" * 12 + "!"] * 40_000  # each search fast, all of them past the budget
    many_kinds = token_kinds(many, many, set())
    start = time.monotonic()
    with pytest.raises(NokenvizError, match="takes over 1 s"):
        select("/(a|aa)+$/", many, many_kinds, np.ones(len(many)))
    assert time.monotonic() - start < REGEX_SECONDS + 1.0


def test_tokens_command_lists_what_the_query_selects(capsys, tiny_dirs) -> None:
    from nokenviz.core.models.loading import load_model

    model = tiny_dirs["llama"]
    assert main(["tokens", "kind:word_start and len>4", "--json", "--model", model]) == 0
    doc = json.loads(capsys.readouterr().out)
    loaded = load_model(model)
    expected = [
        i for i, t in enumerate(loaded.token_strings) if t[:1] == " " and len(t) > 4 and t.strip()
        and t.strip().isalpha()
    ]  # fmt: skip
    assert [t["id"] for t in doc["tokens"]] == expected and doc["count"] == len(expected)
    first = doc["tokens"][0]
    assert set(first) >= {"token", "id", "label", "norm", "kind", "script"}
    assert first["norm"] == pytest.approx(
        float(loaded.adapter.W_E[first["id"]].detach().norm()), abs=1e-3
    )
    assert main(["tokens", "kind:nope", "--model", model]) == 1
    assert "kind is one of" in capsys.readouterr().err
