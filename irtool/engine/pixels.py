"""Image files' pixels through a model without losing what the file had: bit depth, grey, alpha.

- The pixels stay in their own dtype (uint8 / uint16 / float32) on the host; each tile is turned into floats when it
  is read and each finished stripe back into the file's dtype when it is written (irtool.io.images rounding).
  Huge images are held in temporary files whose finished rows go back to the OS (irtool.engine.paged).
- Grey through an RGB model: the tile is replicated to three channels and the result converted back with BT.601
  luma weights. RGB through a grey model: each channel is restored on its own.
- Alpha never goes through the model: super-resolution upscales it with bicubic, same-size tasks keep it as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from irtool.engine import paged
from irtool.io.images import from_float32, to_float32

if TYPE_CHECKING:
    from irtool.engine.base import ImageRunner

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def restore_pixels(
    runner: ImageRunner, pixels: np.ndarray, *, on_tiles: Callable[[int], None] | None = None
) -> np.ndarray:
    """(H, W, C) RGB(A) or grey in its file dtype -> the restored (H*s, W*s, C) in the same dtype and channels."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width, channels = pixels.shape
    color_channels = 3 if channels >= 3 else 1
    s = runner.descriptor.scale
    out = paged.empty((height * s, width * s, channels), pixels.dtype)
    if channels == 4:  # first, so that a file-backed input is read whole only once
        alpha = pixels[:, :, 3]
        out[:, :, 3] = alpha if s == 1 else _resize_bicubic(alpha, s)
        paged.release_rows(out, 0, out.shape[0])
        paged.release_rows(pixels, 0, height)

    if color_channels == 3 and runner.descriptor.in_channels == 1:
        for ch in range(3):
            _restore_channels(runner, pixels, out, [ch], on_tiles)
    else:
        _restore_channels(runner, pixels, out, list(range(color_channels)), on_tiles)
    return out


def _restore_channels(
    runner: ImageRunner,
    pixels: np.ndarray,
    out: np.ndarray,
    channels: list[int],
    on_tiles: Callable[[int], None] | None,
) -> None:
    """Restore `pixels[..., channels]` into `out[..., channels]`, adapting to the model's channel count."""
    model_in = runner.descriptor.in_channels
    model_out = runner.descriptor.out_channels
    height, width = pixels.shape[:2]
    dtype = pixels.dtype

    def read(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        x = to_float32(pixels[y0:y1, x0:x1, channels]).transpose(2, 0, 1)
        if x.shape[0] == 1 and model_in == 3:
            x = np.broadcast_to(x, (3, *x.shape[1:]))  # a view: the tile stack makes the one copy
        return x

    def write(top: int, rows: np.ndarray) -> None:
        if len(channels) == 1 and model_out == 3:
            rows = np.einsum("chw,c->hw", rows, _LUMA)[None]
        region = rows.transpose(1, 2, 0)
        done = top + region.shape[0]
        out[top:done, :, channels] = from_float32(region, dtype)
        # Huge images live in files: rows behind the engine go back to the OS (no-op for ordinary arrays).
        paged.release_rows(out, top, done)
        paged.release_rows(pixels, 0, done // runner.descriptor.scale)

    runner.restore_tiles(read, height, width, write, on_tiles=on_tiles)


def _resize_bicubic(channel: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic upscaling of one channel in its own dtype (OpenCV saturates integers; floats pass unclipped)."""
    height, width = channel.shape
    return cv2.resize(channel, (width * scale, height * scale), interpolation=cv2.INTER_CUBIC)
