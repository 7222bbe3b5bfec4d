"""Restormer (Zamir et al., "Restormer: Efficient Transformer for High-Resolution Image Restoration", CVPR 2022).

Written from the specification in the project's model notes, not from the official code. Module and parameter
names follow the official ones exactly (`encoder_level1.0.norm1.body.weight`, ...), so the released checkpoints
(`{'params': state_dict}` .pth files) load strictly and give the same numbers.

The network is a 4-level U-Net of transformer blocks. Each block is
    x = x + MDTA(norm1(x))    attention across *channels*: a (c x c) map per head, so linear in the pixel count
    x = x + GDFN(norm2(x))    gated depthwise-conv feed-forward
Levels are joined by pixel-unshuffle / pixel-shuffle; the output is added to the input image (global residual),
except in the dual-pixel variant, whose input has 6 channels (left and right views).

Options beyond the paper: `norm="iln"` (i-LN, Lee et al.: x + std(x) * branch(iLN(x)) in every block) and
`patch_norm` (Dual PatchNorm on the stem, see models.patch_norm). Restormer and its weights are under the
Restormer Academic Public License: non-commercial use only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from irtool.models.detection import count_indices, expansion_ratio
from irtool.models.norms import make_norm, residual
from irtool.models.patch_norm import PatchEmbed, detect_patch_norm
from irtool.models.registry import register, register_arch

LICENSE = "Restormer APL, non-commercial"  # the Restormer Academic Public License (code and released weights)
SIZE_MULTIPLE = 8  # three 2x pixel-unshuffles


class ChannelNorm(nn.Module):
    """A norm over the channels of each pixel of a (B, C, H, W) map; the child is named `body` as in the checkpoints."""

    def __init__(self, dim: int, kind: str):
        super().__init__()
        self.body = make_norm(kind, dim)  # "ln" = WithBias, "ln_nobias" = BiasFree, "iln"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        y, std = self.body(rearrange(x, "b c h w -> b h w c"))
        return rearrange(y, "b h w c -> b c h w"), std  # std: (B, 1, 1, 1) under i-LN, broadcasts over C, H, W


class Attention(nn.Module):
    """MDTA: multi-Dconv-head transposed attention. Queries and keys are L2-normalised over the pixels, so each
    head's attention map compares whole channels; a learnt per-head temperature is the only scale."""

    def __init__(self, dim: int, num_heads: int, bias: bool):
        super().__init__()
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        q, k, v = (
            rearrange(t, "b (head c) h w -> b head c (h w)", head=self.num_heads)  # head-major channel groups
            for t in self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        )
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = (q @ k.transpose(-2, -1) * self.temperature).softmax(dim=-1)  # (b, head, c, c)
        out = rearrange(attn @ v, "b head c (h w) -> b (head c) h w", h=h, w=w)
        return self.project_out(out)


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
        self.attn = Attention(dim, num_heads, bias)
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
    """Halve the resolution, double the channels: conv to C/2, then pixel-unshuffle (x4 channels)."""

    def __init__(self, dim: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(dim, dim // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Upsample(nn.Module):
    """Double the resolution, halve the channels: conv to 2C, then pixel-shuffle (/4 channels)."""

    def __init__(self, dim: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(dim, dim * 2, 3, padding=1, bias=False), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Restormer(nn.Module):
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
        x = _pad_to_multiple(img, SIZE_MULTIPLE)
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


def _pad_to_multiple(x: torch.Tensor, m: int) -> torch.Tensor:
    """Pad bottom/right to a multiple of m, reflecting as the official test scripts do (replicate if too small)."""
    ph, pw = -x.shape[-2] % m, -x.shape[-1] % m
    if not (ph or pw):
        return x
    mode = "reflect" if ph < x.shape[-2] and pw < x.shape[-1] else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def describe(h: dict[str, Any]) -> dict[str, Any]:
    """Descriptor fields from hyper-parameters; the task is a guess (the same architecture serves several)."""
    task = "defocus" if h["dual_pixel"] else "denoise" if h["norm"] == "ln_nobias" else "derain"
    return {
        "task": task,
        "in_channels": h["in_channels"],
        "out_channels": h["out_channels"],
        "size_multiple": SIZE_MULTIPLE,
        "fp16_safe": False,  # attention logits and LN variances of large maps are not checked in fp16
        "bf16_safe": True,
        "license": LICENSE,
    }


def detect(sd: Mapping[str, torch.Tensor]) -> dict[str, Any] | None:
    """Read the hyper-parameters back from key names and shapes; None when this is not a Restormer state_dict."""
    required = ("patch_embed.proj.weight", "encoder_level1.0.attn.temperature", "latent.0.attn.qkv_dwconv.weight")
    required += ("down1_2.body.0.weight", "up4_3.body.0.weight", "reduce_chan_level3.weight", "output.weight")
    if not all(k in sd for k in required):
        return None
    levels = ("encoder_level1", "encoder_level2", "encoder_level3", "latent")
    dim, in_channels = sd["patch_embed.proj.weight"].shape[:2]
    # project_out is (d, int(d * factor), 1, 1) in every block: all widths together pin the factor down
    widths = [v.shape[:2] for k, v in sd.items() if k.endswith(".ffn.project_out.weight")]
    b1 = "encoder_level1.0."
    norm = "iln" if f"{b1}norm1.body.gamma" in sd else "ln" if f"{b1}norm1.body.bias" in sd else "ln_nobias"
    return {
        "in_channels": int(in_channels),
        "out_channels": int(sd["output.weight"].shape[0]),
        "dim": int(dim),
        "num_blocks": [_count_blocks(sd, p) for p in levels],
        "num_refinement_blocks": _count_blocks(sd, "refinement"),
        "heads": [int(sd[f"{p}.0.attn.temperature"].shape[0]) for p in levels],
        "ffn_expansion_factor": expansion_ratio(widths, preferred=(2.66,)),
        "bias": f"{b1}attn.qkv.bias" in sd,
        "norm": norm,
        "dual_pixel": "skip_conv.weight" in sd,
        "patch_norm": detect_patch_norm(sd, "patch_embed", int(in_channels)),
    }


def _count_blocks(sd: Mapping[str, torch.Tensor], prefix: str) -> int:
    return count_indices(sd, rf"{prefix}\.(\d+)\.")


register_arch("restormer", build=Restormer, describe=describe, detect=detect)

_BIAS_FREE = {"norm": "ln_nobias"}
_CONFIGS: dict[str, tuple[str, dict[str, Any], str]] = {
    "restormer": ("derain", {}, "Restormer default configuration (26.1M params, WithBias LayerNorm)"),
    "restormer-derain": ("derain", {}, "the released deraining configuration (deraining.pth)"),
    "restormer-deblur-motion": ("deblur", {}, "the released motion deblurring configuration (motion_deblurring.pth)"),
    "restormer-defocus": ("defocus", {}, "single-image defocus deblurring (single_image_defocus_deblurring.pth)"),
    "restormer-defocus-dp": (
        "defocus",
        {"in_channels": 6, "dual_pixel": True},
        "dual-pixel defocus deblurring, input = left and right views stacked (dual_pixel_defocus_deblurring.pth)",
    ),
    "restormer-denoise-color": ("denoise", _BIAS_FREE, "Gaussian colour denoising (gaussian_color_denoising_*.pth)"),
    "restormer-denoise-gray": (
        "denoise",
        {**_BIAS_FREE, "in_channels": 1, "out_channels": 1},
        "Gaussian grayscale denoising (gaussian_gray_denoising_*.pth)",
    ),
    "restormer-denoise-real": ("denoise", _BIAS_FREE, "real-noise denoising, SIDD (real_denoising.pth)"),
}
for _name, (_task, _hparams, _text) in _CONFIGS.items():
    register(_name, arch="restormer", hparams=_hparams, descriptor={"task": _task}, description=_text)
