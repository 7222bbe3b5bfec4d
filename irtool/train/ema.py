"""Exponential moving average of the weights: the weights we ship and validate.

The decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates, so a short run's average is not
dominated by its random initialisation (with decay 0.999 and no ramp, the first thousand steps would be).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        ema_state = self.model.state_dict()
        for name, value in model.state_dict().items():
            target = ema_state[name]
            if value.dtype.is_floating_point:
                target.lerp_(value.detach().to(target.dtype), 1.0 - d)
            else:  # integer buffers (counters) are copied, not averaged
                target.copy_(value)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
