"""TorchScript export: traced once, any batch/height/width afterwards, descriptor carried inside the file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from irtool.errors import InputError
from irtool.export import VerificationFailed, export_torchscript, load_torchscript
from irtool.models.descriptor import ModelDescriptor
from tests.export.conftest import TINY, tiny


@pytest.mark.parametrize("key", list(TINY))
def test_traced_module_matches_torch(key, tmp_path):
    model = tiny(key)
    path = tmp_path / "m.pt"
    result = export_torchscript(model, path)
    assert result.verification.ok and result.verification.max_abs_diff < 1e-5
    loaded = load_torchscript(path)
    assert loaded.descriptor == model.descriptor
    x = torch.from_numpy(np.random.default_rng(2).random((1, 3, 13, 40), dtype=np.float32))
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_plain_torchscript_without_metadata_is_refused(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.jit.save(torch.jit.trace(torch.nn.Conv2d(3, 3, 1), torch.rand(1, 3, 4, 4)), str(path))
    with pytest.raises(InputError, match="irtool export"):
        load_torchscript(path)


class FrozenMatrix(nn.Module):
    """Builds a width x width matrix outside torch: the trace bakes in the sample's width, so at any other width
    the traced module does not just differ, it raises inside the TorchScript interpreter."""

    descriptor = ModelDescriptor(arch="frozen-matrix", task="denoise")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        width = int(x.shape[-1])
        return x @ torch.from_numpy(np.eye(width, dtype=np.float32))


def test_a_trace_that_breaks_at_another_size_fails_verification_and_writes_nothing(tmp_path):
    path = tmp_path / "m.pt"
    with pytest.raises(VerificationFailed, match="not written") as info:
        export_torchscript(FrozenMatrix(), path)
    first, second = info.value.result.verification.checks
    assert first.max_abs_diff == 0.0 and first.error is None  # the traced size itself is fine
    assert second.max_abs_diff == float("inf") and "failed (RuntimeError" in second.error
    assert "\n" not in str(info.value)  # one line for the CLI, not the interpreter's stack
    assert list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_damaged_metadata_is_an_input_error(tmp_path):
    path = tmp_path / "damaged.pt"
    traced = torch.jit.trace(torch.nn.Conv2d(3, 3, 1), torch.rand(1, 3, 4, 4))
    torch.jit.save(traced, str(path), _extra_files={"irtool.json": '{"precision": "fp32"}'})
    with pytest.raises(InputError, match="irtool metadata is damaged"):
        load_torchscript(path)
