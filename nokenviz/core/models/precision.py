"""Which dtype a model is loaded in, and why (shown in the status bar and by `info`).

On CPU, `auto` follows the checkpoint: a bfloat16 or float16 checkpoint loads in bfloat16 where
the CPU computes bfloat16 natively (AVX512-BF16 or AMX on x86, Apple silicon), which halves its
memory against float32 at no loss of speed; elsewhere bfloat16 matmuls are emulated and slower
than float32, so such a checkpoint is widened to float32. A float32 checkpoint stays float32.
Accelerators get half precision (bfloat16 where supported).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import torch

from nokenviz.errors import ModelError

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class Precision:
    dtype: torch.dtype
    reason: str  # one line for the status bar and `info`

    @property
    def name(self) -> str:
        return str(self.dtype).removeprefix("torch.")


@cache
def cpu_bf16_feature() -> str | None:
    """The CPU feature that computes bfloat16 natively, or None."""
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return "Apple silicon"
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return None
    found = [flag for flag in _CPU_BF16_FLAGS if flag in flags]
    return found[-1].upper().replace("_", "-") if found else None


def checkpoint_dtype(config: Any) -> torch.dtype | None:
    """The dtype the weights were saved in, as the config records it (None if it does not)."""
    value = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(value, str):
        value = DTYPES.get(value.removeprefix("torch."))
    return value if isinstance(value, torch.dtype) else None


def pick_precision(
    requested: str, device: torch.device, config: Any = None, native: str | None = None
) -> Precision:
    """The dtype to load in: the user's choice, or `auto` as the module docstring says.
    `native` overrides the CPU's bfloat16 feature (tests of both paths)."""
    if requested != "auto":
        if requested not in DTYPES:
            raise ModelError(f"unknown dtype {requested!r}; use auto, {', '.join(DTYPES)}")
        return Precision(DTYPES[requested], "asked for")
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return Precision(torch.bfloat16, "auto: bfloat16 on this GPU")
        return Precision(torch.float16, "auto: this GPU has no bfloat16")
    if device.type == "mps":
        return Precision(torch.float16, "auto: half precision on MPS")
    saved = checkpoint_dtype(config)
    if saved not in (torch.bfloat16, torch.float16):
        saved_name = "float32" if saved is None else str(saved).removeprefix("torch.")
        return Precision(torch.float32, f"auto: the checkpoint is {saved_name}")
    saved_name = str(saved).removeprefix("torch.")
    feature = native if native is not None else cpu_bf16_feature()
    if feature:
        return Precision(
            torch.bfloat16,
            f"auto: the checkpoint is {saved_name} and this CPU computes bfloat16 ({feature})",
        )
    return Precision(
        torch.float32,
        f"auto: the checkpoint is {saved_name} but this CPU has no native bfloat16 "
        "(AVX512-BF16, AMX): float32 is faster here",
    )
