"""ONNX export: any batch/height/width, padding inside the graph, i-LN and attention, checked by onnxruntime."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from irtool import models
from irtool.export import ExportFailed, VerificationFailed, export_onnx
from irtool.export.verify import probe_shapes
from irtool.models.descriptor import ModelDescriptor
from irtool.models.onnx import OnnxModel
from tests.export.conftest import TINY, tiny


@pytest.mark.parametrize("key", list(TINY))
def test_fp32_export_matches_torch_at_two_odd_sizes(key, tmp_path):
    model = tiny(key)
    path = tmp_path / "m.onnx"
    result = export_onnx(model, path)
    assert path.is_file()
    shapes = [c.shape for c in result.verification.checks]
    assert shapes == probe_shapes(model.descriptor)
    assert all(h % model.descriptor.size_multiple and w % model.descriptor.size_multiple for _, _, h, w in shapes)
    assert result.verification.ok and result.verification.max_abs_diff < 1e-4

    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == 17
    dims = [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims[0] and dims[2] and dims[3]  # batch, height and width are symbolic
    meta = {p.key: p.value for p in proto.metadata_props}
    assert ModelDescriptor.from_dict(json.loads(meta["irtool.descriptor"])) == model.descriptor

    # A third size, not seen by the export or its check, through the runner.
    x = np.random.default_rng(1).random((1, 3, 35, 12), dtype=np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert np.abs(OnnxModel(path).run(x) - ref).max() < 1e-4


def test_fp16_graph_keeps_float32_io(tmp_path):
    model = tiny("hiir-sr-iln")
    path = tmp_path / "m16.onnx"
    result = export_onnx(model, path, precision="fp16", opset=18)
    assert result.verification.ok
    assert 0 < result.verification.max_abs_diff < 5e-2  # fp16 arithmetic: close, but not bit-identical
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == 18
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    weights = [t for t in proto.graph.initializer if len(t.dims) >= 2]  # conv kernels, linear and bias tables
    assert weights and all(t.data_type == onnx.TensorProto.FLOAT16 for t in weights)
    assert OnnxModel(path).precision == "fp16"


class FrozenWidth(nn.Module):
    """Reads the width as a Python number: the trace freezes it, so the graph is wrong for any other width."""

    descriptor = ModelDescriptor(arch="frozen", task="denoise")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float(x.shape[-1]) / 100


def test_mismatch_fails_and_writes_nothing(tmp_path):
    path = tmp_path / "bad.onnx"
    with pytest.raises(VerificationFailed, match="not written") as info:
        export_onnx(FrozenWidth(), path)
    assert not info.value.result.verification.ok
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary
    export_onnx(FrozenWidth(), path, verify=False)  # the user can still have it
    assert path.is_file()


def test_an_op_without_onnx_form_is_one_line_and_no_graph_dump(tmp_path, capfd):
    """MATLAB-exact bicubic builds sparse matrices; torch.onnx refuses them and, left alone, prints its whole IR
    graph to stdout."""
    path = tmp_path / "b.onnx"
    with pytest.raises(ExportFailed, match=r"^bicubic: cannot be exported to ONNX \(UnsupportedOperatorError") as info:
        export_onnx(models.create("bicubic"), path)
    assert "\n" not in str(info.value)
    assert capfd.readouterr().out == ""
    assert list(tmp_path.iterdir()) == []
