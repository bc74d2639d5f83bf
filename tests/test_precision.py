"""dtype `auto`: a bfloat16 checkpoint loads in bfloat16 where the CPU computes it natively and
in float32 elsewhere, and bfloat16 results agree with float32 within the stated tolerance."""

from __future__ import annotations

import pytest
import torch

from nokenviz.core.models import precision
from nokenviz.core.models.loading import load_model
from nokenviz.core.models.model_spec import LoadOptions
from nokenviz.core.models.precision import pick_precision
from nokenviz.core.nokens.prompts import prepare_prompt
from nokenviz.core.residual.lens import logit_lens, residual_stream
from tests.tiny_models import build_model_dir

CPU = torch.device("cpu")


class Config:
    def __init__(self, dtype: object) -> None:
        self.dtype = dtype


@pytest.mark.parametrize(
    ("saved", "native", "expected", "why"),
    [
        (torch.bfloat16, "AVX512-BF16", torch.bfloat16, "computes bfloat16 (AVX512-BF16)"),
        ("float16", "AMX-BF16", torch.bfloat16, "the checkpoint is float16"),
        (torch.bfloat16, "", torch.float32, "no native bfloat16"),
        (torch.float32, "AVX512-BF16", torch.float32, "the checkpoint is float32"),
        (None, "AVX512-BF16", torch.float32, "the checkpoint is float32"),
    ],
)
def test_auto_on_cpu_follows_the_checkpoint_and_the_cpu(saved, native, expected, why) -> None:
    chosen = pick_precision("auto", CPU, Config(saved), native=native)
    assert chosen.dtype == expected and why in chosen.reason
    assert pick_precision("float32", CPU, Config(saved), native=native).reason == "asked for"


@pytest.fixture(scope="module")
def bf16_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_model_dir("llama", tmp_path_factory.mktemp("bf16"), dtype=torch.bfloat16))


@pytest.mark.parametrize("native", ["AVX512-BF16", None])
def test_a_bf16_checkpoint_loads_by_the_cpu_it_is_on(bf16_dir, monkeypatch, native) -> None:
    monkeypatch.setattr(precision, "cpu_bf16_feature", lambda: native)
    loaded = load_model(bf16_dir)
    assert loaded.dtype == (torch.bfloat16 if native else torch.float32)
    assert loaded.adapter.W_E.dtype == loaded.dtype
    assert loaded.info()["dtype_reason"].startswith("auto: the checkpoint is bfloat16")


def test_bf16_lens_and_generation_agree_with_float32(bf16_dir) -> None:
    """The tolerance the README states: lens probabilities within 0.02, the same top-1 token
    wherever float32's top-1 leads by more than 0.05, the same greedy tokens."""
    from nokenviz.core.generation.generate import generate
    from nokenviz.core.generation.settings import DecodingSettings

    half = load_model(bf16_dir, LoadOptions(dtype="bfloat16"))
    full = load_model(bf16_dir, LoadOptions(dtype="float32"))
    prompt = "White whippets are fast dogs"
    lenses = []
    for loaded in (half, full):
        stream = residual_stream(loaded, prepare_prompt(loaded, prompt))
        lenses.append(logit_lens(loaded, stream, -1, k=2))
    for low, high in zip(*lenses, strict=True):
        if high.top[0][1] - high.top[1][1] > 0.05:
            assert low.top[0][0] == high.top[0][0]
            assert abs(low.top[0][1] - high.top[0][1]) <= 0.02
    settings = DecodingSettings(max_new_tokens=8)
    texts = [generate(m, prepare_prompt(m, prompt), settings).token_ids for m in (half, full)]
    assert texts[0] == texts[1]


def test_a_bf16_vocabulary_is_the_model_s_own_weights_and_searches_like_float32(bf16_dir) -> None:
    """No float32 copy of W_E is kept for the views or the preview (it would double a lab
    model's embedding); their searches rank as float32 does."""
    from nokenviz.core.maps.geometry import neighbours
    from nokenviz.core.maps.vocabulary import vocabulary
    from nokenviz.core.nokens.preview import NokenPreview

    half = load_model(bf16_dir, LoadOptions(dtype="bfloat16"))
    vocab = vocabulary(half)
    w_e = half.adapter.W_E
    assert vocab.matrices["W_E"].data_ptr() == w_e.data_ptr()
    assert vocab.matrices["W_E"].dtype == torch.bfloat16
    assert vocab.row("W_E", 5).tolist() == w_e[5].float().tolist()
    preview = NokenPreview(half, "The {x}", "x")
    vector = (w_e[10].float() + w_e[11].float()) / 2
    for noken in (vector, w_e[12].float(), 3 * w_e[40].float() - w_e[41].float()):
        expected = neighbours(w_e.float(), noken, k=10).top
        shown = preview(noken, k=10).nearest
        assert [n.id for n in shown] == [n.id for n in expected]
        assert [n.score for n in shown] == pytest.approx([n.score for n in expected], abs=1e-6)
