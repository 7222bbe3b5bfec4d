"""One parser of model references (irtool.models.ref), and both Hub spellings through every command that takes one.

The Hub is the tests' own server on 127.0.0.1 (tests/hubserver.py); the weights it serves are the shipped sr-x4's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from irtool import models
from irtool.cli import main
from irtool.errors import UnavailableError, UsageError
from irtool.models import ModelRef
from tests.hubserver import running_hub

SHIPPED = Path(models.__file__).parent / "weights" / "sr-x4.safetensors"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


@pytest.mark.parametrize(
    ("text", "kind", "canonical", "onnx"),
    [
        ("sr-x4", "name", "sr-x4", False),
        ("runs/x4/best.safetensors", "file", "runs/x4/best.safetensors", False),
        ("official.pth", "file", "official.pth", False),
        ("model.ONNX", "file", "model.ONNX", True),
        ("hf://me/sr/w.safetensors", "hub", "hf://me/sr/w.safetensors", False),
        ("hf:me/sr/w.safetensors", "hub", "hf://me/sr/w.safetensors", False),
        ("hf:me/sr@v1/sub/m.onnx", "hub", "hf://me/sr@v1/sub/m.onnx", True),
    ],
)
def test_parse(text, kind, canonical, onnx):
    ref = ModelRef.parse(text)
    assert (ref.kind, ref.text, ref.is_onnx) == (kind, canonical, onnx)
    assert ModelRef.parse(ref) is ref


def test_bare_word_is_a_name_unless_a_file_of_that_name_exists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sr-x4").mkdir()  # a folder (e.g. an earlier Hub export) never stands in for the name
    assert ModelRef.parse("sr-x4").kind == "name"
    (tmp_path / "weights").write_bytes(b"")
    assert ModelRef.parse("weights").kind == "file"
    assert ModelRef.parse(Path("sr-x4")).kind == "file"  # a Path is always a path
    assert ModelRef.parse("hf://me/sr/w.safetensors").label == "w" and ModelRef.parse("sr-x4").label == "sr-x4"
    with pytest.raises(UsageError, match="not a Hub reference"):
        ModelRef.parse("hf://just-a-name.safetensors")


def test_a_named_model_without_weights_and_an_onnx_graph_through_load(tmp_path):
    with pytest.raises(UnavailableError, match="architecture only"):
        models.weights_file("restormer")
    with pytest.raises(UsageError, match="open_model"):
        models.load(tmp_path / "m.onnx")
    assert models.weights_file("sr-x4") == SHIPPED


@pytest.mark.parametrize("command", ["restore", "eval", "export", "models info"])
def test_a_missing_model_file_is_unavailable_everywhere(command, tmp_path, capsys, data_root, monkeypatch):
    """Exit 3 (model unavailable), the same through every command, with one line naming the file."""
    monkeypatch.setenv("IRTOOL_DATA_DIR", str(data_root))
    missing = str(tmp_path / "nonexistent.safetensors")
    args = {
        "restore": ["restore", str(tmp_path), "-m", missing],
        "eval": ["eval", "-m", missing, "--dataset", "Set5"],
        "export": ["export", missing, "-o", str(tmp_path / "x.safetensors")],
        "models info": ["models", "info", missing],
    }[command]
    code, _, err = cli(capsys, *args)
    assert code == 3, err
    assert "nonexistent.safetensors: no such model file" in err and "Traceback" not in err


@pytest.fixture
def hub_sr(monkeypatch, tmp_path):
    """The shipped sr-x4 weights served by the local Hub; yields (long reference, short reference)."""
    with running_hub(monkeypatch, tmp_path) as hub:
        commit = hub.add_file("me/sr", "nets/sr-x4.safetensors", SHIPPED.read_bytes())
        yield f"hf://me/sr@{commit}/nets/sr-x4.safetensors", f"hf:me/sr@{commit}/nets/sr-x4.safetensors"


def test_both_hub_spellings_load_the_same_weights(hub_sr):
    reference = models.load("sr-x4").state_dict()
    for ref in hub_sr:
        loaded = models.load(ref).state_dict()
        assert loaded.keys() == reference.keys()
        assert all(np.array_equal(loaded[k].numpy(), reference[k].numpy()) for k in reference)
        assert models.weights_file(ref).read_bytes() == SHIPPED.read_bytes()


def test_both_hub_spellings_through_models_info(hub_sr, capsys):
    for ref in hub_sr:
        info = models.info(ref)
        assert info["descriptor"]["scale"] == 4 and info["params"] > 0
        code, out, err = cli(capsys, "models", "info", ref, "--json")
        assert code in (0, None), err
        assert json.loads(out)["weights"]["file"].endswith("sr-x4.safetensors")


def test_both_hub_spellings_through_export(hub_sr, capsys, tmp_path):
    for i, ref in enumerate(hub_sr):
        out_file = tmp_path / f"exported{i}.safetensors"
        code, out, err = cli(capsys, "export", ref, "-o", str(out_file), "--json")
        assert code in (0, None), err
        exported = models.load(out_file).state_dict()
        reference = models.load("sr-x4").state_dict()
        assert all(np.array_equal(exported[k].numpy(), reference[k].numpy()) for k in reference)


def test_both_hub_spellings_through_eval(hub_sr, capsys, data_root, monkeypatch):
    monkeypatch.setenv("IRTOOL_DATA_DIR", str(data_root))
    scores = []
    for ref in (*hub_sr, "sr-x4"):
        code, out, err = cli(
            capsys, "eval", "-m", ref, "--dataset", "Set5", "--scale", "4", "--limit", "2", "--json", "-q"
        )
        assert code in (0, None), err
        scores.append(json.loads(out)["psnr"])
    assert scores[0] == scores[1] == scores[2]  # the same weights give the same score, whatever the spelling


def test_both_hub_spellings_through_restore_and_download(hub_sr, capsys, tmp_path):
    from irtool.io.images import write_image

    src = tmp_path / "in.png"
    write_image(src, np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8))
    for i, ref in enumerate(hub_sr):
        code, _, err = cli(capsys, "restore", str(src), "-m", ref, "-o", str(tmp_path / f"out{i}.png"))
        assert code in (0, None), err
        code, out, err = cli(capsys, "models", "download", ref, "--to", str(tmp_path / f"usb{i}"), "--json")
        assert code in (0, None), err
        assert Path(json.loads(out)["path"]).read_bytes() == SHIPPED.read_bytes()
    assert (tmp_path / "out0.png").read_bytes() == (tmp_path / "out1.png").read_bytes()
