"""What the ONNX and TorchScript exports share: a detached CPU copy of the model, in the precision asked for.

Both exports trace the model (run it once and record the ops). Shapes read from tensors are recorded as ops too, so
the model's own padding to its size multiple stays in the graph and any input size works; the sample input is
deliberately an odd size, so that padding code guarded by `if pad:` is on the traced path.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from torch import nn

from irtool.errors import UsageError

Precision = Literal["fp32", "fp16"]
PRECISIONS: tuple[str, ...] = ("fp32", "fp16")


class HalfCompute(nn.Module):
    """fp16 weights and activations inside, fp32 at the edges, so callers feed and receive the same arrays as fp32."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model.half()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.half()).float()


def traceable(model: nn.Module, precision: str) -> nn.Module:
    """A copy to trace (the caller's model is left as it was: `.half()` would change it in place)."""
    if precision not in PRECISIONS:
        raise UsageError(f"precision {precision!r}: choose {' or '.join(PRECISIONS)}")
    copied = copy.deepcopy(model).cpu().float().eval().requires_grad_(False)
    return HalfCompute(copied).eval() if precision == "fp16" else copied


def sample_input(shape: tuple[int, int, int, int]) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(0))


@contextmanager
def quiet_tracing() -> Iterator[None]:
    """Silence the tracers' warnings: they flag Python-side shape logic, and verification checks its effect anyway."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        yield
