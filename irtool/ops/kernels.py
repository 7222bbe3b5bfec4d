"""Blur kernels of the realistic degradation (irtool.ops.realistic): Gaussian family, plateau and sinc.

The families and their parameter ranges follow Real-ESRGAN (Wang et al. 2021, section 3.1): isotropic and
anisotropic Gaussians, their generalised form exp(-q^beta / 2) with heavier or lighter tails, the plateau
1 / (1 + q^beta), and a circular low-pass (sinc) kernel that makes ringing and overshoot. A kernel is described by a
small dict of plain numbers (`draw_kernel`) so that an evaluation report can list every image's blur and anyone can
rebuild it (`make_kernel`). Built in float64 with torch, so the benchmark inputs do not depend on SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")


@dataclass
class BlurConfig:
    """One blur stage's ranges (the defaults are Real-ESRGAN's first stage)."""

    prob: float = 1.0  # chance that the stage blurs at all
    sizes: list[int] = field(default_factory=lambda: [7, 21])  # odd kernel side, drawn from [low, high]
    types: list[str] = field(default_factory=lambda: list(KERNEL_TYPES))
    type_probs: list[float] = field(default_factory=lambda: [0.45, 0.25, 0.12, 0.03, 0.12, 0.03])
    sinc_prob: float = 0.1  # a sinc kernel instead of the Gaussian family
    sigma: list[float] = field(default_factory=lambda: [0.2, 3.0])
    beta_generalized: list[float] = field(default_factory=lambda: [0.5, 4.0])
    beta_plateau: list[float] = field(default_factory=lambda: [1.0, 2.0])


def _uniform(rng: np.random.Generator, bounds: Sequence[float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _odd_size(rng: np.random.Generator, bounds: Sequence[int]) -> int:
    sizes = [s for s in range(int(bounds[0]), int(bounds[1]) + 1) if s % 2]
    return int(sizes[rng.integers(len(sizes))])


def _beta(rng: np.random.Generator, bounds: Sequence[float]) -> float:
    """Half the draws below 1 and half above (when the range spans 1), as Real-ESRGAN does: both tails equally."""
    low, high = bounds
    if low < 1 < high:
        return _uniform(rng, (low, 1.0)) if rng.uniform() < 0.5 else _uniform(rng, (1.0, high))
    return _uniform(rng, bounds)


def draw_sinc(rng: np.random.Generator, sizes: Sequence[int], omega: Sequence[float] | None = None) -> dict[str, Any]:
    """A sinc kernel's parameters; small kernels keep a higher cut-off (Real-ESRGAN), else they barely ring."""
    size = _odd_size(rng, sizes)
    if omega is None:
        omega = (math.pi / 3, math.pi) if size < 13 else (math.pi / 5, math.pi)
    return {"type": "sinc", "size": size, "omega": _uniform(rng, omega)}


def draw_kernel(rng: np.random.Generator, cfg: BlurConfig) -> dict[str, Any] | None:
    """A random kernel's parameters under `cfg`, or None when this stage does not blur."""
    if rng.uniform() >= cfg.prob:
        return None
    if rng.uniform() < cfg.sinc_prob:
        return draw_sinc(rng, cfg.sizes)
    probs = np.asarray(cfg.type_probs, dtype=np.float64)
    kind = cfg.types[int(rng.choice(len(cfg.types), p=probs / probs.sum()))]
    size = _odd_size(rng, cfg.sizes)
    if kind.endswith("aniso"):
        sigma = [_uniform(rng, cfg.sigma), _uniform(rng, cfg.sigma)]
        theta = _uniform(rng, (-math.pi, math.pi))
    else:
        sigma, theta = [_uniform(rng, cfg.sigma)] * 2, 0.0
    params: dict[str, Any] = {"type": kind, "size": size, "sigma": sigma, "theta": theta}
    if kind.startswith("generalized"):
        params["beta"] = _beta(rng, cfg.beta_generalized)
    elif kind.startswith("plateau"):
        params["beta"] = _beta(rng, cfg.beta_plateau)
    return params


def make_kernel(params: dict[str, Any]) -> torch.Tensor:
    """The (size, size) float64 kernel, summing to 1, that `params` (from `draw_kernel`) describes."""
    import torch

    size = int(params["size"])
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    if params["type"] == "sinc":
        omega = float(params["omega"])
        dist = torch.sqrt(x * x + y * y)
        safe = torch.where(dist == 0, torch.ones_like(dist), dist)
        kernel = omega * torch.special.bessel_j1(omega * safe) / (2 * math.pi * safe)
        kernel = torch.where(dist == 0, torch.full_like(dist, omega**2 / (4 * math.pi)), kernel)
        return kernel / kernel.sum()
    sx, sy = params["sigma"]
    c, s = math.cos(params["theta"]), math.sin(params["theta"])
    # The quadratic form d^T Sigma^-1 d with Sigma = R diag(sx^2, sy^2) R^T, on the rotated coordinates.
    u, v = c * x + s * y, -s * x + c * y
    q = (u / sx) ** 2 + (v / sy) ** 2
    kind = params["type"]
    if kind.startswith("generalized"):
        kernel = torch.exp(-0.5 * q ** float(params["beta"]))
    elif kind.startswith("plateau"):
        kernel = 1.0 / (q ** float(params["beta"]) + 1.0)
    else:
        kernel = torch.exp(-0.5 * q)
    return kernel / kernel.sum()


def stack_kernels(kernels: Sequence[dict[str, Any] | None], dtype: Any, device: Any) -> torch.Tensor | None:
    """(B, K, K) kernels centred and zero-padded to the largest size; None where no image of the batch blurs.

    An image that skips the stage gets the identity (a centred 1), so the batch still runs as one convolution.
    """
    import torch

    sizes = [int(k["size"]) for k in kernels if k is not None]
    if not sizes:
        return None
    side = max(sizes)
    out = torch.zeros((len(kernels), side, side), dtype=torch.float64)
    for i, params in enumerate(kernels):
        if params is None:
            out[i, side // 2, side // 2] = 1.0
            continue
        k = make_kernel(params)
        pad = (side - k.shape[0]) // 2
        out[i, pad : pad + k.shape[0], pad : pad + k.shape[1]] = k
    return out.to(device=device, dtype=dtype)


def blur(batch: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Each image of a (B, C, H, W) batch filtered with its own (K, K) kernel, edges reflected (as Real-ESRGAN)."""
    import torch.nn.functional as F

    b, c, h, w = batch.shape
    side = kernels.shape[-1]
    pad = side // 2
    mode = "reflect" if pad < min(h, w) else "replicate"  # reflection needs the image to be wider than the pad
    x = F.pad(batch.reshape(1, b * c, h, w), (pad, pad, pad, pad), mode=mode)
    weight = kernels.repeat_interleave(c, dim=0)[:, None]
    return F.conv2d(x, weight, groups=b * c).reshape(b, c, h, w)
