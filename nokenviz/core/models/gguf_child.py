"""The one-time GGUF conversion, run as a child process by `gguf_convert.ensure_converted`:
load the GGUF file with transformers (once, in float32) and save it as safetensors.

A child of its own, so its memory (the dequantised weights) goes back to the system when it
ends, and so a cancel can kill it outright.
"""

from __future__ import annotations

import sys
from pathlib import Path

from nokenviz.core.models.gguf_cache import gguf_read_once
from nokenviz.core.models.gguf_convert import DONE
from nokenviz.core.models.loading import LoadOptions, load_resolved
from nokenviz.core.models.model_spec import ResolvedModel
from nokenviz.core.task import Task


def _convert(spec: str, source: str, gguf_file: str, destination: Path) -> None:
    with gguf_read_once():
        loaded = load_resolved(
            ResolvedModel(spec, source, gguf_file), LoadOptions("cpu", "float32"), Task()
        )
    model = loaded.model
    model.config.quantization_config = None  # the saved weights are plain float32
    model.hf_quantizer = None
    model.save_pretrained(destination)
    loaded.tokenizer.save_pretrained(destination)
    (destination / DONE).write_text(f"converted from {Path(source) / gguf_file}\n")


def main(argv: list[str]) -> int:
    import os

    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from nokenviz.errors import NokenvizError

    spec, source, gguf_file, destination = argv
    try:
        _convert(spec, source, gguf_file, Path(destination))
    except NokenvizError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
