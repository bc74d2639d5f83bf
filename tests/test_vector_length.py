"""The length sweeps against plain transformers: scaling the final residual after the final norm
is scaling the logits (entropy falls as the factor grows), and scaling a noken is the plain
forward pass with that slot's embedding scaled; the figure is written as a journal accepts it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from nokenviz.core.figures.length import length_figure
from nokenviz.core.figures.plots import save_figure
from nokenviz.core.figures.sizes import SIZES
from nokenviz.core.nokens.prompts import prepare_prompt
from nokenviz.core.nokens.specs import parse_noken
from nokenviz.core.residual.vector_length import (
    DEFAULT_FACTORS,
    scale_final,
    scale_noken,
)
from nokenviz.errors import NokenvizError, PromptError

TEXT = "The sun rises in the"
NOKEN_PROMPT = "The {x} rises in the"


def _entropy_bits(logits: torch.Tensor) -> float:
    """Shannon entropy of softmax(logits), written out by hand in float64."""
    p = torch.softmax(logits.double(), dim=-1)
    return float(-(p * torch.log2(p.clamp_min(1e-300))).sum())


def _plain_logits(loaded, text: str) -> torch.Tensor:
    """The model's own next-token logits at every position, from input ids: [T, V]."""
    ids = prepare_prompt(loaded, text).token_ids
    with torch.no_grad():
        return loaded.model(input_ids=torch.tensor([ids])).logits[0].double()


def test_default_factors_are_a_geometric_grid_through_one() -> None:
    factors = np.array(DEFAULT_FACTORS)
    assert factors[0] == 0.125 and factors[-1] == 8.0 and 1.0 in factors
    assert len(factors) == 25
    np.testing.assert_allclose(factors[1:] / factors[:-1], 2**0.25, rtol=1e-12)


def test_scaling_the_final_residual_scales_the_logits(llama) -> None:
    assert llama.adapter.unembedding.bias is None  # so f * h gives exactly f * logits
    logits = _plain_logits(llama, TEXT)[-1]
    factors = (0.25, 0.5, 1.0, 2.0, 4.0)
    prepared = prepare_prompt(llama, TEXT)
    sweep = scale_final(llama, prepared, factors)
    np.testing.assert_array_equal(sweep.factors, factors)
    for f, entropy in zip(factors, sweep.entropy, strict=True):
        assert entropy == pytest.approx(_entropy_bits(f * logits), abs=1e-4)
    probs = torch.softmax(logits, dim=-1)
    unit = factors.index(1.0)
    assert sweep.top1[unit] == pytest.approx(float(probs.max()), abs=1e-5)
    assert sweep.top_ids[unit, 0] == int(logits.argmax())
    top5 = torch.topk(probs, 5)
    assert sweep.topk_mass[unit] == pytest.approx(float(top5.values.sum()), abs=1e-5)
    assert sweep.top_labels == [llama.token_labels[int(i)] for i in top5.indices]
    last = prepared.length - 1
    assert sweep.what == f"final residual at position {last} ({prepared.labels[last]})"


def test_entropy_falls_and_top1_rises_as_the_final_vector_grows(llama) -> None:
    sweep = scale_final(llama, prepare_prompt(llama, TEXT))
    assert (np.diff(sweep.entropy) < 0).all()  # > 1 sharpens, < 1 flattens
    assert (np.diff(sweep.top1) > 0).all()
    assert (sweep.topk_mass >= sweep.top1).all() and (sweep.topk_mass <= 1 + 1e-9).all()
    assert sweep.entropy[0] < math.log2(llama.vocab_size) + 1e-9
    # scaling a vector never reorders its logits when there is no bias: the same top tokens
    assert (sweep.top_ids == sweep.top_ids[0]).all()


def test_scale_final_reads_the_asked_position(llama) -> None:
    logits = _plain_logits(llama, TEXT)
    sweep = scale_final(llama, prepare_prompt(llama, TEXT), (0.5, 3.0), position=1)
    for f, entropy in zip((0.5, 3.0), sweep.entropy, strict=True):
        assert entropy == pytest.approx(_entropy_bits(f * logits[1]), abs=1e-4)
    assert "position 1 " in sweep.what


def _scaled_slot_forward(loaded, factor: float) -> torch.Tensor:
    """The plain model on the prompt with {x} = the token ' sun', whose input embedding (from
    the model's own embedding module, scale included) is multiplied by `factor`."""
    sun = loaded.tokenizer.encode(" sun", add_special_tokens=False)
    assert len(sun) == 1
    prepared = prepare_prompt(loaded, NOKEN_PROMPT, {"x": parse_noken({"token": " sun"})})
    slot = prepared.slot_positions["x"][0]
    ids = [sun[0] if i is None else i for i in prepared.token_ids]
    with torch.no_grad():
        embeds = loaded.model.get_input_embeddings()(torch.tensor([ids])).clone()
        embeds[0, slot] *= factor
        return loaded.model(inputs_embeds=embeds).logits[0, -1].double()


@pytest.mark.parametrize("family", ["llama", "gemma"])  # gemma scales its embeddings by sqrt(d)
def test_scaling_a_noken_is_scaling_its_input_embedding(tiny_models, family: str) -> None:
    loaded = tiny_models[family]
    nokens = {"x": parse_noken({"token": " sun"})}
    factors = (0.25, 1.0, 3.0)
    sweep = scale_noken(loaded, NOKEN_PROMPT, nokens, "x", factors, k=3)
    plain = prepare_prompt(loaded, NOKEN_PROMPT, nokens)
    with torch.no_grad():
        unscaled = loaded.model(inputs_embeds=plain.embeds).logits[0, -1].double()
    assert sweep.entropy[1] == pytest.approx(_entropy_bits(unscaled), abs=1e-4)
    assert sweep.top1[1] == pytest.approx(float(torch.softmax(unscaled, -1).max()), abs=1e-5)
    for row, f in enumerate(factors):
        reference = _scaled_slot_forward(loaded, f)
        assert sweep.entropy[row] == pytest.approx(_entropy_bits(reference), abs=1e-4)
        top = torch.topk(torch.softmax(reference, -1), 3)
        np.testing.assert_allclose(sweep.topk_mass[row], float(top.values.sum()), atol=1e-5)
        assert list(sweep.top_ids[row]) == [int(i) for i in top.indices]
    assert not np.allclose(sweep.entropy[0], sweep.entropy[2], atol=1e-3)  # length matters
    assert sweep.what == "noken {x} in 'The {x} rises in the'"


def test_scale_noken_is_one_batched_forward_pass(llama) -> None:
    shapes = []
    hook = llama.model.register_forward_pre_hook(
        lambda _m, _args, kwargs: shapes.append(tuple(kwargs["inputs_embeds"].shape)),
        with_kwargs=True,
    )
    try:
        nokens = {"x": parse_noken({"mix": {" sun": 1, " east": 1}})}
        scale_noken(llama, NOKEN_PROMPT, nokens, "x")
    finally:
        hook.remove()
    assert len(shapes) == 1 and shapes[0][0] == len(DEFAULT_FACTORS)


def test_factors_are_sorted_without_repeats(llama) -> None:
    sweep = scale_final(llama, prepare_prompt(llama, TEXT), [2, 0.5, 1, 2])
    np.testing.assert_array_equal(sweep.factors, [0.5, 1.0, 2.0])
    assert (np.diff(sweep.entropy) < 0).all()


@pytest.mark.parametrize(
    ("factors", "message"),
    [
        ([0.5, 0.0], "greater than 0, not 0"),
        ([-1.0], "greater than 0, not -1"),
        ([float("nan")], "finite"),
        ([float("inf")], "finite"),
        ([], "at least one"),
        (["big"], "must be numbers"),
    ],
)
def test_bad_factors_are_refused(llama, factors: list, message: str) -> None:
    prepared = prepare_prompt(llama, TEXT)
    with pytest.raises(NokenvizError, match=message):
        scale_final(llama, prepared, factors)
    nokens = {"x": parse_noken({"token": " sun"})}
    with pytest.raises(NokenvizError, match=message):
        scale_noken(llama, NOKEN_PROMPT, nokens, "x", factors)


def test_bad_k_position_and_slot_are_refused(llama) -> None:
    prepared = prepare_prompt(llama, TEXT)
    last = prepared.length - 1
    with pytest.raises(PromptError, match=rf"outside the prompt: .* use 0\.\.{last}"):
        scale_final(llama, prepared, position=prepared.length)
    with pytest.raises(PromptError, match="outside the prompt"):
        scale_final(llama, prepared, position=-prepared.length - 1)
    with pytest.raises(NokenvizError, match="k must be from 1"):
        scale_final(llama, prepared, k=0)
    nokens = {"x": parse_noken({"token": " sun"})}
    with pytest.raises(PromptError, match=r"no \{y\} slot .*its slots: \{x\}"):
        scale_noken(llama, NOKEN_PROMPT, nokens, "y")
    with pytest.raises(PromptError, match=r"no \{x\} slot .*its slots: none"):
        scale_noken(llama, TEXT, {}, "x")


def test_to_json_has_one_row_per_factor(llama) -> None:
    sweep = scale_final(llama, prepare_prompt(llama, TEXT), (0.5, 1, 2), k=2)
    data = json.loads(json.dumps(sweep.to_json()))
    assert [row["factor"] for row in data["rows"]] == [0.5, 1.0, 2.0]
    assert [row["entropy_bits"] for row in data["rows"]] == sweep.entropy.tolist()
    assert data["rows"][1]["top_ids"] == sweep.top_ids[1].tolist()
    assert data["k"] == 2 and [t["label"] for t in data["top_tokens"]] == sweep.top_labels
    assert [t["token"] for t in data["top_tokens"]] == [
        llama.token_strings[i] for i in sweep.top_ids[1]
    ]
    assert data["what"] == sweep.what


@pytest.mark.parametrize("size", ["column", "screen"])
def test_length_figure_is_written_for_print(llama, tmp_path: Path, size: str) -> None:
    sweep = scale_final(llama, prepare_prompt(llama, TEXT))
    figure = length_figure(sweep, SIZES[size])
    assert figure.get_figwidth() == SIZES[size].width
    assert sweep.what.split(" (")[0] in figure.get_suptitle().replace("\n", " ")
    entropy_axes = figure.axes[0]
    assert entropy_axes.get_xscale() == "log"
    np.testing.assert_allclose(entropy_axes.lines[0].get_ydata(), sweep.entropy)
    for axes in figure.axes[:2]:  # the mark at x1: dark, and drawn over the grid's line at 1
        mark = next(line for line in axes.lines if list(line.get_xdata()) == [1.0, 1.0])
        grid = axes.xaxis.get_gridlines()[0]
        assert mark.get_zorder() > grid.get_zorder() and mark.get_color() == "#000000"
        assert mark.get_linewidth() > grid.get_linewidth()
    png = save_figure(figure, tmp_path / "length.png", SIZES[size].dpi)
    pdf = save_figure(figure, tmp_path / "length.pdf")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 5_000
    assert b"/Type3" not in data and b"/FontFile2" in data  # TrueType embedded, no Type 3


@pytest.mark.real_model
def test_the_default_model_sharpens_with_a_longer_final_vector(smol) -> None:
    sweep = scale_final(smol, prepare_prompt(smol, TEXT), (0.5, 1.0, 2.0))
    assert sweep.entropy[2] < sweep.entropy[1] < sweep.entropy[0]
    logits = _plain_logits(smol, TEXT)[-1]
    assert sweep.entropy[1] == pytest.approx(_entropy_bits(logits), abs=1e-3)
    assert sweep.top_ids[1, 0] == int(logits.argmax())
