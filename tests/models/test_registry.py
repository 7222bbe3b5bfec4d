"""The registry, weight files and `irtool models`: names, files, hub references, errors, profiling."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
import torch
from safetensors import safe_open

import irtool.models
from irtool.errors import InputError, UnavailableError
from irtool.models import registry
from irtool.models.profile import count_macs
from tests.hubserver import running_hub

TINY = {"dim": 8, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1, "heads": [1, 1, 2, 2]}


def tiny(**overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return irtool.models.create("restormer", **{**TINY, **overrides}).eval()


@pytest.fixture
def scratch_registry(monkeypatch, tmp_path):
    """Registrations and shipped weights made by a test disappear after it."""
    irtool.models.list_models()  # import the architecture modules first
    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path / "weights")
    return tmp_path


def test_every_named_model_builds_with_a_descriptor():
    names = [e.name for e in irtool.models.list_models()]
    for required in ["restormer", "restormer-derain", "restormer-denoise-gray", "restormer-defocus-dp", "bicubic"]:
        assert required in names
    for name in names:
        with torch.device("meta"):
            model = irtool.models.create(name)
        d = model.descriptor
        assert d.name == name and d.arch in registry.archs()
        assert json.loads(json.dumps(d.to_dict())) == d.to_dict()  # serialisable as is


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnavailableError, match="did you mean restormer"):
        irtool.models.create("restormr")
    with pytest.raises(UnavailableError, match="unknown model"):
        irtool.models.load("no-such-model")


def test_named_config_without_weights_is_unavailable_unless_untrained():
    with pytest.raises(UnavailableError, match="no weights") as e:
        irtool.models.load("restormer")
    assert e.value.exit_code == 3
    model = irtool.models.load("restormer-denoise-gray", pretrained=False)
    assert model.descriptor.in_channels == 1 and not model.training


def test_builtin_models_need_no_weights():
    from irtool.ops.resize import imresize

    x = torch.rand(1, 3, 7, 9)
    bicubic = irtool.models.load("bicubic")
    assert bicubic.descriptor.scale == 4 and bicubic.descriptor.task == "sr"
    assert torch.equal(bicubic(x), imresize(x, 4))
    x2 = irtool.models.create("bicubic", scale=2)
    assert x2.descriptor.scale == 2 and x2(x).shape == (1, 3, 14, 18)
    identity = irtool.models.load("identity")
    assert identity.descriptor.task == "identity" and identity(x) is x


def test_safetensors_round_trip_keeps_hparams_descriptor_and_metadata(tmp_path):
    model = tiny(norm="iln", patch_norm="dpn")
    path = tmp_path / "out" / "m.safetensors"
    irtool.models.save(model, path, metadata={"dataset": "DF2K", "iterations": 1000})
    assert [p.name for p in path.parent.iterdir()] == ["m.safetensors"]  # no temp file left
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["irtool.arch"] == "restormer" and meta["irtool.format_version"] == "1"
    assert json.loads(meta["irtool.hparams"])["norm"] == "iln"
    assert meta["dataset"] == "DF2K" and meta["iterations"] == "1000"
    loaded = irtool.models.load(path)
    assert loaded.descriptor == model.descriptor and loaded.descriptor.global_stats
    x = torch.rand(1, 3, 10, 11)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    info = irtool.models.info(path)
    assert info["metadata"] == {"dataset": "DF2K", "iterations": "1000"} and info["params"] > 0


def test_pth_wrappers_and_module_prefix(tmp_path):
    ema, plain = tiny(), tiny(bias=True)
    sd = {f"module.{k}": v for k, v in ema.state_dict().items()}
    torch.save({"params": plain.state_dict(), "params_ema": sd}, tmp_path / "net_g.pth")
    loaded = irtool.models.load(tmp_path / "net_g.pth")
    assert loaded.descriptor.hparams["bias"] is False  # the EMA weights win, and `module.` is stripped
    torch.save({"state_dict": plain.state_dict()}, tmp_path / "plain.pt")
    assert irtool.models.load(str(tmp_path / "plain.pt")).descriptor.hparams["bias"] is True


def test_unusable_files_name_the_file_and_the_reason(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pth.*cannot be read"):
        irtool.models.load(junk)
    torch.save({"params": {"conv_first.weight": torch.zeros(4, 3, 3, 3)}}, tmp_path / "other.pth")
    with pytest.raises(InputError, match="matches no known architecture"):
        irtool.models.load(tmp_path / "other.pth")
    torch.save({"params": {"a": 1}}, tmp_path / "nodict.pth")
    with pytest.raises(InputError, match="does not hold a state_dict"):
        irtool.models.load(tmp_path / "nodict.pth")
    sd = tiny().state_dict()
    sd["output.weight"] = torch.zeros(3, 16, 5, 5)
    irtool.models.save(tiny(), tmp_path / "bad.safetensors")
    from safetensors.torch import save_file

    with safe_open(str(tmp_path / "bad.safetensors"), framework="pt") as f:
        header = f.metadata()
    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / "bad.safetensors"), metadata=header)
    with pytest.raises(InputError, match="bad.safetensors: weights do not fit restormer.*size mismatch"):
        irtool.models.load(tmp_path / "bad.safetensors")
    with pytest.raises(UnavailableError, match="no such model file"):
        irtool.models.load(tmp_path / "missing.safetensors")


def test_registered_weights_shipped_local_and_verified(scratch_registry):
    model = tiny()
    irtool.models.register("tiny-shipped", arch="restormer", hparams=TINY, descriptor={"task": "denoise"})
    with pytest.raises(UnavailableError):
        irtool.models.load("tiny-shipped")
    irtool.models.save(model, registry.WEIGHTS_DIR / "tiny-shipped.safetensors")
    loaded = irtool.models.load("tiny-shipped")
    assert loaded.descriptor.name == "tiny-shipped" and loaded.descriptor.task == "denoise"
    assert torch.equal(loaded.output.weight, model.output.weight)
    assert irtool.models.info("tiny-shipped")["weights"]["shipped"] is True

    path = scratch_registry / "local.safetensors"
    irtool.models.save(model, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    irtool.models.register("tiny-local", arch="restormer", hparams=TINY, weights=str(path), sha256=digest)
    assert torch.equal(irtool.models.load("tiny-local").output.weight, model.output.weight)
    irtool.models.register("tiny-tampered", arch="restormer", hparams=TINY, weights=str(path), sha256="0" * 64)
    with pytest.raises(UnavailableError, match="sha256"):
        irtool.models.load("tiny-tampered")


def test_hub_reference(monkeypatch, tmp_path):
    model = tiny()
    irtool.models.save(model, tmp_path / "m.safetensors")
    with running_hub(monkeypatch, tmp_path / "hub") as hub:
        commit = hub.add_file("me/tiny", "weights/m.safetensors", (tmp_path / "m.safetensors").read_bytes())
        loaded = irtool.models.load(f"hf://me/tiny@{commit}/weights/m.safetensors")
    assert torch.equal(loaded.output.weight, model.output.weight)


def test_macs_reproduce_the_published_restormer_figure():
    with torch.device("meta"):
        model = irtool.models.create("restormer")
    macs = count_macs(model, 256, 256)
    assert macs["input"] == [1, 3, 256, 256]
    assert macs["macs"]["conv"] == 140_990_496_768  # "140.99 GFLOPs": convolutions only
    assert macs["macs"]["all"] == 154_882_031_616  # plus the two attention matmuls
    assert macs["macs"]["conv_linear"] == macs["macs"]["conv"]  # its projections are 1x1 convs: no nn.Linear
    assert set(macs["by_op"]) == {"convolution", "bmm"}


def test_macs_count_linear_layers_apart_from_attention():
    """Hi-IR's projections and FFNs are nn.Linear: run as mm/addmm like attention, but layers with weights."""
    from torch import nn

    hp = {"scale": 2, "dim": 12, "depths": [2], "heads": 2, "window": 4, "dispersion": 2, "upsampler_channels": 8}
    with torch.device("meta"):
        model = registry.build("hiir-sr", hp)
    macs = count_macs(model, 16, 24)["macs"]  # a multiple of window x dispersion: no padded tokens
    # every linear layer of the SR body sees each of the 16 x 24 tokens once
    linear = 16 * 24 * sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))
    assert macs["conv_linear"] == macs["conv"] + linear
    assert macs["conv_linear"] < macs["all"]  # the attention products come on top


def test_cli_list_info_convert(tmp_path, capsys):
    def _cli(*args: str) -> subprocess.CompletedProcess:
        """In-process (a subprocess per call would import torch five times), through the same exit-code handling."""
        from irtool.cli import main

        with pytest.raises(SystemExit) as e:
            main(list(args))
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, e.value.code, captured.out, captured.err)

    r = _cli("models", "list", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["restormer"]["params"] == 26_126_644 and rows["restormer"]["weights"] == "none"
    assert "non-commercial" in rows["restormer"]["license"] and rows["bicubic"]["weights"] == "not needed"

    r = _cli("models", "info", "restormer-denoise-gray", "--size", "64x48", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["params"] == 26_109_076 and info["macs"]["input"] == [1, 1, 64, 48]
    assert info["descriptor"]["hparams"]["norm"] == "ln_nobias"

    pth = tmp_path / "deraining.pth"
    torch.save({"params": tiny().state_dict()}, pth)
    r = _cli("models", "convert", str(pth), "--meta", "note=test", "--json")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "deraining.safetensors"
    assert json.loads(r.stdout)["output"] == str(out)
    with safe_open(str(out), framework="pt") as f:
        assert f.metadata()["irtool.arch"] == "restormer" and f.metadata()["note"] == "test"
    r = _cli("models", "convert", str(pth))
    assert r.returncode == 2 and "exists" in r.stderr  # never overwrites without --force

    r = _cli("models", "info", "restormr")
    assert r.returncode == 3 and "did you mean" in r.stderr and "Traceback" not in r.stderr
