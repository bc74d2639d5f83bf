"""Tiny random models of every supported family, built offline from configs (no downloads).

Each is saved as a real model directory (safetensors + tokenizer) so tests go through the same
loading path as a user's model. The tokenizer is a byte-level BPE trained on a few sentences.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

CORPUS = [
    "White whippets are fast dogs. Black whippets are fast too.",
    "The sun rises in the east and sets in the west.",
    "Red is a color that is often associated with fire, love and danger.",
    "A dumb question here: can you give a model a distribution as input?",
    "The cat sat on the mat; the dog sat on the log.",
    "Black and White, White and Black: Black cats, White cats, Black dogs, White dogs.",
]
SMALL = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": 64,
}

# family -> (config class, config kwargs)
FAMILIES: dict[str, tuple[str, dict]] = {
    "llama": ("LlamaConfig", {**SMALL, "intermediate_size": 64, "num_key_value_heads": 2}),
    "qwen2": ("Qwen2Config", {**SMALL, "intermediate_size": 64, "num_key_value_heads": 2}),
    "mistral": ("MistralConfig", {**SMALL, "intermediate_size": 64, "num_key_value_heads": 2}),
    "gemma": (
        "GemmaConfig",
        {**SMALL, "intermediate_size": 64, "num_key_value_heads": 1, "head_dim": 8},
    ),
    "phi": ("PhiConfig", {**SMALL, "intermediate_size": 64}),
    "gpt2": ("GPT2Config", {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64}),
    "opt": ("OPTConfig", {**SMALL, "ffn_dim": 64, "word_embed_proj_dim": 32}),
    "gpt_neox": ("GPTNeoXConfig", {**SMALL, "intermediate_size": 64}),
}


def build_tokenizer(vocab_size: int = 400) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>")


def build_model_dir(
    family: str,
    directory: Path,
    seed: int = 0,
    vocab_size: int = 400,
    dtype: torch.dtype = torch.float32,
    **overrides: Any,
) -> Path:
    """Save a random tiny model of `family` with its tokenizer into `directory` (its weights
    in `dtype`, as a checkpoint saved in that dtype); `overrides` change its config."""
    model, tokenizer = build_model(family, seed, vocab_size, **overrides)
    model.to(dtype)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def build_model(
    family: str, seed: int = 0, vocab_size: int = 400, **overrides: Any
) -> tuple[Any, PreTrainedTokenizerFast]:
    """A random tiny model of `family` and its tokenizer, in memory (float32)."""
    tokenizer = build_tokenizer(vocab_size)
    config_name, kwargs = FAMILIES[family]
    config = getattr(transformers, config_name)(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        **{**kwargs, **overrides},
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    _spread_weights(model)
    return model, tokenizer


def build_encoder_dir(directory: Path) -> Path:
    """A tiny BERT (not a causal LM: geometry views only) with the same tokenizer."""
    tokenizer = build_tokenizer()
    config = transformers.BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
    )
    transformers.BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _spread_weights(model: torch.nn.Module) -> None:
    """Random init with std 0.02 gives near-uniform outputs where argmax ties are likely;
    larger weights make greedy decoding decisive, so equality tests compare real choices."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() >= 2:
                parameter.normal_(
                    0.0, 0.3 if "embed" in name or "wte" in name or "wpe" in name else 0.15
                )
