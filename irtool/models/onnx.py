"""An exported `.onnx` model: the file format's keys and the onnxruntime session that runs it (no torch needed).

`irtool export --format onnx` writes the model's descriptor into the graph's metadata (`DESCRIPTOR_KEY`), so the
file alone tells a runner its scale, channels and task. `OnnxModel(path)` reads it back and runs the graph:
a (B, C, H, W) float32 array in [0, 1] in, (B, C_out, H*scale, W*scale) out. The graph pads to its size multiple
itself, so any H, W works. It is run through `irtool.engine.onnx_runner.OnnxRunner` (`make_runner` picks it).

i-LN models normalise with statistics of whatever the graph is given: run them on whole images (tile 0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from irtool.errors import InputError, ResourceError, UnavailableError, first_line
from irtool.models.descriptor import ModelDescriptor

# Keys of the ONNX file's metadata_props, and the graph's tensor names: written by irtool.export.onnx_export.
DESCRIPTOR_KEY = "irtool.descriptor"
PRECISION_KEY = "irtool.precision"
VERSION_KEY = "irtool.version"
INPUT_NAME = "input"
OUTPUT_NAME = "output"

_INSTALL_HINT = "onnxruntime is not installed: pip install 'irtool[onnx]'"


class OnnxModel:
    """One onnxruntime session; `threads` caps intra-op threads (None: onnxruntime's default, all cores)."""

    def __init__(self, path: str | Path, *, threads: int | None = None, device: str = "cpu"):
        try:
            import onnxruntime as ort
        except ImportError:
            raise UnavailableError(_INSTALL_HINT) from None
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file")
        device = "cpu" if device == "auto" else device
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are noise to a user
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=_providers(ort, device))
        except Exception as e:
            raise InputError(f"{self.path}: onnxruntime cannot load it ({first_line(e)})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if DESCRIPTOR_KEY not in meta:
            raise InputError(
                f"{self.path}: no irtool metadata in this ONNX file (scale, channels): export it with `irtool export`"
            )
        try:
            self.descriptor = ModelDescriptor.from_dict(json.loads(meta[DESCRIPTOR_KEY]))
        except (ValueError, TypeError) as e:  # bad JSON, or JSON that is not a descriptor
            raise InputError(f"{self.path}: its irtool metadata is damaged ({first_line(e)})") from None
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

    __call__ = run

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r}, {self.descriptor.arch}, x{self.descriptor.scale}, {self.precision})"


def _providers(ort: Any, device: str) -> list[Any]:
    if not device.startswith("cuda"):
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise ResourceError("this onnxruntime has no CUDA support: pip install onnxruntime-gpu, or use --device cpu")
    index = int(device.partition(":")[2] or 0)
    return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
