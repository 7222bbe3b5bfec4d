"""LR schedule, progressive patch schedule and EMA arithmetic."""

from __future__ import annotations

import math

import pytest
import torch

from irtool.train.config import DataConfig, ProgressiveConfig, ScheduleConfig
from irtool.train.ema import EMA
from irtool.train.schedule import lr_factor, patch_and_batch


def test_warmup_then_cosine_to_min_lr():
    cfg = ScheduleConfig(steps=110, warmup_steps=10, min_lr=1e-6)
    f = [lr_factor(s, cfg, 1e-4) for s in range(110)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[10] == pytest.approx(1.0)
    assert f[60] == pytest.approx(0.01 + 0.99 * 0.5)  # half way through the cosine
    assert lr_factor(110, cfg, 1e-4) == pytest.approx(0.01)  # ends at min_lr / lr
    assert all(a >= b for a, b in zip(f[10:], f[11:], strict=False))


def test_progressive_stages_grow_patches_and_shrink_batches():
    data = DataConfig(task="denoise", roots=["x"], patch_size=64, batch_size=8, sigma=25)
    prog = ProgressiveConfig(patch_sizes=[32, 48, 64], batch_sizes=[8, 4, 2], steps=[3, 2, 1])
    got = [patch_and_batch(s, data, prog) for s in range(8)]
    assert got == [(32, 8)] * 3 + [(48, 4)] * 2 + [(64, 2)] * 3  # the last stage lasts to the end
    assert patch_and_batch(5, data, None) == (64, 8)


def test_ema_follows_the_ramped_decay():
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.99)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # first update: decay min(0.99, 1/10) = 0.1
    assert ema.model.weight[0, 0].item() == pytest.approx(0.9)
    ema.update(model)  # decay 2/11
    assert ema.model.weight[0, 0].item() == pytest.approx(1 - 0.1 * 2 / 11)
    ema.updates = 10_000
    assert ema.current_decay() == 0.99
    assert not ema.model.weight.requires_grad
    assert math.isclose(model.weight[0, 0].item(), 1.0)  # the trained model is untouched
