"""Architecture-agnostic access to the parts of a Hugging Face model that nokenviz looks at.

Generic HF accessors come first (`get_input_embeddings`, `get_output_embeddings`,
`base_model`); a short table of attribute names covers what HF has no accessor for (the final
norm, the decoder layers). The model is wrapped, never copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nokenviz.errors import ModelError

# Attribute paths under `model.base_model`, first match wins. Llama, Qwen2, Mistral, Gemma:
# `norm`; GPT-2: `ln_f`; Phi: `final_layernorm`; GPT-NeoX: `final_layer_norm`; OPT: `decoder.*`.
_FINAL_NORM_PATHS = (
    "norm",
    "ln_f",
    "final_layernorm",
    "final_layer_norm",
    "decoder.final_layer_norm",
)
_LAYER_PATHS = ("layers", "h", "decoder.layers", "blocks", "encoder.layer")
# Modules applied after the final norm before the unembedding (OPT-350m projects 1024 -> 512).
_POST_NORM_PATHS = ("decoder.project_out",)


def _get_path(root: nn.Module, path: str) -> nn.Module | None:
    module: object = root
    for name in path.split("."):
        module = getattr(module, name, None)
        if module is None:
            return None
    return module if isinstance(module, nn.Module) else None


def _weight(module: nn.Module) -> torch.Tensor:
    weight = module.weight
    assert isinstance(weight, torch.Tensor)
    return weight


def _first(root: nn.Module, paths: tuple[str, ...]) -> nn.Module | None:
    for path in paths:
        found = _get_path(root, path)
        if found is not None:
            return found
    return None


@dataclass
class ModelAdapter:
    """The pieces of one loaded model, found once: embeddings, unembedding, final norm, layers."""

    model: nn.Module
    embedding: nn.Module
    unembedding: nn.Linear | None
    final_norm: nn.Module | None
    post_norm: tuple[nn.Module, ...]
    layers: nn.ModuleList

    @classmethod
    def wrap(cls, model: Any) -> ModelAdapter:  # a transformers PreTrainedModel
        base = getattr(model, "base_model", model)
        layers = _first(base, _LAYER_PATHS)
        if not isinstance(layers, nn.ModuleList):
            raise ModelError(f"unsupported architecture {type(model).__name__}: no decoder layers")
        post = _first(base, _POST_NORM_PATHS)
        unembedding = model.get_output_embeddings()  # None for encoder-only base models
        return cls(
            model=model,
            embedding=model.get_input_embeddings(),
            unembedding=unembedding,
            final_norm=_first(base, _FINAL_NORM_PATHS),
            post_norm=(post,) if post is not None else (),
            layers=layers,
        )

    @property
    def W_E(self) -> torch.Tensor:
        """Input embedding matrix, [vocab, d_model]."""
        return _weight(self.embedding)

    @property
    def W_U(self) -> torch.Tensor | None:
        """Unembedding matrix as [vocab, d_model] (rows are output token vectors), or None."""
        return None if self.unembedding is None else _weight(self.unembedding)

    def matrix(self, name: str) -> torch.Tensor:
        """W_E (`"W_E"`, `"embed"`) or W_U (`"W_U"`, `"unembed"`); a model without an
        unembedding says so."""
        if name in ("W_E", "embed"):
            return self.W_E
        if self.W_U is None:
            raise ModelError("this model has no unembedding matrix")
        return self.W_U

    @property
    def input_scale(self) -> float:
        """Factor between a W_E row and what the embedding module feeds the model.

        Gemma's embedding multiplies by sqrt(d_model); nokens are defined in W_E units (the
        norms the views show), so they get the same factor on the way in.
        """
        return float(getattr(self.embedding, "scalar_embed_scale", 1.0))

    def residual_units(self, vector: torch.Tensor) -> torch.Tensor:
        """A vector in W_E units as the residual stream holds it at layer 0 (float32)."""
        return vector.float() * self.input_scale

    def to_input(self, vector: torch.Tensor) -> torch.Tensor:
        """A vector in W_E units, as the model's input (its embedding scale, dtype, device)."""
        return self.residual_units(vector).to(device=self.W_E.device, dtype=self.W_E.dtype)

    @property
    def tied(self) -> bool:
        w_u = self.W_U
        return w_u is not None and w_u.data_ptr() == self.W_E.data_ptr()

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def d_model(self) -> int:
        return int(self.W_E.shape[1])

    def to_lens_space(self, hidden: torch.Tensor) -> torch.Tensor:
        """Apply the final norm (and OPT's output projection): what the unembedding sees."""
        for module in (self.final_norm, *self.post_norm):
            if module is not None:
                hidden = module(hidden.to(_device_of(module)))
        return hidden

    def unembed(self, lens_hidden: torch.Tensor) -> torch.Tensor:
        """Logits for hidden states already in lens space."""
        if self.unembedding is None:
            raise ModelError("this model has no unembedding (not a causal LM)")
        return self.unembedding(lens_hidden.to(_device_of(self.unembedding)))


def _device_of(module: nn.Module) -> torch.device:
    for parameter in module.parameters():
        return parameter.device
    return torch.device("cpu")
