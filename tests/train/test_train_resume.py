"""Runs that survive: exact resume, checkpoints that irtool.models.load reads, best/last weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from irtool import models
from irtool.errors import InputError
from irtool.train import config
from irtool.train.loop import train


def _losses(run_dir: Path) -> dict[int, float]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return {r["step"]: r["loss"] for r in map(json.loads, lines) if "loss" in r}


def test_resume_gives_the_same_losses_as_an_uninterrupted_run(tiny_config, tmp_path):
    # Blind denoising draws noise levels and noise from generators that must be restored too; progressive stages too.
    sections = dict(
        model={"name": "tiny-test-denoise"},
        data={"task": "denoise", "scale": 1, "sigma_range": [0, 50]},
        progressive={"patch_sizes": [16, 24], "batch_sizes": [3, 2], "steps": [4, 2]},
        schedule={"steps": 8, "warmup_steps": 2},
        optim={"lr": 1e-3, "ema_decay": 0.9, "grad_clip_norm": 0.5},
    )
    full = config.from_dict(tiny_config(**sections), [f"run.out_dir={tmp_path / 'full'}"])
    train(full)
    reference = _losses(tmp_path / "full")
    assert sorted(reference) == list(range(1, 9))

    resumed = config.from_dict(tiny_config(**sections), [f"run.out_dir={tmp_path / 'resumed'}"])
    summary = train(resumed, resume=str(tmp_path / "full" / "checkpoints" / "step-0000003"))
    assert summary["resumed_from"] == 3
    again = _losses(tmp_path / "resumed")
    assert sorted(again) == [4, 5, 6, 7, 8]
    assert all(again[s] == reference[s] for s in again)  # exact, not approximately

    # The EMA weights at the end agree too.
    a = models.load(tmp_path / "full" / "last.safetensors").state_dict()
    b = models.load(tmp_path / "resumed" / "last.safetensors").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_auto_continues_the_newest_checkpoint(tiny_config, tmp_path):
    cfg = config.from_dict(tiny_config(schedule={"steps": 3}))
    train(cfg)
    longer = config.from_dict(tiny_config(schedule={"steps": 6}))
    summary = train(longer, resume="auto")
    assert summary["resumed_from"] == 3 and summary["steps"] == 6
    fresh = config.from_dict(tiny_config(), [f"run.out_dir={tmp_path / 'new'}"])
    assert train(fresh, resume="auto")["resumed_from"] is None  # nothing to resume yet: start from scratch


def test_checkpoint_round_trip_loads_with_irtool_models(tiny_config, data_root, monkeypatch):
    monkeypatch.setenv("IRTOOL_DATA_DIR", str(data_root))
    cfg = config.from_dict(tiny_config(val={"dataset": "Set5", "max_images": 1, "every": 3}))
    summary = train(cfg)
    run = Path(cfg.run.out_dir)
    vals = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "val_psnr" in r]
    assert [r["step"] for r in vals] == [3, 6]
    assert summary["best_psnr"] == max(r["val_psnr"] for r in vals) > 20  # near bicubic on Set5 x2 already
    best = json.loads(models.checkpoint.read_metadata(run / "best.safetensors")["irtool.train.val"])
    assert best["psnr"] == summary["best_psnr"]
    ckpt = Path(cfg.run.out_dir) / "checkpoints" / "step-0000006"
    raw, ema = models.load(ckpt / "model.safetensors"), models.load(ckpt / "ema.safetensors")
    assert raw.descriptor.scale == 2 and raw.descriptor.arch == "tiny-test"
    x = torch.rand(1, 3, 8, 8)
    assert raw(x).shape == (1, 3, 16, 16)
    assert not all(
        torch.equal(p, q) for p, q in zip(raw.state_dict().values(), ema.state_dict().values(), strict=True)
    )  # EMA lags behind
    meta = models.checkpoint.read_metadata(ckpt / "ema.safetensors")
    assert meta["irtool.train.step"] == "6" and meta["irtool.train.weights"] == "ema"
    assert json.loads(meta["irtool.train.config"])["model"]["name"] == "tiny-test-sr"
    assert (Path(cfg.run.out_dir) / "config.yaml").is_file()


def test_fine_tuning_starts_from_fitting_tensors(tiny_config, tmp_path):
    cfg = config.from_dict(tiny_config())
    train(cfg)
    source = models.load(Path(cfg.run.out_dir) / "last.safetensors").state_dict()
    from irtool.train.loop import build_model

    init = str(Path(cfg.run.out_dir) / "last.safetensors")
    tuned = config.from_dict(
        tiny_config(model={"init": init, "options": {"scale": 4}}, data={"scale": 4, "patch_size": 16})
    )
    model = build_model(tuned)
    own = model.state_dict()
    assert torch.equal(own["body.0.weight"], source["body.0.weight"])  # the body is shared
    assert own["body.2.weight"].shape != source["body.2.weight"].shape  # the x4 head stays fresh


def test_resuming_into_another_model_is_a_clear_error(tiny_config):
    train(config.from_dict(tiny_config(schedule={"steps": 3})))
    wider = config.from_dict(tiny_config(model={"options": {"width": 8}}))
    with pytest.raises(InputError, match="does not fit model tiny-test-sr"):
        train(wider, resume="auto")


def test_fine_tuned_weights_carry_the_lineage_of_their_starting_weights(tiny_config, tmp_path):
    from irtool.models.checkpoint import read_metadata

    first = config.from_dict(tiny_config(schedule={"steps": 3}), [f"run.out_dir={tmp_path / 'a'}"])
    train(first)
    start = tmp_path / "a" / "last.safetensors"
    assert json.loads(read_metadata(start)["irtool.train.lineage"]) == []
    second = config.from_dict(
        tiny_config(schedule={"steps": 2}, model={"init": str(start)}), [f"run.out_dir={tmp_path / 'b'}"]
    )
    train(second)
    third = config.from_dict(
        tiny_config(schedule={"steps": 1}, model={"init": str(tmp_path / "b" / "last.safetensors")}),
        [f"run.out_dir={tmp_path / 'c'}"],
    )
    train(third)
    meta = read_metadata(tmp_path / "c" / "last.safetensors")
    stages = json.loads(meta["irtool.train.lineage"])
    assert [s["steps"] for s in stages] == [3, 2] and meta["irtool.train.step"] == "1"  # oldest first, then this run
    assert stages[0]["weights"] == str(start) and stages[0]["device"] == "cpu" and stages[0]["seconds"] >= 0.0
