"""Production-shaped random models for the scale benchmark, built offline from configs.

Each has the exact shapes of a lab model (vocabulary, width, depth, heads, tied or not) with
random bfloat16 weights, saved with `save_pretrained` as the real checkpoints are, and a
word-level tokenizer of the full vocabulary size. Built once into a cache folder (several GB
each) and reused; nothing is downloaded.

    python -m benchmarks.scale_models [NAME ...]   # build into the cache, print the paths
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import platformdirs

# name -> (config class, config keyword arguments)
SHAPES: dict[str, tuple[str, dict]] = {
    "llama-3.2-1b": (
        "LlamaConfig",
        {
            "vocab_size": 128256,
            "hidden_size": 2048,
            "intermediate_size": 8192,
            "num_hidden_layers": 16,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 64,
            "max_position_embeddings": 131072,
            "rope_theta": 500000.0,
            "tie_word_embeddings": True,
        },
    ),
    "gemma-2-2b": (
        "Gemma2Config",
        {
            "vocab_size": 256000,
            "hidden_size": 2304,
            "intermediate_size": 9216,
            "num_hidden_layers": 26,
            "num_attention_heads": 8,
            "num_key_value_heads": 4,
            "head_dim": 256,
            "max_position_embeddings": 8192,
            "tie_word_embeddings": True,
        },
    ),
    # Qwen2.5-0.5B's shapes with the unembedding untied (the real 0.5B ties it; its larger
    # siblings do not), so an untied 150k vocabulary is covered.
    "qwen2.5-0.5b-untied": (
        "Qwen2Config",
        {
            "vocab_size": 151936,
            "hidden_size": 896,
            "intermediate_size": 4864,
            "num_hidden_layers": 24,
            "num_attention_heads": 14,
            "num_key_value_heads": 2,
            "max_position_embeddings": 32768,
            "tie_word_embeddings": False,
        },
    ),
}


def cache_root() -> Path:
    """Where the models are kept (NOKENVIZ_SCALE_MODELS overrides)."""
    default = Path(platformdirs.user_cache_dir("nokenviz")) / "scale-models"
    return Path(os.environ.get("NOKENVIZ_SCALE_MODELS", default))


def model_dir(name: str) -> Path:
    """The folder of model `name`, built first if it is not complete."""
    folder = cache_root() / name
    if not (folder / "done").is_file():
        build(name, folder)
    return folder


def build(name: str, folder: Path) -> None:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    config_name, kwargs = SHAPES[name]
    tokenizer = word_tokenizer(kwargs["vocab_size"])
    config = getattr(transformers, config_name)(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        **kwargs,
    )
    config.architectures = [config_name.replace("Config", "ForCausalLM")]
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # never materialise a float32 copy
    try:
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    finally:
        torch.set_default_dtype(previous)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "done").write_text("complete\n")


def word_tokenizer(vocab_size: int):  # -> PreTrainedTokenizerFast
    """A whitespace word-level tokenizer with exactly `vocab_size` entries: ids 0-2 special,
    then the 256 byte-level characters, then filler words. The characters are there because
    transformers loads a `qwen2` model's tokenizer as its own byte-level BPE built from this
    vocabulary, which then encodes any text by bytes (without them, into nothing).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    special = ["<unk>", "<s>", "</s>", *sorted(pre_tokenizers.ByteLevel.alphabet())]
    words = special + [f"w{i}" for i in range(vocab_size - len(special))]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )


if __name__ == "__main__":
    for name in sys.argv[1:] or list(SHAPES):
        start = time.perf_counter()
        path = model_dir(name)
        print(f"{name}: {path} ({time.perf_counter() - start:.0f} s)")
