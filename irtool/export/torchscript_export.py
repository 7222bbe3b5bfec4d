"""TorchScript export: a traced module that `torch.jit.load` runs without irtool installed, any input size.

Traced rather than scripted: the models use einops and Python-side shape logic that `torch.jit.script` rejects, while
the tracer records shape reads as graph ops (so the in-model padding stays dynamic). torch.export (`.pt2`) was tried
and rejected for the same reason as the dynamo ONNX exporter: it cannot prove the pad-to-multiple shape guards for
all heights and widths. The descriptor travels inside the archive as the extra file `irtool.json`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from irtool import __version__
from irtool.errors import InputError
from irtool.export.files import ExportResult, VerificationFailed, atomic_output, exporter_error
from irtool.export.tracing import quiet_tracing, sample_input, traceable
from irtool.export.verify import TOLERANCE, Shape, compare, probe_shapes
from irtool.models.descriptor import ModelDescriptor

EXTRA_FILE = "irtool.json"


def export_torchscript(
    model: nn.Module,
    path: str | Path,
    *,
    precision: str = "fp32",
    verify: bool = True,
    shapes: list[Shape] | None = None,
) -> ExportResult:
    """Write `model` traced to TorchScript; with `verify`, kept only when the reloaded file matches torch."""
    path = Path(path)
    shapes = shapes or probe_shapes(model.descriptor)
    graph = traceable(model, precision)
    try:
        with quiet_tracing(), torch.no_grad():
            traced = torch.jit.trace(graph, (sample_input(shapes[0]),), check_trace=False)
    except Exception as e:  # the tracer's errors carry a Python stack after the first line
        raise exporter_error(model.descriptor.name or model.descriptor.arch, "TorchScript", e) from None
    extra = {EXTRA_FILE: json.dumps({"descriptor": model.descriptor.to_dict(), "precision": precision})}
    result = ExportResult(path, "torchscript", {"precision": precision, "irtool_version": __version__})
    with atomic_output(path) as tmp:
        with quiet_tracing():  # torch 2.13 deprecates TorchScript (still fully supported)
            torch.jit.save(traced, str(tmp), _extra_files=extra)
        if verify:
            reloaded = load_torchscript(tmp)

            def run(x: Any) -> Any:
                with torch.no_grad():
                    return reloaded(torch.from_numpy(x)).numpy()

            result.verification = compare(model, run, shapes=shapes, tolerance=TOLERANCE[precision])
            if not result.verification.ok:
                raise VerificationFailed(result)
    return result


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    """A TorchScript file written by `export_torchscript`, with its `.descriptor` back (on the CPU, eval mode)."""
    extra = {EXTRA_FILE: ""}
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)  # torch 2.13 deprecates TorchScript
            module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as e:
        raise InputError(f"{path}: not a TorchScript file ({str(e).strip().splitlines()[0]})") from None
    if not extra[EXTRA_FILE]:
        raise InputError(f"{path}: no irtool metadata in this TorchScript file: export it with `irtool export`")
    try:
        info = json.loads(extra[EXTRA_FILE])
        module.descriptor = ModelDescriptor.from_dict(info["descriptor"])
    except (ValueError, TypeError, KeyError) as e:  # bad JSON, or JSON that is not what export_torchscript wrote
        raise InputError(f"{path}: its irtool metadata is damaged ({type(e).__name__}: {e})") from None
    return module.eval()
