"""Prompt slots, decoding settings, streaming, cancel, sweeps and soft feedback on a tiny model."""

from __future__ import annotations

import threading

import pytest
import torch

from nokenviz.core.generation.generate import generate, soft_feedback
from nokenviz.core.generation.settings import DecodingSettings
from nokenviz.core.generation.sweeps import lerp_sweep, parse_seed_range, seed_sweep, sweep_values
from nokenviz.core.nokens.prompts import prepare_prompt
from nokenviz.core.nokens.specs import parse_noken
from nokenviz.core.nokens.template import Slot, parse_template
from nokenviz.errors import NokenvizError, PromptError

CAT = {"x": parse_noken('{"token": " cat"}')}


def test_template_slots_and_literal_braces() -> None:
    assert parse_template("{x} and {{y}} {z}!") == [Slot("x"), " and {y} ", Slot("z"), "!"]
    with pytest.raises(PromptError, match="stray '\\{' at character 3"):
        parse_template("a {1x}")
    with pytest.raises(PromptError, match="stray '}'"):
        parse_template("a } b")


@pytest.mark.parametrize(
    ("prompt", "nokens", "message"),
    [
        ("", {}, "the prompt is empty"),
        ("   ", {}, "the prompt is empty"),
        ("The {y} sat", CAT, r"slot \{y\} but no noken named 'y'"),
        ("The cat sat", CAT, r"noken 'x' is defined but the prompt has no \{x\} slot"),
        ("The cat " * 40, {}, "longer than the model's context of 64 tokens"),
    ],
)
def test_bad_prompts(llama, prompt: str, nokens: dict, message: str) -> None:
    with pytest.raises(PromptError, match=message):
        prepare_prompt(llama, prompt, nokens)


def test_a_slot_used_twice_is_one_noken_in_two_places(llama) -> None:
    prepared = prepare_prompt(llama, "{x} sat on the{x}", CAT)
    assert prepared.slot_positions == {"x": [0, prepared.length - 1]}
    assert torch.equal(prepared.embeds[0, 0], prepared.embeds[0, -1])


def test_generation_too_long_for_context(llama) -> None:
    prepared = prepare_prompt(llama, "The cat sat")
    with pytest.raises(PromptError, match="to generate, longer than the model's context"):
        generate(llama, prepared, DecodingSettings(max_new_tokens=100))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_new_tokens": 0}, "at least 1"),
        ({"min_new_tokens": 9, "max_new_tokens": 4}, "min new tokens"),
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": 1.0, "top_p": 0.0}, "top-p"),
        ({"top_k": 0}, "top-k"),
    ],
)
def test_bad_decoding_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(NokenvizError, match=message):
        DecodingSettings(**kwargs)


def test_streaming_adds_up_to_the_text(llama) -> None:
    pieces: list[str] = []
    ids: list[int] = []
    prepared = prepare_prompt(llama, "{x} sat on the", CAT)
    result = generate(
        llama,
        prepared,
        DecodingSettings(max_new_tokens=10, min_new_tokens=10),
        on_token=lambda i, t: (ids.append(i), pieces.append(t)),
    )
    assert ids == result.token_ids and len(ids) == 10
    assert "".join(pieces) == result.text


def test_cancel_stops_between_tokens(llama) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    def on_token(token_id: int, _text: str) -> None:
        seen.append(token_id)
        if len(seen) == 3:
            cancel.set()

    prepared = prepare_prompt(llama, "The cat sat")
    result = generate(
        llama,
        prepared,
        DecodingSettings(max_new_tokens=30, min_new_tokens=30),
        on_token=on_token,
        cancel=cancel,
    )
    assert result.cancelled
    assert len(result.token_ids) in (3, 4)  # stops within one token of the request (of 30)


def test_sampling_is_reproducible_with_a_seed(llama) -> None:
    prepared = prepare_prompt(llama, "The cat sat")
    settings = DecodingSettings(
        max_new_tokens=12, min_new_tokens=12, temperature=1.5, top_k=50, seed=7
    )
    first, second = generate(llama, prepared, settings), generate(llama, prepared, settings)
    assert first.token_ids == second.token_ids
    other = generate(llama, prepared, DecodingSettings(**{**settings.to_json(), "seed": 8}))
    assert other.token_ids != first.token_ids


def test_lerp_sweep_ends_are_the_plain_prompts(llama) -> None:
    settings = DecodingSettings(max_new_tokens=6)
    rows = lerp_sweep(llama, "White cats are", "Black cats are", steps=3, settings=settings)
    assert [r.value for r in rows] == [0.0, 0.5, 1.0]
    plain = [
        generate(llama, prepare_prompt(llama, p), settings).text
        for p in ("White cats are", "Black cats are")
    ]
    assert [rows[0].text, rows[-1].text] == plain
    with pytest.raises(PromptError, match="same number of tokens"):
        lerp_sweep(llama, "White cats are", "Black cats are so", steps=2, settings=settings)


def test_seed_sweep_rows_equal_single_random_nokens(llama) -> None:
    settings = DecodingSettings(max_new_tokens=5)
    rows = seed_sweep(llama, "{x} is a color", "x", [0, 1], settings=settings)
    for row in rows:
        spec = parse_noken({"random": {"seed": row.value}})
        expected = generate(llama, prepare_prompt(llama, "{x} is a color", {"x": spec}), settings)
        assert row.to_json() == {"seed": row.value, "text": expected.text}


def test_sweep_helpers() -> None:
    assert sweep_values(11)[3] == 0.3
    assert parse_seed_range("0-3,7") == [0, 1, 2, 3, 7]
    with pytest.raises(NokenvizError, match="like 0-9"):
        parse_seed_range("a-b")


def test_soft_feedback_first_step_is_the_greedy_token(llama) -> None:
    prepared = prepare_prompt(llama, "The cat sat")
    run = soft_feedback(llama, prepared, steps=5)
    greedy = generate(llama, prepared, DecodingSettings(max_new_tokens=1))
    assert run.shadow_ids[0] == greedy.token_ids[0]
    assert run.vectors.shape == (5, llama.d_model)
    # each fed-back vector is the probability-weighted mean of W_E rows: inside their hull
    w = llama.adapter.W_E.detach()
    assert torch.all(run.vectors.max(dim=0).values <= w.max(dim=0).values + 1e-5)
    # T = 0 is the one-hot limit: exactly greedy decoding fed back as embeddings
    cold = soft_feedback(llama, prepared, steps=5, temperature=0)
    greedy5 = generate(llama, prepared, DecodingSettings(max_new_tokens=5, min_new_tokens=5))
    assert cold.shadow_ids == greedy5.token_ids and cold.top_probs == [1.0] * 5
    assert torch.equal(cold.vectors[0], w[greedy5.token_ids[0]].float())
    with pytest.raises(NokenvizError, match="temperature >= 0"):
        soft_feedback(llama, prepared, steps=2, temperature=-1)


def test_sweep_tables_as_csv_and_markdown() -> None:
    from nokenviz.core.generation.sweeps import SweepRow, rows_as_text

    rows = [SweepRow("t", 0.0, ' a "quoted" | piped'), SweepRow("t", 1.0, "two\nlines")]
    assert rows_as_text(rows, "csv") == 't,text\n0.0," a ""quoted"" | piped"\n1.0,"two\nlines"\n'
    assert rows_as_text(rows, "md").splitlines()[2:] == [
        '| 0.0 | a "quoted" \\| piped |',
        "| 1.0 | two lines |",
    ]
    with pytest.raises(NokenvizError, match="no rows yet"):
        rows_as_text([], "csv")


def test_a_sweep_file_says_what_made_it() -> None:
    import csv
    from datetime import datetime, timezone

    from nokenviz.core.generation.sweeps import SweepRow, rows_as_text, sweep_header
    from nokenviz.version import __version__

    when = datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc)
    header = sweep_header("seeds", ("The {x} cat", ""), 11, "0-9", 20, "tiny (dir)", when)
    text = rows_as_text([SweepRow("seed", 0, "purrs")], "csv", header)
    assert text.splitlines()[:5] == [
        "# model: tiny (dir)",
        "# sweep: random nokens (raw N(0, 1)) in 'The {x} cat', seeds 0-9",
        "# decoding: greedy, 20 new tokens per row",
        "# date: 2026-11-26 03:00 UTC",
        f"# made with: nokenviz {__version__}",
    ]
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert list(csv.reader(body)) == [["seed", "text"], ["0", "purrs"]]
    lerp = dict(sweep_header("slerp", ("A b", "C d"), 5, "", 8, "m", when))
    assert lerp["sweep"] == "SLERP from 'A b' to 'C d', 5 steps of t"


def test_atomic_writes_leave_the_old_file_on_failure(tmp_path, monkeypatch) -> None:
    import os

    from nokenviz.core.files import write_text_atomic

    target = tmp_path / "table.csv"
    write_text_atomic(target, "old")

    def full_disk(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(NokenvizError, match="No space left on device"):
        write_text_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]  # no temporary left behind


def test_text_a_tokenizer_drops_entirely_gets_one_message(llama, monkeypatch) -> None:
    """A byte-level tokenizer rebuilt from a word list can turn text into nothing at all."""
    from nokenviz.core.nokens import prompts
    from nokenviz.errors import PromptError

    monkeypatch.setattr(prompts, "special_prefix", lambda _tokenizer: [])
    monkeypatch.setattr(llama.tokenizer, "encode", lambda *_args, **_kwargs: [])
    with pytest.raises(PromptError, match="turns 'The sun' into no tokens"):
        prepare_prompt(llama, "The sun")
