"""Hi-IR's blocks: information flows up a tree of levels inside each Transformer stage.

- **L1, local** and **L2, regional**: grouped self-attention (`attention.Grouping`: windows, and pixels dispersed over
  a region of windows).
- **L3, image level** (`l3`): the paper does not pin it down. `"none"` (default): the root is reached through depth
  and, in the U-Net, through downsampling (a region at level k covers 2^k times more input pixels). `"channel"`:
  each stage ends with a transposed channel attention over the whole map (Restormer's MDTA), linear in pixels.
- **Block layout** (`layout`): `"alternate"` (default): block i is norm -> L1 (i even) or L2 (i odd) attention ->
  residual, then norm -> FFN -> residual, so alternation replaces Swin's shift. `"paired"`: each block runs L1, then
  L2, then the FFN, each as a pre-norm residual sub-layer.
- **FFN** (`ffn`): `"mlp"` (Linear-GELU-Linear) or `"conv"` (gated depthwise-conv FFN, as Restormer's GDFN), which
  adds locality the unshifted windows lack and is cheap on CPU.

Norms come from `models.norms` (`norm="ln"|"ln_nobias"|"iln"`): under i-LN the residual branches are rescaled by the
block input's holistic std and the non-residual norm becomes an Affine.

`patch_norm` (both macro architectures, default "none") puts Dual PatchNorm on the stem, as Restormer's (see
`models.layers.patch_norm`): the stem conv becomes a bias-free `PatchEmbed` with its own keys (`conv_first.proj`,
`patch_embed.proj`), so weights saved without it keep theirs. A holistic pre-norm rescales what the network adds to
the image by the input's std.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from irtool.models.archs.hiir.attention import AttnType, ChannelAttention, GroupAttention, Grouping
from irtool.models.layers.patch_norm import PatchEmbed
from irtool.models.norms import NormKind, make_norm, residual

Layout = Literal["alternate", "paired"]
L3 = Literal["none", "channel"]
FFNKind = Literal["mlp", "conv"]


def to_nchw(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2)


def to_nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1)


class MlpFFN(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class ConvFFN(nn.Module):
    """Gated depthwise-conv FFN: 1x1 to 2 hidden halves, 3x3 depthwise, gelu(first) * second, 1x1 back."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.project_in = nn.Linear(dim, 2 * hidden)
        self.dwconv = nn.Conv2d(2 * hidden, 2 * hidden, 3, padding=1, groups=2 * hidden)
        self.project_out = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = to_nhwc(self.dwconv(to_nchw(self.project_in(x))))
        a, b = y.chunk(2, dim=-1)
        return self.project_out(F.gelu(a) * b)


class PreNorm(nn.Module):
    """x + op(norm(x)), with the i-LN std rescaling of the branch when the norm is i-LN."""

    def __init__(self, norm: NormKind, dim: int, op: nn.Module):
        super().__init__()
        self.norm, self.op = make_norm(norm, dim), op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, std = self.norm(x)
        return residual(x, self.op(y), std)


class HiIRBlock(nn.Module):
    """One or more grouped-attention sub-layers (L1 and/or L2), then an FFN sub-layer; channels-last in and out."""

    def __init__(
        self,
        dim: int,
        heads: int,
        groupings: Sequence[Grouping],
        attn_type: AttnType,
        ffn: FFNKind,
        ffn_ratio: float,
        norm: NormKind,
    ):
        super().__init__()
        self.attns = nn.ModuleList(PreNorm(norm, dim, GroupAttention(dim, heads, g, attn_type)) for g in groupings)
        hidden = int(dim * ffn_ratio)
        self.ffn = PreNorm(norm, dim, ConvFFN(dim, hidden) if ffn == "conv" else MlpFFN(dim, hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attn in self.attns:
            x = attn(x)
        return self.ffn(x)


def make_blocks(
    dim: int,
    depth: int,
    heads: int,
    window: int,
    dispersion: int,
    cell: int,
    layout: Layout,
    l3: L3,
    attn_type: AttnType,
    ffn: FFNKind,
    ffn_ratio: float,
    norm: NormKind,
) -> nn.Sequential:
    """`depth` Hi-IR blocks at one resolution, plus the L3 sub-layer when asked for."""
    if layout not in ("alternate", "paired"):
        raise ValueError(f"layout must be 'alternate' or 'paired', got {layout!r}")
    if l3 not in ("none", "channel"):
        raise ValueError(f"l3 must be 'none' or 'channel', got {l3!r}")
    if ffn not in ("mlp", "conv"):
        raise ValueError(f"ffn must be 'mlp' or 'conv', got {ffn!r}")
    l1, l2 = Grouping(window), Grouping(window, dispersion, cell)
    # alternate: L1, L2, L1, ... one attention per block; paired: L1 then L2 in every block
    plan = [(l1, l2)] * depth if layout == "paired" else [(l1,) if i % 2 == 0 else (l2,) for i in range(depth)]
    blocks: list[nn.Module] = [HiIRBlock(dim, heads, g, attn_type, ffn, ffn_ratio, norm) for g in plan]
    if l3 == "channel":
        blocks.append(PreNorm(norm, dim, ChannelAttention(dim, heads)))
    return nn.Sequential(*blocks)


def stem(in_channels: int, dim: int, patch_norm: str, *, bias: bool) -> nn.Module:
    """A plain 3x3 conv (the keys saved weights have), or the Dual PatchNorm stem when one is asked for."""
    if patch_norm == "none":
        return nn.Conv2d(in_channels, dim, 3, padding=1, bias=bias)
    return PatchEmbed(in_channels, dim, patch_norm)


def embed(stem: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(features, holistic std of the input or None), whichever stem it is."""
    return stem(x) if isinstance(stem, PatchEmbed) else (stem(x), None)


def per_level(value: int | Sequence[int], levels: int, name: str) -> list[int]:
    """One value per U-Net level: an int repeated, or a sequence of exactly `levels` values."""
    values = [value] * levels if isinstance(value, int) else list(value)
    if len(values) != levels:
        raise ValueError(f"{name} needs one value per level ({levels}), got {values}")
    return values
