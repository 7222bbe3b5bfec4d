"""Hi-IR: hierarchical information flow for image restoration (Li et al., arXiv 2411.18588), rebuilt from the paper.

No official code exists, so this is our reading of the paper, with every ambiguous point made a constructor option.

Information flows up a tree of levels inside each Transformer stage:

- **L1, local**: self-attention in non-overlapping `window x window` windows, with no shift.
- **L2, regional**: a region is `dispersion x dispersion` L1 windows. A fixed permutation (a reshape + permute,
  exactly inverted after attention; `attention.Grouping`) gathers, from every window of the region, the `cell x cell`
  pixels at the same offset, and attention runs over those dispersed pixels. After an L1 then an L2 layer every pixel
  has a path from every pixel of its region. `cell=1` (default) is the dilated lattice from the authors' rebuttal.
- **L3, image level** (`l3`): the paper does not pin it down. `"none"` (default): the root is reached through depth
  and, in the U-Net, through downsampling (a region at level k covers 2^k times more input pixels). `"channel"`:
  each stage ends with a transposed channel attention over the whole map (Restormer's MDTA), linear in pixels.
- **Block layout** (`layout`): `"alternate"` (default): block i is norm -> L1 (i even) or L2 (i odd) attention ->
  residual, then norm -> FFN -> residual, so alternation replaces Swin's shift. `"paired"`: each block runs L1, then
  L2, then the FFN, each as a pre-norm residual sub-layer.
- **Attention**: scaled dot-product by default (the paper's scaling advice), `attn_type="cosine"` as an option;
  a learned relative position bias per head, indexed by relative offsets (L2's on the lattice: window offset x
  in-cell offset, so the checkpoint's table shape tells the dispersion and cell back).
- **FFN** (`ffn`): `"mlp"` (Linear-GELU-Linear) or `"conv"` (gated depthwise-conv FFN, as Restormer's GDFN), which
  adds locality the unshifted windows lack and is cheap on CPU.

Two macro architectures:

- `HiIRSR` (columnar, for SR): conv stem -> stages (`conv_blocks` residual conv blocks, if any, then the Hi-IR
  blocks, `stage_conv` and the stage residual) -> norm -> conv after body + long skip -> upsampler
  (`pixelshuffle` as SwinIR's classical head, or the light `pixelshuffledirect`) -> optional image residual over
  an interpolated input (`image_residual`; the last upsampler conv then starts at zero, so an untrained model
  outputs exactly the interpolation). `conv_blocks` makes CPU-friendly hybrids: on a
  CPU convolutions deliver far more quality per millisecond than attention (see `models.compact`).
- `HiIRUNet` (denoise/derain/deblur): Restormer-like encoder/decoder with pixel-(un)shuffle down/up sampling,
  skip concatenation followed by a 1x1 reduction at every level (Restormer keeps level 1 at 2x width), refinement
  blocks, and an image residual. `window`/`dispersion` may be given per level; a level may have 0 blocks.

Any input size works: each attention layer pads its map (edge replication) to its own grid and crops back, and the
U-Net pads the input to a multiple of 2^(levels-1). The descriptor's `size_multiple` is the full window grid, so a
tiler that aligns tiles to it sees the same windows as a whole-image run.

A state_dict without our metadata is recognised from its keys (`detect_sr`, `detect_unet`); only `image_residual`
leaves no trace in the weights (read as "none"), so models are saved with `irtool.models.save`, which records it.

Norms come from `models.norms` (`norm="ln"|"ln_nobias"|"iln"`): under i-LN the residual branches are rescaled by the
block input's holistic std and the non-residual norm becomes an Affine.

`patch_norm` (both variants, default "none") puts Dual PatchNorm on the stem, as Restormer's (see `models.patch_norm`):
the stem conv becomes a bias-free `PatchEmbed` with its own keys (`conv_first.proj`, `patch_embed.proj`), so weights
saved without it keep theirs. A holistic pre-norm rescales what the network adds to the image by the input's std.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from irtool.models.attention import AttnType, ChannelAttention, GroupAttention, Grouping
from irtool.models.detection import count_indices, expansion_ratio
from irtool.models.norms import NormKind, make_norm, make_plain_norm, residual
from irtool.models.patch_norm import PatchEmbed, detect_patch_norm
from irtool.models.registry import register, register_arch

StateDict = Mapping[str, torch.Tensor]

Layout = Literal["alternate", "paired"]
L3 = Literal["none", "channel"]
FFNKind = Literal["mlp", "conv"]
StageConv = Literal["3x3", "1x1", "none"]
Upsampler = Literal["pixelshuffle", "pixelshuffledirect"]
ImageResidual = Literal["none", "nearest", "bilinear", "bicubic"]

# DIV2K RGB mean (as SwinIR/HAT subtract it); other channel counts use 0.5.
_RGB_MEAN = (0.4488, 0.4371, 0.4040)


def _to_nchw(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2)


def _to_nhwc(x: torch.Tensor) -> torch.Tensor:
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
        y = _to_nhwc(self.dwconv(_to_nchw(self.project_in(x))))
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
        return x + self.conv(_to_nchw(self.blocks(_to_nhwc(self.convs(x)))))


def _channel_mean(channels: int) -> torch.Tensor:
    mean = _RGB_MEAN if channels == 3 else (0.5,) * channels
    return torch.tensor(mean).view(1, channels, 1, 1)


class Upsample(nn.Sequential):
    """Conv + pixel shuffle steps: x2 steps for powers of two, one x3 step for 3."""

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
        self.conv_first = _stem(in_channels, dim, patch_norm, bias=True)
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
                Upsample(scale, upsampler_channels),
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
        feat, std = _embed(self.conv_first, centred.contiguous(memory_format=torch.channels_last))
        body = feat
        for stage in self.stages:
            body = stage(body)
        body = _to_nchw(self.norm(_to_nhwc(body))[0])
        out = self.upsample(self.conv_after_body(body) + feat)
        if self.image_residual == "none":
            return residual(self.mean, out, std)
        if self.scale == 1:
            return residual(x, out, std)
        align = None if self.image_residual == "nearest" else False
        base = F.interpolate(x, scale_factor=self.scale, mode=self.image_residual, align_corners=align)
        return residual(base, out, std)


def _stem(in_channels: int, dim: int, patch_norm: str, *, bias: bool) -> nn.Module:
    """A plain 3x3 conv (the keys saved weights have), or the Dual PatchNorm stem when one is asked for."""
    if patch_norm == "none":
        return nn.Conv2d(in_channels, dim, 3, padding=1, bias=bias)
    return PatchEmbed(in_channels, dim, patch_norm)


def _embed(stem: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(features, holistic std of the input or None), whichever stem it is."""
    return stem(x) if isinstance(stem, PatchEmbed) else (stem(x), None)


def _per_level(value: int | Sequence[int], levels: int, name: str) -> list[int]:
    values = [value] * levels if isinstance(value, int) else list(value)
    if len(values) != levels:
        raise ValueError(f"{name} needs one value per level ({levels}), got {values}")
    return values


def _pad_nchw(x: torch.Tensor, multiple: int) -> torch.Tensor:
    ph, pw = (-x.shape[-2]) % multiple, (-x.shape[-1]) % multiple
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


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
        heads = _per_level(list(heads), levels, "heads")
        windows = _per_level(window, levels, "window")
        disps = _per_level(dispersion, levels, "dispersion")
        self.levels, self.residual = levels, in_channels == out_channels
        dims = [dim * 2**k for k in range(levels)]

        def blocks(level: int, depth: int) -> nn.Sequential:
            return make_blocks(
                dims[level], depth, heads[level], windows[level], disps[level], cell,
                layout, l3, attn_type, ffn, ffn_ratio, norm,
            )  # fmt: skip

        self.patch_embed = _stem(in_channels, dim, patch_norm, bias=False)
        if isinstance(self.patch_embed, PatchEmbed) and self.patch_embed.pre == "holistic" and not self.residual:
            raise ValueError("patch_norm pre=holistic rescales the image residual: in_channels must equal out_channels")
        self.encoders = nn.ModuleList(blocks(k, depths[k]) for k in range(levels - 1))
        self.downs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(dims[k], dims[k] // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2))
            for k in range(levels - 1)
        )
        self.latent = blocks(levels - 1, depths[-1])
        self.ups = nn.ModuleList(
            nn.Sequential(nn.Conv2d(dims[k + 1], dims[k + 1] * 2, 3, padding=1, bias=False), nn.PixelShuffle(2))
            for k in range(levels - 1)
        )
        self.reduces = nn.ModuleList(nn.Conv2d(2 * dims[k], dims[k], 1, bias=False) for k in range(levels - 1))
        self.decoders = nn.ModuleList(blocks(k, depths[k]) for k in range(levels - 1))
        self.refinement = blocks(0, refinement)
        self.output = nn.Conv2d(dim, out_channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        xp = _pad_nchw(x, 2 ** (self.levels - 1))
        feat, std = _embed(self.patch_embed, xp.contiguous(memory_format=torch.channels_last))
        skips = []
        for enc, down in zip(self.encoders, self.downs, strict=True):
            feat = _to_nchw(enc(_to_nhwc(feat)))
            skips.append(feat)
            feat = down(feat)
        feat = self.latent(_to_nhwc(feat))
        for k in reversed(range(self.levels - 1)):
            up = self.ups[k](_to_nchw(feat))
            feat = self.reduces[k](torch.cat([up, skips[k]], dim=1))
            feat = self.decoders[k](_to_nhwc(feat))
        out = self.output(_to_nchw(self.refinement(feat)))
        if self.residual:
            out = residual(xp, out, std)
        return out[..., :h, :w]


# ----------------------------------------------------------------------------------------------------------------
# Registry: architectures, their descriptors, state_dict detection, and the named base configurations.


def describe_sr(hp: dict[str, Any]) -> dict[str, Any]:
    return {
        "task": "sr",
        "scale": hp["scale"],
        "in_channels": hp["in_channels"],
        "out_channels": hp["out_channels"],
        "size_multiple": hp["window"] * hp["dispersion"],
        "fp16_safe": False,  # not verified: attention logits and i-LN variances are the risk
        "bf16_safe": True,
        "license": "Apache-2.0",
    }


def describe_unet(hp: dict[str, Any]) -> dict[str, Any]:
    levels = len(hp["depths"])
    windows = _per_level(hp["window"], levels, "window")
    disps = _per_level(hp["dispersion"], levels, "dispersion")
    # Only levels that attend constrain the tiling grid (level 1 also attends in the refinement blocks).
    attends = [d > 0 or (k == 0 and hp["refinement"] > 0) for k, d in enumerate(hp["depths"])]
    grid = 2 ** (levels - 1)
    for k in range(levels):
        if attends[k]:
            grid = math.lcm(grid, windows[k] * disps[k] * 2**k)
    return {
        "task": "denoise",
        "scale": 1,
        "in_channels": hp["in_channels"],
        "out_channels": hp["out_channels"],
        "size_multiple": grid,
        "fp16_safe": False,
        "bf16_safe": True,
        "license": "Apache-2.0",
    }


def _read_groupings(sd: StateDict, prefix: str) -> dict[str, Any]:
    """Window, dispersion, cell, heads and layout from the position-bias tables of the blocks under `prefix`."""
    layout = "paired" if f"{prefix}.0.attns.1.op.rpb_table" in sd else "alternate"
    l1_table = sd[f"{prefix}.0.attns.0.op.rpb_table"]
    heads = int(l1_table.shape[1])
    window = (math.isqrt(int(l1_table.shape[0])) + 1) // 2
    l2_key = f"{prefix}.0.attns.1.op.rpb_table" if layout == "paired" else f"{prefix}.1.attns.0.op.rpb_table"
    dispersion, cell = 1, 1
    if l2_key in sd:  # L2 table: ((2P-1)^2, (2c-1)^2, heads)
        dispersion, cell = ((math.isqrt(int(n)) + 1) // 2 for n in sd[l2_key].shape[:2])
    return {"heads": heads, "window": window, "dispersion": dispersion, "cell": cell, "layout": layout}


def _read_block_options(sd: StateDict, prefix: str) -> dict[str, Any]:
    """Norm, attention type and FFN kind of the first block under `prefix`; the FFN ratio from every block."""
    b = f"{prefix}.0"
    ffn = "conv" if f"{b}.ffn.op.dwconv.weight" in sd else "mlp"
    norm_key = f"{b}.attns.0.norm"
    norm = "iln" if f"{norm_key}.gamma" in sd else "ln" if f"{norm_key}.bias" in sd else "ln_nobias"
    # (dim, hidden) of every FFN: conv FFN project_out is Linear(hidden -> dim), MLP fc1 is Linear(dim -> hidden)
    if ffn == "conv":
        widths = [v.shape[:2] for k, v in sd.items() if k.endswith(".ffn.op.project_out.weight")]
    else:
        widths = [v.shape[1::-1] for k, v in sd.items() if k.endswith(".ffn.op.fc1.weight")]
    return {
        "norm": norm,
        "attn_type": "cosine" if f"{b}.attns.0.op.logit_scale" in sd else "dot",
        "ffn": ffn,
        "ffn_ratio": expansion_ratio(widths, preferred=_ROUND_RATIOS),
    }


# Ratios configurations write; detection returns one of these when it fits the shapes.
_ROUND_RATIOS = (2.0, 2.66, 4.0, 1.0, 3.0, 1.5, 2.5)


def _depth(sd: StateDict, prefix: str) -> tuple[int, str]:
    """(number of Hi-IR blocks, l3) of a block sequence: a trailing channel-attention layer is the L3 sub-layer."""
    n = count_indices(sd, rf"{re.escape(prefix)}\.(\d+)\.")
    l3 = "channel" if f"{prefix}.{n - 1}.op.temperature" in sd else "none"
    return (n - 1 if l3 == "channel" else n), l3


def detect_sr(sd: StateDict) -> dict[str, Any] | None:
    """Hyper-parameters of a `HiIRSR` state_dict, None when it is not one.

    `image_residual` leaves no trace in the weights: a bare state_dict is read as "none"; our own .safetensors
    carry the full hyper-parameters in their metadata, so this only matters for foreign files.
    """
    stem = "conv_first.proj.weight" if "conv_first.proj.weight" in sd else "conv_first.weight"
    required = (stem, "conv_after_body.weight", "stages.0.blocks.0.attns.0.op.rpb_table")
    if not all(k in sd for k in required):
        return None
    dim, in_channels = (int(v) for v in sd[stem].shape[:2])
    n_stages = count_indices(sd, r"stages\.(\d+)\.")
    depths, l3 = zip(*(_depth(sd, f"stages.{i}.blocks") for i in range(n_stages)), strict=True)
    hp: dict[str, Any] = {"in_channels": in_channels, "dim": dim, "depths": list(depths), "l3": l3[0]}
    hp["patch_norm"] = detect_patch_norm(sd, "conv_first", in_channels)
    # residual conv blocks ahead of the Hi-IR blocks (the compact hybrids have 4 per stage)
    hp["conv_blocks"] = count_indices(sd, r"stages\.0\.convs\.(\d+)\.")
    hp |= _read_groupings(sd, "stages.0.blocks")
    hp |= _read_block_options(sd, "stages.0.blocks")
    conv = sd.get("stages.0.conv.weight")
    hp["stage_conv"] = "none" if conv is None else "3x3" if conv.shape[-1] == 3 else "1x1"
    if "upsample.3.weight" in sd:  # conv, act, Upsample(...), conv_last
        out_channels, up_channels = (int(v) for v in sd["upsample.3.weight"].shape[:2])
        steps = count_indices(sd, r"upsample\.2\.(\d+)\.weight")
        grow = sd["upsample.2.0.weight"].shape[0] // up_channels
        scale = 3 if grow == 9 else 2**steps
        hp |= {"upsampler": "pixelshuffle", "upsampler_channels": up_channels}
    else:  # pixelshuffledirect: one conv to out * scale^2; assume out == in
        out_channels = in_channels
        scale = math.isqrt(int(sd["upsample.0.weight"].shape[0]) // out_channels)
        hp["upsampler"] = "pixelshuffledirect"
    hp |= {"scale": scale, "out_channels": out_channels}
    return hp


def _one_or_all(values: list[int]) -> int | list[int]:
    return values[0] if len(set(values)) == 1 else values


def detect_unet(sd: StateDict) -> dict[str, Any] | None:
    """Hyper-parameters of a `HiIRUNet` state_dict, None when it is not one."""
    stem = "patch_embed.proj.weight" if "patch_embed.proj.weight" in sd else "patch_embed.weight"
    if not all(k in sd for k in (stem, "latent.0.attns.0.op.rpb_table", "output.weight")):
        return None
    dim, in_channels = (int(v) for v in sd[stem].shape[:2])
    levels = count_indices(sd, r"downs\.(\d+)\.") + 1
    prefixes = [f"encoders.{k}" for k in range(levels - 1)] + ["latent"]
    depths, l3 = zip(*(_depth(sd, p) for p in prefixes), strict=True)
    refinement = _depth(sd, "refinement")[0]
    if depths[0] == 0 and refinement:
        prefixes[0] = "refinement"  # level 1 attends only in the refinement blocks
    # A level without blocks has no windows: it borrows the latent's values, which change nothing in the model.
    latent = _read_groupings(sd, "latent")
    per_level = [_read_groupings(sd, p) if f"{p}.0.attns.0.op.rpb_table" in sd else latent for p in prefixes]
    hp: dict[str, Any] = {
        "in_channels": in_channels,
        "out_channels": int(sd["output.weight"].shape[0]),
        "dim": dim,
        "depths": list(depths),
        "refinement": refinement,
        "heads": [g["heads"] for g in per_level],
        "window": _one_or_all([g["window"] for g in per_level]),
        "dispersion": _one_or_all([g["dispersion"] for g in per_level]),
        "cell": latent["cell"],
        "layout": latent["layout"],
        "l3": l3[-1],
        "patch_norm": detect_patch_norm(sd, "patch_embed", in_channels),
    }
    return hp | _read_block_options(sd, "latent")


register_arch("hiir-sr", build=HiIRSR, describe=describe_sr, detect=detect_sr)
register_arch("hiir-unet", build=HiIRUNet, describe=describe_unet, detect=detect_unet)

# Paper-like base sizes. The paper's exact Hi-IR-B numbers are not public in code; these follow SwinIR-M's budget
# (180 channels, 6 stages of 6 blocks, ~12M parameters) and Restormer's U-Net (~25M), which the paper compares with.
for _s in (2, 3, 4):
    register(
        f"hiir-sr-x{_s}",
        arch="hiir-sr",
        hparams={"scale": _s},
        description=f"Hi-IR base, super-resolution x{_s} (architecture only; SwinIR-M-sized)",
    )
register(
    "hiir-unet",
    arch="hiir-unet",
    descriptor={"task": "denoise"},
    description="Hi-IR base U-Net for denoising / deraining / deblurring (architecture only; Restormer-sized)",
)
