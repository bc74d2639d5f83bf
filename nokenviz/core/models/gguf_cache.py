"""Make transformers read a GGUF file's metadata once per load instead of three times.

`from_pretrained(dir, gguf_file=...)` parses the whole GGUF header separately for the config,
the tokenizer and the weights (about 3.5 s each for the default model's 49k-token vocabulary),
and rebuilds gguf's tensor-name table once per tensor (5 s). Both are pure functions of their
arguments, so while nokenviz reads a GGUF model (in the one-time conversion of `gguf_convert`)
they are memoised; the originals are restored afterwards. Written here because transformers
offers no hook for it; it changes no result, only how often the same one is computed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def gguf_read_once() -> Iterator[None]:
    import gguf
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    original_load = gguf_utils.load_gguf_checkpoint
    original_map = gguf.get_tensor_name_map
    metadata: dict[str, Any] = {}

    @functools.wraps(original_load)
    def load(path: str, return_tensors: bool = False, **kwargs: Any) -> Any:
        if return_tensors or kwargs:
            return original_load(path, return_tensors=return_tensors, **kwargs)
        if str(path) not in metadata:
            metadata[str(path)] = original_load(path, return_tensors=False)
        return metadata[str(path)]

    gguf_utils.load_gguf_checkpoint = load  # type: ignore[assignment]  # same call, cached
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(original_map)
    try:
        yield
    finally:
        gguf_utils.load_gguf_checkpoint = original_load
        gguf.get_tensor_name_map = original_map
