"""The command line contract (docs/cli.md), on a tiny model, and its error messages."""

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


def test_generate_json_with_an_experiment(capsys, tiny_dirs) -> None:
    model = tiny_dirs["llama"]
    common = ("--max-new-tokens", "6", "--min-new-tokens", "6", "--model", model)
    doc = run_json(
        capsys,
        "generate",
        "The cat sat",
        "--transform",
        '{"scale": 1.5, "range": [0, 2]}',
        "--rule",
        '@2={"token": " dog"}',
        "--inject",
        '1:-1:{"direction": [" cat", " dog"], "scale": 2}',
        "--repetition-penalty",
        "1.2",
        "--ban",
        " log",
        "--ban",
        " mat",
        *common,
    )
    assert isinstance(doc["baseline_text"], str) and len(doc["token_ids"]) == 6
    assert doc["baseline_note"].startswith("baseline: without the transform")
    assert doc["substituted"][0]["index"] == 1
    assert doc["transform"] == {"scale": 1.5, "range": [0, 2]}
    assert doc["settings"]["ban"] == [" log", " mat"]
    first, last = doc["tokens"][0], doc["tokens"][-1]
    assert first["label"].startswith("~") and first["transformed"] is True
    assert first["token"] == "The" and "transformed" not in last


def test_length_readout_and_invert_json(capsys, tiny_dirs, tmp_path) -> None:
    model = tiny_dirs["llama"]
    figure = tmp_path / "length.png"
    length = run_json(
        capsys,
        "length",
        "The cat sat",
        "--factors",
        "0.5,1,2",
        "--out",
        str(figure),
        "--model",
        model,
    )
    entropies = [row["entropy_bits"] for row in length["rows"]]
    assert entropies == sorted(entropies, reverse=True) and figure.stat().st_size > 10_000
    read = run_json(capsys, "readout", "The cat sat", "--model", model)
    assert [r["layer"] for r in read["readouts"]] == [0, 1, 2]
    found = run_json(
        capsys,
        "invert",
        "{x} sat",
        "--noken",
        'x={"token": " cat"}',
        "--length",
        "1",
        "--model",
        model,
    )
    assert found["kl"] <= found["start_kl"] and len(found["token_ids"]) == 1


def test_soft_feedback_keeps_its_plain_token_baseline(capsys, tiny_dirs) -> None:
    model = tiny_dirs["llama"]
    noken = ("--noken", 'x={"token": " cat"}', "--max-new-tokens", "5", "--model", model)
    soft = run_json(capsys, "generate", "{x} sat", *noken, "--soft", "--compare")
    plain = run_json(capsys, "generate", " cat sat", "--max-new-tokens", "5", "--model", model)
    assert soft["mode"] == "soft" and soft["baseline_text"] == plain["text"]


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
        (["generate", "The cat", "--rule", ' elephants={"id": 1}'], "is 9 tokens, not one"),
        (["generate", "The cat", "--inject", '9:0:{"id": 1}'], "layer 9 is out of range"),
        (["generate", "The cat", "--inject", '1:7:{"id": 1}'], "position 7"),
        (["generate", "The cat", "--inject", '0:0:{"vector": [1, 2]}'], "32"),
        (["generate", "The cat", "--transform", '{"blend": 5}'], "a transform needs exactly"),
        (["generate", "The cat", "--repetition-penalty", "0"], "repetition penalty must be"),
        (["readout", "The cat", "--layer", "7"], "layer 7 is out of range"),
        (
            ["invert", "{x} sat", "--noken", 'x={"id": 1}', "--length", "4"],
            "1 to 3 tokens long, not 4",
        ),
        (["length", "The cat", "--factors", "1,x"], "--factors takes numbers"),
        (["length", "{x}", "--slot", "x", "--position", "0"], "position is for the final"),
        (["readout", "{x}", "--slot", "x", "--layer", "1"], "takes no layer or position"),
        (["generate", "The cat", "--soft", "--ban", " dog"], "it takes no banned texts"),
        (["generate", "The cat", "--soft", "--rule", '@1={"id": 1}'], "no a transform, rules"),
        (["generate", "The cat", "--ban", "#99999"], "outside the vocabulary"),
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


def test_map_writes_every_tokens_drawn_place(capsys, tiny_dirs, tmp_path) -> None:
    import numpy as np

    from nokenviz.api import load

    out = tmp_path / "pca.npy"
    model = tiny_dirs["llama"]
    doc = run_json(capsys, "map", "pca", "--out", str(out), "--model", model)
    coords = np.load(out)
    expected = load(model).project("pca").coords  # what the app draws
    assert coords.dtype == np.float32 and coords.shape == (doc["tokens"], 2)
    np.testing.assert_allclose(coords, expected, atol=1e-6)
    assert {"kind", "tokens", "recall_at_10", "seconds", "model"} <= set(doc)
    assert doc["kind"] == "pca" and 0.0 <= doc["recall_at_10"] <= 1.0
    code, _, err = run(capsys, "map", "pca", "--out", str(tmp_path / "pca.csv"), "--model", model)
    assert code == 2 and ".npy" in err
