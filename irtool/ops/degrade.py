"""Degradations: the exact ones benchmarks use (NumPy, CPU) and fast batched ones for training (torch, any device).

Benchmark noise must be bit-identical to what the papers' test scripts drew, so it uses NumPy's legacy generator
seeded with 0 before every image (Restormer/SwinIR/KAIR). A private `RandomState(0)` draws the same numbers as
`np.random.seed(0)` + `np.random.normal` without touching the global generator.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from irtool.errors import UsageError
from irtool.ops.resize import imresize, imresize_uint8, modcrop

if TYPE_CHECKING:
    import torch


def benchmark_gaussian_noise(img: np.ndarray, sigma: float) -> np.ndarray:
    """`img` (float in [0, 1], any shape) plus N(0, sigma/255) noise from the legacy generator seeded with 0.

    No clipping: the benchmark feeds the unclipped noisy image to the network. A float32 input stays float32 (the
    noise is added in place in the reference scripts, which rounds it to float32).
    """
    if not np.issubdtype(img.dtype, np.floating):
        raise UsageError(f"benchmark_gaussian_noise expects a float image in [0, 1], got {img.dtype}")
    noisy = img.copy()
    noisy += np.random.RandomState(0).normal(0, sigma / 255.0, img.shape)
    return noisy


def bicubic_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """The benchmark LR image: crop the uint8 HR to a multiple of `scale`, then MATLAB bicubic down by `scale`."""
    return imresize_uint8(modcrop(hr, scale), 1.0 / scale)


def bicubic_downsample_torch(batch: torch.Tensor, scale: int, *, quantize: bool = True) -> torch.Tensor:
    """MATLAB bicubic downsampling of a (B, C, H, W) float batch in [0, 1], on its device.

    With `quantize` every 1-D pass (height first) is rounded to uint8 levels and saturated, as `imresize_uint8`
    does: the training LR is then the LR that the benchmark files hold, level for level.
    """
    if not quantize:
        return imresize(batch, 1.0 / scale)
    x = batch * 255.0
    for pass_scale in ((1.0 / scale, 1.0), (1.0, 1.0 / scale)):
        x = imresize(x, pass_scale).add_(0.5).floor_().clamp_(0, 255)
    return x.div_(255.0)


def add_gaussian_noise_torch(
    batch: torch.Tensor, sigma: float | torch.Tensor, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add N(0, sigma/255) noise to a (B, C, H, W) batch in [0, 1]; `sigma` is one value or one per image (B,).

    Not clipped, like the benchmark noise. `generator` must live on the batch's device.
    """
    import torch

    noise = torch.randn(batch.shape, generator=generator, device=batch.device, dtype=batch.dtype)
    sigma_t = torch.as_tensor(sigma, device=batch.device, dtype=batch.dtype)
    if sigma_t.ndim == 1:
        if sigma_t.shape[0] != batch.shape[0]:
            raise UsageError(f"got {sigma_t.shape[0]} sigmas for a batch of {batch.shape[0]}")
        sigma_t = sigma_t.reshape(-1, *([1] * (batch.ndim - 1)))
    return batch + noise * (sigma_t / 255.0)


def jpeg_compress(batch: torch.Tensor, quality: int | Sequence[int]) -> torch.Tensor:
    """JPEG round trip of a (B, C, H, W) batch in [0, 1] (C = 1 or 3, RGB) at `quality` (one, or one per image).

    Runs OpenCV on the CPU and returns a float batch on the input's device; the result is on uint8 levels.
    """
    import cv2
    import torch

    b, c = batch.shape[:2]
    if c not in (1, 3):
        raise UsageError(f"jpeg_compress needs 1 or 3 channels, got {c}")
    qualities = [int(quality)] * b if isinstance(quality, int) else [int(q) for q in quality]
    if len(qualities) != b:
        raise UsageError(f"got {len(qualities)} JPEG qualities for a batch of {b}")
    pixels = (batch.detach().clamp(0, 1) * 255 + 0.5).floor().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

    def round_trip(img: np.ndarray, q: int) -> np.ndarray:
        bgr = img[:, :, ::-1] if c == 3 else img[:, :, 0]  # OpenCV encodes BGR
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, q])
        if not ok:
            raise UsageError(f"JPEG encoding failed (quality {q})")
        dec = cv2.imdecode(buf, cv2.IMREAD_COLOR if c == 3 else cv2.IMREAD_GRAYSCALE)
        return dec[:, :, ::-1] if c == 3 else dec[:, :, None]

    # OpenCV lets go of the GIL while it codes, so a batch's images go through libjpeg side by side.
    out = list(_jpeg_pool().map(round_trip, pixels, qualities)) if b > 1 else [round_trip(pixels[0], qualities[0])]
    result = torch.from_numpy(np.ascontiguousarray(np.stack(out))).permute(0, 3, 1, 2)
    return result.to(device=batch.device, dtype=batch.dtype) / 255.0


@functools.cache
def _jpeg_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1), thread_name_prefix="irtool-jpeg")
