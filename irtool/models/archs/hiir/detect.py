"""Recognising a Hi-IR state_dict from its keys and reading the hyper-parameters back from names and shapes.

Only `image_residual` leaves no trace in the weights (read as "none"), so models are saved with
`irtool.models.save`, which records every hyper-parameter in the file's header.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import torch

from irtool.models.detection import count_indices, expansion_ratio
from irtool.models.layers.patch_norm import detect_patch_norm

StateDict = Mapping[str, torch.Tensor]

# Ratios configurations write; detection returns one of these when it fits the shapes.
_ROUND_RATIOS = (2.0, 2.66, 4.0, 1.0, 3.0, 1.5, 2.5)


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
    if "upsample.3.weight" in sd:  # conv, act, PixelShuffleUpsampler(...), conv_last
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
