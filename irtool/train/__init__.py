"""Training: `irtool train CONFIG.yaml` and `irtool.train.train(cfg)` for Python users.

    config.py       the YAML schema (typed dataclasses), --set overrides, shipped presets (presets/*.yaml)
    loop.py         the training loop: data -> degrade on device -> forward/backward -> AdamW -> EMA -> checkpoints
    schedule.py     warm-up + cosine learning rate; Restormer's progressive patch/batch stages
    ema.py          the moving average of the weights that is validated and shipped
    checkpoint.py   weights (safetensors) + optimiser/scheduler/RNG state, for exact resume
    distributed.py  torchrun / DistributedDataParallel (gloo on CPU, nccl on CUDA)
Training data (in-memory images, patches, degradations) lives in irtool.data.training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from irtool.train.config import TrainConfig

__all__ = ["train"]


def train(cfg: TrainConfig, *, resume: str | None = None) -> dict[str, Any]:
    """Run or continue a training run (see irtool.train.loop.train); torch is imported on call."""
    from irtool.train.loop import train as _train

    return _train(cfg, resume=resume)
