"""Learning-rate and patch-size schedules, as pure functions of the step (nothing to save, nothing to drift)."""

from __future__ import annotations

import math

from irtool.train.config import DataConfig, ProgressiveConfig, ScheduleConfig


def lr_factor(step: int, cfg: ScheduleConfig, base_lr: float) -> float:
    """Multiplier of the base learning rate at `step` (0-based): linear warm-up, then cosine down to `min_lr`."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = min(1.0, cfg.min_lr / base_lr) if base_lr > 0 else 0.0
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def patch_and_batch(step: int, data: DataConfig, progressive: ProgressiveConfig | None) -> tuple[int, int]:
    """(patch size, batch size) at `step`: fixed, or Restormer's progressive stages (the last one never ends)."""
    if progressive is None:
        return data.patch_size, data.batch_size
    end = 0
    for patch, batch, steps in zip(progressive.patch_sizes, progressive.batch_sizes, progressive.steps, strict=True):
        end += steps
        if step < end:
            return patch, batch
    return progressive.patch_sizes[-1], progressive.batch_sizes[-1]
