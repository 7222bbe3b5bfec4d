"""Networks without weights: MATLAB bicubic upscaling and identity."""

from __future__ import annotations

import torch
from torch import nn


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
