"""Restormer's nn.Modules (Zamir et al., "Restormer: Efficient Transformer for High-Resolution Image Restoration").

Written from the specification in the project's model notes, not from the official code. Module and parameter
names follow the official ones exactly (`encoder_level1.0.norm1.body.weight`, ...), so the released checkpoints
(`{'params': state_dict}` .pth files) load strictly and give the same numbers.

The network is a 4-level U-Net of transformer blocks. Each block is
    x = x + MDTA(norm1(x))    attention across *channels*: a (c x c) map per head, so linear in the pixel count
    x = x + GDFN(norm2(x))    gated depthwise-conv feed-forward
Levels are joined by pixel-unshuffle / pixel-shuffle; the output is added to the input image (global residual),
except in the dual-pixel variant, whose input has 6 channels (left and right views).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from irtool.models.layers.mdta import MDTA
from irtool.models.layers.padding import pad_to_multiple
from irtool.models.layers.patch_norm import PatchEmbed
from irtool.models.layers.resample import shuffle_up, unshuffle_down
from irtool.models.norms import make_norm, residual

SIZE_MULTIPLE = 8  # three 2x pixel-unshuffles


class ChannelNorm(nn.Module):
    """A norm over the channels of each pixel of a (B, C, H, W) map; the child is named `body` as in the checkpoints."""

    def __init__(self, dim: int, kind: str):
        super().__init__()
        self.body = make_norm(kind, dim)  # "ln" = WithBias, "ln_nobias" = BiasFree, "iln"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        y, std = self.body(rearrange(x, "b c h w -> b h w c"))
        return rearrange(y, "b h w c -> b c h w"), std  # std: (B, 1, 1, 1) under i-LN, broadcasts over C, H, W


class FeedForward(nn.Module):
    """GDFN: gated depthwise-conv feed-forward; GELU on the first half gates the second half."""

    def __init__(self, dim: int, expansion: float, bias: bool):
        super().__init__()
        hidden = int(dim * expansion)  # truncation, as the checkpoints' shapes require (48 * 2.66 -> 127)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, expansion: float, bias: bool, norm: str):
        super().__init__()
        self.norm1 = ChannelNorm(dim, norm)
        self.attn = MDTA(dim, num_heads, bias)
        self.norm2 = ChannelNorm(dim, norm)
        self.ffn = FeedForward(dim, expansion, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, std = self.norm1(x)
        x = residual(x, self.attn(y), std)
        y, std = self.norm2(x)
        return residual(x, self.ffn(y), std)


def _stage(n: int, dim: int, heads: int, expansion: float, bias: bool, norm: str) -> nn.Sequential:
    return nn.Sequential(*(TransformerBlock(dim, heads, expansion, bias, norm) for _ in range(n)))


class Downsample(nn.Module):
    """Halve the resolution, double the channels (`layers.resample.unshuffle_down`, under the official `body`)."""

    def __init__(self, dim: int):
        super().__init__()
        self.body = unshuffle_down(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Upsample(nn.Module):
    """Double the resolution, halve the channels (`layers.resample.shuffle_up`, under the official `body`)."""

    def __init__(self, dim: int):
        super().__init__()
        self.body = shuffle_up(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Restormer(nn.Module):
    """(B, C, H, W) in [0, 1], any H, W -> (B, C_out, H, W); options beyond the paper: `norm="iln"`, `patch_norm`."""

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        dim: int = 48,
        num_blocks: Sequence[int] = (4, 6, 6, 8),
        num_refinement_blocks: int = 4,
        heads: Sequence[int] = (1, 2, 4, 8),
        ffn_expansion_factor: float = 2.66,
        bias: bool = False,
        norm: str = "ln",
        dual_pixel: bool = False,
        patch_norm: str = "none",
    ):
        super().__init__()
        if norm not in ("ln", "ln_nobias", "iln"):
            raise ValueError(f"norm must be ln (WithBias), ln_nobias (BiasFree) or iln, got {norm!r}")
        self.dual_pixel = dual_pixel
        n1, n2, n3, n4 = num_blocks
        h1, h2, h3, h4 = heads
        stage = partial(_stage, expansion=ffn_expansion_factor, bias=bias, norm=norm)

        # Registration order = the official state_dict order.
        self.patch_embed = PatchEmbed(in_channels, dim, patch_norm)
        if dual_pixel and self.patch_embed.pre == "holistic":
            raise ValueError("patch_norm pre=holistic rescales the image residual, which the dual-pixel variant lacks")
        self.encoder_level1 = stage(n1, dim, h1)
        self.down1_2 = Downsample(dim)
        self.encoder_level2 = stage(n2, dim * 2, h2)
        self.down2_3 = Downsample(dim * 2)
        self.encoder_level3 = stage(n3, dim * 4, h3)
        self.down3_4 = Downsample(dim * 4)
        self.latent = stage(n4, dim * 8, h4)
        self.up4_3 = Upsample(dim * 8)
        self.reduce_chan_level3 = nn.Conv2d(dim * 8, dim * 4, 1, bias=bias)
        self.decoder_level3 = stage(n3, dim * 4, h3)
        self.up3_2 = Upsample(dim * 4)
        self.reduce_chan_level2 = nn.Conv2d(dim * 4, dim * 2, 1, bias=bias)
        self.decoder_level2 = stage(n2, dim * 2, h2)
        self.up2_1 = Upsample(dim * 2)
        # Level 1 keeps the concatenation's 2*dim channels (no reduction), and so does the refinement.
        self.decoder_level1 = stage(n1, dim * 2, h1)
        self.refinement = stage(num_refinement_blocks, dim * 2, h1)
        if dual_pixel:
            self.skip_conv = nn.Conv2d(dim, dim * 2, 1, bias=bias)
        self.output = nn.Conv2d(dim * 2, out_channels, 3, padding=1, bias=bias)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        x = pad_to_multiple(img, SIZE_MULTIPLE, mode="reflect")  # as the official test scripts pad
        emb, std = self.patch_embed(x)
        enc1 = self.encoder_level1(emb)
        enc2 = self.encoder_level2(self.down1_2(enc1))
        enc3 = self.encoder_level3(self.down2_3(enc2))
        y = self.latent(self.down3_4(enc3))
        # Upsampled features first, then the encoder skip: the order the checkpoints were trained with.
        y = self.decoder_level3(self.reduce_chan_level3(torch.cat([self.up4_3(y), enc3], 1)))
        y = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(y), enc2], 1)))
        y = self.refinement(self.decoder_level1(torch.cat([self.up2_1(y), enc1], 1)))
        # dual-pixel: 6 channels in, 3 out, so no image residual; a skip from the stem instead
        out = self.output(y + self.skip_conv(emb)) if self.dual_pixel else residual(x, self.output(y), std)
        return out[..., :h, :w]
