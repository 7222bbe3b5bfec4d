"""ONNX export: one graph for any batch, height and width, with the padding to the size multiple inside it.

Exporter: torch's TorchScript-based one (`dynamo=False`). With torch 2.13 the torch.export-based exporter cannot
take these models with dynamic height and width: the pad-to-multiple arithmetic and the window reshapes produce
shape guards it cannot prove for all sizes (ConstraintViolationError), and it needs the extra `onnxscript` package.
The tracer records the same arithmetic as ONNX Shape/Mod/Pad ops, which is what we want.

Opset 17 by default (onnxruntime >= 1.14 and most other runtimes read it); 18 on request.
The file's metadata (`irtool.descriptor`) tells `irtool.models.onnx.OnnxModel` its scale, channels and task.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import torch
from torch import nn

from irtool import __version__
from irtool.errors import UnavailableError, UsageError
from irtool.export.files import ExportResult, VerificationFailed, atomic_output, exporter_error
from irtool.export.tracing import quiet_tracing, sample_input, traceable
from irtool.export.verify import TOLERANCE, Shape, compare, probe_shapes
from irtool.models.onnx import (
    DESCRIPTOR_KEY,
    INPUT_NAME,
    OUTPUT_NAME,
    PRECISION_KEY,
    VERSION_KEY,
    OnnxModel,
)

DEFAULT_OPSET = 17
OPSETS = (17, 18)  # the two the tests cover; every onnxruntime since 1.14 reads 17


def export_onnx(
    model: nn.Module,
    path: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    precision: str = "fp32",
    verify: bool = True,
    shapes: list[Shape] | None = None,
) -> ExportResult:
    """Write `model` as ONNX; with `verify`, the file is only kept when onnxruntime matches torch on `shapes`.

    fp16 keeps float32 input and output and computes in float16 inside, so callers never change their arrays.
    """
    try:
        import onnx
    except ImportError:
        raise UnavailableError("ONNX export needs the onnx package: pip install 'irtool[onnx]'") from None
    if opset not in OPSETS:
        raise UsageError(f"opset {opset} is not supported: choose {' or '.join(map(str, OPSETS))}")
    path = Path(path)
    shapes = shapes or probe_shapes(model.descriptor)
    graph = traceable(model, precision)
    with atomic_output(path) as tmp:
        try:
            with quiet_tracing(), _no_graph_dump(), torch.no_grad():
                torch.onnx.export(
                    graph,
                    (sample_input(shapes[0]),),
                    str(tmp),
                    dynamo=False,
                    opset_version=opset,
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    dynamic_axes={
                        INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                        OUTPUT_NAME: {0: "batch", 2: "out_height", 3: "out_width"},
                    },
                )
            proto = onnx.load(str(tmp))
            _set_metadata(proto, model, precision)
            onnx.checker.check_model(proto)
        except Exception as e:  # an op without an ONNX form, a graph the checker rejects: the user gets one line
            raise exporter_error(_name(model), "ONNX", e) from None
        onnx.save(proto, str(tmp))
        result = ExportResult(path, "onnx", _details(opset, precision))
        if verify:
            session = OnnxModel(tmp, threads=torch.get_num_threads())
            result.verification = compare(model, session.run, shapes=shapes, tolerance=TOLERANCE[precision])
            if not result.verification.ok:
                raise VerificationFailed(result)  # the temporary file is removed
    return result


@contextmanager
def _no_graph_dump() -> Iterator[None]:
    """Keep torch.onnx from printing the whole IR graph to stdout when an op fails to export.

    torch 2.13's exporter switches its log on for every export (`setup_onnx_logging` tests the function object
    `_jit_is_onnx_log_enabled`, always true, instead of calling it) and, on failure, logs the graph to stdout: that
    would break `--json` output and bury the one-line error.
    """
    with mock.patch.object(torch._C, "_jit_onnx_log", lambda *args: None):
        yield


def _name(model: nn.Module) -> str:
    return model.descriptor.name or model.descriptor.arch


def _details(opset: int, precision: str) -> dict[str, object]:
    return {"opset": opset, "precision": precision, "exporter": "torch.onnx (TorchScript-based, dynamo=False)"}


def _set_metadata(proto: object, model: nn.Module, precision: str) -> None:
    entries = {
        DESCRIPTOR_KEY: json.dumps(model.descriptor.to_dict()),
        PRECISION_KEY: precision,
        VERSION_KEY: __version__,
    }
    for key, value in entries.items():
        prop = proto.metadata_props.add()
        prop.key, prop.value = key, value
    proto.producer_name = "irtool"
    proto.producer_version = __version__
    d = model.descriptor
    proto.doc_string = (
        f"{d.name or d.arch}: {d.task} x{d.scale}, input (batch, {d.in_channels}, height, width) float32 in [0, 1], "
        f"any height and width; output (batch, {d.out_channels}, height*{d.scale}, width*{d.scale})"
    )
