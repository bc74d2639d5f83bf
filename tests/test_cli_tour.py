"""What a researcher scripting the command line found: options honoured wherever the help
shows them, prompts that options do not swallow, JSON with raw token text and ids, and one
clear line for a missing display or tokenizer. Run as a user does, through `subprocess`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nokenviz.cli import main


def nokenviz(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nokenviz", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_sweep_options_before_the_kind_are_honoured(tiny_dirs) -> None:
    model = tiny_dirs["gpt2"]
    done = nokenviz("sweep", "--model", model, "--json", "lerp", "A cat", "A dog", "--steps", "2")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # --json before the kind: JSON, not text
    assert document["model"] == model and len(document["rows"]) == 2
    refused = nokenviz("sweep", "--device", "tpu", "seeds", "{x} is", "--slot", "x", "--seeds", "1")
    assert refused.returncode != 0
    assert refused.stderr.strip().count("\n") == 0 and "tpu" in refused.stderr


def test_ban_takes_one_text_and_leaves_the_prompt(tiny_dirs) -> None:
    done = nokenviz(
        "generate", "--ban", " the", "--ban", " a", "The cat sat", "--max-new-tokens", "4",
        "--model", tiny_dirs["llama"], "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["prompt"] == "The cat sat"
    assert document["settings"]["ban"] == [" the", " a"]


def test_the_cli_takes_the_apps_labels_for_tokens(tiny_dirs) -> None:
    done = nokenviz("neighbors", "␣cat", "-k", "2", "--model", tiny_dirs["llama"], "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["query"] == " cat"


def test_json_gives_raw_text_ids_and_labels_everywhere(capsys, tiny_dirs) -> None:
    model = tiny_dirs["llama"]
    lens = run_json(
        capsys, "lens", "{x} sat on", "--noken", 'x={"token": " cat"}', "--model", model
    )
    noken, *rest = [t for t in lens["tokens"] if t["label"] == "{x}"] + lens["tokens"][-2:]
    assert noken == {"token": None, "id": None, "label": "{x}"}
    assert [t["token"] for t in rest] == [" sat", " on"]
    assert [t["label"] for t in rest] == ["␣sat", "␣on"]
    generated = run_json(capsys, "generate", "The cat", "--max-new-tokens", "2", "--model", model)
    last = generated["tokens"][-1]
    assert (last["token"], last["label"]) == (" cat", "␣cat") and isinstance(last["id"], int)
    readout = run_json(capsys, "readout", "The cat", "--layer", "1", "--model", model)
    assert (readout["token"], readout["label"]) == (" cat", "␣cat")
    assert isinstance(readout["id"], int)
    length = run_json(capsys, "length", "The cat", "--top", "3", "--model", model)
    assert all(set(t) == {"token", "id", "label"} for t in length["top_tokens"])
    assert len(length["top_tokens"]) == 3
    for document in (lens, generated, readout, length):
        assert document["model"] == model


def test_invert_json_names_its_tokens(capsys, tiny_dirs) -> None:
    model = tiny_dirs["llama"]
    found = run_json(
        capsys, "invert", "{x} sat", "--noken", 'x={"token": " cat"}', "--length", "1",
        "--time-limit", "20", "--model", model,
    )  # fmt: skip
    token = found["tokens"][0]
    assert token["id"] == found["token_ids"][0] and token["label"] == found["labels"][0]
    assert isinstance(token["token"], str)


@pytest.mark.real_model
def test_byte_tokens_stay_apart_by_id_and_label(capsys) -> None:
    lens = run_json(capsys, "lens", "naïve café ☃", "--top", "1")
    pieces = [t for t in lens["tokens"] if "\ufffd" in (t["token"] or "")]
    assert pieces, "the snowman should split into byte pieces"
    assert len(pieces) >= 2 and all("<0x" in t["label"] for t in pieces)
    bare = [t for t in pieces if t["token"] == "\ufffd"]  # read the same as raw text...
    assert len(bare) >= 2 and len({t["id"] for t in bare}) == len(bare)  # ...not as ids
    assert len({t["label"] for t in bare}) == len(bare)  # nor as labels


def test_compare_says_which_token_stood_in(capsys, tiny_dirs) -> None:
    model = tiny_dirs["llama"]
    document = run_json(
        capsys, "generate", "{x} sat", "--noken", 'x={"mix": {" cat": 0.5, " dog": 0.5}}',
        "--compare", "--max-new-tokens", "2", "--model", model,
    )  # fmt: skip
    assert document["baseline_note"].endswith("({x} → ␣cat)")
    lerp = run_json(
        capsys, "generate", "{x} sat", "--noken", 'x={"lerp": [" cat", " dog"], "t": 0.5}',
        "--compare", "--max-new-tokens", "2", "--model", model,
    )  # fmt: skip
    assert lerp["baseline_note"].endswith("({x} → ␣cat)")  # a tie goes to the first token


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 and Wayland are Linux's")
def test_the_window_without_a_display_is_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    done = nokenviz("gui", "--exit-after-load", env=env)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "no display found" in done.stderr and "nokenviz render" in done.stderr


def test_a_folder_without_a_tokenizer_says_so(tiny_dirs, tmp_path: Path) -> None:
    folder = tmp_path / "weights-only"
    shutil.copytree(tiny_dirs["llama"], folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)
    done = nokenviz("info", "--model", str(folder))
    assert done.returncode == 1
    assert "has no tokenizer" in done.stderr and "tokenizer.json" in done.stderr
    assert done.stderr.strip().count("\n") == 0


def test_a_prompt_that_starts_with_bos_gets_it_once(capsys, tiny_dirs) -> None:
    from nokenviz.core.models.loading import load_model

    loaded = load_model(tiny_dirs["llama"])
    bos = loaded.tokenizer.bos_token
    assert bos, "the tiny llama's tokenizer adds a BOS"
    for prompt in (bos, f"{bos}The cat"):
        lens = run_json(capsys, "lens", prompt, "--model", tiny_dirs["llama"])
        ids = [t["id"] for t in lens["tokens"]]
        assert ids.count(loaded.tokenizer.bos_token_id) == 1, ids


def test_render_leaves_titles_off_for_a_paper(capsys, tiny_dirs, tmp_path: Path) -> None:
    scene = Path(__file__).parent.parent / "resources" / "examples" / "logit_lens.json"
    out = tmp_path / "lens.svg"
    document = run_json(
        capsys, "render", str(scene), "--out", str(out), "--size", "column", "--no-titles",
        "--model", tiny_dirs["llama"],
    )  # fmt: skip
    assert "logit lens" in document["caption"] and "norm per layer" in document["caption"]
    svg = out.read_text()
    assert "norm per layer" not in svg and "logit lens" not in svg
