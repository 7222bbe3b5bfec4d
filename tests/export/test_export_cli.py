"""`irtool export` end to end, and `irtool restore -m model.onnx` giving the pixels the torch model gives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from irtool import models
from irtool.cli import main
from irtool.errors import EXIT_USAGE
from irtool.io.images import read_image, write_image
from tests.export.conftest import tiny


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


@pytest.mark.slow
def test_export_onnx_then_restore_with_it(tmp_path, capsys):
    weights = tmp_path / "tiny.safetensors"
    models.save(tiny("restormer-ln"), weights)
    onnx_path = tmp_path / "tiny.onnx"
    code, out, err = _cli(capsys, "export", str(weights), "-o", str(onnx_path), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["format"] == "onnx" and result["opset"] == 17 and result["verification"]["ok"]

    image = tmp_path / "in" / "photo.png"
    image.parent.mkdir()
    write_image(image, np.random.default_rng(6).integers(0, 256, (23, 30, 3), dtype=np.uint8))
    outputs = {}
    for name, model in (("torch", weights), ("onnx", onnx_path)):
        code, _, err = _cli(capsys, "restore", str(image), "-m", str(model), "-o", str(tmp_path / name), "-t", "0")
        assert code == 0, err
        (written,) = (tmp_path / name).iterdir()
        outputs[name] = read_image(written).pixels.astype(int)
    assert outputs["torch"].shape == outputs["onnx"].shape == (23, 30, 3)
    assert np.abs(outputs["torch"] - outputs["onnx"]).max() <= 1  # a rounding tie at most


@pytest.mark.parametrize(
    "args, message",
    [
        (["-o", "m.bin"], "--format"),
        (["-o", "m.onnx", "--format", "tflite"], "choose"),
        (["-o", "m.onnx", "--eval-json", "x.json"], "--format hub"),
        (["-o", "m.safetensors", "--precision", "fp16"], "--precision"),
    ],
)
def test_usage_errors_before_any_work(capsys, args, message):
    code, _, err = _cli(capsys, "export", "restormer", *args)
    assert code == EXIT_USAGE
    assert message in err and "Traceback" not in err
