"""Restormer (Zamir et al., CVPR 2022): the architecture's declaration, its descriptor, and its licence.

`network` holds the modules (official key names), `detect` reads an official checkpoint's hyper-parameters back;
the released configurations are named in `irtool.models.configs`. Options beyond the paper: `norm="iln"` (i-LN,
Lee et al.: x + std(x) * branch(iLN(x)) in every block) and `patch_norm` (Dual PatchNorm on the stem, see
models.layers.patch_norm). Restormer and its weights are under the Restormer Academic Public License: non-commercial
use only.
"""

from __future__ import annotations

from typing import Any

from irtool.models.archs.restormer.detect import detect
from irtool.models.archs.restormer.network import SIZE_MULTIPLE, Restormer
from irtool.models.registry import Architecture

LICENSE = "Restormer APL, non-commercial"  # the Restormer Academic Public License (code and released weights)


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


RESTORMER = Architecture("restormer", build=Restormer, describe=describe, detect=detect)
