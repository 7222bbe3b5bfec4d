"""What an evaluation returns: per-image scores, their means, and everything needed to reproduce them."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ImageScore:
    name: str
    psnr: float
    ssim: float
    degradation: dict[str, Any] | None = None  # the realistic chain's parameters for this image, when one made it


@dataclass
class Report:
    psnr: float  # mean over images
    ssim: float
    per_image: list[ImageScore]
    protocol: dict[str, Any]
    dataset: dict[str, Any]
    model: dict[str, Any] | None
    seconds: float
    # How and where the numbers were made (device, precision, tile, self-ensemble, irtool and torch versions): a GPU
    # or a reduced precision may differ from the CPU in fp32 in the last digits, tiling by a little more.
    run: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "psnr": self.psnr,
            "ssim": self.ssim,
            "per_image": [{k: v for k, v in asdict(s).items() if v is not None} for s in self.per_image],
            "protocol": self.protocol,
            "dataset": self.dataset,
            "model": self.model,
            "seconds": round(self.seconds, 3),
            "run": self.run,
        }


Progress = Callable[[int, int, ImageScore], None]  # (images done, total, score of the last one)


def run_info(settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `run` block: the runner's settings (None when scoring saved files) and the software versions."""
    from irtool import __version__

    torch = sys.modules.get("torch")  # scoring saved files needs no torch: do not import it just to name it
    info: dict[str, Any] = {"device": None}
    info.update(settings or {})
    info.update(irtool=__version__, torch=getattr(torch, "__version__", None))
    return info


def mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else math.nan
