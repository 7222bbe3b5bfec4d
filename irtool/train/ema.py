"""Exponential moving average of the weights: the weights we ship and validate.

The decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates, so a short run's average is not
dominated by its random initialisation (with decay 0.999 and no ramp, the first thousand steps would be).
One `_foreach_lerp_` over all floating-point tensors per update: a per-tensor Python loop costs more than the
arithmetic for a compact model on a GPU.
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
        self._source: nn.Module | None = None
        self._pairs: tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]] = (
            [],
            [],
            [],
            [],
        )

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        if model is not self._source:  # state_dict tensors share storage with the model's: collect them once
            self._source, self._pairs = model, self._collect(model)
        averaged, current, counters, counter_values = self._pairs
        if averaged:
            torch._foreach_lerp_(averaged, current, 1.0 - self.current_decay())
        for target, value in zip(counters, counter_values, strict=True):  # integer buffers are copied, not averaged
            target.copy_(value)
        self.updates += 1

    def _collect(
        self, model: nn.Module
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        ema_state = self.model.state_dict()
        floats: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])
        ints: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])
        for name, value in model.state_dict().items():
            target = ema_state[name]
            group = floats if value.dtype.is_floating_point else ints
            group[0].append(target)
            group[1].append(value.detach())  # the EMA is a deep copy: same dtypes, so the pairs stay views
        return floats[0], floats[1], ints[0], ints[1]

    def state_dict(self) -> dict:
        return {"updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
