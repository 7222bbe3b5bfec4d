"""TorchScript export: traced once, any batch/height/width afterwards, descriptor carried inside the file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from irtool.errors import InputError
from irtool.export import export_torchscript, load_torchscript
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
