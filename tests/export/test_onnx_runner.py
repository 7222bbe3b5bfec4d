"""An exported .onnx through onnxruntime behaves like the torch model: same interface, same pixels."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from irtool.engine import ImageRunner, Runner, make_runner
from irtool.engine.onnx_runner import OnnxRunner
from irtool.errors import InputError, UsageError
from irtool.export import export_onnx
from irtool.models import ModelRef, open_model
from irtool.models.onnx import OnnxModel
from tests.export.conftest import tiny


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(torch model, path of its ONNX export), exported once for the module."""
    model = tiny("restormer-ln")
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    export_onnx(model, path, verify=False)
    return model, path


def test_numpy_calls(exported):
    model, path = exported
    onnx_model = OnnxModel(path, threads=1)
    assert onnx_model.descriptor == model.descriptor
    assert not isinstance(onnx_model, torch.nn.Module)  # a graph, not a fake module
    x = torch.rand(2, 3, 11, 27)
    with torch.no_grad():
        ref = model(x)
    y_np = onnx_model(x.numpy())
    assert isinstance(y_np, np.ndarray) and y_np.shape == ref.shape and np.allclose(y_np, ref.numpy(), atol=1e-4)
    with pytest.raises(InputError, match="expects"):
        onnx_model.run(np.zeros((1, 1, 8, 8), np.float32))


@pytest.mark.parametrize("tile", [0, 24])
def test_restore_engine_gives_torch_pixels(exported, tile):
    """The restore engine drives the ONNX model as it drives the torch one, whole image or in the same tiles."""
    model, path = exported
    image = np.random.default_rng(5).random((3, 40, 37), dtype=np.float32)
    ref = Runner(model, device="cpu", precision="fp32", tile=tile).restore(image)
    got = OnnxRunner(OnnxModel(path, threads=1), tile=tile).restore(image)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() < 1e-4
    # What a user sees: 8-bit pixels identical but for rounding ties.
    as_uint8 = [np.round(np.clip(a, 0, 1) * 255).astype(np.uint8) for a in (ref, got)]
    assert np.abs(as_uint8[0].astype(int) - as_uint8[1]).max() <= 1


def test_foreign_or_broken_files_are_input_errors(tmp_path, exported):
    _, path = exported
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    foreign = tmp_path / "foreign.onnx"
    onnx.save(proto, str(foreign))
    with pytest.raises(InputError, match="no irtool metadata"):
        OnnxModel(foreign)
    for damaged in ("{not json", '{"arch": "x"}'):  # unreadable, and readable but missing the task
        proto.metadata_props.add(key="irtool.descriptor", value=damaged)
        onnx.save(proto, str(foreign))
        with pytest.raises(InputError, match="irtool metadata is damaged"):
            OnnxModel(foreign)
        del proto.metadata_props[:]
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a graph")
    with pytest.raises(InputError, match="onnxruntime cannot load"):
        OnnxModel(broken)
    assert ModelRef.parse("m.ONNX").is_onnx and not ModelRef.parse("m.safetensors").is_onnx


def test_runner_choice(exported):
    model, path = exported
    onnx_model = open_model(path, threads=1)
    assert isinstance(onnx_model, OnnxModel)
    with pytest.raises(UsageError, match="OnnxRunner"):
        Runner(onnx_model)
    told = []
    runner = make_runner(onnx_model, tile=0, precision="bf16", log=told.append)
    assert isinstance(runner, OnnxRunner) and isinstance(runner, ImageRunner)
    assert told and "do not apply to an ONNX model" in told[0]  # an option it cannot honour is said, not dropped
    torch_runner = make_runner(model, device="cpu", tile=0)
    assert isinstance(torch_runner, Runner) and make_runner(torch_runner) is torch_runner
    image = np.random.default_rng(6).random((3, 20, 18), dtype=np.float32)
    from irtool.engine import restore_image

    np.testing.assert_array_equal(restore_image(onnx_model, image, tile=0), runner.restore(image))


def test_cli_restores_with_an_onnx_model_where_torch_is_not_installed(exported, tmp_path):
    """`irtool restore -m model.onnx` in a Python where `import torch` fails: same pixels as the torch model."""
    import subprocess
    import sys

    from irtool.io.images import read_image, to_float32, write_image

    model, path = exported
    image = np.random.default_rng(7).random((40, 37, 3))
    src = tmp_path / "in.png"
    write_image(src, (image * 255).round().astype(np.uint8))
    out_dir = tmp_path / "out"
    no_torch = "import sys; sys.modules['torch'] = None; from irtool.cli import main; main(sys.argv[1:])"
    run = subprocess.run(
        [sys.executable, "-c", no_torch, "restore", str(src), "-m", str(path), "-o", str(out_dir), "--tile", "24"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    [written] = list(out_dir.iterdir())
    got = read_image(written).pixels.astype(int)
    pixels = to_float32(read_image(src).pixels).transpose(2, 0, 1)
    ref = Runner(model, device="cpu", precision="fp32", tile=24).restore(pixels)
    ref = np.round(np.clip(ref, 0, 1) * 255).transpose(1, 2, 0)
    assert np.abs(got - ref).max() <= 1  # rounding ties apart, the torch model's pixels


def test_onnx_runner_self_ensemble_matches_torch(exported):
    model, path = exported
    image = np.random.default_rng(8).random((3, 21, 26), dtype=np.float32)
    ref = Runner(model, device="cpu", precision="fp32", tile=0, tta=True).restore(image)
    got = OnnxRunner(OnnxModel(path, threads=1), tile=0, tta=True).restore(image)
    assert np.abs(got - ref).max() < 1e-4
    assert np.abs(got - OnnxRunner(OnnxModel(path, threads=1), tile=0).restore(image)).max() > 1e-5
