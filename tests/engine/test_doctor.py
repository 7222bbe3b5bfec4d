"""`irtool doctor` reports devices, video and ONNX support, and gives the fix for a CPU-only torch on a GPU machine."""

from __future__ import annotations

import json

import pytest

from irtool.cli import doctor_cmd, main


def test_doctor_json_has_every_section(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["doctor", "--json"])
    assert exc.value.code in (0, None)
    report = json.loads(capsys.readouterr().out)
    assert {"torch", "video", "onnx", "caches", "offline", "hints"} <= set(report)
    assert report["torch"]["installed"] and report["torch"]["version"]
    assert report["video"]["pyav"] and isinstance(report["video"]["encoders"]["libx264"], bool)
    assert report["caches"]["huggingface"]
    # What auto picks on this CPU: bf16 never where the CPU lacks it natively (torch would emulate it, 10x slower).
    assert report["torch"]["cpu_auto_precision"] in ("fp32", "bf16")
    if "bf16" not in report["torch"]["cpu_native"]:
        assert report["torch"]["cpu_auto_precision"] == "fp32"


def test_cpu_only_torch_on_an_nvidia_machine_gets_the_fix(monkeypatch):
    import torch

    monkeypatch.setattr("irtool.engine.devices.nvidia_gpu_present", lambda: True)
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    hints = doctor_cmd.collect()["hints"]
    assert any("CPU-only build" in h and "download.pytorch.org" in h for h in hints)


def test_offline_state_follows_the_environment(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert doctor_cmd.collect()["offline"]["offline"] is True
