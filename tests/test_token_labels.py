"""One way to show a token: spaces, newlines and bytes visible, no two tokens alike."""

from __future__ import annotations

import pytest

from nokenviz.core.models.token_labels import legend_line, show_bytes, show_text, token_label
from nokenviz.core.models.tokens import find_tokens


@pytest.mark.parametrize(
    ("text", "label"),
    [
        (" question", "␣question"),
        ("question", "question"),
        ("question ", "question␣"),
        ("  ", "␣␣"),
        ("\n", "↵"),
        ("\n\n", "↵↵"),
        ("\t", "⇥"),
        ("a\r\n", "a␍↵"),
        ("New York", "New York"),  # inner spaces read as spaces
        ("\x00", "<0x00>"),
    ],
)
def test_show_text(text: str, label: str) -> None:
    assert show_text(text) == label


def test_bytes_that_are_not_whole_characters_show_as_bytes() -> None:
    assert show_bytes(" é".encode()) == "␣é"
    assert show_bytes("é".encode()[:1]) == "<0xC3>"
    assert show_bytes(b"\xe2\x80") == "<0xE2><0x80>"
    assert show_bytes(b"a\xff b") == "a<0xFF> b"


def test_pieces_byte_fallback_and_special_tokens() -> None:
    assert token_label("<0x0a>", "\n", special=False) == "<0x0A>"  # SentencePiece byte piece
    assert token_label("<|endoftext|>", "", special=True) == "<|endoftext|>"
    assert token_label("Ġquestion", " question", special=False) == "␣question"
    # a byte-level BPE piece of half a UTF-8 character: the byte, not a replacement mark
    assert token_label("Ã", "\ufffd", special=False) == "<0xC3>"


def test_every_token_of_a_tiny_model_has_its_own_label(tiny) -> None:
    labels = tiny.token_labels
    assert len(labels) == tiny.vocab_size
    assert len(set(labels)) == len(labels)
    assert not any(label.startswith(" ") or label.endswith(" ") for label in labels)


def test_a_label_typed_back_finds_its_token() -> None:
    strings = ["question", " question", "Question"]
    assert find_tokens(strings, "␣question")[0] == 1
    assert find_tokens(strings, "question")[0] == 0


def test_legend_line_names_only_the_marks_used() -> None:
    assert legend_line(["␣the", "cat"]) == "token labels: ␣ space"
    assert legend_line(["↵", "␣a"]) == "token labels: ␣ space, ↵ newline"
    assert legend_line(["cat"]) == ""


@pytest.mark.real_model
def test_the_default_vocabulary_labels_are_distinct_and_keep_spaces(smol) -> None:
    labels = smol.token_labels
    assert len(set(labels)) == len(labels) == 49152
    question = smol.tokenizer.encode(" question", add_special_tokens=False)[0]
    assert labels[question] == "␣question"
    newline = smol.tokenizer.encode("\n", add_special_tokens=False)[0]
    assert labels[newline] == "↵"
    # the six tokens of the Token Alchemy figure read as six different labels
    shown = {labels[i] for i in range(len(labels)) if "question" in labels[i].lower()}
    assert {"␣question", "question", "␣Question", "Question", "␣questions"} <= shown


def test_invisible_characters_and_colliding_labels() -> None:
    from nokenviz.core.models.token_labels import unique_labels

    assert show_text("\u200b") == "<U+200B>"  # zero-width space
    assert show_text("\u00a0x") == "<U+00A0>x"  # no-break space
    assert show_text("a\u2028") == "a<U+2028>"
    labels = unique_labels(["a", "a", "a #1", "b"])
    assert len(set(labels)) == 4 and labels[0] == "a" and labels[3] == "b"


def test_search_prefers_the_case_typed_and_abbreviations_are_marked() -> None:
    from nokenviz.core.models.token_labels import abbreviate

    strings = [" Queen", "Queen", " queen", "queens"]
    assert find_tokens(strings, "queen")[:3] == [2, 0, 1]  # " queen" first: the case typed
    assert abbreviate("␣dismantling", 8) == "␣disman…" and abbreviate("␣the", 8) == "␣the"
