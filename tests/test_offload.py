"""Big-model inference (core/models/device_plan.py): a tiny model with decoder layers
offloaded to disk gives the same results as the plain load in every feature that reads or
writes the residual stream; a model that fits nowhere is refused, with the numbers, before
any weight is read."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from accelerate.utils import compute_module_sizes
from transformers import AutoModelForCausalLM

from nokenviz.cli import main
from nokenviz.cli.options import max_memory
from nokenviz.core.generation.experiment import parse_experiment, run_generation
from nokenviz.core.generation.generate import soft_feedback
from nokenviz.core.generation.settings import DecodingSettings
from nokenviz.core.models.device_plan import DevicePlan, plan_devices
from nokenviz.core.models.loading import LoadedModel, load_model
from nokenviz.core.models.model_spec import LoadOptions
from nokenviz.core.nokens.preview import NokenPreview
from nokenviz.core.nokens.prompts import prepare_prompt
from nokenviz.core.nokens.specs import build_noken, parse_noken
from nokenviz.core.residual.lens import trace_prompt
from nokenviz.core.task import Task
from nokenviz.errors import ModelError
from nokenviz.gui.status_line import model_summary
from tests.tiny_models import build_model_dir

LAYERS = 4  # two layers could only go all to the CPU or all to the disk
LAYER_KEYS = {"llama": "num_hidden_layers", "gpt2": "n_layer"}  # gpt2: tied W_U, no RoPE
PROMPT = "The cat sat on {x} mat, the dog"
NOKEN = {"x": parse_noken('{"lerp": [" cat", " dog"], "t": 0.3}')}
GREEDY = DecodingSettings(max_new_tokens=8)


def _budget(plain: LoadedModel, resident_layers: float) -> int:
    """CPU bytes for the embedding, norm and LM head plus `resident_layers` decoder layers.

    accelerate keeps room for one offloaded layer on the CPU, so 2.5 places layer 0 there and
    sends layers 1-3 to the disk."""
    sizes = compute_module_sizes(plain.model)
    layers = _layers_name(plain)
    rest = sizes[""] - sizes[layers]
    return int(rest + resident_layers * sizes[f"{layers}.0"])


def _layers_name(loaded: LoadedModel) -> str:
    return next(n for n, m in loaded.model.named_modules() if m is loaded.adapter.layers)


@pytest.fixture(scope="module", params=sorted(LAYER_KEYS))
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(plain load, load with layers 1-3 offloaded to disk) of one tiny 4-layer model."""
    family = request.param
    root = tmp_path_factory.mktemp(f"offload-{family}")
    directory = str(build_model_dir(family, root / "model", **{LAYER_KEYS[family]: LAYERS}))
    plain = load_model(directory)
    options = LoadOptions(
        max_memory={"cpu": _budget(plain, 2.5)}, offload_folder=str(root / "offload")
    )
    messages: list[str] = []
    task = Task(progress=lambda _f, message: messages.append(message))
    offloaded = load_model(directory, options, task)
    return SimpleNamespace(
        plain=plain, offloaded=offloaded, messages=messages, root=root, dir=directory
    )


def test_the_plan_names_the_offloaded_layers_and_is_shown_first(pair) -> None:
    offloaded = pair.offloaded
    assert offloaded.model.hf_device_map[f"{_layers_name(offloaded)}.2"] == "disk"
    plan = offloaded.device_plan
    assert plan.startswith("layers 0 on cpu, 1-3 on disk (offload folder ")
    assert str(pair.root / "offload") in plan
    assert "embedding, final norm and LM head on cpu" in plan
    assert offloaded.info()["device_plan"] == plan and "device_plan" not in pair.plain.info()
    shown = pair.messages.index(f"device plan: {plan}")
    assert shown < pair.messages.index("loading the weights")
    assert offloaded.adapter.W_E.device.type == "cpu"  # resident: the views read it
    assert offloaded.adapter.W_U.device.type == "cpu"
    assert next(offloaded.adapter.layers[3].parameters()).device.type == "meta"
    assert plan in model_summary(SimpleNamespace(vocab=SimpleNamespace(info=offloaded.info())))


def test_trace_lens_and_attention_match_the_plain_load(pair) -> None:
    plain, offloaded = (
        trace_prompt(m, prepare_prompt(m, PROMPT, NOKEN), k=5) for m in (pair.plain, pair.offloaded)
    )
    for name in ("raw", "lens", "norms", "heat_probs", "attention"):
        np.testing.assert_allclose(
            getattr(offloaded, name), getattr(plain, name), rtol=1e-5, atol=1e-5
        )
    np.testing.assert_array_equal(offloaded.heat_ids, plain.heat_ids)
    for a, b in zip(offloaded.entries, plain.entries, strict=True):
        assert [i for i, _ in a.top] == [i for i, _ in b.top]
        assert [p for _, p in a.top] == pytest.approx([p for _, p in b.top], abs=1e-6)
        assert (a.norm, a.final_rank) == (pytest.approx(b.norm, rel=1e-5), b.final_rank)


def test_preview_matches_the_plain_load(pair) -> None:
    shown = []
    for loaded in (pair.plain, pair.offloaded):
        preview = NokenPreview(loaded, PROMPT, "x")
        vector = build_noken(NOKEN["x"], loaded.adapter.W_E, loaded.tokenizer)
        shown.append(preview(vector, k=5))
    plain, offloaded = shown
    assert [i for i, _ in offloaded.next_tokens] == [i for i, _ in plain.next_tokens]
    assert [p for _, p in offloaded.next_tokens] == pytest.approx(
        [p for _, p in plain.next_tokens], abs=1e-6
    )
    assert [n.id for n in offloaded.nearest] == [n.id for n in plain.nearest]


@pytest.mark.parametrize(
    ("rules", "injections"),
    [
        ((), ()),
        (
            (),
            (
                '1:3:{"token": " the"}',  # a layer on the CPU, then two on the disk
                '2:-1:{"token": " dog"}',
                '3:2:{"direction": [" cat", " dog"], "scale": 2}:add',
            ),
        ),
        (('@2={"token": " cat"}',), ('0:1:{"token": " mat"}',)),
    ],
    ids=["noken", "injections", "rule"],
)
def test_generation_matches_the_plain_load(pair, rules: tuple, injections: tuple) -> None:
    experiment = parse_experiment(None, rules, injections)
    plain, offloaded = (
        run_generation(m, PROMPT, NOKEN, GREEDY, experiment) for m in (pair.plain, pair.offloaded)
    )
    assert offloaded.result.token_ids == plain.result.token_ids
    assert offloaded.result.substituted == plain.result.substituted
    if not experiment.empty:  # the baseline runs the same prompt without the experiment
        assert plain.baseline is not None and offloaded.baseline is not None
        assert offloaded.baseline.token_ids == plain.baseline.token_ids
        assert offloaded.result.token_ids != offloaded.baseline.token_ids


def test_soft_feedback_matches_the_plain_load(pair) -> None:
    plain, offloaded = (
        soft_feedback(m, prepare_prompt(m, PROMPT, NOKEN), steps=5, temperature=0.7)
        for m in (pair.plain, pair.offloaded)
    )
    assert offloaded.shadow_ids == plain.shadow_ids
    torch.testing.assert_close(offloaded.vectors, plain.vectors, rtol=1e-5, atol=1e-5)


def test_a_model_that_fits_keeps_the_single_device_load(pair) -> None:
    options = LoadOptions(max_memory={"cpu": _budget(pair.plain, 4.5)})
    loaded = load_model(pair.dir, options)
    assert not hasattr(loaded.model, "hf_device_map")  # no accelerate hooks
    assert loaded.device_plan == "" and "device_plan" not in loaded.info()


def test_too_large_even_for_the_disk_is_refused_before_any_weight_is_read(
    pair, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    read: list[str] = []
    monkeypatch.setattr(
        AutoModelForCausalLM, "from_pretrained", lambda *a, **k: read.append("weights")
    )
    monkeypatch.setattr(
        "nokenviz.core.models.device_plan.shutil.disk_usage", lambda _p: SimpleNamespace(free=1000)
    )
    options = LoadOptions(
        max_memory={"cpu": _budget(pair.plain, 2.5)}, offload_folder=str(tmp_path / "off")
    )
    with pytest.raises(ModelError) as raised:
        load_model(pair.dir, options)
    message = str(raised.value)
    assert message.startswith("the model does not fit even with offload: it needs 0.2 MiB")
    assert re.search(r"available: cpu 0\.\d MiB, disk 1\.0 KiB in \S+/off;", message)
    assert "the layers left for the disk need 0.1 MiB there" in message
    assert read == []
    assert not (tmp_path / "off").exists()


def test_a_gguf_file_to_convert_must_fit_memory_whole(pair, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(
        "nokenviz.core.models.device_plan.psutil.virtual_memory",
        lambda: SimpleNamespace(available=1000),
    )
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(pair.plain.model.config)
    cpu = torch.device("cpu")
    with pytest.raises(ModelError, match=r"needs 0.2 MiB as float32 in memory at once to convert"):
        plan_devices(skeleton, torch.float32, cpu, LoadOptions(), tmp_path, whole=True)


def test_a_device_this_load_does_not_use_is_an_error(pair) -> None:
    with pytest.raises(ModelError, match=r"max memory names cuda:0, not a device this load uses"):
        load_model(pair.dir, LoadOptions(device="cpu", max_memory={"cuda:0": 2**30}))


def test_the_single_device_plan_describes_itself() -> None:
    assert DevicePlan("cpu", 3 * 2**30).describe() == "all weights on cpu (3.0 GiB)"


def test_cli_prints_the_plan_and_info_shows_it(pair, capsys) -> None:
    budget = str(_budget(pair.plain, 2.5))
    folder = str(pair.root / "cli-offload")
    argv = ["--model", pair.dir, "--max-memory", f"cpu={budget}", "--offload-folder", folder]
    assert main(["info", *argv]) == 0
    out, err = capsys.readouterr()
    assert re.search(r"^device_plan +layers 0 on cpu, 1-3 on disk", out, re.MULTILINE)
    assert err.startswith("nokenviz: device plan: layers 0 on cpu, 1-3 on disk")
    assert main(["info", *argv, "--device-map", "auto", "--json"]) == 0
    out, _err = capsys.readouterr()
    assert '"device_plan": "layers 0 on cpu, 1-3 on disk' in out


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("cpu", "'cpu'"),
        ("cpu=lots", "'cpu=lots'"),
        ("gpu=2GiB", "'gpu=2GiB'"),
        ("cpu=2gb", "'cpu=2gb'"),
        ("cpu=1.5", "'cpu=1.5'"),
        ("cpu=2GiB,,disk=1GB", "''"),
        ("cpu=1GiB,cpu=2GiB", "cpu twice"),
    ],
)
def test_malformed_max_memory_is_one_line_and_exit_code_2(capsys, value: str, shown: str) -> None:
    code = main(["info", "--model", "./no/such/model", "--max-memory", value])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("nokenviz: error: --max-memory ") and err.count("\n") == 1
    assert shown in err


def test_max_memory_sizes() -> None:
    parsed = max_memory("cpu=1.5GiB, cuda:1=10GB ,disk=512MiB,mps=1000")
    assert parsed == {"cpu": 3 * 2**29, "cuda:1": 10**10, "disk": 2**29, "mps": 1000}


def _accelerator_pair(
    device: str, tmp_path: Path, limits: Callable[[LoadedModel], dict[str, int]]
) -> tuple[Any, Any]:
    """Plain float32 load on `device`, and one under the `limits` made for it."""
    directory = str(build_model_dir("llama", tmp_path / "model", num_hidden_layers=LAYERS))
    plain = load_model(directory, LoadOptions(device=device, dtype="float32"))
    options = LoadOptions(
        device=device,
        dtype="float32",
        max_memory=limits(plain),
        offload_folder=str(tmp_path / "off"),
    )
    return plain, load_model(directory, options)


def _assert_same_features(plain: LoadedModel, offloaded: LoadedModel) -> None:
    a, b = (trace_prompt(m, prepare_prompt(m, PROMPT, NOKEN)) for m in (plain, offloaded))
    np.testing.assert_allclose(b.raw, a.raw, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b.attention, a.attention, rtol=1e-4, atol=1e-4)
    assert [e.top[0][0] for e in b.entries] == [e.top[0][0] for e in a.entries]
    experiment = parse_experiment(None, ('@2={"token": " cat"}',), ('2:-1:{"token": " dog"}',))
    runs = [run_generation(m, PROMPT, NOKEN, GREEDY, experiment) for m in (plain, offloaded)]
    assert runs[1].result.token_ids == runs[0].result.token_ids
    previews = []
    for loaded in (plain, offloaded):
        vector = build_noken(NOKEN["x"], loaded.adapter.W_E, loaded.tokenizer)
        previews.append(NokenPreview(loaded, PROMPT, "x")(vector, k=5))
    assert [i for i, _ in previews[1].next_tokens] == [i for i, _ in previews[0].next_tokens]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(
    ("offload_to", "limits"),
    [
        ("cpu", lambda plain: {"cuda:0": _budget(plain, 2.5)}),
        ("disk", lambda plain: {"cuda:0": _budget(plain, 2.5), "cpu": 1}),
    ],
)
def test_cuda_with_offload_matches_the_plain_cuda_load(
    tmp_path: Path, offload_to: str, limits: Callable[[LoadedModel], dict[str, int]]
) -> None:
    plain, offloaded = _accelerator_pair("cuda:0", tmp_path, limits)
    assert offloaded.device_plan.startswith(f"layers 0 on cuda:0, 1-3 on {offload_to}")
    assert offloaded.adapter.W_E.device == torch.device("cuda:0")
    _assert_same_features(plain, offloaded)


@pytest.mark.skipif(not torch.backends.mps.is_available(), reason="needs an MPS device")
def test_mps_with_disk_offload_matches_the_plain_mps_load(tmp_path: Path) -> None:
    plain, offloaded = _accelerator_pair(
        "mps", tmp_path, lambda plain: {"mps": _budget(plain, 2.5)}
    )
    assert offloaded.device_plan.startswith("layers 0 on mps, 1-3 on disk")
    assert offloaded.adapter.W_E.device.type == "mps"
    _assert_same_features(plain, offloaded)
