"""Small models with descriptors, enough to exercise the engine without the real architectures."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from irtool.models.descriptor import ModelDescriptor
from irtool.models.norms import ILN


class TinyCNN(nn.Module):
    """3x3 convolutions (receptive radius = layers) and an optional pixel shuffle; tiling is exact for overlap >= 2r."""

    def __init__(self, scale: int = 1, channels: int = 3, width: int = 8, layers: int = 3):
        super().__init__()
        body: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1)]
        for _ in range(layers - 2):
            body += [nn.ReLU(), nn.Conv2d(width, width, 3, padding=1)]
        body += [nn.ReLU(), nn.Conv2d(width, channels * scale * scale, 3, padding=1)]
        self.body = nn.Sequential(*body)
        self.up = nn.PixelShuffle(scale) if scale > 1 else nn.Identity()
        self.descriptor = ModelDescriptor(
            arch="tiny-cnn",
            task="sr" if scale > 1 else "denoise",
            scale=scale,
            in_channels=channels,
            out_channels=channels,
            receptive_field=layers,
            fp16_safe=True,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.body(x))


class TinyILN(nn.Module):
    """conv -> i-LN -> conv: its output depends on statistics of the whole image."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = ILN(8)
        self.out = nn.Conv2d(8, 3, 3, padding=1)
        with torch.no_grad():
            self.norm.gamma.uniform_(0.5, 1.5)
            self.norm.beta.uniform_(-0.2, 0.2)
        self.descriptor = ModelDescriptor(arch="tiny-iln", task="denoise", global_stats=True, receptive_field=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.inp(x).permute(0, 2, 3, 1)
        y, std = self.norm(f)
        return x + self.out(y.permute(0, 3, 1, 2)) * 0.1


@pytest.fixture
def seeded():
    torch.manual_seed(0)
