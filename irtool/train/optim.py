"""The loss and the optimiser of a training run.

`adamw` is fused where the device has it (CUDA, CPU, MPS), and `step_unless` skips a step with non-finite
gradients without asking the host, so the training loop reads nothing back from the device between log steps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from irtool.train.config import TrainConfig


def make_loss(cfg: TrainConfig) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """l1 and charbonnier give sharper outputs; l2 optimises PSNR itself, which pays where the input is too degraded
    for one answer (a median-like L1 estimate loses PSNR to the mean that L2 learns)."""
    if cfg.optim.loss == "l1":
        return nn.functional.l1_loss
    if cfg.optim.loss == "l2":
        return nn.functional.mse_loss
    eps2 = cfg.optim.charbonnier_eps**2
    return lambda pred, target: torch.sqrt((pred - target).pow(2) + eps2).mean()


def adamw(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """Fused AdamW where the device has it (CUDA, CPU, MPS): one kernel for all parameters, 4-6x less optimiser
    time on this CPU, and it can skip a step on the device (`step_unless`)."""
    options = {"lr": cfg.optim.lr, "betas": tuple(cfg.optim.betas), "weight_decay": cfg.optim.weight_decay}
    try:
        return torch.optim.AdamW(model.parameters(), fused=True, **options)
    except (RuntimeError, ValueError):
        return torch.optim.AdamW(model.parameters(), **options)


def step_unless(optimizer: torch.optim.Optimizer, bad: torch.Tensor) -> None:
    """The optimiser step, skipped where `bad` (non-finite gradients) is 1: on the device for a fused optimiser
    (it reads `found_inf` as GradScaler sets it), with a host check otherwise."""
    if optimizer.defaults.get("fused"):
        optimizer.found_inf = bad
        optimizer.step()
    elif not float(bad):
        optimizer.step()
