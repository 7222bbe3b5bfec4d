"""Parameter and MAC counts, with the counting convention stated (papers differ, and silently).

MACs come from `torch.utils.flop_counter.FlopCounterMode` (FLOPs / 2) on a copy of the model built on the `meta`
device, so no memory is allocated and no arithmetic is done. What is counted:
    "conv"         convolutions only. This is the convention behind the commonly quoted Restormer figure
                   (140.99 G at 1x3x256x256): attention matmuls are left out.
    "conv_linear"  convolutions and linear layers: every layer with weights, but not the attention matmuls (the
                   "convs + linears" of the SwinIR/HAT tables). The fair comparison between a conv-built network
                   (Restormer: its projections are 1x1 convs, so this equals "conv") and a token-built one (Hi-IR:
                   its projections and FFNs are nn.Linear, which "conv" would leave out).
    "all"          every op FlopCounterMode knows: the above plus the attention matrix products.
Element-wise work (norms, activations, softmax, pixel shuffles) is never counted, in any mode.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from irtool.models.descriptor import ModelDescriptor

MacMode = Literal["conv", "all"]
_CONV_OPS = ("convolution", "_convolution", "conv1d", "conv2d", "conv3d")


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module | ModelDescriptor, height: int, width: int, batch: int = 1) -> dict[str, Any]:
    """MACs of one forward pass on a (batch, in_channels, height, width) input, per counting mode and per op.

    Only the architecture matters, so a descriptor is enough (no weights are read).
    """
    from irtool.models import registry

    d = model if isinstance(model, ModelDescriptor) else model.descriptor
    with torch.device("meta"):
        # the same architecture, without storage: counting 26M-parameter models at 1024x1024 stays instant
        shadow = registry.build(d.arch, d.hparams)
        x = torch.empty(batch, d.in_channels, height, width)
    # nn.Linear runs as mm/addmm, the same aten ops as attention's products: count linear layers by module
    linear = 0

    def count_linear(layer: nn.Module, args: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        nonlocal linear
        linear += args[0].numel() * layer.out_features  # (tokens x in) @ (in x out)

    hooks = [m.register_forward_hook(count_linear) for m in shadow.modules() if isinstance(m, nn.Linear)]
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            shadow(x)
    finally:
        for h in hooks:
            h.remove()
    counts = counter.get_flop_counts().get("Global", {})  # absent when nothing countable ran (identity)
    by_op = {str(op).removeprefix("aten."): flops // 2 for op, flops in counts.items()}
    conv = sum(v for op, v in by_op.items() if op in _CONV_OPS)
    return {
        "input": [batch, d.in_channels, height, width],
        "macs": {"conv": conv, "conv_linear": conv + linear, "all": sum(by_op.values())},
        "by_op": by_op,
    }


def format_count(n: float) -> str:
    """26126644 -> '26.13M'; 140990496768 -> '140.99G'."""
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}"
    return str(int(n))
