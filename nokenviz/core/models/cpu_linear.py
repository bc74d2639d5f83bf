"""Linear layers for forward passes of a few rows on a CPU in float32 (the live preview, P2).

`F.linear(x, W)` computes `x @ W.T`. For 2-8 rows, the BLAS kernel torch's CPU build chooses
for that operand order streams the weights at about a third of the speed of the same product
written `(W @ x.T).T` (measured on an AMD EPYC with MKL: 330 vs 100 µs for a 1536x576 weight
read from memory, bit-for-bit the same values up to float rounding). A preview runs the slot and
the few tokens after it through every layer, so it is made of exactly these products; routing
them through the other operand order took a drag step of the default model from ~62 to ~45 ms.
For one row (GEMV) and for many rows both orders cost the same, so only small batches are
routed. torch has no switch for this, hence the module swap, done once at load time.
"""

from __future__ import annotations

import torch
from torch import nn

# Up to this many rows the weight-first order is used (beyond ~64 rows both orders match).
MAX_ROWS = 64


class FewRowsLinear(nn.Linear):
    """`nn.Linear` sharing the original's parameters; small batches use `W @ x.T`."""

    @classmethod
    def replacing(cls, linear: nn.Linear) -> FewRowsLinear:
        swapped = cls.__new__(cls)
        nn.Module.__init__(swapped)
        swapped.in_features, swapped.out_features = linear.in_features, linear.out_features
        swapped.weight, swapped.bias = linear.weight, linear.bias
        return swapped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // self.in_features
        if rows < 2 or rows > MAX_ROWS:
            return super().forward(x)
        out = (self.weight @ x.reshape(rows, self.in_features).T).T
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)


def use_few_rows_linear(layers: nn.Module) -> int:
    """Swap every float32 `nn.Linear` on the CPU under `layers`; returns how many were swapped.

    Only the decoder layers are passed in: the embedding and unembedding are left as they are
    (the unembedding runs on one row in a preview, where the orders do not differ).
    """
    swapped = 0
    for name, module in list(layers.named_modules()):
        if type(module) is not nn.Linear or module.weight.dtype != torch.float32:
            continue
        if module.weight.device.type != "cpu":
            continue
        parent_name, _, child = name.rpartition(".")
        setattr(layers.get_submodule(parent_name), child, FewRowsLinear.replacing(module))
        swapped += 1
    return swapped
