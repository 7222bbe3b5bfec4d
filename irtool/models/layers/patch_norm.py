"""A 3x3 convolutional stem with optional Dual PatchNorm (Kumar, Dehghani, Houlsby, TMLR 2023).

DPN puts one LayerNorm before a ViT's patch projection (over each flattened patch) and one after it (over the
embedding). It was validated for ViT classification with non-overlapping patches only; on a restoration stem it is
an ablation, off by default. `patch_norm` is "none", "dpn" (= "patch+ln", the paper's placement) or "PRE+POST":

    PRE  none      nothing before the conv
         patch     LN over each flattened 3x3xC neighbourhood, then the conv as a linear map: the faithful port.
                   It is local contrast normalisation, so noise in flat regions is amplified.
         channel   LN over the C input channels of each pixel. Degenerate for gray input (the output is the
                   constant bias), so it is refused there.
         holistic  i-LN over the whole image (all pixels and channels, per sample), with a per-channel affine; the
                   model multiplies its residual by the input's std at the output (see `residual` in models.norms)
    POST none | ln LN over the embedding channels of each pixel

The norms are separate children (`pre_norm`, `post_norm`), present only when enabled: with DPN off the state_dict is
exactly `proj.weight`, so official checkpoints load strictly.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from irtool.models.norms import ILN, LayerNorm

PRE = ("none", "patch", "channel", "holistic")
POST = ("none", "ln")
_ALIASES = {"none": "none+none", "dpn": "patch+ln"}


def parse_patch_norm(spec: str) -> tuple[str, str]:
    """'none', 'dpn' or 'PRE+POST' -> (pre, post)."""
    pre, _, post = _ALIASES.get(spec, spec).partition("+")
    if pre not in PRE or post not in POST:
        raise ValueError(
            f"patch_norm {spec!r}: use none, dpn or PRE+POST with PRE in {'|'.join(PRE)} and POST in {'|'.join(POST)}"
        )
    return pre, post


class PatchEmbed(nn.Module):
    """3x3 stride-1 conv, bias-free (as Restormer's OverlapPatchEmbed), with the optional norms above.

    forward(x) -> (features, std): `std` is the holistic std of the input when PRE is holistic, else None.
    """

    def __init__(self, in_channels: int, dim: int, patch_norm: str = "none", eps: float = 1e-6):
        super().__init__()
        self.pre, post = parse_patch_norm(patch_norm)
        if self.pre == "channel" and in_channels == 1:
            raise ValueError("patch_norm pre=channel on one input channel normalises every pixel to a constant")
        self.proj = nn.Conv2d(in_channels, dim, 3, padding=1, bias=False)
        if self.pre == "patch":
            self.pre_norm = LayerNorm(in_channels * 9, eps=eps)
        elif self.pre == "channel":
            self.pre_norm = LayerNorm(in_channels, eps=eps)
        elif self.pre == "holistic":
            self.pre_norm = ILN(in_channels)
        if post == "ln":
            self.post_norm = LayerNorm(dim, eps=eps)
        else:
            self.post_norm = None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        std = None
        if self.pre == "patch":
            h, w = x.shape[-2:]
            # unfold orders each patch as (c, ky, kx), the same order as the conv weight flattened
            patches, _ = self.pre_norm(rearrange(F.unfold(x, 3, padding=1), "b k n -> b n k"))
            y = patches @ rearrange(self.proj.weight, "d c ky kx -> (c ky kx) d")
            y = rearrange(y, "b (h w) d -> b d h w", h=h, w=w)
        else:
            if self.pre in ("channel", "holistic"):
                x, std = self.pre_norm(rearrange(x, "b c h w -> b h w c"))
                x = rearrange(x, "b h w c -> b c h w")
            y = self.proj(x)
        if self.post_norm is not None:
            y = rearrange(self.post_norm(rearrange(y, "b c h w -> b h w c"))[0], "b h w c -> b c h w")
        return y, std


def detect_patch_norm(sd: Mapping[str, torch.Tensor], prefix: str, in_channels: int) -> str:
    """The `patch_norm` spec of the stem under `prefix` in a state_dict ("none" for a plain conv stem)."""
    pre = "none"
    if f"{prefix}.pre_norm.gamma" in sd:
        pre = "holistic"
    elif f"{prefix}.pre_norm.weight" in sd:
        pre = "patch" if sd[f"{prefix}.pre_norm.weight"].numel() == in_channels * 9 else "channel"
    post = "ln" if f"{prefix}.post_norm.weight" in sd else "none"
    return "none" if pre == post == "none" else f"{pre}+{post}"
