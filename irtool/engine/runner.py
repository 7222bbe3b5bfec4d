"""A model on a device at a precision, restoring images tile by tile with the safety nets users asked for.

- Tile size: `tile=None` picks it (from free memory on CUDA/MPS, measured with two probe passes, no fixed cap; 512
  on the CPU), `tile=0` means the whole image, `tile=N` at most N input pixels a side.
- Out of memory: the tile halves and the image starts again; the smaller tile sticks for the images that follow.
- NaN/Inf in a reduced-precision result: that batch of tiles is run again in fp32 (counted in `nan_retries`).
- `tta=True`: every tile goes through the x8 self-ensemble (irtool.engine.ensemble), at 8x the cost.
- i-LN models (`descriptor.global_stats`): tiles must share the whole image's normalisation statistics. They are
  recorded on a mosaic of full-resolution crops taken evenly across the image, as large as one tile, and replayed
  into every tile (`irtool.models.norms.record_statistics` / `use_statistics`); an image that fits one tile needs
  neither. Full resolution matters: a downscaled image has a fraction of the original's noise and fine texture,
  and a denoiser fed statistics of a cleaner image than the one it sees lost 4.7 dB on a 1 MP photo.

Tiles travel as NumPy arrays on the host (irtool.engine.tiling) and become tensors only inside `_forward`. The tile
loop, option checks and self-ensemble are ImageRunner's (irtool.engine.base), shared with the ONNX runner;
`make_runner` picks the runner a model needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from irtool.engine.base import ImageRunner
from irtool.engine.devices import (
    choose_precision,
    cpu_native_precisions,
    free_memory,
    is_out_of_memory,
    precision_name,
    release_cached_memory,
    resolve_device,
)
from irtool.engine.tiling import CPU_TILE, ReadFn, TilePlan
from irtool.errors import ResourceError, UsageError

MIN_TILE = 32  # below this the overlap eats the tile; out of memory here is a ResourceError
# Side of the crops the i-LN statistics mosaic is made of: small enough to sample the whole image evenly, large
# enough that crop borders are a minor part of each. Measured on the shipped models (tiled vs whole): 32-64 px crops
# give SR 2-4x less error than a downscaled image; the denoiser is within 0.02 dB of whole-image output at 64-128.
STATS_CELL = 64


class Runner(ImageRunner):
    """A torch module on a device at a precision; `restore` and `restore_tiles` come from ImageRunner."""

    runtime = "torch"

    def __init__(
        self,
        model: Any,
        *,
        device: str = "auto",
        precision: str = "auto",
        tile: int | None = None,
        overlap: int | None = None,
        tile_batch: int = 1,
        compile: bool = False,
        tta: bool = False,
        log: Callable[[str], None] | None = None,
        channels_last: bool | None = None,
    ):
        if not isinstance(model, torch.nn.Module):
            kind = "an ONNX model runs through OnnxRunner" if hasattr(model, "session") else type(model).__name__
            raise UsageError(f"Runner takes a torch module from irtool.models ({kind}); make_runner picks the runner")
        super().__init__(model.descriptor, tile=tile, overlap=overlap, tile_batch=tile_batch, tta=tta, log=log)
        self.device = resolve_device(device)
        self.dtype = choose_precision(precision, self.device, self.descriptor)
        self.precision = precision_name(self.dtype)
        if self.device.type == "cpu" and self.precision not in {"fp32", *cpu_native_precisions()}:
            self._log_once("emulated", f"note: this CPU has no native {self.precision}: many times slower than fp32")
        # None: on CUDA, where NHWC convolutions are faster. False leaves the module's memory format alone (training
        # validation runs the model being trained, which must come back unchanged).
        self.channels_last = self.device.type == "cuda" if channels_last is None else channels_last
        model = model.eval().to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.compiled = compile
        if compile:
            model = torch.compile(model)
        self.model = model

    def replicate(self) -> Runner:
        """A runner of its own, on a copy of the model, with the same settings: for images restored side by side."""
        import copy

        if self.compiled:  # a compiled graph is not copied; each replica would compile its own, for minutes
            raise UsageError("--workers: a compiled model restores one image at a time")
        twin = Runner(
            copy.deepcopy(self.model),
            device=str(self.device),
            precision=self.precision,
            tile=self.tile,
            overlap=self.overlap,
            tile_batch=self.tile_batch,
            tta=self.tta,
            log=self.log,
            channels_last=self.channels_last,
        )
        twin._told = self._told  # a note logged once for the batch, not once per replica
        return twin

    def restore_uint8(self, frames: np.ndarray) -> np.ndarray | None:
        """(B, H, W, C) uint8 frames -> (B, H*s, W*s, C_out) uint8, whole frames in one pass on the device.

        One transfer each way and in 8 bits: conversion to floats, the model and the rounding back (half up, as
        irtool.io.images.from_float32, so the pixels equal the tiled path's) all run where the model runs, and the host
        waits once per batch, not once per tile. None when the frames need tiles (larger than the tile limit, or out
        of memory at this size) or the self-ensemble: the caller then takes the tiled path.
        """
        d = self.descriptor
        b, h, w, c = frames.shape
        if self.tta or c != d.in_channels or frames.dtype != np.uint8 or self.plan(h, w).tile_count != 1:
            return None
        try:
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device, non_blocking=True)
                # The layout the tiled path hands the model: NHWC input would take other kernels, a rounding apart.
                layout = torch.channels_last if self.channels_last else torch.contiguous_format
                x = x.permute(0, 3, 1, 2).float().div_(255).contiguous(memory_format=layout)
                y = self._run(x, self.dtype)
                if self.dtype != torch.float32 and not bool(torch.isfinite(y).all()):  # once per batch
                    self.nan_retries += 1
                    y = self._run(x, torch.float32)
                y = y.float().nan_to_num_(0.0).clamp_(0, 1).mul_(255).add_(0.5).floor_().to(torch.uint8)
                return y.permute(0, 2, 3, 1).contiguous().cpu().numpy()
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
        release_cached_memory(self.device)  # outside the except block, as in restore_tiles
        return None

    # -------------------------------------------------------------------------------------------------- hooks
    def _forward(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = self._run(x, self.dtype)
        if self.dtype != torch.float32 and not bool(torch.isfinite(y).all()):
            self.nan_retries += 1
            y = self._run(x, torch.float32)
        return y.to("cpu", torch.float32).numpy()

    def _run(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if dtype == torch.float32:
            return self.model(x)
        with torch.autocast(self.device.type, dtype=dtype):
            return self.model(x)

    def _tile_limit(self) -> int:
        if self.tile is None:
            self.tile = self._auto_tile()
        return self.tile

    def _auto_tile(self) -> int:
        free = free_memory(self.device)
        if free is None:
            return CPU_TILE
        per_pixel, fixed = self._memory_per_pixel()
        if per_pixel <= 0:
            return CPU_TILE
        side = math.isqrt(max(0, int((0.7 * free - fixed) / per_pixel)))
        m = self.descriptor.size_multiple
        # No fixed cap: on a large GPU a whole frame in one pass is the fast path (restore_uint8); memory limits it.
        return int(max(MIN_TILE, side // m * m))

    def _memory_per_pixel(self) -> tuple[float, float]:
        """Peak bytes of one forward pass ~ fixed + per_pixel * area, fitted on two small probe tiles."""
        m = self.descriptor.size_multiple
        sides = [math.ceil(s / m) * m for s in (96, 192)]
        peaks = []
        for side in sides:
            x = np.random.default_rng(0).random((1, self.descriptor.in_channels, side, side), np.float32)
            release_cached_memory(self.device)
            if self.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(self.device)
                base = torch.cuda.memory_allocated(self.device)
            else:
                base = torch.mps.driver_allocated_memory()
            with torch.inference_mode():
                self._forward(x)
            if self.device.type == "cuda":
                peaks.append(torch.cuda.max_memory_allocated(self.device) - base)
            else:
                peaks.append(torch.mps.driver_allocated_memory() - base)
        area = [s * s for s in sides]
        per_pixel = (peaks[1] - peaks[0]) / (area[1] - area[0])
        return per_pixel, max(0.0, peaks[0] - per_pixel * area[0])

    def _recoverable(self, exc: BaseException) -> bool:
        return is_out_of_memory(exc)

    def _recover(self, plan: TilePlan) -> None:
        """Out of memory: halve the tile (it sticks for later images), or give up at the smallest."""
        release_cached_memory(self.device)
        m = self.descriptor.size_multiple
        current = plan.tile_size
        smallest = math.ceil(MIN_TILE / m) * m
        smaller = max(smallest, current // 2 // m * m)
        if current <= smallest:
            raise ResourceError(
                f"out of memory on {self.device} even with {current}px tiles; "
                "try --precision bf16/fp16, a smaller model, or --device cpu"
            )
        self.oom_retries += 1
        self.tile = smaller
        self.log(f"out of memory with {current}px tiles on {self.device}: retrying with {smaller}px tiles")

    @contextmanager
    def _tiling(self, plan: TilePlan, read: ReadFn) -> Iterator[None]:
        """Inference mode; for i-LN models cut into tiles, every tile normalises with statistics of the whole image
        (or of a mosaic of it)."""
        with torch.inference_mode():
            if not self.descriptor.global_stats or plan.tile_count == 1:
                yield
                return
            with self._shared_statistics(plan, read):
                yield

    @contextmanager
    def _shared_statistics(self, plan: TilePlan, read: ReadFn) -> Iterator[None]:
        from irtool.models.norms import record_statistics, use_statistics

        factor = math.ceil(math.sqrt(plan.height * plan.width / plan.tile_size**2))
        small = _mosaic(read, plan.height, plan.width, factor)
        if factor > 1:  # factor 1 (a long thin image no larger than a tile): the statistics are exact
            self._log_once(
                "mosaic-stats",
                f"i-LN statistics taken from full-resolution crops covering 1/{factor**2} of the image "
                "(it does not fit one tile); use a larger --tile for the exact whole-image result",
            )
        with record_statistics(self.model) as stats:  # a NaN retry inside records afresh, in fp32
            self._forward(small[None])
        with use_statistics(self.model, stats):
            yield


def _mosaic(read: ReadFn, height: int, width: int, factor: int) -> np.ndarray:
    """About 1/factor^2 of the image as a grid of full-resolution crops, each from its share of the image.

    The mosaic is ceil(H / factor) x ceil(W / factor) pixels, cut into cells of about STATS_CELL; cell (i, j) is the
    crop of the same size centred where the cell's centre falls in the image. Factor 1 is the image itself.
    """
    if factor <= 1:
        return read(0, height, 0, width)
    mosaic_h, mosaic_w = -(-height // factor), -(-width // factor)
    rows = _cells(mosaic_h)
    cols = _cells(mosaic_w)
    return np.concatenate(
        [
            np.concatenate([read(*_crop(r, rows, height), *_crop(c, cols, width)) for c in range(len(cols) - 1)], 2)
            for r in range(len(rows) - 1)
        ],
        1,
    )


def _cells(length: int) -> list[int]:
    """Cell borders along one side of the mosaic: equal cells of about STATS_CELL pixels."""
    count = max(1, round(length / STATS_CELL))
    return [round(i * length / count) for i in range(count + 1)]


def _crop(i: int, borders: list[int], image_length: int) -> tuple[int, int]:
    """The image span that mosaic cell `i` copies: as long as the cell, centred on the cell's share of the image."""
    size = borders[i + 1] - borders[i]
    centre = (i + 0.5) / (len(borders) - 1) * image_length
    start = min(max(0, round(centre - size / 2)), image_length - size)
    return start, start + size
