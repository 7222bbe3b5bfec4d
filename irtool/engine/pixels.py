"""Image files' pixels through a model without losing what the file had: bit depth, grey, alpha.

- The pixels stay in their own dtype (uint8 / uint16 / float32) on the host; each tile is turned into floats when it
  is read and each finished stripe back into the file's dtype when it is written (irtool.io.images rounding).
  Huge images are held in temporary files whose finished rows go back to the OS (irtool.engine.paged).
- Grey through an RGB model: the tile is replicated to three channels and the result converted back with BT.601
  luma weights. RGB through a grey model: each channel is restored on its own.
- Alpha (the last channel of grey + alpha and of RGBA) never goes through the model: super-resolution upscales it
  with bicubic, same-size tasks keep it as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from irtool.engine import paged
from irtool.engine.tiling import RegionWriter
from irtool.io.images import from_float32, to_float32

if TYPE_CHECKING:
    from irtool.engine.base import ImageRunner
    from irtool.engine.tiling import TilePlan

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def restore_pixels(
    runner: ImageRunner,
    pixels: np.ndarray,
    *,
    on_tiles: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> np.ndarray:
    """(H, W, C) RGB(A) or grey in its file dtype -> the restored (H*s, W*s, C) in the same dtype and channels.

    `on_total(n)`: n tiles are still to come, counted from now; heard before the first tile and again when an out
    of memory back-off restarts the work with smaller tiles. `on_tiles(k)`: k more tiles are done.
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    fast = _whole_frame_uint8(runner, pixels)
    if fast is not None:
        if on_total is not None:
            on_total(1)
        if on_tiles is not None:
            on_tiles(1)
        return fast
    height, width, channels = pixels.shape
    color_channels = 3 if channels >= 3 else 1
    s = runner.descriptor.scale
    out = paged.empty((height * s, width * s, channels), pixels.dtype)
    if channels in (2, 4):  # grey + alpha or RGBA; first, so that a file-backed input is read whole only once
        alpha = pixels[:, :, -1]
        out[:, :, -1] = alpha if s == 1 else _resize_bicubic(alpha, s)
        paged.release_rows(out, 0, out.shape[0])
        paged.release_rows(pixels, 0, height)

    passes = 3 if color_channels == 3 and runner.descriptor.in_channels == 1 else 1
    on_plan = _TileTotal(runner.plan(height, width), passes, on_total) if on_total is not None else None
    if passes == 3:
        for ch in range(3):
            _restore_channels(runner, pixels, out, [ch], on_tiles, on_plan)
    else:
        _restore_channels(runner, pixels, out, list(range(color_channels)), on_tiles, on_plan)
    return out


def _whole_frame_uint8(runner: ImageRunner, pixels: np.ndarray) -> np.ndarray | None:
    """8-bit RGB (or grey for a grey model) that fits one tile goes to the device and back in 8 bits, converted and
    rounded there (`Runner.restore_uint8`): one transfer each way instead of float stripes. The same pixels as the
    tiled path; None where that path is needed (other dtypes or channels, tiles, ONNX)."""
    restore_uint8 = getattr(runner, "restore_uint8", None)
    if restore_uint8 is None or pixels.dtype != np.uint8 or pixels.shape[2] != runner.descriptor.in_channels:
        return None
    restored = restore_uint8(np.asarray(pixels)[None])
    return None if restored is None else restored[0]


class _TileTotal:
    """Tells `on_total` how many tiles are left: once up front, then whenever a pass restarts with a new plan."""

    def __init__(self, plan: TilePlan, passes: int, on_total: Callable[[int], None]):
        self.plan, self.passes, self.on_total, self.done_passes = plan, passes, on_total, -1
        on_total(passes * plan.tile_count)

    def __call__(self, plan: TilePlan) -> None:
        if plan == self.plan:  # the next channel pass (the plan changes only by an out of memory back-off)
            self.done_passes += 1
        else:  # this pass starts again with smaller tiles; passes already done stay done
            self.plan = plan
            self.on_total((self.passes - self.done_passes) * plan.tile_count)


def _restore_channels(
    runner: ImageRunner,
    pixels: np.ndarray,
    out: np.ndarray,
    channels: list[int],
    on_tiles: Callable[[int], None] | None,
    on_plan: Callable[[TilePlan], None] | None = None,
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

    def write_region(top: int, left: int, block: np.ndarray) -> None:
        if len(channels) == 1 and model_out == 3:
            block = np.einsum("chw,c->hw", block, _LUMA)[None]
        done = top + block.shape[1]
        out[top:done, left : left + block.shape[2], channels] = from_float32(block.transpose(1, 2, 0), dtype)
        # Whole rows of a file-backed output go back to the OS after each tile (the other tiles' parts of them are
        # in the file), so its resident part stays one tile, whatever the image's width.
        paged.release_rows(out, top, done)
        paged.release_rows(pixels, 0, top // runner.descriptor.scale)

    writer = RegionWriter(write, write_region)
    runner.restore_tiles(read, height, width, writer, on_tiles=on_tiles, on_plan=on_plan)


def _resize_bicubic(channel: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic upscaling of one channel in its own dtype (OpenCV saturates integers; floats pass unclipped)."""
    height, width = channel.shape
    return cv2.resize(channel, (width * scale, height * scale), interpolation=cv2.INTER_CUBIC)
