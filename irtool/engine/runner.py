"""A model on a device at a precision, restoring images tile by tile with the safety nets users asked for.

- Tile size: `tile=None` picks it (from free memory on CUDA/MPS, measured with two probe passes; fixed on the CPU),
  `tile=0` means the whole image, `tile=N` at most N input pixels a side.
- Out of memory: the tile halves and the image starts again; the smaller tile sticks for the images that follow.
- NaN/Inf in a reduced-precision result: that batch of tiles is run again in fp32 (counted in `nan_retries`).
- `tta=True`: every tile goes through the x8 self-ensemble (irtool.engine.ensemble), at 8x the cost.
- i-LN models (`descriptor.global_stats`): tiles must share the whole image's normalisation statistics. They are
  recorded on a mosaic of full-resolution crops taken evenly across the image, as large as one tile, and replayed
  into every tile (`irtool.models.norms.record_statistics` / `use_statistics`); an image that fits one tile needs
  neither. Full resolution matters: a downscaled image has a fraction of the original's noise and fine texture,
  and a denoiser fed statistics of a cleaner image than the one it sees lost 4.7 dB on a 1 MP photo.

Tiles travel as NumPy arrays on the host (irtool.engine.tiling) and become tensors only inside `_forward`. Models
that run on onnxruntime have their own torch-free runner with the same interface (irtool.engine.onnx_runner);
`restore_image` picks the right one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from irtool.engine.devices import (
    choose_precision,
    free_memory,
    is_out_of_memory,
    precision_name,
    release_cached_memory,
    resolve_device,
)
from irtool.engine.ensemble import self_ensemble
from irtool.engine.tiling import (
    CPU_TILE,
    ReadFn,
    TilePlan,
    WriteFn,
    check_tile_options,
    plan_tiles,
    restore_in_memory,
    run_tiled,
)
from irtool.errors import ResourceError, UsageError

MIN_TILE = 32  # below this the overlap eats the tile; out of memory here is a ResourceError
# Side of the crops the i-LN statistics mosaic is made of: small enough to sample the whole image evenly, large
# enough that crop borders are a minor part of each. Measured on the shipped models (tiled vs whole): 32-64 px crops
# give SR 2-4x less error than a downscaled image; the denoiser is within 0.02 dB of whole-image output at 64-128.
STATS_CELL = 64
MAX_AUTO_TILE = 2048  # beyond this a bigger tile buys almost nothing and delays the first output


class Runner:
    """Holds a model ready for inference; `restore` and `restore_tiles` are the two ways in."""

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
    ):
        self.overlap = check_tile_options(tile, overlap, tile_batch)
        if getattr(model, "runs_on_onnxruntime", False):
            raise UsageError("an ONNX model runs through irtool.engine.onnx_runner.OnnxRunner (or restore_image)")
        self.descriptor = model.descriptor
        self.log = log or (lambda message: None)
        self.device = resolve_device(device)
        self.dtype = choose_precision(precision, self.device, self.descriptor)
        self.precision = precision_name(self.dtype)
        self.channels_last = self.device.type == "cuda"
        model = model.eval().to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if compile:
            model = torch.compile(model)
        self.model = model
        self.tile = tile
        self.tile_batch = tile_batch
        self.tta = tta  # x8 self-ensemble of every tile (irtool.engine.ensemble)
        self.nan_retries = 0
        self.oom_retries = 0
        self.last_plan: TilePlan | None = None
        self._told: set[str] = set()  # notes already logged (once per run, not once per image)

    # ------------------------------------------------------------------------------------------------ public

    def restore(self, pixels: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """(C, H, W) float in [0, 1] -> (C_out, H*scale, W*scale) float32; numpy in, numpy out; torch in, torch out.

        A (B, C, H, W) batch is restored image by image.
        """
        return restore_in_memory(self, pixels)

    def restore_tiles(
        self,
        read: ReadFn,
        height: int,
        width: int,
        write: WriteFn,
        *,
        on_tiles: Callable[[int], None] | None = None,
    ) -> TilePlan:
        """Restore an image the engine reads region by region and writes row by row (see irtool.engine.tiling)."""
        while True:
            plan = plan_tiles(
                height,
                width,
                tile=self._tile_limit(),
                overlap=self.overlap,
                scale=self.descriptor.scale,
                multiple=self.descriptor.size_multiple,
            )
            try:
                with torch.inference_mode(), self._shared_statistics(plan, read):
                    run_tiled(
                        plan,
                        read,
                        self_ensemble(self._forward) if self.tta else self._forward,
                        write,
                        out_channels=self.descriptor.out_channels,
                        batch=self.tile_batch,
                        on_tiles=on_tiles,
                    )
                self.last_plan = plan
                return plan
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
            # Outside the except block: the traceback no longer pins the failed pass's tensors.
            release_cached_memory(self.device)
            self._back_off(plan)

    @property
    def tile_label(self) -> str:
        """What the summary shows: the tile limit in use (images smaller than it run whole)."""
        if self.tile is None:
            return "auto"
        return "whole image" if self.tile == 0 else f"{self.tile}px, overlap {self.overlap}"

    # ----------------------------------------------------------------------------------------------- internals

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
        return int(min(MAX_AUTO_TILE, max(MIN_TILE, side // m * m)))

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
            with torch.inference_mode(), self._shared_statistics(None, None):
                self._forward(x)
            if self.device.type == "cuda":
                peaks.append(torch.cuda.max_memory_allocated(self.device) - base)
            else:
                peaks.append(torch.mps.driver_allocated_memory() - base)
        area = [s * s for s in sides]
        per_pixel = (peaks[1] - peaks[0]) / (area[1] - area[0])
        return per_pixel, max(0.0, peaks[0] - per_pixel * area[0])

    def _back_off(self, plan: TilePlan) -> None:
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

    def _log_once(self, key: str, message: str) -> None:
        if key not in self._told:
            self._told.add(key)
            self.log(message)

    @contextmanager
    def _shared_statistics(self, plan: TilePlan | None, read: ReadFn | None) -> Iterator[None]:
        """For i-LN models cut into tiles: every tile normalises with statistics of the whole image (or a mosaic)."""
        if not self.descriptor.global_stats or plan is None or read is None or plan.tile_count == 1:
            yield
            return
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


def restore_image(
    model: Any,
    pixels: np.ndarray | torch.Tensor,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    device: str = "auto",
    precision: str = "auto",
) -> np.ndarray | torch.Tensor:
    """Restore one (C, H, W) float image in [0, 1]; returns (C_out, H*scale, W*scale) float32, not clamped.

    `model` is a module from irtool.models, an `OnnxModel`, or an existing runner (whose settings then apply). For
    many images, build one `Runner` (or `OnnxRunner`) and call `runner.restore(...)`: the model moves to the device
    and is sized up only once.
    """
    if hasattr(model, "restore_tiles"):
        return model.restore(pixels)
    if getattr(model, "runs_on_onnxruntime", False):
        from irtool.engine.onnx_runner import OnnxRunner

        return OnnxRunner(model, tile=tile, overlap=overlap).restore(pixels)
    return Runner(model, device=device, precision=precision, tile=tile, overlap=overlap).restore(pixels)
