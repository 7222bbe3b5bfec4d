"""Models without weights: MATLAB bicubic upscaling (the baseline every SR table starts from) and identity.

They go through the same registry, descriptor and engine as the networks, so `irtool restore -m bicubic` and
`irtool eval -m identity` (the score of the degraded input itself) need no special cases.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from irtool.models.registry import register, register_arch


class Bicubic(nn.Module):
    """MATLAB `imresize(x, scale, 'bicubic')` on float values; the output is not rounded or clamped."""

    def __init__(self, scale: int = 4):
        super().__init__()
        if scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale}")
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from irtool.ops.resize import imresize

        return imresize(x, self.scale)


class Identity(nn.Module):
    """Returns its input: scores the degraded image itself, and tests the pipeline without a network."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _describe_bicubic(h: dict[str, Any]) -> dict[str, Any]:
    return {"task": "sr", "scale": h["scale"], "fp16_safe": True, "receptive_field": 4}


def _describe_identity(h: dict[str, Any]) -> dict[str, Any]:
    return {"task": "identity", "fp16_safe": True}


register_arch("bicubic", build=Bicubic, describe=_describe_bicubic)
register_arch("identity", build=Identity, describe=_describe_identity)
register("bicubic", arch="bicubic", description="MATLAB bicubic upscaling by `scale` (default 4); no weights")
register("identity", arch="identity", description="returns the input unchanged; no weights")
