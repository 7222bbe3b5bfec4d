"""The one runner interface: what restore, eval and the pipeline call, whatever runs the model.

    runner = make_runner(model, device=..., precision=..., tile=..., tta=...)
    runner.restore(chw_float)                              an image in memory
    runner.restore_tiles(read, height, width, write)       an image the caller reads and writes region by region
    runner.plan(height, width)                             the tiles such an image is cut into (progress totals)

`ImageRunner` owns everything that does not depend on the model's runtime: the tiling options and their checks,
the tile loop (plan -> tiles -> blend -> rows, irtool.engine.tiling), the x8 self-ensemble and the counters a summary
shows. A runtime fills in three hooks: `_forward` (a NumPy batch through the model), `_tile_limit` (how large a tile
may be) and, where it can recover from running out of memory, `_recover`. `Runner` (torch, irtool.engine.runner)
and `OnnxRunner` (onnxruntime, irtool.engine.onnx_runner) are the two today. This module imports neither torch nor
onnxruntime: `make_runner` imports the one the model needs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from irtool.engine.ensemble import self_ensemble
from irtool.engine.tiling import DEFAULT_OVERLAP, ReadFn, TilePlan, WriteFn, plan_tiles, run_tiled
from irtool.errors import UsageError
from irtool.models.descriptor import ModelDescriptor

Log = Callable[[str], None]


class ImageRunner:
    """A model ready for inference at fixed settings. Subclasses implement `_forward` and, if they can, `_recover`."""

    runtime = "none"  # what runs the model: "torch", "onnxruntime", ... (reports record it)
    device: Any = "cpu"
    precision: str = "fp32"

    def __init__(
        self,
        descriptor: ModelDescriptor,
        *,
        tile: int | None = None,
        overlap: int | None = None,
        tile_batch: int = 1,
        tta: bool = False,
        log: Log | None = None,
    ):
        if tile is not None and tile < 0:
            raise UsageError(f"tile must be a size in pixels, 0 (whole image) or auto, not {tile}")
        if tile_batch < 1:
            raise UsageError(f"--tile-batch must be at least 1, not {tile_batch}")
        overlap = DEFAULT_OVERLAP if overlap is None else overlap
        if overlap < 0:
            raise UsageError(f"--tile-overlap must be >= 0, not {overlap}")
        self.descriptor = descriptor
        self.tile = tile  # None: the runtime picks it on first use (`_tile_limit`)
        self.overlap = overlap
        self.tile_batch = tile_batch
        self.tta = tta  # x8 self-ensemble of every tile (irtool.engine.ensemble)
        self.log: Log = log or (lambda message: None)
        self.nan_retries = 0
        self.oom_retries = 0
        self.last_plan: TilePlan | None = None
        self._told: set[str] = set()  # notes already logged (once per run, not once per image)

    # ------------------------------------------------------------------------------------------------ public
    def restore(self, pixels: Any) -> Any:
        """(C, H, W) float in [0, 1] -> (C_out, H*scale, W*scale) float32, not clamped.

        NumPy in, NumPy out; a torch tensor in, a CPU float32 tensor out. A (B, C, H, W) batch is restored image by
        image.
        """
        if not isinstance(pixels, np.ndarray):
            import torch  # only reached when the caller already works in torch

            host = pixels.detach().to("cpu", torch.float32).numpy()
            return torch.from_numpy(self.restore(host))
        if pixels.ndim == 4:
            return np.stack([self.restore(image) for image in pixels])
        d = self.descriptor
        if pixels.ndim != 3 or pixels.shape[0] != d.in_channels:
            raise UsageError(f"expected a ({d.in_channels}, H, W) image for {d.arch}, got shape {tuple(pixels.shape)}")
        x = np.ascontiguousarray(pixels, dtype=np.float32)
        _, h, w = x.shape
        out = np.empty((d.out_channels, h * d.scale, w * d.scale), np.float32)

        def write(top: int, rows: np.ndarray) -> None:
            out[:, top : top + rows.shape[1]] = rows

        self.restore_tiles(lambda y0, y1, x0, x1: x[:, y0:y1, x0:x1], h, w, write)
        return out

    def restore_tiles(
        self,
        read: ReadFn,
        height: int,
        width: int,
        write: WriteFn,
        *,
        on_tiles: Callable[[int], None] | None = None,
        on_plan: Callable[[TilePlan], None] | None = None,
    ) -> TilePlan:
        """Restore an image read region by region and written row by row (see irtool.engine.tiling).

        When the runtime recovers from a failure (`_recover`: out of memory -> smaller tiles), the image starts again
        with a new plan. `on_plan` hears of every plan before its first tile, so progress can restart its count.
        """
        d = self.descriptor
        forward = self_ensemble(self._forward) if self.tta else self._forward
        while True:
            plan = self.plan(height, width)
            if on_plan is not None:
                on_plan(plan)
            try:
                with self._tiling(plan, read):
                    run_tiled(
                        plan,
                        read,
                        forward,
                        write,
                        out_channels=d.out_channels,
                        batch=self.tile_batch,
                        on_tiles=on_tiles,
                    )
                self.last_plan = plan
                return plan
            except Exception as exc:
                if not self._recoverable(exc):
                    raise
            # Outside the except block: the traceback no longer pins the failed pass's tensors.
            self._recover(plan)

    def plan(self, height: int, width: int) -> TilePlan:
        """The tiles an image of this size would be cut into now (`restore_tiles` runs this plan).

        The first call may settle the automatic tile size (the torch runner probes free GPU memory); after an out of
        memory back-off the plan has smaller tiles.
        """
        d = self.descriptor
        limit = self._tile_limit()
        return plan_tiles(height, width, tile=limit, overlap=self.overlap, scale=d.scale, multiple=d.size_multiple)

    @property
    def tile_label(self) -> str:
        """What a summary shows: the tile limit in use (images smaller than it run whole)."""
        if self.tile is None:
            return "auto"
        return "whole image" if self.tile == 0 else f"{self.tile}px, overlap {self.overlap}"

    def settings(self) -> dict[str, Any]:
        """How this runner ran, for summaries and reports."""
        return {
            "device": str(self.device),
            "runtime": self.runtime,
            "precision": self.precision,
            "tile": self.tile_label,
            "tta": self.tta,
            "nan_retries": self.nan_retries,
            "oom_retries": self.oom_retries,
        }

    def replicate(self) -> ImageRunner:
        """A runner of its own with the same settings, for images restored side by side (`--workers`)."""
        raise UsageError(f"--workers: {self.runtime} restores one image at a time (it spreads one over the cores)")

    # -------------------------------------------------------------------------------------------------- hooks
    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """(B, C, h, w) float32 -> (B, C_out, h*s, w*s) float32, both on the host."""
        raise NotImplementedError

    def _tile_limit(self) -> int:
        return self.tile or 0

    def _tiling(self, plan: TilePlan, read: ReadFn) -> contextlib.AbstractContextManager[None]:
        """Context around one pass over the tiles (the torch runner shares i-LN statistics across tiles here)."""
        return contextlib.nullcontext()

    def _recoverable(self, exc: BaseException) -> bool:
        return False

    def _recover(self, plan: TilePlan) -> None:
        raise AssertionError("unreachable: _recoverable said no")

    def _log_once(self, key: str, message: str) -> None:
        if key not in self._told:
            self._told.add(key)
            self.log(message)


def make_runner(
    model: Any,
    *,
    device: str = "auto",
    precision: str = "auto",
    tile: int | None = None,
    overlap: int | None = None,
    tile_batch: int = 1,
    compile: bool = False,
    tta: bool = False,
    threads: int | None = None,
    channels_last: bool | None = None,
    log: Log | None = None,
) -> ImageRunner:
    """The runner for `model` (a module from irtool.models or an `OnnxModel`; a runner is returned as it is).

    `threads` caps torch's CPU threads (an ONNX model got its own when it was opened: irtool.models.open_model).
    `channels_last` (torch; default: on CUDA) is turned off for a model still being trained, whose memory format
    the optimizer shares. Options an ONNX graph cannot honour (precision, compile) are logged, not silently dropped.
    """
    if isinstance(model, ImageRunner):
        return model
    from irtool.models.onnx import OnnxModel

    if isinstance(model, OnnxModel):
        from irtool.engine.onnx_runner import OnnxRunner

        if precision.strip().lower() != "auto" or compile:
            (log or (lambda m: None))(
                f"--precision and --compile do not apply to an ONNX model: it runs as exported ({model.precision})"
            )
        return OnnxRunner(model, tile=tile, overlap=overlap, tile_batch=tile_batch, tta=tta, log=log)
    from irtool.engine.runner import Runner

    if threads:
        import torch

        torch.set_num_threads(threads)
    return Runner(
        model,
        device=device,
        precision=precision,
        tile=tile,
        overlap=overlap,
        tile_batch=tile_batch,
        compile=compile,
        tta=tta,
        channels_last=channels_last,
        log=log,
    )


def restore_image(
    model: Any,
    pixels: Any,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    device: str = "auto",
    precision: str = "auto",
) -> Any:
    """Restore one (C, H, W) float image in [0, 1]; returns (C_out, H*scale, W*scale) float32, not clamped.

    `model` is a module from irtool.models, an `OnnxModel`, or a runner (whose settings then apply). For many
    images, build one runner with `make_runner` and call `runner.restore(...)`: the model is placed and sized up once.
    """
    return make_runner(model, tile=tile, overlap=overlap, device=device, precision=precision).restore(pixels)
