"""`irtool eval` on the engine's runners: an exported ONNX graph, precisions, devices and the self-ensemble.

The ONNX graph and the torch model must score the same under the paper protocols (the brief's 0.01 dB), and the
report's `run` block must say how the numbers were made.
"""

from __future__ import annotations

import json

import pytest

from irtool.cli import main

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture
def data_dir(data_root, monkeypatch):
    monkeypatch.setenv("IRTOOL_DATA_DIR", str(data_root))
    return data_root


@pytest.fixture(scope="module")
def sr_x4_onnx(tmp_path_factory):
    from irtool import models
    from irtool.export import export_onnx

    path = tmp_path_factory.mktemp("onnx") / "sr-x4.onnx"
    export_onnx(models.load("sr-x4"), path, verify=False)  # the comparison below is the check
    return path


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    captured = capsys.readouterr()
    return e.value.code, captured.out, captured.err


def _eval_json(capsys, *args: str) -> tuple[dict, str]:
    code, out, err = _cli(capsys, "eval", *args, "--json")
    assert code == 0, err
    return json.loads(out), err


def test_onnx_graph_scores_like_the_torch_model(data_dir, capsys, sr_x4_onnx):
    args = ("--dataset", "Set5", "--scale", "4", "-d", "cpu")
    torch_run, _ = _eval_json(capsys, "-m", "sr-x4", *args)
    onnx_run, err = _eval_json(capsys, "-m", str(sr_x4_onnx), *args)
    assert onnx_run["psnr"] == pytest.approx(torch_run["psnr"], abs=0.01)
    assert onnx_run["ssim"] == pytest.approx(torch_run["ssim"], abs=0.001)
    for a, b in zip(onnx_run["per_image"], torch_run["per_image"], strict=True):
        assert a["name"] == b["name"] and a["psnr"] == pytest.approx(b["psnr"], abs=0.01)
    assert torch_run["psnr"] > 31  # a trained x4 model, not bicubic (28.4)
    assert onnx_run["run"]["runtime"] == "onnxruntime" and torch_run["run"]["runtime"] == "torch"
    assert onnx_run["run"]["precision"] == "fp32" and onnx_run["run"]["tile"] == "whole image"
    assert onnx_run["model"]["arch"] == torch_run["model"]["arch"] and onnx_run["model"]["scale"] == 4
    assert "do not apply" not in err  # eval's default fp32 is the graph's own precision: nothing to warn about


def test_onnx_graph_with_a_precision_it_cannot_honour_says_so(data_dir, capsys, sr_x4_onnx):
    got, err = _eval_json(capsys, "-m", str(sr_x4_onnx), "--dataset", "Set5", "--limit", "1", "--precision", "bf16")
    assert got["run"]["precision"] == "fp32" and "ONNX" in err  # the graph's precision is what ran, and is recorded


def test_bf16_on_cpu_runs_and_is_recorded(data_dir, capsys):
    args = ("-m", "sr-x4", "--dataset", "Set5", "--limit", "1", "-d", "cpu")
    fp32, _ = _eval_json(capsys, *args)
    bf16, _ = _eval_json(capsys, *args, "--precision", "bf16")
    assert fp32["run"]["precision"] == "fp32" and bf16["run"]["precision"] == "bf16"
    assert bf16["psnr"] != fp32["psnr"] and bf16["psnr"] == pytest.approx(fp32["psnr"], abs=0.2)
    assert bf16["run"]["device"] == "cpu"


def test_self_ensemble_and_tiles_are_recorded(data_dir, capsys):
    args = ("-m", "sr-x4", "--dataset", "Set5", "--limit", "1", "-d", "cpu")
    plain, _ = _eval_json(capsys, *args)
    ensemble, _ = _eval_json(capsys, *args, "-x")
    tiled, _ = _eval_json(capsys, *args, "--tile", "64")
    assert plain["run"]["self_ensemble"] is False and ensemble["run"]["self_ensemble"] is True
    assert ensemble["psnr"] > plain["psnr"]  # the "+" rows are better (0.05-0.17 dB on the shipped SR models)
    assert tiled["run"]["tile"].startswith("64px") and plain["run"]["tile"] == "whole image"
    assert tiled["psnr"] == pytest.approx(plain["psnr"], abs=0.05) and tiled["psnr"] != plain["psnr"]


def test_run_option_errors_are_one_line_with_their_exit_codes(data_dir, capsys, tmp_path):
    code, _, err = _cli(capsys, "eval", "-m", "sr-x4", "--dataset", "Set5", "--precision", "fp8")
    assert code == 2 and err.startswith("error:") and "fp8" in err and len(err.strip().splitlines()) == 1
    code, _, err = _cli(capsys, "eval", "--pred", str(tmp_path), "--gt", str(tmp_path), "-p", "sr", "--tile", "64")
    assert code == 2 and "--tile" in err
    code, _, err = _cli(capsys, "eval", "-m", str(tmp_path / "missing.onnx"), "--dataset", "Set5")
    assert code in (1, 3) and err.startswith("error:") and "missing.onnx" in err


def test_a_missing_device_exits_4(data_dir, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = _cli(capsys, "eval", "-m", "sr-x4", "--dataset", "Set5", "--limit", "1", "-d", "cuda")
    assert code == 4 and err.startswith("error:") and len(err.strip().splitlines()) == 1
