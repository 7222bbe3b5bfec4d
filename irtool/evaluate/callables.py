"""A bare callable behind the runner interface, so `evaluate(lambda x: x, ...)` keeps working.

Tests and quick experiments score a function of a (1, C, H, W) float32 torch tensor in [0, 1] without making a
registered model of it (the identity, a constant, a model from elsewhere). It has no descriptor, so the loop gives
the scale and channels; it runs as `evaluate` always ran such callables: fp32, whole image, on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from irtool.engine.base import ImageRunner, Log
from irtool.errors import UsageError
from irtool.models.descriptor import ModelDescriptor


class CallableRunner(ImageRunner):
    """`fn((1, C, H, W) tensor) -> (1, C, H*scale, W*scale) tensor`, whole images, fp32 on the CPU."""

    runtime = "callable"

    def __init__(
        self, fn: Callable[[Any], Any], *, scale: int, in_channels: int = 3, tta: bool = False, log: Log | None = None
    ):
        name = getattr(fn, "__name__", type(fn).__name__)
        descriptor = ModelDescriptor(
            arch="callable", task="identity", scale=scale, in_channels=in_channels, out_channels=in_channels, name=name
        )
        super().__init__(descriptor, tile=0, tta=tta, log=log)
        self.fn = fn

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            y = self.fn(torch.from_numpy(batch))
        s, (h, w) = self.descriptor.scale, batch.shape[-2:]
        if tuple(y.shape[-2:]) != (h * s, w * s) or y.shape[1] != batch.shape[1]:
            raise UsageError(
                f"the model returned {tuple(y.shape[1:])} for a {tuple(batch.shape[1:])} input; "
                f"expected {(batch.shape[1], h * s, w * s)} (scale {s})"
            )
        return y.detach().to("cpu", torch.float32).numpy()
