"""Where a model's weights go, decided from its config alone before any weight is read.

A model that fits the chosen device loads there as before: one device, no accelerate hooks. One
that does not (or when asked: `device_map="auto"`, `max_memory`) is spread by accelerate's own
big-model placement (`get_balanced_memory`, `infer_auto_device_map`) over the GPUs, CPU RAM and
a disk offload folder. Only the decoder layers are placed that way: the embedding, final norm
and LM head stay resident on the first device, because the vocabulary views read W_E and W_U as
arrays and the logit lens runs the norm and W_U outside the model's forward pass.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from itertools import chain, groupby
from pathlib import Path

import platformdirs
import psutil
import torch
from accelerate.utils import compute_module_sizes, get_balanced_memory, infer_auto_device_map
from torch import nn

from nokenviz.core.models.adapter import ModelAdapter
from nokenviz.core.models.model_spec import LoadOptions
from nokenviz.errors import ModelError

HEADROOM = 0.9  # of detected free memory: activations, the KV cache and the OS need the rest
DISK = "disk"
Place = int | str  # accelerate's names: a CUDA index, "mps", "cpu" or "disk"


@dataclass(frozen=True)
class Memory:
    """Bytes the weights may take: per place in accelerate's `max_memory` form and placement
    order (GPUs, then MPS or CPU), and in the offload folder on disk."""

    limits: dict[Place, int]
    disk: int
    offload_folder: Path


@dataclass(frozen=True)
class DevicePlan:
    """Where the weights go: one device name (loaded as before) or a per-module device map."""

    device_map: str | dict[str, Place]
    total: int  # bytes of weights in the load dtype
    layers: tuple[str, ...] = ()  # each decoder layer's place when spread: "cuda:0", "cpu", "disk"
    resident: str = ""  # where the embedding, final norm and LM head are when spread
    bytes_on: dict[str, int] = field(default_factory=dict)  # weights per place, when spread
    offload_folder: str | None = None

    @property
    def spread(self) -> bool:
        return isinstance(self.device_map, dict)

    @property
    def load_kwargs(self) -> dict[str, object]:
        """What `from_pretrained` takes for this plan (a folder only when layers go to disk)."""
        folder = {"offload_folder": self.offload_folder} if DISK in self.layers else {}
        return {"device_map": self.device_map, **folder}

    def describe(self) -> str:
        """One line a user can check: which layers go where, and how much on each place."""
        if not self.spread:
            return f"all weights on {self.device_map} ({_amount(self.total)})"
        runs = ", ".join(f"{_span(run)} on {place}" for place, run in _runs(self.layers))
        folder = f" (offload folder {self.offload_folder})" if DISK in self.layers else ""
        totals = ", ".join(f"{place} {_amount(size)}" for place, size in self.bytes_on.items())
        return (
            f"layers {runs}{folder}; embedding, final norm and LM head on {self.resident}; "
            f"{_amount(self.total)} of weights: {totals}"
        )


def plan_devices(
    skeleton: nn.Module,
    dtype: torch.dtype,
    device: torch.device,
    options: LoadOptions,
    offload_folder: Path,
    whole: bool = False,
) -> DevicePlan:
    """The plan for `skeleton` (the model on the meta device) loaded in `dtype` on `device`;
    `whole`: it must fit the device at once (a GGUF file is dequantized whole in memory)."""
    if options.device_map not in (None, "auto"):
        raise ModelError(f"unknown device map {options.device_map!r}: use auto or leave it unset")
    total = compute_module_sizes(skeleton, dtype=dtype)[""]
    memory = available_memory(device, options, offload_folder)
    free = next(iter(memory.limits.values()))
    asked = options.device_map == "auto" or bool(options.max_memory)
    if whole and total > free:
        raise ModelError(
            f"the model needs {_amount(total)} as {str(dtype).removeprefix('torch.')} in memory "
            f"at once to convert it, but {_amount(free)} is free; choose a smaller model or "
            "close other programs"
        )
    if whole or (not asked and total <= free):
        return DevicePlan(str(device), total)
    return spread_plan(skeleton, dtype, memory)


def spread_plan(skeleton: nn.Module, dtype: torch.dtype, memory: Memory) -> DevicePlan:
    """Decoder layers placed by accelerate, the rest resident; refused when even the disk is
    too small. Everything on one place (no disk) is the plain single-device load."""
    layers_name, layers = _decoder_layers(skeleton)
    sizes = compute_module_sizes(skeleton, dtype=dtype)
    layer_sizes = [sizes[f"{layers_name}.{i}"] for i in range(len(layers))]
    rest = sizes[""] - sizes[layers_name]
    limits = _from_resident(memory, rest, max(layer_sizes), sizes[""], dtype)
    resident = next(iter(limits))
    limits[resident] -= rest
    own = list(getattr(skeleton, "_no_split_modules", None) or [])
    no_split = sorted({*own, *(type(m).__name__ for m in layers)})
    balanced = get_balanced_memory(layers, limits, no_split_module_classes=no_split, dtype=dtype)
    found = infer_auto_device_map(
        layers, balanced, no_split_module_classes=no_split, dtype=dtype, clean_result=False
    )
    places = [found[str(i)] for i in range(len(layers))]
    on_disk = sum(size for size, p in zip(layer_sizes, places, strict=True) if p == DISK)
    if on_disk > memory.disk:
        raise _too_large(
            memory, sizes[""], dtype, f"the layers left for the disk need {_amount(on_disk)} there"
        )
    if set(places) == {resident}:
        return DevicePlan(_name(resident), sizes[""])
    bytes_on = {_name(resident): rest}
    for place, size in zip(places, layer_sizes, strict=True):
        bytes_on[_name(place)] = bytes_on.get(_name(place), 0) + size
    return DevicePlan(
        _device_map(skeleton, layers, places, resident),
        sizes[""],
        tuple(_name(p) for p in places),
        _name(resident),
        bytes_on,
        str(memory.offload_folder),
    )


def available_memory(device: torch.device, options: LoadOptions, offload_folder: Path) -> Memory:
    """Free memory where `device` allows weights (with headroom), capped by `max_memory`."""
    limits = {place: int(HEADROOM * free) for place, free in _free_memory(device).items()}
    asked = dict(options.max_memory or {})
    disk_cap = asked.pop(DISK, None)
    for name, size in asked.items():
        place = int(name.removeprefix("cuda:")) if name.startswith("cuda:") else name
        if place not in limits:
            usable = ", ".join(_name(p) for p in limits)
            raise ModelError(f"max memory names {name}, not a device this load uses ({usable})")
        limits[place] = min(size, limits[place])
    folder = Path(options.offload_folder or offload_folder).expanduser()
    disk = _disk_free(folder)
    return Memory(limits, disk if disk_cap is None else min(disk, disk_cap), folder)


def default_offload_folder(source: str, dtype: torch.dtype) -> Path:
    """A folder per model and dtype in the app's cache, for offloaded weights transformers
    converts while loading (safetensors checkpoints are otherwise read in place)."""
    key = hashlib.blake2b(f"{source}|{dtype}".encode(), digest_size=8).hexdigest()
    name = Path(source.rstrip("/\\")).name or "model"
    return Path(platformdirs.user_cache_dir("nokenviz")) / "offload" / f"{name}-{key}"


def _free_memory(device: torch.device) -> dict[Place, int]:
    """Free bytes per place: the chosen GPUs (every one for a bare `cuda`) and RAM; MPS shares
    RAM, so it has no separate CPU budget (as accelerate counts it)."""
    ram = psutil.virtual_memory().available
    if device.type == "cuda":
        indices = range(torch.cuda.device_count()) if device.index is None else [device.index]
        return {**{i: torch.cuda.mem_get_info(i)[0] for i in indices}, "cpu": ram}
    return {device.type: ram}


def _disk_free(folder: Path) -> int:
    if folder.exists() and not folder.is_dir():
        raise ModelError(f"the offload folder {folder} is a file, not a folder")
    existing = folder
    while not existing.exists():  # the folder itself is made only when weights are offloaded
        existing = existing.parent
    return shutil.disk_usage(existing).free


def _decoder_layers(skeleton: nn.Module) -> tuple[str, nn.ModuleList]:
    layers = ModelAdapter.wrap(skeleton).layers
    return next(name for name, m in skeleton.named_modules() if m is layers), layers


def _from_resident(
    memory: Memory, rest: int, largest: int, total: int, dtype: torch.dtype
) -> dict[Place, int]:
    """The limits from the first place that holds the resident parts and room to run one
    offloaded layer. Places before it are left out: accelerate would offload anything on the
    CPU to that first GPU, the embedding's weights included, and the views need them resident."""
    places = list(memory.limits.items())
    for index, (_place, limit) in enumerate(places):
        if rest + largest <= limit:
            return dict(places[index:])
    raise _too_large(
        memory,
        total,
        dtype,
        f"the embedding, final norm and LM head ({_amount(rest)}) and one decoder layer "
        f"({_amount(largest)}) must fit together on one device",
    )


def _too_large(memory: Memory, total: int, dtype: torch.dtype, why: str) -> ModelError:
    available = ", ".join(f"{_name(p)} {_amount(size)}" for p, size in memory.limits.items())
    return ModelError(
        f"the model does not fit even with offload: it needs {_amount(total)} as "
        f"{str(dtype).removeprefix('torch.')}; available: {available}, disk "
        f"{_amount(memory.disk)} in {memory.offload_folder}; {why}. Choose a smaller dtype or "
        "model, free memory or disk space, or give an offload folder on a larger disk"
    )


def _device_map(
    skeleton: nn.Module, layers: nn.ModuleList, places: list[Place], resident: Place
) -> dict[str, Place]:
    """Each decoder layer's place, and the resident place for every module beside them.

    No "" entry and no module holding the layers gets one place: accelerate would then hook
    that module as one block instead of hooking each layer."""
    mapping: dict[str, Place] = {}

    def visit(module: nn.Module, prefix: str) -> None:
        if module is layers:
            mapping.update({f"{prefix}{i}": place for i, place in enumerate(places)})
        elif not any(inner is layers for inner in module.modules()):
            mapping[prefix.removesuffix(".")] = resident
        else:
            own = chain(module.named_parameters(recurse=False), module.named_buffers(recurse=False))
            mapping.update({prefix + name: resident for name, _tensor in own})
            for name, child in module.named_children():
                visit(child, f"{prefix}{name}.")

    visit(skeleton, "")
    return mapping


def _name(place: Place) -> str:
    return f"cuda:{place}" if isinstance(place, int) else place


def _runs(places: tuple[str, ...]) -> list[tuple[str, list[int]]]:
    """Consecutive layers on one place: [(place, [indices])]."""
    indexed = groupby(enumerate(places), key=lambda item: item[1])
    return [(place, [i for i, _ in run]) for place, run in indexed]


def _span(indices: list[int]) -> str:
    return str(indices[0]) if len(indices) == 1 else f"{indices[0]}-{indices[-1]}"


def _amount(size: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if size >= scale / 10:
            return f"{size / scale:.1f} {unit}"
    return f"{size / 2**10:.1f} KiB"
