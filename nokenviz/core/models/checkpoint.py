"""One vocabulary matrix of a checkpoint, read without building the model.

Comparing a model with another (a fine-tune, a sibling size) needs only the other's embedding
or unembedding and its tokenizer's pieces: safetensors reads one tensor from the file (memory-
mapped, in its own dtype), so a 7B model's 1 GB embedding is read without its 14 GB of layers.
A GGUF file is converted to safetensors first, once, as for loading (`gguf_convert.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors import SafetensorError, safe_open

from nokenviz.core.models.example_copy import PERTURBED, ensure_perturbed
from nokenviz.core.models.model_spec import check_model_directory, resolve_model
from nokenviz.core.models.token_labels import tokenizer_pieces
from nokenviz.core.task import Task
from nokenviz.errors import ModelError

# How architectures name the input embedding and the output head (suffixes of tensor names).
EMBED_NAMES = (
    "embed_tokens.weight",
    "wte.weight",
    "embed_in.weight",
    "word_embeddings.weight",
    "tok_embeddings.weight",
)
UNEMBED_NAMES = ("lm_head.weight", "embed_out.weight", "output.weight")


@dataclass(frozen=True)
class CheckpointMatrix:
    """A checkpoint's embedding (or unembedding) and its tokenizer's piece for every row."""

    name: str  # the model, as given
    tensor_name: str
    matrix: torch.Tensor  # [V, d] in the checkpoint's dtype
    pieces: list[str]  # one per row ('' past the tokenizer)


def read_matrix(
    spec: str, which: Literal["embed", "unembed"] = "embed", task: Task | None = None
) -> CheckpointMatrix:
    """`spec`'s embedding or unembedding (a tied model's unembedding is its embedding) and its
    tokenizer's pieces, from the checkpoint's files alone."""
    task = task or Task(what="reading the checkpoint")
    folder = _local_folder(spec, task)
    files = _weight_files(folder)
    names = {name: path for path, tensors in files.items() for name in tensors}
    wanted = EMBED_NAMES if which == "embed" else UNEMBED_NAMES + EMBED_NAMES
    found = next((n for suffix in wanted for n in names if n.endswith(suffix)), None)
    if found is None:
        raise ModelError(f"{spec}: no {which}ding tensor found among {len(names)} tensors")
    task.report(0.5, f"reading {found}")

    try:
        with safe_open(str(names[found]), framework="pt") as handle:
            matrix = handle.get_tensor(found)
    except (OSError, SafetensorError) as exc:
        raise ModelError(f"{spec}: cannot read {found} from {names[found].name}: {exc}") from None
    if matrix.ndim != 2:
        raise ModelError(f"{spec}: {found} is not a matrix (shape {tuple(matrix.shape)})")
    task.report(0.8, "reading the tokenizer")
    pieces = tokenizer_pieces(_tokenizer(spec, folder), len(matrix))
    task.report(1.0, "read")
    return CheckpointMatrix(spec, found, matrix, pieces)


def _tokenizer(spec: str, folder: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"{spec}: no tokenizer could be read from {folder} (compare matches tokens by "
            f"their tokenizer pieces; copy the tokenizer files there): {reason}"
        ) from None


def _local_folder(spec: str, task: Task) -> Path:
    resolved = resolve_model(spec)
    if resolved.is_hub_id:
        raise ModelError(f"{spec}: compare reads a local checkpoint (a directory or a .gguf file)")
    if resolved.gguf_file is not None:
        from nokenviz.core.models.gguf_convert import ensure_converted

        return ensure_converted(resolved, task.scaled(0.0, 0.4))
    folder = Path(resolved.source)
    if resolved.spec == PERTURBED:
        ensure_perturbed(folder, task.scaled(0.0, 0.4))
    check_model_directory(folder)
    return folder


def _weight_files(folder: Path) -> dict[Path, list[str]]:
    """Each safetensors file of the checkpoint and the tensor names it holds."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map: dict[str, str] = json.loads(index.read_text())["weight_map"]
        except (ValueError, KeyError):
            raise ModelError(f"{index} is not a safetensors index (no weight_map)") from None
        files: dict[Path, list[str]] = {}
        for name, file in weight_map.items():
            files.setdefault(folder / file, []).append(name)
        return files
    found = {}
    for path in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as handle:
                found[path] = list(handle.keys())
        except (OSError, SafetensorError) as exc:
            raise ModelError(f"cannot read {path}: {exc}") from None
    if not found:
        raise ModelError(f"{folder}: no .safetensors files to read")
    return found
