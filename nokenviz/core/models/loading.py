"""Load a causal LM and its tokenizer safely, with progress and cancel that a worker can drive.

Safety: no `trust_remote_code` unless asked, safetensors or GGUF only (pickled weights are
refused in `model_spec`). Memory is estimated from the config on the meta device before any
weight is read, so a model that cannot fit fails with a message instead of the OOM killer.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
from transformers.utils import logging as hf_logging

from nokenviz.core.models.adapter import ModelAdapter
from nokenviz.core.models.cpu_linear import use_few_rows_linear
from nokenviz.core.models.device_plan import DevicePlan, default_offload_folder, plan_devices
from nokenviz.core.models.example_copy import PERTURBED, ensure_perturbed
from nokenviz.core.models.gguf_convert import ensure_converted
from nokenviz.core.models.model_spec import (
    IN_MEMORY,
    LoadOptions,
    ResolvedModel,
    check_model_directory,
    resolve_model,
)
from nokenviz.core.models.precision import pick_precision
from nokenviz.core.models.token_kinds import TokenKinds, token_kinds
from nokenviz.core.models.token_labels import token_labels, tokenizer_pieces
from nokenviz.core.task import Task
from nokenviz.errors import Cancelled, ModelError, NokenvizError

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class LoadedModel:
    """A loaded model with everything the core needs to reach it, owned by one thread."""

    resolved: ResolvedModel
    model: Any
    tokenizer: Any
    adapter: ModelAdapter
    device: torch.device
    dtype: torch.dtype
    is_causal: bool
    options: LoadOptions = field(default_factory=LoadOptions)
    dtype_reason: str = ""  # why this dtype (core/models/precision.py)
    device_plan: str = (
        ""  # where the layers went when spread over devices (core/models/device_plan.py)
    )

    @property
    def arch(self) -> str:
        return str(self.model.config.model_type)

    @property
    def n_layers(self) -> int:
        return self.adapter.n_layers

    @property
    def d_model(self) -> int:
        return self.adapter.d_model

    @property
    def vocab_size(self) -> int:
        return int(self.adapter.W_E.shape[0])

    @property
    def context_length(self) -> int | None:
        config = self.model.config
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    @cached_property
    def cache_keyword(self) -> str:
        """The forward argument that takes a KV cache: `cache` where transformers has it
        (there `past_key_values` is deprecated, with a warning on every call)."""
        names = inspect.signature(self.model.forward).parameters
        return "cache" if "cache" in names else "past_key_values"

    def forward_cached(self, inputs_embeds: torch.Tensor, cache: Any, **kwargs: Any) -> Any:
        """One forward pass that reads and extends a KV cache."""
        kwargs[self.cache_keyword] = cache
        return self.model(inputs_embeds=inputs_embeds, use_cache=True, **kwargs)

    def cache_of(self, output: Any) -> Any:
        """The KV cache a forward pass returned (named like the argument that takes it)."""
        return getattr(output, self.cache_keyword)

    @cached_property
    def token_strings(self) -> list[str]:
        """Display text of every vocabulary row, decoded once (ids past the tokenizer are '')."""
        n_tok = len(self.tokenizer)
        texts = self.tokenizer.batch_decode([[i] for i in range(min(n_tok, self.vocab_size))])
        return texts + [""] * max(0, self.vocab_size - n_tok)

    @cached_property
    def token_labels(self) -> list[str]:
        """How every vocabulary row is shown (`token_labels.py`): spaces and bytes visible, no
        two rows alike."""
        return token_labels(self.tokenizer, self.token_strings)

    @cached_property
    def token_pieces(self) -> list[str]:
        """Every row's tokenizer piece, the raw vocabulary entry ('' past the tokenizer)."""
        return tokenizer_pieces(self.tokenizer, self.vocab_size)

    @cached_property
    def token_kinds(self) -> TokenKinds:
        """Every row's kind, case, script and length (`token_kinds.py`), computed once."""
        specials = set(self.tokenizer.all_special_ids)
        return token_kinds(self.token_pieces, self.token_strings, specials)

    def require_causal(self, what: str) -> None:
        if not self.is_causal:
            raise ModelError(f"{self.resolved.display_name} is not a causal LM: {what} is disabled")

    def info(self) -> dict[str, Any]:
        return {
            "model": self.resolved.spec,
            "name": self.resolved.display_name,
            "arch": self.arch,
            "n_layers": self.n_layers,
            "d_model": self.d_model,
            "vocab_size": self.vocab_size,
            "tied_embeddings": self.adapter.tied,
            "causal": self.is_causal,
            "context_length": self.context_length,
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "dtype_reason": self.dtype_reason,
            **({"device_plan": self.device_plan} if self.device_plan else {}),
        }


def pick_device(requested: str = "auto") -> torch.device:
    """CUDA > MPS > CPU for `auto`; an explicit device must exist."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise ModelError(f"unknown device {requested!r}; use one of {', '.join(DEVICES)}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("CUDA was asked for but no CUDA device is available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ModelError("MPS was asked for but is not available on this machine")
    return device


def load_model(
    spec: str, options: LoadOptions | None = None, task: Task | None = None
) -> LoadedModel:
    """Resolve, check, estimate memory, then load tokenizer and weights; report progress."""
    options = options or LoadOptions()
    task = task or Task(what="loading the model")
    task.report(0.0, f"resolving {spec}")
    resolved = resolve_model(spec)
    if resolved.spec == PERTURBED:
        ensure_perturbed(Path(resolved.source), task.scaled(0.0, 0.6))
        task = task.scaled(0.6, 1.0)
    if resolved.gguf_file is None:
        return load_resolved(resolved, options, task)
    folder = ensure_converted(resolved, task.scaled(0.0, 0.6))
    resolved = replace(resolved, source=str(folder), gguf_file=None)
    return load_resolved(resolved, options, task.scaled(0.6, 1.0))


def load_resolved(resolved: ResolvedModel, options: LoadOptions, task: Task) -> LoadedModel:
    """Load what `resolve_model` found (a GGUF file only in the converting child process)."""
    if not resolved.is_hub_id and resolved.gguf_file is None:
        check_model_directory(Path(resolved.source))
    device = pick_device(options.device)
    common = _source_kwargs(resolved, options)

    task.report(0.03, "reading the config")
    config = _from_pretrained(AutoConfig, resolved, common)
    precision = pick_precision(options.dtype, device, config)
    dtype = precision.dtype
    is_causal = _is_causal_lm(config)
    model_class = AutoModelForCausalLM if is_causal else AutoModel
    plan = _plan_memory(model_class, config, dtype, device, options, resolved)
    if plan.spread:  # shown before any weight is read; the CLI prints it as a note
        task.report(0.06, f"device plan: {plan.describe()}")
        task.partial(plan.describe())

    task.report(0.08, "loading the tokenizer")
    tokenizer = _from_pretrained(AutoTokenizer, resolved, common)

    task.report(0.15, "loading the weights")
    weights_kwargs = {**common, "config": config, "dtype": dtype, **plan.load_kwargs}
    if resolved.gguf_file is None:
        weights_kwargs["use_safetensors"] = True
    previous = hf_logging.set_tqdm_hook(_progress_bar_factory(task, 0.15, 0.95))
    try:
        model = _from_pretrained(model_class, resolved, weights_kwargs)
    finally:
        hf_logging.set_tqdm_hook(previous)
    model.eval()
    task.report(0.97, "wrapping the model")
    adapter = ModelAdapter.wrap(model)
    if plan.device_map == "cpu":  # one device, no accelerate hooks to keep
        use_few_rows_linear(adapter.layers)
    loaded = LoadedModel(
        resolved,
        model,
        tokenizer,
        adapter,
        adapter.W_E.device,
        dtype,
        is_causal,
        options,
        precision.reason,
        plan.describe() if plan.spread else "",
    )
    task.report(1.0, "ready")
    return loaded


def wrap_model(model: Any, tokenizer: Any, name: str = "") -> LoadedModel:
    """A transformers model and tokenizer already in memory (fine-tuned or edited in a
    notebook), wrapped without copying or converting them; the model is put in eval mode."""
    if not hasattr(model, "config") or not hasattr(model, "get_input_embeddings"):
        raise ModelError(f"{type(model).__name__} is not a transformers model")
    if not callable(getattr(tokenizer, "encode", None)):
        raise ModelError("give the model's tokenizer too (a transformers tokenizer)")
    label = name or str(getattr(model.config, "_name_or_path", "") or type(model).__name__)
    resolved = ResolvedModel(spec=f"{IN_MEMORY}{label}", source=label, is_hub_id=True)
    model.eval()
    adapter = ModelAdapter.wrap(model)
    weights = adapter.W_E
    return LoadedModel(
        resolved,
        model,
        tokenizer,
        adapter,
        weights.device,
        weights.dtype,
        _is_causal_lm(model.config),
        dtype_reason="the model's own (in memory)",
    )


def _is_causal_lm(config: Any) -> bool:
    """Trust the architectures a checkpoint was saved with; else what transformers maps.

    BERT has a causal-LM class too, so the model type alone would call an encoder causal.
    """
    architectures = getattr(config, "architectures", None) or []
    if architectures:
        return any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures)
    auto_map = getattr(config, "auto_map", None) or {}
    return (
        config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or "AutoModelForCausalLM" in auto_map
    )


def _source_kwargs(resolved: ResolvedModel, options: LoadOptions) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"trust_remote_code": options.trust_remote_code}
    if resolved.gguf_file:
        kwargs["gguf_file"] = resolved.gguf_file
    return kwargs


def _from_pretrained(factory: Any, resolved: ResolvedModel, kwargs: dict[str, Any]) -> Any:
    """Call `factory.from_pretrained`, local cache first for hub ids, errors made readable."""
    try:
        if not resolved.is_hub_id:
            return factory.from_pretrained(resolved.source, **kwargs)
        try:
            return factory.from_pretrained(resolved.source, local_files_only=True, **kwargs)
        except OSError:
            if os.environ.get("HF_HUB_OFFLINE"):
                raise
            return factory.from_pretrained(resolved.source, **kwargs)
    except NokenvizError:
        raise
    except Exception as exc:  # transformers raises many types; each becomes one message
        raise _explain_load_error(resolved, exc, factory) from exc


TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model")


def _lacks_tokenizer(resolved: ResolvedModel) -> bool:
    """A local folder (not a GGUF, which carries its tokenizer) with no tokenizer file."""
    folder = Path(resolved.source)
    if resolved.gguf_file or resolved.is_hub_id or not folder.is_dir():
        return False
    return not any((folder / name).exists() for name in TOKENIZER_FILES)


def _explain_load_error(resolved: ResolvedModel, exc: Exception, factory: Any = None) -> ModelError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    name = resolved.spec
    if "trust_remote_code" in str(exc):
        return ModelError(
            f"{name} needs its own Python code to run (remote code); nokenviz does not run it "
            "unless you pass --trust-remote-code and trust its source"
        )
    if resolved.is_hub_id and isinstance(exc, OSError):
        return ModelError(
            f"{name} is not in the local Hugging Face cache and could not be downloaded ({text})"
        )
    if factory is AutoTokenizer and _lacks_tokenizer(resolved):
        return ModelError(
            f"{name} has no tokenizer: none of {', '.join(TOKENIZER_FILES)} is in "
            f"{resolved.source} (copy the tokenizer files from the model it was trained as)"
        )
    if isinstance(exc, (ValueError, KeyError)) and "Unrecognized" in text:
        return ModelError(f"not a model nokenviz can load: {name} ({text})")
    return ModelError(f"could not load {name}: the files look corrupted or incomplete ({text})")


def _plan_memory(
    model_class: Any,
    config: Any,
    dtype: torch.dtype,
    device: torch.device,
    options: LoadOptions,
    resolved: ResolvedModel,
) -> DevicePlan:
    """Place the weights from the config alone, before any is read: on one device when they
    fit, else spread over GPUs, RAM and disk (`device_plan.py`), or refused with numbers."""
    skeleton = _skeleton(model_class, config, options.trust_remote_code)
    if skeleton is None:  # an estimate only: never block a load because the skeleton failed
        return DevicePlan(str(device), 0)
    folder = default_offload_folder(resolved.source, dtype)
    # transformers dequantizes a GGUF file whole (here, converting it); its folder can offload
    return plan_devices(skeleton, dtype, device, options, folder, resolved.gguf_file is not None)


def _skeleton(model_class: Any, config: Any, remote: bool) -> Any:
    """The model built on the meta device (no memory, no weights), or None if that fails."""
    try:
        with torch.device("meta"):
            return model_class.from_config(config, trust_remote_code=remote)
    except Exception:
        return None


def _progress_bar_factory(task: Task, low: float, high: float) -> Any:
    """A tqdm hook for transformers' weight-loading bars: progress to `task`, cancel on update."""

    def hook(_factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _ProgressBar:
        return _ProgressBar(task, low, high, *args, **kwargs)

    return hook


class _ProgressBar:
    """Stands in for a tqdm bar; raising `Cancelled` from `update` aborts the load cleanly."""

    def __init__(
        self, task: Task, low: float, high: float, iterable: Any = None, *_, **kwargs: Any
    ):
        self.task, self.low, self.high = task, low, high
        self.iterable = iterable
        self.desc = str(kwargs.get("desc") or "loading")
        self.total = kwargs.get("total") or (len(iterable) if hasattr(iterable, "__len__") else 0)
        self.n = 0

    def __iter__(self) -> Any:
        for item in self.iterable:
            yield item
            self.update(1)

    def update(self, n: int = 1) -> None:
        self.n += n
        fraction = self.n / self.total if self.total else 0.0
        every = max(1, self.total // 50)
        if self.n % every == 0 or self.n == self.total:
            self.task.report(self.low + (self.high - self.low) * fraction, self.desc)
        elif self.task.cancelled:
            raise Cancelled(self.task.what)

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:  # close, set_postfix, refresh...: nothing to do
        return lambda *args, **kwargs: None
