"""One way to show a token, everywhere: app labels, tables, figures, CSV.

In a vocabulary the leading space is the difference between tokens (' question' and 'question'
are different rows), so a label keeps what plain text hides:

- leading and trailing spaces as `␣` (`␣question`), newlines as `↵`, tabs as `⇥`, carriage
  returns as `␍`, other control characters as `<0xNN>`;
- byte tokens as their byte: SentencePiece byte-fallback pieces keep their own name (`<0x0A>`),
  byte-level BPE pieces that are not whole UTF-8 characters show the bytes (`<0xE2><0x80>`);
- special tokens by their name (`<|endoftext|>`).

Two different tokens never share a label: if two still read the same (a tokenizer with
duplicate entries, or a token whose text contains `␣` itself), every one after the first gets
its id (`question #812`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

MARKS = {"\n": "↵", "\t": "⇥", "\r": "␍"}
SPACE = "␣"
LEGEND = {SPACE: "space", "↵": "newline", "⇥": "tab", "␍": "carriage return"}
BYTE_PIECE = re.compile(r"<0x[0-9A-Fa-f]{2}>")


def show_text(text: str) -> str:
    """`text` with its leading/trailing spaces and invisible characters made visible."""
    core = text.strip(" ")
    if not core:
        return SPACE * len(text)
    lead = len(text) - len(text.lstrip(" "))
    trail = len(text) - len(text.rstrip(" "))
    return SPACE * lead + "".join(_show_char(c) for c in core) + SPACE * trail


def _show_char(char: str) -> str:
    """Marks for the invisible: control and format characters, and spaces other than the
    plain one (a no-break or zero-width space reads as nothing, or as a space)."""
    if char in MARKS:
        return MARKS[char]
    category = unicodedata.category(char)
    if category == "Cc":
        return f"<0x{ord(char):02X}>"
    if category in ("Cf", "Zl", "Zp") or (category == "Zs" and char != " "):
        return f"<U+{ord(char):04X}>"
    return char


def show_bytes(data: bytes) -> str:
    """UTF-8 bytes shown as text where they decode, as `<0xNN>` where they do not."""
    out, start = [], 0
    while start < len(data):
        try:
            out.append(data[start:].decode("utf-8"))
            break
        except UnicodeDecodeError as exc:
            out.append(data[start : start + exc.start].decode("utf-8"))
            bad = data[start + exc.start : start + exc.end]
            out.append("".join(f"<0x{b:02X}>" for b in bad))
            start += exc.end
    return show_text("".join(out))


def _byte_level_table() -> dict[str, int]:
    """The byte-level BPE alphabet (GPT-2's): each of the 256 bytes as one printable character."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[chr(byte)] = byte
        else:
            table[chr(256 + extra)] = byte
            extra += 1
    return table


BYTE_LEVEL = _byte_level_table()


def token_label(piece: str, text: str, special: bool) -> str:
    """The label of one token from its vocabulary piece and its decoded text."""
    if special:
        return piece
    if BYTE_PIECE.fullmatch(piece):
        return piece[:3] + piece[3:-1].upper() + ">"
    if "\ufffd" in text and piece and all(c in BYTE_LEVEL for c in piece):
        return show_bytes(bytes(BYTE_LEVEL[c] for c in piece))
    return show_text(text)


def unique_labels(labels: list[str]) -> list[str]:
    """Labels as given, except that a label already used gets the token's id appended (and
    `#` again in the odd case that a token's own text reads like that)."""
    used: set[str] = set()
    out = []
    for index, label in enumerate(labels):
        if label in used:
            label = f"{label} #{index}"
            while label in used:
                label += "#"
        used.add(label)
        out.append(label)
    return out


def tokenizer_pieces(tokenizer: Any, rows: int) -> list[str]:
    """Every row's tokenizer piece, the raw vocabulary entry ('' for rows past the tokenizer:
    padding of the embedding matrix)."""
    count = min(len(tokenizer), rows)
    pieces = tokenizer.convert_ids_to_tokens(list(range(count)))
    return [p or "" for p in pieces] + [""] * (rows - count)


def token_labels(tokenizer: Any, texts: list[str]) -> list[str]:
    """The label of every vocabulary row; `texts` is each row's decoded text (rows past the
    tokenizer, padding of the embedding matrix, are shown by id)."""
    count = min(len(tokenizer), len(texts))
    pieces = tokenizer_pieces(tokenizer, count)
    specials = set(tokenizer.all_special_ids)
    labels = [token_label(piece, texts[i], i in specials) for i, piece in enumerate(pieces)]
    labels += [f"#{i}" for i in range(count, len(texts))]
    return unique_labels(labels)


def abbreviate(label: str, limit: int) -> str:
    """`label` cut to `limit` characters, the cut always marked with `…` (so `␣questio…` is
    never read as a token of its own)."""
    if len(label) <= limit:
        return label
    return label[: max(limit - 1, 0)] + "…" if limit >= 1 else ""


def token_json(text: str | None, token_id: int | None, label: str) -> dict[str, object]:
    """One token in a JSON document: its raw text and id, which tell every token apart (two
    byte pieces both decode to `\ufffd`), beside the label people read. A noken's position has
    no text and no id."""
    return {"token": text, "id": token_id, "label": label}


def legend_line(labels: list[str]) -> str:
    """The caption line that explains the marks used in `labels` ('' when none is used)."""
    used = [f"{mark} {name}" for mark, name in LEGEND.items() if any(mark in s for s in labels)]
    return "token labels: " + ", ".join(used) if used else ""
