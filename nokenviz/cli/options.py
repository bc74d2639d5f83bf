"""From parsed arguments to the API's typed values: loading options, decoding settings, nokens.

Each is read from the arguments in one place, so a command cannot take an option and then
ignore it.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from nokenviz.errors import NokenvizError

if TYPE_CHECKING:  # the parser is built before torch is imported (the window paints first)
    from nokenviz.core.generation.settings import DecodingSettings
    from nokenviz.core.models.model_spec import LoadOptions
    from nokenviz.core.nokens.specs import NokenSpec

_MAX_MEMORY_ITEM = re.compile(r"(cpu|mps|disk|cuda:\d+)=(\d+|\d+(?:\.\d+)?[KMG]i?B)")


class UsageError(NokenvizError):
    """An option value the command line cannot read (exit code 2, still one line)."""


def load_options(args: argparse.Namespace) -> LoadOptions:
    """The loading options every command takes, `gui` included (defaults without one)."""
    from nokenviz.core.models.model_spec import LoadOptions

    return LoadOptions(
        device=getattr(args, "device", "auto"),
        dtype=getattr(args, "dtype", "auto"),
        device_map=getattr(args, "device_map", None),
        max_memory=max_memory(getattr(args, "max_memory", None)),
        offload_folder=getattr(args, "offload_folder", None),
        trust_remote_code=getattr(args, "trust_remote_code", False),
    )


def max_memory(text: str | None) -> dict[str, int] | None:
    """`cpu=2GiB,cuda:0=10GiB` as bytes per device, sizes read by accelerate (a bare number
    is bytes; units KiB, MiB, GiB, KB, MB, GB, with a capital B: accelerate reads `gb` as
    gigabits)."""
    from accelerate.utils import convert_file_size_to_int

    if text is None:
        return None
    limits: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        match = _MAX_MEMORY_ITEM.fullmatch(item)
        if match is None:
            raise UsageError(
                f"--max-memory takes DEVICE=SIZE pairs separated by commas, e.g. "
                f"cpu=2GiB,cuda:0=10GiB (devices cpu, mps, cuda:N, disk; sizes in bytes or "
                f"KiB, MiB, GiB, KB, MB, GB), not {item!r}"
            )
        device, size = match.groups()
        if device in limits:
            raise UsageError(f"--max-memory names {device} twice")
        limits[device] = convert_file_size_to_int(size if size.endswith("B") else int(size))
    return limits


def decoding(args: argparse.Namespace) -> DecodingSettings:
    from nokenviz.core.generation.settings import DecodingSettings

    return DecodingSettings(
        max_new_tokens=args.max_new_tokens,
        min_new_tokens=args.min_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        repetition_penalty=args.repetition_penalty,
        ban=tuple(args.ban),
    )


def nokens(args: argparse.Namespace) -> dict[str, NokenSpec]:
    """The `--noken NAME=SPEC` options (none where the command takes none)."""
    from nokenviz.core.nokens.specs import parse_assignments

    return parse_assignments(list(getattr(args, "noken", [])))


def floats(text: str | None, option: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(item) for item in text.split(","))
    except ValueError:
        raise NokenvizError(f"{option} takes numbers separated by commas, e.g. 0.5,1,2") from None
