"""The one layer a structurally pruned network needs that ultralytics lacks.

ultralytics' C2f splits its first convolution's output in two equal halves (`chunk(2)`), which
a channel pruner cannot keep equal; C2fSplit holds the halves as two convolutions, so each can
lose channels of its own. A pruned checkpoint pickles it, so loading one needs this module
importable (facelm installed); its forward is C2f's, tensor for tensor, before pruning."""
from __future__ import annotations

import copy

import torch
from torch import nn


class C2fSplit(nn.Module):
    """C2f with cv1's two halves as cv0 (the first) and cv1 (the second, fed to the bottlenecks)."""

    def __init__(self, c2f: nn.Module):
        super().__init__()
        half = c2f.cv1.conv.out_channels // 2
        self.cv0, self.cv1 = (self._half(c2f.cv1, sl) for sl in (slice(0, half), slice(half, 2 * half)))
        self.cv2, self.m = c2f.cv2, c2f.m
        for attr in ("i", "f", "type", "np"):  # ultralytics' routing attributes of a layer
            if hasattr(c2f, attr):
                setattr(self, attr, getattr(c2f, attr))

    @staticmethod
    def _half(conv: nn.Module, sl: slice) -> nn.Module:
        """A copy of an ultralytics Conv (conv + BN + act) keeping output channels sl."""
        out = copy.deepcopy(conv)
        with torch.no_grad():
            out.conv.weight = nn.Parameter(conv.conv.weight[sl].clone())
            out.conv.out_channels = out.conv.weight.shape[0]
            if getattr(conv, "bn", None) is not None:
                bn = out.bn
                for name in ("weight", "bias"):
                    setattr(bn, name, nn.Parameter(getattr(conv.bn, name)[sl].clone()))
                bn.running_mean, bn.running_var = conv.bn.running_mean[sl].clone(), conv.bn.running_var[sl].clone()
                bn.num_features = bn.weight.shape[0]
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv0(x), self.cv1(x)]
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


def split_c2f(model: nn.Module) -> int:
    """Replace every C2f of an ultralytics model's layer list by a C2fSplit; returns how many."""
    from ultralytics.nn.modules.block import C2f

    n = 0
    for i, layer in enumerate(model.model):
        if type(layer) is C2f:
            model.model[i] = C2fSplit(layer)
            n += 1
    return n
