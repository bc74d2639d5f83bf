"""The command line contract of DESIGN.md section 3, on a tiny model, and its error messages."""

from __future__ import annotations

import json

import pytest

from nokenviz.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_info_json(capsys, tiny_dirs) -> None:
    info = run_json(capsys, "info", "--model", tiny_dirs["gpt_neox"])
    assert {
        k: info[k] for k in ("arch", "n_layers", "d_model", "tied_embeddings", "device", "dtype")
    } == {
        "arch": "gpt_neox",
        "n_layers": 2,
        "d_model": 32,
        "tied_embeddings": False,
        "device": "cpu",
        "dtype": "float32",
    }
    assert info["vocab_size"] > 300


def test_neighbors_json_excludes_the_query(capsys, tiny_dirs) -> None:
    doc = run_json(capsys, "neighbors", " cat", "-k", "4", "--model", tiny_dirs["llama"])
    assert doc["query"] == " cat"
    assert len(doc["top"]) == 4 and len(doc["bottom"]) == 4
    assert doc["id"] not in [row["id"] for row in doc["top"]]
    cosines = [row["cosine"] for row in doc["top"]]
    assert cosines == sorted(cosines, reverse=True)
    assert set(doc["top"][0]) == {"token", "id", "cosine"}


def test_lens_json(capsys, tiny_dirs) -> None:
    doc = run_json(capsys, "lens", "The cat sat", "--top", "3", "--model", tiny_dirs["qwen2"])
    assert doc["position"] == len(doc["tokens"]) - 1
    assert [e["layer"] for e in doc["layers"]] == [0, 1, 2]
    assert all(
        len(e["top"]) == 3 and set(e["top"][0]) == {"token", "id", "prob"} for e in doc["layers"]
    )
    assert doc["layers"][-1]["top"][0]["token"] == doc["prediction"]


def test_generate_json_with_compare(capsys, tiny_dirs) -> None:
    model = tiny_dirs["llama"]
    doc = run_json(
        capsys,
        "generate",
        "{x} sat on the",
        "--noken",
        'x={"token": " cat"}',
        "--compare",
        "--max-new-tokens",
        "6",
        "--model",
        model,
    )
    plain = run_json(
        capsys, "generate", " cat sat on the", "--max-new-tokens", "6", "--model", model
    )
    assert doc["text"] == doc["baseline_text"] == plain["text"]
    assert len(doc["token_ids"]) <= 6


def test_generate_streams_without_json(capsys, tiny_dirs) -> None:
    code, out, _ = run(
        capsys, "generate", "The cat", "--max-new-tokens", "4", "--model", tiny_dirs["gpt2"]
    )
    doc = run_json(
        capsys, "generate", "The cat", "--max-new-tokens", "4", "--model", tiny_dirs["gpt2"]
    )
    assert code == 0
    assert out == "The cat" + doc["text"] + "\n"


def test_sweeps_json(capsys, tiny_dirs) -> None:
    model = tiny_dirs["phi"]
    lerp = run_json(
        capsys,
        "sweep",
        "lerp",
        "White cats",
        "Black cats",
        "--steps",
        "4",
        "--slerp",
        "--max-new-tokens",
        "3",
        "--model",
        model,
    )
    assert [r["t"] for r in lerp["rows"]] == [0.0, 0.333333, 0.666667, 1.0]
    seeds = run_json(
        capsys,
        "sweep",
        "seeds",
        "{x} is a color",
        "--slot",
        "x",
        "--seeds",
        "2-4",
        "--max-new-tokens",
        "3",
        "--model",
        model,
    )
    assert [r["seed"] for r in seeds["rows"]] == [2, 3, 4]
    assert all(isinstance(r["text"], str) for r in seeds["rows"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["info", "--model", "./no/such/model"], "model path not found"),
        (["neighbors", " elephants"], "is 9 tokens, not one"),
        (
            ["generate", "{x} sat", "--noken", 'x={"mix": {" cat": -1}}'],
            "noken 'x': mix weights must be >= 0",
        ),
        (["generate", "{x} sat", "--noken", 'x={"mix": {" cat": NaN}}'], "finite number"),
        (
            ["generate", "{x} sat", "--noken", 'x={"token": " cat", "bogus": 1}'],
            "unknown key 'bogus'",
        ),
        (["generate", "{x} sat", "--noken", "x"], "a noken is given as NAME=SPEC"),
        (["generate", "{y} sat", "--noken", 'x={"token": " cat"}'], "no noken named 'y'"),
        (
            ["generate", "a cat sat", "--noken", 'x={"token": " cat"}'],
            "defined but the prompt has no {x}",
        ),
        (["generate", ""], "the prompt is empty"),
        (["generate", "The cat " * 40], "longer than the model's context"),
        (["lens", "The cat", "--position", "9"], "position 9 is outside the prompt"),
        (["sweep", "seeds", "{x}", "--slot", "x", "--seeds", "x"], "seeds are written like"),
        (["generate", "The cat", "--top-p", "2", "--temperature", "1"], "top-p must be in"),
    ],
)
def test_bad_input_is_one_line_on_stderr(capsys, tiny_dirs, argv: list[str], message: str) -> None:
    if "--model" not in argv:
        argv = [*argv, "--model", tiny_dirs["llama"]]
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert out == ""
    assert err.startswith("nokenviz: error: ") and err.count("\n") == 1
    assert message in err
