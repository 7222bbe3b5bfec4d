"""safetensors export: one file that `irtool.models.load` rebuilds exactly, with the source's training summary kept."""

from __future__ import annotations

import numpy as np
import torch

from irtool import models
from irtool.export import export_safetensors
from irtool.export.safetensors_export import source_metadata
from irtool.models import checkpoint
from tests.export.conftest import tiny


def test_round_trip_is_identical_and_keeps_training_metadata(tmp_path):
    model = tiny("restormer-iln")
    trained = tmp_path / "best.safetensors"
    models.save(model, trained, metadata={"irtool.train.step": "1000", "irtool.train.description": "a test run"})

    out = tmp_path / "export" / "m.safetensors"
    result = export_safetensors(models.load(trained), out, metadata=source_metadata(trained))
    assert result.verification.ok and result.verification.max_abs_diff == 0.0

    header = checkpoint.read_metadata(out)
    assert header["irtool.train.step"] == "1000"
    assert header["irtool.train.description"] == "a test run"
    assert header["irtool.exported_with"].startswith("irtool ")
    loaded = models.load(out)
    assert loaded.descriptor == model.descriptor  # architecture, hparams, task, scale, licence, size multiple
    x = torch.from_numpy(np.random.default_rng(3).random((1, 3, 17, 26), dtype=np.float32))
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_source_metadata_never_overrides_the_models_own_header(tmp_path):
    model = tiny("restormer-ln")
    out = tmp_path / "m.safetensors"
    forged = {"irtool.arch": "something-else", "irtool.hparams": "{}", "note": "kept"}
    export_safetensors(model, out, metadata=forged, verify=False)
    header = checkpoint.read_metadata(out)
    assert header["irtool.arch"] == "restormer" and header["note"] == "kept"
