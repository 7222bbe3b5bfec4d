"""`HiIRUNet`, the U-Net Hi-IR for same-size restoration (denoise / derain / deblur).

A Restormer-like encoder/decoder with pixel-(un)shuffle down/up sampling, skip concatenation followed by a 1x1
reduction at every level (Restormer keeps level 1 at 2x width), refinement blocks, and an image residual.
`window`/`dispersion` may be given per level; a level may have 0 blocks. The input is padded (edge replication) to a
multiple of 2^(levels-1) and the output cropped back.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from irtool.models.archs.hiir.attention import AttnType
from irtool.models.archs.hiir.blocks import L3, FFNKind, Layout, embed, make_blocks, per_level, stem, to_nchw, to_nhwc
from irtool.models.layers.padding import pad_to_multiple
from irtool.models.layers.patch_norm import PatchEmbed
from irtool.models.layers.resample import shuffle_up, unshuffle_down
from irtool.models.norms import NormKind, residual


class HiIRUNet(nn.Module):
    """U-Net Hi-IR for same-size restoration: (B, C, H, W) in [0, 1] -> (B, C_out, H, W), plus the input."""

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        dim: int = 48,
        depths: Sequence[int] = (4, 6, 6, 8),
        refinement: int = 4,
        heads: Sequence[int] = (1, 2, 4, 8),
        window: int | Sequence[int] = 8,
        dispersion: int | Sequence[int] = 4,
        cell: int = 1,
        layout: Layout = "alternate",
        l3: L3 = "none",
        attn_type: AttnType = "dot",
        ffn: FFNKind = "conv",
        ffn_ratio: float = 2.66,
        norm: NormKind = "ln",
        patch_norm: str = "none",
    ):
        super().__init__()
        levels = len(depths)
        heads = per_level(list(heads), levels, "heads")
        windows = per_level(window, levels, "window")
        disps = per_level(dispersion, levels, "dispersion")
        self.levels, self.residual = levels, in_channels == out_channels
        dims = [dim * 2**k for k in range(levels)]

        def blocks(level: int, depth: int) -> nn.Sequential:
            return make_blocks(
                dims[level], depth, heads[level], windows[level], disps[level], cell,
                layout, l3, attn_type, ffn, ffn_ratio, norm,
            )  # fmt: skip

        self.patch_embed = stem(in_channels, dim, patch_norm, bias=False)
        if isinstance(self.patch_embed, PatchEmbed) and self.patch_embed.pre == "holistic" and not self.residual:
            raise ValueError("patch_norm pre=holistic rescales the image residual: in_channels must equal out_channels")
        self.encoders = nn.ModuleList(blocks(k, depths[k]) for k in range(levels - 1))
        self.downs = nn.ModuleList(unshuffle_down(dims[k]) for k in range(levels - 1))
        self.latent = blocks(levels - 1, depths[-1])
        self.ups = nn.ModuleList(shuffle_up(dims[k + 1]) for k in range(levels - 1))
        self.reduces = nn.ModuleList(nn.Conv2d(2 * dims[k], dims[k], 1, bias=False) for k in range(levels - 1))
        self.decoders = nn.ModuleList(blocks(k, depths[k]) for k in range(levels - 1))
        self.refinement = blocks(0, refinement)
        self.output = nn.Conv2d(dim, out_channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        xp = pad_to_multiple(x, 2 ** (self.levels - 1))
        feat, std = embed(self.patch_embed, xp.contiguous(memory_format=torch.channels_last))
        skips = []
        for enc, down in zip(self.encoders, self.downs, strict=True):
            feat = to_nchw(enc(to_nhwc(feat)))
            skips.append(feat)
            feat = down(feat)
        feat = self.latent(to_nhwc(feat))
        for k in reversed(range(self.levels - 1)):
            up = self.ups[k](to_nchw(feat))
            feat = self.reduces[k](torch.cat([up, skips[k]], dim=1))
            feat = self.decoders[k](to_nhwc(feat))
        out = self.output(to_nchw(self.refinement(feat)))
        if self.residual:
            out = residual(xp, out, std)
        return out[..., :h, :w]
