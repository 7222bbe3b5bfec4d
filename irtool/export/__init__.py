"""Turning a model into files for other tools and runtimes, each checked against the torch model it came from.

    safetensors   irtool's weight file (weights + metadata); `irtool.models.load` reads it with nothing else
    hub           a folder for the Hugging Face Hub: model.safetensors, config.json, README.md model card
    onnx          an onnxruntime-ready graph: dynamic batch, height and width, padding inside the graph
    torchscript   a traced module for `torch.jit.load`, same dynamic shapes

Every export is written under a temporary name, verified (random inputs of two odd sizes, outputs compared with
the torch model), and only then moved into place; a mismatch raises `VerificationFailed` and leaves nothing behind.
A model the exporter cannot take raises `ExportFailed` (one line, no graph dump).
"""

from irtool.export.files import ExportFailed, ExportResult, VerificationFailed
from irtool.export.hub_folder import export_hub_folder, push_to_hub
from irtool.export.onnx_export import export_onnx
from irtool.export.safetensors_export import export_safetensors
from irtool.export.torchscript_export import export_torchscript, load_torchscript

FORMATS = ("safetensors", "hub", "onnx", "torchscript")

__all__ = [
    "FORMATS",
    "ExportFailed",
    "ExportResult",
    "VerificationFailed",
    "export_hub_folder",
    "export_onnx",
    "export_safetensors",
    "export_torchscript",
    "load_torchscript",
    "push_to_hub",
]
