"""Resolution changes by pixel (un)shuffle: the U-Nets' level steps and the SR networks' upsampler.

`unshuffle_down` / `shuffle_up` halve / double the resolution between U-Net levels (Restormer's `Downsample` and
`Upsample` wrap them under the official key names; Hi-IR's U-Net uses them bare). `PixelShuffleUpsampler` is the
SR output head's x2/x3/x4 enlargement (SwinIR's classical upsampler), a different thing: it keeps the channels.
"""

from __future__ import annotations

import math

from torch import nn


def unshuffle_down(dim: int) -> nn.Sequential:
    """Halve the resolution, double the channels: bias-free 3x3 conv to dim/2, then pixel-unshuffle (x4 channels)."""
    return nn.Sequential(nn.Conv2d(dim, dim // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2))


def shuffle_up(dim: int) -> nn.Sequential:
    """Double the resolution, halve the channels: bias-free 3x3 conv to 2*dim, then pixel-shuffle (/4 channels)."""
    return nn.Sequential(nn.Conv2d(dim, dim * 2, 3, padding=1, bias=False), nn.PixelShuffle(2))


class PixelShuffleUpsampler(nn.Sequential):
    """Enlarge by `scale` at constant channels: conv + x2 pixel shuffle steps for powers of two, one x3 step for 3."""

    def __init__(self, scale: int, channels: int):
        layers: list[nn.Module] = []
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [nn.Conv2d(channels, 4 * channels, 3, padding=1), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [nn.Conv2d(channels, 9 * channels, 3, padding=1), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"scale must be a power of two or 3, got {scale}")
        super().__init__(*layers)
