"""An exported `.onnx` model run by onnxruntime behind the interface the restore engine uses for torch models.

`OnnxModel(path)` carries the `.descriptor` that `irtool export` wrote into the file's metadata, and is called like a
module: a (B, C, H, W) float array in [0, 1] in, (B, C_out, H*scale, W*scale) out (a torch tensor is accepted too,
and returned on its device). The graph pads to its size multiple itself, so any H, W works.

`OnnxRunner(model)` is the torch Runner's counterpart: the same `restore` / `restore_tiles` through the same tiling
and blending (irtool.engine.tiling), in NumPy, so `irtool restore -m model.onnx` runs where torch is not installed.

i-LN models normalise with statistics of whatever the graph is given; the graph cannot replay whole-image statistics
into tiles as `irtool.models.norms.use_statistics` does, so run such a model on whole images (tile=0).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

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
from irtool.errors import InputError, ResourceError, UnavailableError
from irtool.models.descriptor import ModelDescriptor

# Keys of the ONNX file's metadata_props written by irtool.export.onnx_export.
DESCRIPTOR_KEY = "irtool.descriptor"
PRECISION_KEY = "irtool.precision"
VERSION_KEY = "irtool.version"
INPUT_NAME = "input"
OUTPUT_NAME = "output"

_INSTALL_HINT = "onnxruntime is not installed: pip install 'irtool[onnx]'"


class OnnxModel:
    """One onnxruntime session; `threads` caps intra-op threads (None: onnxruntime's default, all cores)."""

    runs_on_onnxruntime = True  # what the engine checks instead of importing this class

    def __init__(self, path: str | Path, *, threads: int | None = None, device: str = "cpu"):
        try:
            import onnxruntime as ort
        except ImportError:
            raise UnavailableError(_INSTALL_HINT) from None
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are noise to a user
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=_providers(ort, device))
        except Exception as e:
            raise InputError(f"{self.path}: onnxruntime cannot load it ({_first_line(e)})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if DESCRIPTOR_KEY not in meta:
            raise InputError(
                f"{self.path}: no irtool metadata in this ONNX file (scale, channels): export it with `irtool export`"
            )
        try:
            self.descriptor = ModelDescriptor.from_dict(json.loads(meta[DESCRIPTOR_KEY]))
        except (ValueError, TypeError) as e:  # bad JSON, or JSON that is not a descriptor
            raise InputError(f"{self.path}: its irtool metadata is damaged ({_first_line(e)})") from None
        self.precision = meta.get(PRECISION_KEY, "fp32")
        self.device = device

    def run(self, x: np.ndarray) -> np.ndarray:
        """(B, C, H, W) float32 in [0, 1] -> (B, C_out, H*scale, W*scale) float32."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 4 or x.shape[1] != self.descriptor.in_channels:
            raise InputError(
                f"{self.path}: expects (B, {self.descriptor.in_channels}, H, W) input, got shape {tuple(x.shape)}"
            )
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]

    def __call__(self, x: Any) -> Any:
        if isinstance(x, np.ndarray):
            return self.run(x)
        import torch  # only reached when the caller already works in torch

        out = self.run(x.detach().to("cpu", torch.float32).numpy())
        return torch.from_numpy(out).to(device=x.device, dtype=x.dtype)

    # The parts of the nn.Module surface that runners call before inference.
    def eval(self) -> OnnxModel:
        return self

    def to(self, *args: Any, **kwargs: Any) -> OnnxModel:
        return self

    def requires_grad_(self, requires_grad: bool = True) -> OnnxModel:
        return self

    def parameters(self) -> Any:
        return iter(())

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r}, {self.descriptor.arch}, x{self.descriptor.scale}, {self.precision})"


class OnnxRunner:
    """An OnnxModel restoring images tile by tile on the host (the interface of irtool.engine.Runner).

    `tile=None` means the CPU default tile (onnxruntime's memory is not probed), 0 the whole image. The precision
    is the graph's; there is no NaN guard (an fp32 graph to fall back on does not exist) and no out-of-memory
    back-off (onnxruntime reports allocation failures in its own words).
    """

    nan_retries = 0
    oom_retries = 0

    def __init__(
        self,
        model: OnnxModel,
        *,
        tile: int | None = None,
        overlap: int | None = None,
        tile_batch: int = 1,
        tta: bool = False,
        log: Callable[[str], None] | None = None,
    ):
        self.overlap = check_tile_options(tile, overlap, tile_batch)
        self.model, self.descriptor = model, model.descriptor
        self.device, self.precision = model.device, model.precision
        self.tile = CPU_TILE if tile is None else tile
        self.tile_batch = tile_batch
        self.tta = tta
        self.log = log or (lambda message: None)
        self.last_plan: TilePlan | None = None
        self._told_iln = False

    def restore(self, pixels: Any) -> Any:
        """(C, H, W) or (B, C, H, W) float in [0, 1] -> (C_out, H*s, W*s) float32; numpy in, numpy out."""
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
        d = self.descriptor
        plan = plan_tiles(height, width, tile=self.tile, overlap=self.overlap, scale=d.scale, multiple=d.size_multiple)
        if d.global_stats and plan.tile_count > 1 and not self._told_iln:
            self._told_iln = True
            self.log("this ONNX model normalises each tile on its own (i-LN); --tile 0 is exact")
        forward = self_ensemble(self.model.run) if self.tta else self.model.run
        run_tiled(plan, read, forward, write, out_channels=d.out_channels, batch=self.tile_batch, on_tiles=on_tiles)
        self.last_plan = plan
        return plan

    @property
    def tile_label(self) -> str:
        return "whole image" if self.tile == 0 else f"{self.tile}px, overlap {self.overlap}"


def load_onnx_model(path: str | Path, *, threads: int | None = None, device: str = "cpu") -> OnnxModel:
    return OnnxModel(path, threads=threads, device=device)


def is_onnx_ref(ref: str | Path) -> bool:
    return str(ref).lower().endswith(".onnx")


def _providers(ort: Any, device: str) -> list[Any]:
    if not device.startswith("cuda"):
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise ResourceError("this onnxruntime has no CUDA support: pip install onnxruntime-gpu, or use --device cpu")
    index = int(device.partition(":")[2] or 0)
    return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
