"""A two-layer conv net registered as `tiny-test-sr` / `tiny-test-denoise`, so trainer tests need no real model."""

from __future__ import annotations

import torch
from torch import nn

from irtool.models import registry


class TinyNet(nn.Module):
    def __init__(self, scale: int = 1, channels: int = 3, width: int = 4):
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, channels * scale * scale, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest") if self.scale > 1 else x
        out = self.body(x)
        if self.scale > 1:
            out = nn.functional.pixel_shuffle(out, self.scale)
        return base + out


def _describe(hp: dict) -> dict:
    return {
        "task": "sr" if hp["scale"] > 1 else "denoise",
        "scale": hp["scale"],
        "in_channels": hp["channels"],
        "out_channels": hp["channels"],
    }


def register() -> None:
    if "tiny-test" in registry.archs():
        return
    registry.register_arch("tiny-test", build=TinyNet, describe=_describe)
    registry.register("tiny-test-sr", arch="tiny-test", hparams={"scale": 2})
    registry.register("tiny-test-denoise", arch="tiny-test", hparams={"scale": 1})
