"""An ONNX model (irtool.models.onnx.OnnxModel) behind the runner interface, in NumPy: no torch needed.

The tile loop, blending and self-ensemble are ImageRunner's, shared with the torch runner, so `irtool restore
-m model.onnx` and `irtool eval -m model.onnx` run where torch is not installed. `tile=None` means the CPU default
tile (onnxruntime's memory is not probed), 0 the whole image. The precision is the graph's; there is no NaN guard
(an fp32 graph to fall back on does not exist) and no out-of-memory back-off (onnxruntime reports allocation
failures in its own words).
"""

from __future__ import annotations

import contextlib

import numpy as np

from irtool.engine.base import ImageRunner, Log
from irtool.engine.tiling import CPU_TILE, ReadFn, TilePlan
from irtool.models.onnx import OnnxModel


class OnnxRunner(ImageRunner):
    runtime = "onnxruntime"

    def __init__(
        self,
        model: OnnxModel,
        *,
        tile: int | None = None,
        overlap: int | None = None,
        tile_batch: int = 1,
        tta: bool = False,
        log: Log | None = None,
    ):
        super().__init__(
            model.descriptor,
            tile=CPU_TILE if tile is None else tile,
            overlap=overlap,
            tile_batch=tile_batch,
            tta=tta,
            log=log,
        )
        self.model = model
        self.device, self.precision = model.device, model.precision

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        return self.model.run(batch)

    def _tiling(self, plan: TilePlan, read: ReadFn) -> contextlib.AbstractContextManager[None]:
        if self.descriptor.global_stats and plan.tile_count > 1:
            self._log_once("iln", "this ONNX model normalises each tile on its own (i-LN); --tile 0 is exact")
        return contextlib.nullcontext()
