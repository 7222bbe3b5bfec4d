"""Models without weights: MATLAB bicubic upscaling (the baseline every SR table starts from) and identity.

They go through the same registry, descriptor and engine as the networks, so `irtool restore -m bicubic` and
`irtool eval -m identity` (the score of the degraded input itself) need no special cases. Nothing to detect: they
have no state_dict.
"""

from __future__ import annotations

from typing import Any

from irtool.models.archs.builtin.network import Bicubic, Identity
from irtool.models.registry import Architecture


def describe_bicubic(h: dict[str, Any]) -> dict[str, Any]:
    return {"task": "sr", "scale": h["scale"], "fp16_safe": True, "receptive_field": 4}


def describe_identity(h: dict[str, Any]) -> dict[str, Any]:
    return {"task": "identity", "fp16_safe": True}


BICUBIC = Architecture("bicubic", build=Bicubic, describe=describe_bicubic)
IDENTITY = Architecture("identity", build=Identity, describe=describe_identity)
