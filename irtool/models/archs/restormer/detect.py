"""Recognising a Restormer state_dict (an official .pth has no header) and reading its hyper-parameters back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from irtool.models.detection import count_indices, expansion_ratio
from irtool.models.layers.patch_norm import detect_patch_norm

_LEVELS = ("encoder_level1", "encoder_level2", "encoder_level3", "latent")
_REQUIRED = (
    "patch_embed.proj.weight",
    "encoder_level1.0.attn.temperature",
    "latent.0.attn.qkv_dwconv.weight",
    "down1_2.body.0.weight",
    "up4_3.body.0.weight",
    "reduce_chan_level3.weight",
    "output.weight",
)


def detect(sd: Mapping[str, torch.Tensor]) -> dict[str, Any] | None:
    """Read the hyper-parameters back from key names and shapes; None when this is not a Restormer state_dict."""
    if not all(k in sd for k in _REQUIRED):
        return None
    dim, in_channels = sd["patch_embed.proj.weight"].shape[:2]
    # project_out is (d, int(d * factor), 1, 1) in every block: all widths together pin the factor down
    widths = [v.shape[:2] for k, v in sd.items() if k.endswith(".ffn.project_out.weight")]
    b1 = "encoder_level1.0."
    norm = "iln" if f"{b1}norm1.body.gamma" in sd else "ln" if f"{b1}norm1.body.bias" in sd else "ln_nobias"
    return {
        "in_channels": int(in_channels),
        "out_channels": int(sd["output.weight"].shape[0]),
        "dim": int(dim),
        "num_blocks": [_count_blocks(sd, p) for p in _LEVELS],
        "num_refinement_blocks": _count_blocks(sd, "refinement"),
        "heads": [int(sd[f"{p}.0.attn.temperature"].shape[0]) for p in _LEVELS],
        "ffn_expansion_factor": expansion_ratio(widths, preferred=(2.66,)),
        "bias": f"{b1}attn.qkv.bias" in sd,
        "norm": norm,
        "dual_pixel": "skip_conv.weight" in sd,
        "patch_norm": detect_patch_norm(sd, "patch_embed", int(in_channels)),
    }


def _count_blocks(sd: Mapping[str, torch.Tensor], prefix: str) -> int:
    return count_indices(sd, rf"{prefix}\.(\d+)\.")
