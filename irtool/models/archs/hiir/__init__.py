"""Hi-IR: hierarchical information flow for image restoration (Li et al., arXiv 2411.18588), rebuilt from the paper.

No official code exists, so this is our reading of the paper, with every ambiguous point made a constructor option.
Each choice is documented next to its code:
- `attention`: the L1 (local windows) and L2 (dispersed regional) token groupings, the attention inside a group,
  and the L3 channel attention;
- `blocks`: the levels inside a stage (L1/L2 layout, the L3 option), the FFN, the norms and the stem;
- `sr`: `HiIRSR`, the columnar network for super-resolution (`hiir-sr`);
- `unet`: `HiIRUNet`, the U-Net for denoising, deraining and deblurring (`hiir-unet`);
- `detect`: reading the hyper-parameters back from a state_dict without our header.

Any input size works: each attention layer pads its map (edge replication) to its own grid and crops back, and the
U-Net pads the input to a multiple of 2^(levels-1). The descriptor's `size_multiple` is the full window grid, so a
tiler that aligns tiles to it sees the same windows as a whole-image run.
"""

from __future__ import annotations

import math
from typing import Any

from irtool.models.archs.hiir.blocks import per_level
from irtool.models.archs.hiir.detect import detect_sr, detect_unet
from irtool.models.archs.hiir.sr import HiIRSR
from irtool.models.archs.hiir.unet import HiIRUNet
from irtool.models.registry import Architecture


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
    windows = per_level(hp["window"], levels, "window")
    disps = per_level(hp["dispersion"], levels, "dispersion")
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


HIIR_SR = Architecture("hiir-sr", build=HiIRSR, describe=describe_sr, detect=detect_sr)
HIIR_UNET = Architecture("hiir-unet", build=HiIRUNet, describe=describe_unet, detect=detect_unet)
