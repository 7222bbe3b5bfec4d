"""`HiIRSR`, the columnar Hi-IR for super-resolution (SwinIR's macro layout with Hi-IR blocks).

conv stem -> stages (`conv_blocks` residual conv blocks, if any, then the Hi-IR blocks, `stage_conv` and the stage
residual) -> norm -> conv after body + long skip -> upsampler (`pixelshuffle` as SwinIR's classical head, or the
light `pixelshuffledirect`) -> optional image residual over an interpolated input (`image_residual`; the last
upsampler conv then starts at zero, so an untrained model outputs exactly the interpolation). `conv_blocks` makes
CPU-friendly hybrids: on a CPU convolutions deliver far more quality per millisecond than attention (see the compact
configurations in `models.configs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from irtool.models.archs.hiir.attention import AttnType
from irtool.models.archs.hiir.blocks import L3, FFNKind, Layout, embed, make_blocks, stem, to_nchw, to_nhwc
from irtool.models.layers.resample import PixelShuffleUpsampler
from irtool.models.norms import NormKind, make_plain_norm, residual

StageConv = Literal["3x3", "1x1", "none"]
Upsampler = Literal["pixelshuffle", "pixelshuffledirect"]
ImageResidual = Literal["none", "nearest", "bilinear", "bicubic"]

# DIV2K RGB mean (as SwinIR/HAT subtract it); other channel counts use 0.5.
_RGB_MEAN = (0.4488, 0.4371, 0.4040)


def _stage_conv(kind: StageConv, dim: int) -> nn.Module:
    if kind == "3x3":
        return nn.Conv2d(dim, dim, 3, padding=1)
    if kind == "1x1":
        return nn.Conv2d(dim, dim, 1)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"stage_conv must be '3x3', '1x1' or 'none', got {kind!r}")


class ConvBlock(nn.Module):
    """x + conv3x3(lrelu(conv3x3(x))): the cheap local block of the hybrid (CPU-oriented) stages."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(dim, dim, 3, padding=1), nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.leaky_relu(self.conv1(x), 0.1))


class HiIRStage(nn.Module):
    """Conv blocks (if any), Hi-IR blocks, then a conv, around a stage residual (SwinIR's RSTB shape); NCHW."""

    def __init__(self, convs: nn.Sequential, blocks: nn.Sequential, conv: nn.Module):
        super().__init__()
        self.convs, self.blocks, self.conv = convs, blocks, conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(to_nchw(self.blocks(to_nhwc(self.convs(x)))))


def _channel_mean(channels: int) -> torch.Tensor:
    mean = _RGB_MEAN if channels == 3 else (0.5,) * channels
    return torch.tensor(mean).view(1, channels, 1, 1)


class HiIRSR(nn.Module):
    """Columnar Hi-IR for super-resolution: (B, C, H, W) in [0, 1] -> (B, C_out, H*scale, W*scale)."""

    def __init__(
        self,
        scale: int = 4,
        in_channels: int = 3,
        out_channels: int = 3,
        dim: int = 180,
        depths: Sequence[int] = (6, 6, 6, 6, 6, 6),
        heads: int = 6,
        window: int = 8,
        dispersion: int = 8,
        cell: int = 1,
        layout: Layout = "alternate",
        l3: L3 = "none",
        attn_type: AttnType = "dot",
        ffn: FFNKind = "mlp",
        ffn_ratio: float = 2.0,
        norm: NormKind = "ln",
        stage_conv: StageConv = "3x3",
        conv_blocks: int = 0,
        upsampler: Upsampler = "pixelshuffle",
        upsampler_channels: int = 64,
        image_residual: ImageResidual = "none",
        patch_norm: str = "none",
    ):
        super().__init__()
        if image_residual not in ("none", "nearest", "bilinear", "bicubic"):
            raise ValueError(f"image_residual must be none, nearest, bilinear or bicubic, got {image_residual!r}")
        if image_residual != "none" and in_channels != out_channels:
            raise ValueError("an image residual needs in_channels == out_channels")
        self.scale, self.image_residual = scale, image_residual
        self.register_buffer("mean", _channel_mean(in_channels), persistent=False)
        self.conv_first = stem(in_channels, dim, patch_norm, bias=True)
        self.stages = nn.ModuleList(
            HiIRStage(
                nn.Sequential(*(ConvBlock(dim) for _ in range(conv_blocks))),
                make_blocks(dim, d, heads, window, dispersion, cell, layout, l3, attn_type, ffn, ffn_ratio, norm),
                _stage_conv(stage_conv, dim),
            )
            for d in depths
        )
        self.norm = make_plain_norm(norm, dim)
        self.conv_after_body = nn.Conv2d(dim, dim, 3, padding=1)
        if upsampler == "pixelshuffle":
            self.upsample = nn.Sequential(
                nn.Conv2d(dim, upsampler_channels, 3, padding=1),
                nn.LeakyReLU(0.2, inplace=True),
                PixelShuffleUpsampler(scale, upsampler_channels),
                nn.Conv2d(upsampler_channels, out_channels, 3, padding=1),
            )
        elif upsampler == "pixelshuffledirect":
            self.upsample = nn.Sequential(nn.Conv2d(dim, out_channels * scale**2, 3, padding=1), nn.PixelShuffle(scale))
        else:
            raise ValueError(f"upsampler must be 'pixelshuffle' or 'pixelshuffledirect', got {upsampler!r}")
        if image_residual != "none":
            # Start as exactly the interpolation: training then only has to learn the missing detail.
            last_conv = self.upsample[0] if upsampler == "pixelshuffledirect" else self.upsample[-1]
            nn.init.zeros_(last_conv.weight)
            nn.init.zeros_(last_conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Channels-last memory makes every NCHW <-> NHWC switch of the body a free view and the convs run natively.
        # A holistic pre-norm centres the image itself (one mean over pixels and channels); the fixed per-channel
        # shift first would leave an offset that does not scale with the image's contrast.
        centred = x if getattr(self.conv_first, "pre", None) == "holistic" else x - self.mean
        feat, std = embed(self.conv_first, centred.contiguous(memory_format=torch.channels_last))
        body = feat
        for stage in self.stages:
            body = stage(body)
        body = to_nchw(self.norm(to_nhwc(body))[0])
        out = self.upsample(self.conv_after_body(body) + feat)
        if self.image_residual == "none":
            return residual(self.mean, out, std)
        if self.scale == 1:
            return residual(x, out, std)
        align = None if self.image_residual == "nearest" else False
        base = F.interpolate(x, scale_factor=self.scale, mode=self.image_residual, align_corners=align)
        return residual(base, out, std)
