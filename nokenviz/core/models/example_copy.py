"""`default-perturbed`: the default model with its embedding changed in a known way, so that
comparing two models can be tried (and its example scene opened) with the one model that
ships.

It is built once, into the cache, from the default model's converted checkpoint:
- the whole embedding is turned by a random rotation (seed 0). That moves no token relative to
  the others, so a comparison must see through it (its alignment does);
- the rows of ␣cat, ␣dog and ␣Paris are then replaced by the rows 7,000 ids further on, so each
  points where an unrelated token points: a stand-in for what fine-tuning on new words does.
Every other tensor, the config and the tokenizer are the default model's. The copy loads as a
model, but generates nonsense: its layers were not turned with its embedding.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from nokenviz.core.task import Task
from nokenviz.errors import ModelError

if TYPE_CHECKING:
    import torch

PERTURBED = "default-perturbed"
MOVED_PIECES = ("Ġcat", "Ġdog", "ĠParis")  # the tokenizer's pieces for " cat", " dog", " Paris"
SHIFT = 7_000  # each moved row takes the row this many ids further on
SEED = 0
DONE = "nokenviz-perturbed"


def perturbed_folder(default_file: Path) -> Path:
    """Where the copy of the default model (`default_file`, its GGUF file) is kept: named after
    the converted folder it is built from, so a new conversion makes a new copy."""
    from nokenviz.core.models.gguf_convert import converted_folder

    source = converted_folder(default_file).name
    digest = hashlib.blake2b(f"{source}|{SEED}|v1".encode(), digest_size=8).hexdigest()
    return Path(platformdirs.user_cache_dir("nokenviz")) / "examples" / f"{PERTURBED}-{digest}"


def ensure_perturbed(folder: Path, task: Task) -> Path:
    """The copy in `folder`, built first if needed (a few seconds and 0.5 GB, once). It is
    built beside its place and moved there whole: an interrupted build leaves nothing, and of
    two processes building at once the first to finish wins."""
    if (folder / DONE).is_file():
        return folder
    from nokenviz.core.models.gguf_convert import ensure_converted
    from nokenviz.core.models.model_spec import DEFAULT_MODEL, resolve_model

    source = ensure_converted(resolve_model(DEFAULT_MODEL), task.scaled(0.0, 0.5))
    task.report(0.5, f"building {PERTURBED} (first use only)")
    temporary = folder.with_name(f"{folder.name}.tmp{time.time_ns()}")
    try:
        _build(source, temporary)
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            temporary.replace(folder)
        except OSError:
            if not (folder / DONE).is_file():  # not another process's finished copy
                raise ModelError(f"could not build {PERTURBED} in {folder}") from None
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    task.report(1.0, f"built {PERTURBED}")
    return folder


def _build(source: Path, out: Path) -> None:
    """The default model's converted folder `source`, copied to `out` with its embedding
    perturbed."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    shutil.copytree(source, out, ignore=shutil.ignore_patterns("*.safetensors", "nokenviz-*"))
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    ids = torch.tensor(tokenizer.convert_tokens_to_ids(list(MOVED_PIECES)))
    for path in sorted(source.glob("*.safetensors")):
        tensors = load_file(str(path))
        for name, weights in tensors.items():
            if name.endswith("embed_tokens.weight"):
                tensors[name] = _perturbed(weights, ids)
        save_file(tensors, str(out / path.name), metadata={"format": "pt"})
    (out / DONE).write_text(f"{PERTURBED} of {source}\n")


def _perturbed(weights: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The embedding turned by a seeded random rotation, then `ids` given other tokens' rows."""
    import torch

    generator = torch.Generator().manual_seed(SEED)
    width = weights.shape[1]
    rotation, _ = torch.linalg.qr(torch.randn(width, width, generator=generator))
    turned = weights.float() @ rotation
    turned[ids] = turned[ids + SHIFT]
    return turned.to(weights.dtype).contiguous()
