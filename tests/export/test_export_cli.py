"""`irtool export` end to end, and `irtool restore -m model.onnx` giving the pixels the torch model gives."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import torch

from irtool import models
from irtool.cli import main
from irtool.errors import EXIT_SOME_FAILED, EXIT_USAGE
from irtool.evaluate import Report, get_protocol
from irtool.io.images import read_image, write_image
from irtool.models import checkpoint, registry
from irtool.train import checkpoint as train_checkpoint
from tests.export.conftest import tiny
from tests.hubserver import running_hub


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


@pytest.mark.parametrize(
    "args, message",
    [
        (["-o", "m.onnx", "--opset", "13"], "--opset 13"),
        (["-o", "m.onnx", "--precision", "bf16"], "--precision 'bf16'"),
        (["-o", "m.pt", "--opset", "18"], "--opset applies"),
        (["-o", "hub", "--push-to-hub", "not a repo"], "not a Hub repository id"),
        (["-o", "hub", "--push-to-hub", "noowner"], "OWNER/NAME"),
    ],
)
def test_option_errors_before_loading(capsys, args, message):
    """`restormer` has no weights: reaching the load would exit 3, so exit 2 proves the check came first."""
    code, _, err = _cli(capsys, "export", "restormer", *args)
    assert code == EXIT_USAGE, err
    assert message in err and "Traceback" not in err


def test_unwritable_outputs_are_usage_errors_before_loading(tmp_path, capsys):
    (tmp_path / "folder.onnx").mkdir()
    (tmp_path / "file").write_text("x")
    for output, fmt, message in [
        (tmp_path / "folder.onnx", "onnx", "is a folder"),
        (tmp_path / "file", "hub", "is not a folder"),
        (tmp_path / "file" / "m.onnx", "onnx", "is a file"),
    ]:
        code, _, err = _cli(capsys, "export", "restormer", "-o", str(output), "--format", fmt)
        assert code == EXIT_USAGE, err
        assert message in err and len(err.strip().splitlines()) == 1


def test_model_the_exporter_cannot_take_is_one_line_and_writes_nothing(tmp_path, capfd):
    """bicubic (MATLAB-exact resize with size-dependent sparse weights) has no ONNX form: torch's graph dump must
    not reach stdout (it would break --json) and the error is one line."""
    code, out, err = _cli(capfd, "export", "bicubic", "-o", str(tmp_path / "b.onnx"), "--json")
    assert code == EXIT_SOME_FAILED
    assert out == ""
    assert "cannot be exported to ONNX" in err and "graph" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [err.strip().splitlines()[-1]]
    assert list(tmp_path.iterdir()) == []


def test_untrained_export_drops_the_shipped_training_summary(tmp_path, capsys):
    out = tmp_path / "u.safetensors"
    code, _, err = _cli(capsys, "export", "sr-x2", "--untrained", "-o", str(out))
    assert code == 0, err
    header = checkpoint.read_metadata(out)
    assert header["irtool.untrained"] == "true"
    assert not [k for k in header if k.startswith("irtool.train.")]
    shipped = checkpoint.read_metadata(registry.get_entry("sr-x2").weights_ref())
    assert any(k.startswith("irtool.train.") for k in shipped)  # what would have leaked
    code, _, err = _cli(capsys, "export", str(out), "--untrained", "-o", str(tmp_path / "v.safetensors"))
    assert code == EXIT_USAGE and "registry names" in err


def test_exported_files_get_normal_permissions(tmp_path, capsys):
    old = os.umask(0o022)
    try:
        code, _, err = _cli(capsys, "export", "sr-x2", "-o", str(tmp_path / "hub"))
    finally:
        os.umask(old)
    assert code == 0, err
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "hub").iterdir()}
    assert modes == {"model.safetensors": 0o644, "config.json": 0o644, "README.md": 0o644}


def test_re_export_over_a_hub_folder_named_like_the_model(tmp_path, capsys, monkeypatch):
    """`irtool export sr-x2 -o sr-x2` twice (say, to add scores): the name means the registry model both times."""
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        code, _, err = _cli(capsys, "export", "sr-x2", "-o", "sr-x2", "--json")
        assert code == 0, err


def test_eval_json_of_another_model_is_refused(tmp_path, capsys):
    report = Report(
        psnr=30.0,
        ssim=0.9,
        per_image=[],
        protocol=get_protocol("sr").describe(scale=2, sigma=None),
        dataset={"name": "Set5", "count": 5},
        model=models.create("sr-x3").descriptor.to_dict(),
        seconds=1.0,
    )
    scores = tmp_path / "x3.json"
    scores.write_text(json.dumps(report.to_dict()))
    code, _, err = _cli(capsys, "export", "sr-x2", "-o", str(tmp_path / "hub"), "--eval-json", str(scores))
    assert code == EXIT_SOME_FAILED
    assert "scores of another model" in err and "x3" in err
    assert not (tmp_path / "hub").exists()


@pytest.mark.slow
def test_checkpoint_folder_to_hub_then_back_offline(tmp_path, capsys, monkeypatch):
    """A training checkpoint (its EMA weights) -> hub folder -> Hub -> hf:// -> safetensors with --offline, which
    reads the cached file for both weights and header and asks the Hub nothing."""
    raw, ema = tiny("restormer-ln"), tiny("restormer-ln")
    with torch.no_grad():
        for p in ema.parameters():
            p.mul_(0.5)
    ckpt = train_checkpoint.save(tmp_path / "run", 7, raw, ema, {"step": 7}, {"irtool.train.step": "7"}, keep=1)
    folder = tmp_path / "hub"
    code, _, err = _cli(capsys, "export", str(ckpt), "-o", str(folder))
    assert code == 0, err
    assert "| weights | ema |" in (folder / "README.md").read_text()

    with running_hub(monkeypatch, tmp_path) as hub:
        hub.add_folder("me/tiny", folder)
        ref = "hf://me/tiny/model.safetensors"
        code, _, err = _cli(capsys, "export", ref, "-o", str(tmp_path / "a.safetensors"))
        assert code == 0, err
        asked = len(hub.requests)
        assert [method for method, _ in hub.requests].count("HEAD") == 1  # weights and header: one resolution
        code, _, err = _cli(capsys, "export", ref, "-o", str(tmp_path / "b.safetensors"), "--offline")
        assert code == 0, err
        assert len(hub.requests) == asked
    loaded = models.load(tmp_path / "b.safetensors")
    assert checkpoint.read_metadata(tmp_path / "b.safetensors")["irtool.train.weights"] == "ema"
    x = torch.rand(1, 3, 13, 21)
    with torch.no_grad():
        assert torch.equal(loaded(x), ema(x))


def test_help_shows_the_install_extra(capsys):
    """Rich reads `[onnx]` as markup and drops it unless escaped: the help said pip install 'irtool'."""
    code, out, _ = _cli(capsys, "export", "--help")
    assert code == 0
    assert "'irtool[onnx]'" in out and "Exit codes: 1" in out
