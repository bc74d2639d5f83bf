"""End-to-end truth on the real default model (SmolLM2-135M-Instruct), loaded once per run.

Each test compares the Python API's answer (the one the command line prints) with a hand
computation in plain torch/transformers.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from nokenviz import cli
from nokenviz.api import Model
from nokenviz.cli import commands

pytestmark = pytest.mark.real_model


@pytest.fixture
def api(smol) -> Model:
    """The already loaded default model, as the Python API's `Model`."""
    return Model(smol)


def test_info_through_the_installed_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nokenviz", "info", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert (
        info["arch"],
        info["n_layers"],
        info["d_model"],
        info["vocab_size"],
        info["tied_embeddings"],
    ) == ("llama", 30, 576, 49152, True)
    assert info["embedding_norms"]["mean_direction_norm"] == pytest.approx(0.67, abs=0.01)


def test_neighbors_of_question_match_a_hand_computation(smol, api) -> None:
    doc = api.neighbors(" question", k=5).to_json()
    w = smol.model.get_input_embeddings().weight.detach()
    query = smol.tokenizer.encode(" question", add_special_tokens=False)[0]
    sims = F.cosine_similarity(w[query].unsqueeze(0), w, dim=1)
    values, ids = torch.topk(sims, 6)
    expected = [(int(i), round(float(v), 6)) for v, i in zip(values[1:], ids[1:], strict=True)]
    assert [(row["id"], row["cosine"]) for row in doc["top"]] == expected
    assert [row["token"] for row in doc["top"][:3]] == [" questions", "question", " Question"]


def test_lens_last_layer_predicts_what_generate_produces(smol, api) -> None:
    doc = api.lens("The sun rises in the").to_json()
    assert len(doc["layers"]) == 31
    ids = smol.tokenizer("The sun rises in the", return_tensors="pt").input_ids
    with torch.no_grad():
        out = smol.model.generate(ids, max_new_tokens=1, do_sample=False, pad_token_id=2)
    assert doc["layers"][-1]["top"][0]["id"] == int(out[0, -1])
    norms = [layer["norm"] for layer in doc["layers"]]
    assert norms[-1] > 50 * norms[0]  # the residual stream grows through the layers


def test_generate_with_a_mix_noken_equals_hand_written_generate(smol, api) -> None:
    mix = {"mix": {"White": 0.5, "Black": 0.5}}
    doc = api.generate("{x} whippets are", {"x": mix}, max_new_tokens=20).to_json()
    tok, w = smol.tokenizer, smol.model.get_input_embeddings().weight.detach()
    white, black = (tok.encode(t, add_special_tokens=False)[0] for t in ("White", "Black"))
    rest = tok(" whippets are", return_tensors="pt", add_special_tokens=False).input_ids[0]
    embeds = torch.cat([(0.5 * w[white] + 0.5 * w[black])[None], w[rest]])[None]
    with torch.no_grad():
        out = smol.model.generate(
            inputs_embeds=embeds,
            attention_mask=torch.ones(embeds.shape[:2]),
            max_new_tokens=20,
            do_sample=False,
            pad_token_id=2,
        )
    assert doc["text"] == tok.decode(out[0], skip_special_tokens=True)
    assert doc["token_ids"] == out[0].tolist()


def test_lerp_sweep_ends_are_the_plain_continuations(smol, api) -> None:
    doc = api.sweep("lerp", "White whippets are", "Black whippets are", steps=11).to_json()
    assert [row["t"] for row in doc["rows"]] == [i / 10 for i in range(11)]
    for prompt, row in (
        ("White whippets are", doc["rows"][0]),
        ("Black whippets are", doc["rows"][-1]),
    ):
        ids = smol.tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            out = smol.model.generate(ids, max_new_tokens=30, do_sample=False, pad_token_id=2)
        assert row["text"] == smol.tokenizer.decode(
            out[0, ids.shape[1] :], skip_special_tokens=True
        )


def test_a_multi_token_word_shows_how_it_splits(smol, monkeypatch, capsys) -> None:
    monkeypatch.setattr(commands, "open_model", lambda _args, _spec=None: Model(smol))
    code = cli.main(["generate", "{x} are fast", "--noken", 'x={"token": " whippets"}'])
    err = capsys.readouterr().err
    assert code == 1
    assert (
        err
        == "nokenviz: error: noken 'x': ' whippets' is 3 tokens, not one: ' wh' + 'ipp' + 'ets'; "
        "use one of them, or a mix of several\n"
    )


def test_the_converted_cache_equals_loading_the_gguf_file(smol) -> None:
    """The safetensors folder the app loads gives the same weights and logits as the GGUF."""
    from nokenviz.core.models.gguf_cache import gguf_read_once
    from nokenviz.core.models.loading import LoadOptions, load_resolved
    from nokenviz.core.models.model_spec import resolve_model
    from nokenviz.core.task import Task

    with gguf_read_once():
        direct = load_resolved(resolve_model("default"), LoadOptions("cpu", "float32"), Task())
    ours, theirs = dict(smol.model.named_parameters()), dict(direct.model.named_parameters())
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[name], theirs[name]) for name in ours)
    ids = smol.tokenizer("The sun rises in the", return_tensors="pt").input_ids
    assert (
        ids.tolist()
        == direct.tokenizer("The sun rises in the", return_tensors="pt").input_ids.tolist()
    )
    with torch.no_grad():  # equal weights; MKL's rounding may depend on where they sit in memory
        logits, direct_logits = smol.model(ids).logits, direct.model(ids).logits
    assert torch.allclose(logits, direct_logits, rtol=0, atol=1e-4)
    assert torch.equal(logits.argmax(-1), direct_logits.argmax(-1))


def test_cancelling_the_first_use_conversion_leaves_no_files(tmp_path, monkeypatch) -> None:
    from nokenviz.core.models import gguf_convert
    from nokenviz.core.models.model_spec import resolve_model
    from nokenviz.core.task import Task
    from nokenviz.errors import Cancelled

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    task = Task()
    task.progress = lambda fraction, _message: task.cancel() if fraction > 0.1 else None
    with pytest.raises(Cancelled):
        gguf_convert.ensure_converted(resolve_model("default"), task)
    assert not list(tmp_path.glob("nokenviz/gguf/*"))
