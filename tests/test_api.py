"""The Python API as the README shows it, and its contract with the command line: every
command's `--json` is the API result's `to_json()` for the same request."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

import nokenviz as nv
from nokenviz.cli import main
from nokenviz.errors import NokenvizError

# Wall-clock figures differ between any two runs; everything else must be equal.
TIMINGS = ("tokens_per_second", "seconds")


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def same(document: dict, result: object) -> bool:
    """The CLI's document equals the result's `to_json()` (through JSON, timings left out)."""
    ours = json.loads(json.dumps(result.to_json(), ensure_ascii=False))  # type: ignore[attr-defined]
    return {k: v for k, v in document.items() if k not in TIMINGS} == {
        k: v for k, v in ours.items() if k not in TIMINGS
    }


@pytest.fixture(scope="module")
def model(tiny_dirs: dict[str, str]) -> nv.Model:
    return nv.load(tiny_dirs["llama"], device="cpu")


def test_load_gives_a_typed_model(model: nv.Model, tiny_dirs: dict[str, str]) -> None:
    info = model.info
    assert (info.arch, info.n_layers, info.d_model, info.device) == ("llama", 2, 32, "cpu")
    assert info.model == tiny_dirs["llama"] and info.causal
    assert "llama" in repr(model)


def test_every_command_json_is_the_api_result(capsys, model, tiny_dirs) -> None:
    m = ("--model", tiny_dirs["llama"])
    x = 'x={"mix": {" cat": 0.5, " dog": 0.5}}'
    spec = {"x": {"mix": {" cat": 0.5, " dog": 0.5}}}
    pairs = [
        (cli_json(capsys, "info", *m), model.describe()),
        (cli_json(capsys, "neighbors", " cat", "-k", "4", *m), model.neighbors(" cat", k=4)),
        (
            cli_json(capsys, "neighbors", "#5", "--metric", "dot", *m),
            model.neighbors(5, metric="dot"),
        ),
        (
            cli_json(capsys, "lens", "{x} sat on", "--noken", x, "--top", "3", *m),
            model.lens("{x} sat on", top=3, nokens=spec),
        ),
        (
            cli_json(capsys, "generate", "{x} sat", "--noken", x, "--compare", *m),
            model.generate("{x} sat", spec, compare=True),
        ),
        (
            cli_json(
                capsys, "generate", "The cat", "--rule", '@1={"token": " dog"}', "--ban", " mat", *m
            ),
            model.generate("The cat", rules=['@1={"token": " dog"}'], ban=[" mat"]),
        ),
        (
            cli_json(capsys, "generate", "{x} sat", "--noken", x, "--soft", "--compare", *m),
            model.generate("{x} sat", spec, soft=True, compare=True),
        ),
        (
            cli_json(capsys, "sweep", "lerp", "White cats", "Black cats", "--steps", "3", *m),
            model.sweep("lerp", "White cats", "Black cats", steps=3),
        ),
        (
            cli_json(capsys, "sweep", "seeds", "{x} is", "--slot", "x", "--seeds", "1-2", *m),
            model.sweep("seeds", "{x} is", seeds="1-2"),
        ),
        (
            cli_json(capsys, "length", "The cat sat", "--factors", "0.5,1,2", *m),
            model.length("The cat sat", factors=[0.5, 1, 2]),
        ),
        (
            cli_json(capsys, "readout", "The cat sat", "--layer", "1", *m),
            model.readout("The cat sat", layer=1),
        ),
        (
            cli_json(capsys, "invert", "{x} sat", "--noken", x, "--length", "1", *m),
            model.invert("{x} sat", spec, length=1),
        ),
    ]
    for document, result in pairs:
        assert same(document, result), document
        assert document["model"] == tiny_dirs["llama"]


def test_render_json_is_the_api_result(capsys, model, tiny_dirs, tmp_path) -> None:
    scene = tmp_path / "scene.json"
    scene.write_text(json.dumps({"nokenviz_scene": 1, "model": tiny_dirs["llama"]}))
    document = cli_json(capsys, "render", str(scene), "--out", str(tmp_path / "a.png"))
    result = model.render(scene, tmp_path / "b.png")
    assert document["bytes"] == result.bytes > 10_000
    assert {**document, "out": ""} == {**result.to_json(), "out": ""}


def test_lens_matches_plain_transformers_and_draws_its_figure(model) -> None:
    lens = model.lens("The cat sat on the", top=3)
    tokenizer, hf = model.tokenizer, model.hf_model
    ids = tokenizer("The cat sat on the", return_tensors="pt").input_ids
    with torch.no_grad():
        out = hf(ids, output_hidden_states=True)
    assert lens.prediction.id == int(out.logits[0, -1].argmax())
    expected = [float(h[0, -1].norm()) for h in out.hidden_states[:-1]]
    assert [e.norm for e in lens.layers[:-1]] == pytest.approx(expected, rel=1e-5)
    figure = lens.figure("column")
    assert figure.get_figwidth() == pytest.approx(3.5) and len(figure.axes) >= 2


def test_attention_guides_are_the_last_layers_mean(model) -> None:
    found = model.attention("The cat sat on the")
    n = len(found.tokens)
    assert found.weights.shape[0] == 2 and found.weights.shape[2:] == (n, n)
    assert np.allclose(found.weights.sum(axis=-1), 1.0, atol=1e-4)  # each query's weights
    assert np.allclose(found.guiding, found.weights[:, :, -1, :].mean(axis=(0, 1)))
    top = found.to_json()["guiding"][0]
    assert top["weight"] == pytest.approx(float(found.guiding.max()), abs=1e-6)
    assert found.figure(layer=1, head=0).axes


def test_noken_is_the_mix_of_its_tokens(model) -> None:
    found = model.noken({"mix": {" cat": 0.25, " dog": 0.75}})
    w = model.hf_model.get_input_embeddings().weight.detach()
    cat, dog = (model.tokenizer.encode(t, add_special_tokens=False)[0] for t in (" cat", " dog"))
    assert np.allclose(found.vector, (0.25 * w[cat] + 0.75 * w[dog]).numpy(), atol=1e-6)
    assert found.to_json()["spec"] == {"mix": {" cat": 0.25, " dog": 0.75}}
    assert found.norm == pytest.approx(float(np.linalg.norm(found.vector)))


def test_generate_streams_and_stops(model) -> None:
    streamed: list[int] = []
    run = model.generate("The cat", max_new_tokens=8, on_token=lambda i, _t: streamed.append(i))
    assert streamed == run.token_ids and 1 <= len(run.token_ids) <= 8
    cancel = threading.Event()
    seen: list[int] = []

    def stop_after_two(token_id: int, _text: str) -> None:
        seen.append(token_id)
        if len(seen) == 2:
            cancel.set()

    stopped = model.generate(
        "The cat", max_new_tokens=30, min_new_tokens=30, on_token=stop_after_two, cancel=cancel
    )
    assert stopped.stopped and stopped.to_json()["stopped"] is True
    assert 2 <= len(stopped.token_ids) <= 3


def test_project_gives_every_token_a_place_and_a_score(model) -> None:
    found = model.project("pca")
    assert found.coords.shape == (model.info.vocab_size, 2) and found.coords.dtype == np.float32
    assert 0.0 <= found.recall_at_10 <= 1.0
    assert found.to_json()["tokens"] == model.info.vocab_size


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.generate("The cat", temperature=-1), "temperature must be"),
        (lambda m: m.noken({"mix": {" cat": -1}}), "mix weights must be >= 0"),
        (lambda m: m.neighbors(" elephants"), "tokens, not one"),
        (lambda m: m.lens("The cat", position=9), "position 9"),
        (lambda m: m.readout("{x}", slot="y", nokens={"x": {"id": 1}}), "slot y"),
        (lambda m: m.generate("The cat", soft=True, ban=[" dog"]), "no banned texts"),
    ],
)
def test_bad_input_is_one_clear_error(model, call, message: str) -> None:
    with pytest.raises(NokenvizError, match=message):
        call(model)


def test_a_label_typed_back_names_its_token(model, capsys, tiny_dirs) -> None:
    assert model.neighbors("␣cat").id == model.neighbors(" cat").id
    document = cli_json(capsys, "neighbors", "␣cat", "--model", tiny_dirs["llama"])
    assert document["query"] == " cat"


def test_requests_are_typed_json_and_refuse_unknown_kinds() -> None:
    from nokenviz.api.requests import LensRequest, MapRequest, NeighborsRequest, SweepRequest
    from nokenviz.core.nokens.specs import parse_noken

    lens = LensRequest("a {x}", nokens={"x": parse_noken({"id": 3})})
    assert json.loads(json.dumps(lens.to_json())) == {
        "prompt": "a {x}",
        "position": -1,
        "top": 5,
        "nokens": {"x": {"id": 3}},
    }
    sweep = SweepRequest("seeds", "{x} is", seeds=(1, 2)).to_json()
    assert sweep["seeds"] == [1, 2] and sweep["settings"]["max_new_tokens"] == 30
    for make, message in [
        (lambda: SweepRequest("lurp", "a", "b"), "a sweep's kind is one of lerp, slerp, seeds"),
        (lambda: NeighborsRequest(" cat", metric="euclid"), "metric is one of cosine, dot"),
        (lambda: MapRequest("tsne"), "a map's kind is one of pca, umap"),
    ]:
        with pytest.raises(NokenvizError, match=message):
            make()


def test_a_setting_of_the_wrong_type_is_one_line(model) -> None:
    with pytest.raises(NokenvizError, match="^max_new_tokens: "):
        model.generate("The cat", max_new_tokens="20")


def test_an_unknown_decoding_option_is_named(model) -> None:
    with pytest.raises(TypeError, match="unknown decoding option 'bogus'"):
        model.generate("The cat", bogus=1)


def test_from_transformers_wraps_a_model_in_memory(model) -> None:
    wrapped = nv.Model.from_transformers(model.hf_model, model.tokenizer, name="my-edit")
    assert wrapped.hf_model is model.hf_model  # nothing copied
    assert wrapped.info.model == "in-memory:my-edit"
    assert wrapped.lens("The cat").prediction == model.lens("The cat").prediction
    with pytest.raises(NokenvizError, match="tokenizer"):
        nv.Model.from_transformers(model.hf_model, None)
    with pytest.raises(NokenvizError, match="not a transformers model"):
        nv.Model.from_transformers(object(), model.tokenizer)


def test_sweep_options_before_the_kind_are_honoured(capsys, tiny_dirs) -> None:
    document = cli_json(
        capsys, "sweep", "--model", tiny_dirs["gpt2"], "lerp", "A cat", "A dog", "--steps", "2"
    )
    assert document["model"] == tiny_dirs["gpt2"]
    after = cli_json(capsys, "sweep", "lerp", "A cat", "A dog", "--model", tiny_dirs["gpt2"])
    assert after["model"] == tiny_dirs["gpt2"]


def test_tokens_are_selected_by_the_same_query_as_the_command_line(model) -> None:
    found = model.tokens("kind:punctuation or kind:number")
    assert found.tokens and all(t.kind in ("punctuation", "number") for t in found.tokens)
    assert found.to_json()["count"] == len(found.tokens)
