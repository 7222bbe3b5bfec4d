"""Checking an exported model against the torch model it came from, on random inputs of odd sizes.

Two sizes that are not multiples of the model's size multiple (so the in-graph padding is exercised) and two batch
sizes (so a batch axis frozen at export time is caught): a graph that baked in the trace's shapes fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from irtool.models.descriptor import ModelDescriptor

if TYPE_CHECKING:
    from torch import nn

# Largest max-abs difference (values in [0, 1]) that passes, by the precision the exported graph computes in.
TOLERANCE = {"fp32": 1e-3, "fp16": 5e-2}

Shape = tuple[int, int, int, int]


@dataclass(frozen=True)
class Check:
    shape: Shape  # the input's (B, C, H, W)
    max_abs_diff: float
    error: str | None = None  # why the exported copy gave no output of the right shape at this size


@dataclass(frozen=True)
class Verification:
    checks: tuple[Check, ...]
    tolerance: float

    @property
    def max_abs_diff(self) -> float:
        return max(c.max_abs_diff for c in self.checks)

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance  # NaN compares False, so a NaN output fails

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "tolerance": self.tolerance,
            "max_abs_diff": self.max_abs_diff,
            "checks": [
                {"shape": list(c.shape), "max_abs_diff": c.max_abs_diff, **({"error": c.error} if c.error else {})}
                for c in self.checks
            ],
        }

    def summary(self) -> str:
        sizes = ", ".join(
            f"{c.shape[0]}x{c.shape[2]}x{c.shape[3]}: {c.error or f'{c.max_abs_diff:.2e}'}" for c in self.checks
        )
        verdict = "ok" if self.ok else f"FAILED (tolerance {self.tolerance:g})"
        return f"max abs difference vs torch {sizes} -> {verdict}"


def probe_shapes(descriptor: ModelDescriptor) -> list[Shape]:
    """Two inputs whose heights and widths are odd and need padding to the size multiple.

    The first is small (one window grid after padding; reflect padding needs it larger than the pad, hence >= 16);
    the second has batch 2 and a height spanning two grids, so a window count frozen at trace time is caught.
    """
    m = max(descriptor.size_multiple, 1)
    base = max(m, 16)

    def unaligned(n: int) -> int:
        return n + 1 if m > 1 and n % m == 0 else n

    c = descriptor.in_channels
    return [(1, c, unaligned(21), unaligned(19)), (2, c, unaligned(base + 13), unaligned(base // 2 + 7))]


def random_input(shape: Shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def compare(
    model: nn.Module,
    run: Callable[[np.ndarray], np.ndarray],
    *,
    shapes: list[Shape] | None = None,
    tolerance: float = TOLERANCE["fp32"],
    seed: int = 0,
) -> Verification:
    """Run `model` (fp32 on the CPU: the reference) and `run` (the exported copy) on the same random inputs."""
    import torch

    shapes = shapes or probe_shapes(model.descriptor)
    checks = []
    for i, shape in enumerate(shapes):
        x = random_input(shape, seed + i)
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).float().numpy()
        # A size frozen into the graph shows as a wrong output shape or as the runtime refusing the input (a
        # reshape or matmul of baked-in sizes): either fails the check instead of escaping as a runtime's error.
        try:
            got = np.asarray(run(x), dtype=np.float32)
        except Exception as e:
            checks.append(Check(shape, float("inf"), f"failed ({type(e).__name__}: {_first_line(e)})"))
            continue
        if got.shape != ref.shape:
            checks.append(Check(shape, float("inf"), f"output shape {got.shape}, expected {ref.shape}"))
        else:
            checks.append(Check(shape, float(np.abs(got - ref).max())))
    return Verification(tuple(checks), tolerance)


def _first_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""
