"""The x8 geometric self-ensemble (`--tta`): run the model on the 4 rotations x 2 mirrorings of its input, undo each
on the output, and average (Lim et al., EDSR, "+" rows; Timofte et al., "Seven ways to improve example-based SR").

A trained restoration net is not exactly equivariant to these transforms, so the eight outputs differ a little and
their mean is a slightly better estimate: 0.05-0.17 dB for the shipped SR models, 0.12 dB for the denoiser (see the
model cards), at 8x the cost. Works on NumPy arrays (the engine's tiles) and on torch tensors (`irtool eval`),
shaped (..., H, W).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def self_ensemble(forward: Callable[[T], T]) -> Callable[[T], T]:
    """`forward` wrapped: the mean of its outputs over the 8 rotations and mirror images of the input."""

    def ensembled(x: T) -> T:
        ops = _numpy_ops() if isinstance(x, np.ndarray) else _torch_ops()
        rot, flip, contiguous = ops
        total: Any = None
        for k in range(4):
            for mirrored in (False, True):
                t = rot(x, k)
                if mirrored:
                    t = flip(t)
                y = forward(contiguous(t))
                if mirrored:
                    y = flip(y)
                y = rot(y, -k)
                total = y + 0 if total is None else total + y  # `+ 0`: a copy, never a view of the output
        return total / 8

    return ensembled


def _numpy_ops() -> tuple[Callable, Callable, Callable]:
    return (
        lambda a, k: np.rot90(a, k, axes=(-2, -1)),
        lambda a: np.flip(a, -1),
        np.ascontiguousarray,
    )


def _torch_ops() -> tuple[Callable, Callable, Callable]:
    import torch

    return (
        lambda a, k: torch.rot90(a, k, dims=(-2, -1)),
        lambda a: torch.flip(a, dims=(-1,)),
        lambda a: a.contiguous(),
    )
