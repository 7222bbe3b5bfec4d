"""Normalisation layers shared by every transformer here: LayerNorm (with and without bias), i-LN and Affine.

All of them act on channels-last tensors `(B, ..., C)`: tokens `(B, N, C)` or maps `(B, H, W, C)`. Each returns
`(y, std)`: `std` is None for plain LayerNorm, and for i-LN the holistic std of the input, shape (B, 1, ..., 1),
which the block uses to rescale its residual branch:

    y, std = self.norm1(x)
    x = residual(x, self.attn(y), std)        # x + std * branch   (i-LN)   or   x + branch   (LN)

i-LN (Lee et al., "a revisit to layer normalization", official code 2minkyulee/i-LN): one mean and one variance per
image over all tokens and all channels, a per-channel affine (`gamma`, `beta`), and the branch output multiplied by
the input's std (the mean is not added back). Its statistics depend on the whole image, so tiled inference would
change them; `record_statistics` / `use_statistics` let the restore engine compute them once on the whole image
and hand the same numbers to every tile.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from torch import nn

NormKind = Literal["ln", "ln_nobias", "iln", "affine", "none"]


class LayerNorm(nn.Module):
    """LayerNorm over the last (channel) axis, with or without bias.

    `bias=False` is Restormer's BiasFree variant: x / sqrt(var + eps) * weight, where the variance is centred
    but x itself is not (a detail its official checkpoints depend on).
    """

    def __init__(self, dim: int, bias: bool = True, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None
        self.eps = eps

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        var = x.var(-1, keepdim=True, unbiased=False)
        if self.bias is None:
            return x / torch.sqrt(var + self.eps) * self.weight, None
        mu = x.mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + self.eps) * self.weight + self.bias, None


class ILN(nn.Module):
    """i-LN: per-image statistics over all tokens and channels, per-channel affine, returns the input's std."""

    def __init__(self, dim: int, eps: float = 1e-4, bias: bool = True):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))
        self.beta = nn.Parameter(torch.zeros(dim)) if bias else None
        self.eps = eps
        # Set only inside record_statistics / use_statistics; None in normal use. `_calls` counts this module's
        # calls since the model's forward pass began, so the n-th call of every pass replays the n-th recording.
        self._stats_log: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self._stats_mode: Literal["record", "replay"] | None = None
        self._calls = 0

    def _statistics(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._stats_mode == "replay":
            assert self._stats_log is not None
            if self._calls >= len(self._stats_log):
                raise RuntimeError("i-LN statistics ran out: replay them on the same model that recorded them")
            mu, var = self._stats_log[self._calls]
            self._calls += 1
            return mu.to(x), var.to(x)
        dims = tuple(range(1, x.ndim))
        # Statistics in fp32 even under autocast: the variance of large feature maps overflows fp16.
        xf = x.float()
        # The mean, then the mean of centred squares: 2x faster on the CPU than torch.var_mean (Welford, element by
        # element), and, unlike E[x^2] - E[x]^2 in one pass, exact where the mean dwarfs the spread.
        mu = xf.mean(dim=dims, keepdim=True)
        var = (xf - mu).square().mean(dim=dims, keepdim=True)
        if self._stats_mode == "record":
            assert self._stats_log is not None
            self._stats_log.append((mu.detach(), var.detach()))
        return mu.to(x.dtype), var.to(x.dtype)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, var = self._statistics(x)
        std = torch.sqrt(var + self.eps)
        # gamma / std is one small (B, 1, ..., C) tensor: three passes over the map instead of four. Centred first,
        # so an fp16 graph does not lose the spread to a large mean (x * scale - mu * scale would).
        y = (x - mu) * (self.gamma / std)
        return (y + self.beta if self.beta is not None else y), std


class Affine(nn.Module):
    """Per-channel scale and shift, no normalisation: i-LN's stand-in for norms with no residual around them."""

    def __init__(self, dim: int, bias: bool = True):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))
        self.beta = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        y = x * self.gamma
        return (y + self.beta if self.beta is not None else y), None


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return x, None


def make_norm(kind: NormKind, dim: int, eps: float | None = None) -> nn.Module:
    """The norm of a pre-norm residual block. `kind`: ln, ln_nobias, iln, affine, none."""
    if kind == "ln":
        return LayerNorm(dim, bias=True, eps=1e-5 if eps is None else eps)
    if kind == "ln_nobias":
        return LayerNorm(dim, bias=False, eps=1e-5 if eps is None else eps)
    if kind == "iln":
        return ILN(dim, eps=1e-4 if eps is None else eps)
    if kind == "affine":
        return Affine(dim)
    if kind == "none":
        return Identity()
    raise ValueError(f"unknown norm {kind!r}: choose ln, ln_nobias, iln, affine or none")


def make_plain_norm(kind: NormKind, dim: int, eps: float | None = None) -> nn.Module:
    """The norm of a place with no residual around it: under i-LN it becomes an Affine (as the official code does)."""
    return make_norm("affine" if kind == "iln" else kind, dim, eps)


def residual(x: torch.Tensor, branch: torch.Tensor, std: torch.Tensor | None) -> torch.Tensor:
    """x + branch, with the branch rescaled by the block input's holistic std under i-LN."""
    return x + branch if std is None else x + branch * std


def _iln_modules(model: nn.Module) -> list[ILN]:
    return [m for m in model.modules() if isinstance(m, ILN)]


def has_global_statistics(model: nn.Module) -> bool:
    """True when the model's output depends on image-wide statistics (so tiles must share them)."""
    return bool(_iln_modules(model))


class ILNStatistics:
    """The statistics of every i-LN call of one forward pass, in call order (one entry per call)."""

    def __init__(self, per_module: list[list[tuple[torch.Tensor, torch.Tensor]]]):
        self.per_module = per_module

    def __len__(self) -> int:
        return sum(len(v) for v in self.per_module)


@contextmanager
def record_statistics(model: nn.Module) -> Iterator[ILNStatistics]:
    """Run a forward pass of the whole image inside this block; the statistics it used are kept.

    with record_statistics(model) as stats:
        model(whole_image)
    with use_statistics(model, stats):
        out = [model(tile) for tile in tiles]   # each tile normalised with the whole image's numbers

    Each forward pass of `model` starts the recording afresh, so after a retried pass (NaN, out of memory) the
    statistics are those of the last one.
    """
    mods = _iln_modules(model)
    logs: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in mods]
    for m, log in zip(mods, logs, strict=True):
        m._stats_mode, m._stats_log = "record", log

    def restart(*_: object) -> None:
        for log in logs:
            log.clear()

    hook = model.register_forward_pre_hook(restart)
    try:
        yield ILNStatistics(logs)
    finally:
        hook.remove()
        _release(mods)


@contextmanager
def use_statistics(model: nn.Module, stats: ILNStatistics) -> Iterator[None]:
    """Every i-LN of `model` uses the recorded statistics instead of the current input's (batch size 1 or equal).

    Every forward pass of `model` replays them from the first call on, so a pass that was cut short (an
    out-of-memory error, retried with smaller tiles) cannot shift the statistics of the passes after it.
    """
    mods = _iln_modules(model)
    if len(mods) != len(stats.per_module):
        raise ValueError("these statistics were recorded on a different model")
    for m, log in zip(mods, stats.per_module, strict=True):
        m._stats_mode, m._stats_log, m._calls = "replay", log, 0

    def restart(*_: object) -> None:
        for m in mods:
            m._calls = 0

    hook = model.register_forward_pre_hook(restart)
    try:
        yield
    finally:
        hook.remove()
        _release(mods)


def _release(mods: list[ILN]) -> None:
    for m in mods:
        m._stats_mode, m._stats_log, m._calls = None, None, 0
