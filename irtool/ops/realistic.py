"""The `real` degradation: a second-order chain of blur, resize, noise and JPEG, as photos suffer it.

Real-ESRGAN's observation (Wang et al. 2021) is that a photo off the web went through capture, editing, compression
and resizing more than once, so one bicubic step is the wrong model of what a restorer meets. The chain here runs
its pipeline twice and then makes the final size:

    blur -> resize (up, down or keep) -> noise (Gaussian or Poisson, colour or grey) -> JPEG
    blur (sometimes) -> resize -> noise -> { resize to 1/scale + sinc, then JPEG | JPEG, then resize + sinc }

Everything random is drawn first, with NumPy, into `ChainParams` (plain numbers: kernels, noise levels, qualities,
resize factors), and only then applied with torch on the batch's device. So training draws per batch and runs on
the GPU, while an evaluation draws per image from `numpy.random.default_rng([seed, index])`, applies the chain on
the CPU in float64, and writes every image's parameters into its report. The noise itself comes from a torch
generator seeded with `ChainParams.noise_seed`. The defaults are Real-ESRGAN's x4 ranges; every range can be
changed in a training config's `data.real` section.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from irtool.errors import UsageError
from irtool.ops.kernels import KERNEL_TYPES, BlurConfig, blur, draw_kernel, draw_sinc, stack_kernels

if TYPE_CHECKING:
    import torch

RESIZE_MODES = ("area", "bilinear", "bicubic")


@dataclass
class StageConfig:
    """One order of the chain (the defaults are Real-ESRGAN's first order)."""

    blur: BlurConfig = field(default_factory=BlurConfig)
    resize_probs: list[float] = field(default_factory=lambda: [0.2, 0.7, 0.1])  # up, down, keep
    resize_range: list[float] = field(default_factory=lambda: [0.15, 1.5])
    gaussian_noise_prob: float = 0.5  # else Poisson
    noise_sigma: list[float] = field(default_factory=lambda: [1.0, 30.0])  # on 0..255
    poisson_scale: list[float] = field(default_factory=lambda: [0.05, 3.0])
    gray_noise_prob: float = 0.4  # the same noise in every channel (luma noise)
    jpeg_quality: list[int] = field(default_factory=lambda: [30, 95])


def _second_order() -> StageConfig:
    return StageConfig(
        blur=BlurConfig(prob=0.8, sigma=[0.2, 1.5]),
        resize_probs=[0.3, 0.4, 0.3],
        resize_range=[0.3, 1.2],
        noise_sigma=[1.0, 25.0],
        poisson_scale=[0.05, 2.5],
    )


@dataclass
class RealConfig:
    """The whole chain's ranges; `RealConfig()` is the benchmark's `--degradation real`."""

    first: StageConfig = field(default_factory=StageConfig)
    second: StageConfig = field(default_factory=_second_order)
    final_sinc_prob: float = 0.8
    final_sinc_sizes: list[int] = field(default_factory=lambda: [7, 21])

    def check(self) -> None:
        """Ranges that cannot work, named by their config key."""
        for name, stage in (("first", self.first), ("second", self.second)):
            pairs = {
                "resize_range": stage.resize_range,
                "noise_sigma": stage.noise_sigma,
                "poisson_scale": stage.poisson_scale,
                "jpeg_quality": stage.jpeg_quality,
                "blur.sizes": stage.blur.sizes,
                "blur.sigma": stage.blur.sigma,
                "blur.beta_generalized": stage.blur.beta_generalized,
                "blur.beta_plateau": stage.blur.beta_plateau,
            }
            for key, pair in pairs.items():
                if len(pair) != 2 or pair[0] > pair[1] or pair[0] < 0:
                    raise UsageError(f"config: data.real.{name}.{key} must be [low, high] with 0 <= low <= high")
            if stage.resize_range[0] <= 0 or stage.blur.sizes[0] < 1 or stage.blur.sigma[0] <= 0:
                raise UsageError(f"config: data.real.{name}: resize factors, kernel sizes and sigmas must be > 0")
            if not 1 <= stage.jpeg_quality[0] <= stage.jpeg_quality[1] <= 100:
                raise UsageError(f"config: data.real.{name}.jpeg_quality must lie in [1, 100]")
            if len(stage.resize_probs) != 3 or min(stage.resize_probs) < 0 or sum(stage.resize_probs) <= 0:
                raise UsageError(f"config: data.real.{name}.resize_probs must be 3 weights (up, down, keep)")
            b = stage.blur
            if len(b.types) != len(b.type_probs) or set(b.types) - set(KERNEL_TYPES) or sum(b.type_probs) <= 0:
                raise UsageError(f"config: data.real.{name}.blur: types must be among {', '.join(KERNEL_TYPES)}")


@dataclass
class ChainParams:
    """Every random choice of one chain run: per image (lists of length B) and per batch (resizes, order)."""

    blur1: list[dict | None]
    noise1: list[dict]
    jpeg1: list[int]
    blur2: list[dict | None]
    noise2: list[dict]
    jpeg2: list[int]
    final_sinc: list[dict | None]
    resize1: dict[str, Any]  # {"factor": f, "mode": m}
    resize2: dict[str, Any]
    final_mode: str
    jpeg_last: bool  # the final JPEG after the final resize (else before it)
    noise_seed: int

    def image(self, i: int) -> dict[str, Any]:
        """Image i's parameters as plain data (for a report)."""
        per_image = ("blur1", "noise1", "jpeg1", "blur2", "noise2", "jpeg2", "final_sinc")
        shared = ("resize1", "resize2", "final_mode", "jpeg_last", "noise_seed")
        d = asdict(self)
        return {**{k: d[k][i] for k in per_image}, **{k: d[k] for k in shared}}


def _draw_noise(rng: np.random.Generator, stage: StageConfig) -> dict[str, Any]:
    gray = bool(rng.uniform() < stage.gray_noise_prob)
    if rng.uniform() < stage.gaussian_noise_prob:
        return {"type": "gaussian", "sigma": float(rng.uniform(*stage.noise_sigma)), "gray": gray}
    return {"type": "poisson", "scale": float(rng.uniform(*stage.poisson_scale)), "gray": gray}


def _draw_resize(rng: np.random.Generator, stage: StageConfig) -> dict[str, Any]:
    probs = np.asarray(stage.resize_probs, dtype=np.float64)
    way = int(rng.choice(3, p=probs / probs.sum()))
    low, high = stage.resize_range
    factor = [float(rng.uniform(1.0, max(high, 1.0))), float(rng.uniform(min(low, 1.0), 1.0)), 1.0][way]
    return {"factor": factor, "mode": RESIZE_MODES[int(rng.integers(3))]}


def draw(rng: np.random.Generator, cfg: RealConfig, batch: int) -> ChainParams:
    """All random choices for a batch of `batch` images, in a fixed order (so a seed gives one chain)."""
    first, second = cfg.first, cfg.second
    resize1, resize2 = _draw_resize(rng, first), _draw_resize(rng, second)
    final_mode = RESIZE_MODES[int(rng.integers(3))]
    jpeg_last = bool(rng.uniform() < 0.5)
    images = []
    for _ in range(batch):
        final = (
            draw_sinc(rng, cfg.final_sinc_sizes, (np.pi / 3, np.pi)) if rng.uniform() < cfg.final_sinc_prob else None
        )
        images.append(
            (
                draw_kernel(rng, first.blur),
                _draw_noise(rng, first),
                int(rng.integers(first.jpeg_quality[0], first.jpeg_quality[1] + 1)),
                draw_kernel(rng, second.blur),
                _draw_noise(rng, second),
                int(rng.integers(second.jpeg_quality[0], second.jpeg_quality[1] + 1)),
                final,
            )
        )
    columns = [list(c) for c in zip(*images, strict=True)]
    return ChainParams(*columns, resize1, resize2, final_mode, jpeg_last, noise_seed=int(rng.integers(2**62)))


def _resize(batch: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    import torch.nn.functional as F

    size = (max(1, size[0]), max(1, size[1]))
    if tuple(batch.shape[-2:]) == size:
        return batch
    if mode == "area":
        return F.interpolate(batch, size=size, mode="area")
    return F.interpolate(batch, size=size, mode=mode, align_corners=False)


def _noise(batch: torch.Tensor, noise: list[dict], generator: torch.Generator) -> torch.Tensor:
    """Gaussian or Poisson noise per image, in every channel alike where `gray`; clipped to [0, 1] (a sensor's
    values do not go negative, and the JPEG that follows needs 8-bit levels)."""
    import torch

    b, c = batch.shape[:2]
    out = []
    for i, p in enumerate(noise):
        img = batch[i : i + 1]
        if p["type"] == "gaussian":
            shape = (1, 1, *img.shape[-2:]) if p["gray"] else img.shape
            n = torch.randn(shape, generator=generator, device=img.device, dtype=img.dtype) * (p["sigma"] / 255.0)
        else:
            # Photon counts on 8-bit levels: variance proportional to brightness, scaled by `scale`.
            base = img.mean(dim=1, keepdim=True) if p["gray"] and c > 1 else img
            levels = (base.clamp(0, 1) * 255.0).round()
            n = (torch.poisson(levels, generator=generator) - levels) / 255.0 * p["scale"]
        out.append(img + n)
    return torch.cat(out).clamp_(0, 1)


def _jpeg(batch: torch.Tensor, qualities: list[int]) -> torch.Tensor:
    from irtool.ops.degrade import jpeg_compress

    return jpeg_compress(batch, qualities)


def apply(batch: torch.Tensor, params: ChainParams, scale: int, generator: torch.Generator) -> torch.Tensor:
    """The chain on a (B, C, H, W) batch in [0, 1] (H, W multiples of `scale`): (B, C, H/scale, W/scale) on uint8
    levels. `generator` (on the batch's device) draws the noise; seed it with `params.noise_seed` to replay."""
    h, w = batch.shape[-2:]
    if h % scale or w % scale:
        raise UsageError(f"the real degradation needs sizes divisible by the scale {scale}, got {h}x{w}")
    final = (h // scale, w // scale)
    dtype, device = batch.dtype, batch.device
    x = batch
    kernels = stack_kernels(params.blur1, dtype, device)
    if kernels is not None:
        x = blur(x, kernels)
    f = params.resize1["factor"]
    x = _resize(x, (int(h * f), int(w * f)), params.resize1["mode"])
    x = _noise(x, params.noise1, generator)
    x = _jpeg(x, params.jpeg1)
    kernels = stack_kernels(params.blur2, dtype, device)
    if kernels is not None:
        x = blur(x, kernels)
    f = params.resize2["factor"]
    x = _resize(x, (int(h / scale * f), int(w / scale * f)), params.resize2["mode"])
    x = _noise(x, params.noise2, generator)
    sinc = stack_kernels(params.final_sinc, dtype, device)
    if not params.jpeg_last:
        x = _jpeg(x, params.jpeg2)
    x = _resize(x, final, params.final_mode)
    if sinc is not None:
        x = blur(x, sinc)
    if params.jpeg_last:
        x = _jpeg(x, params.jpeg2)
    return (x.clamp(0, 1) * 255.0).round_().div_(255.0)


def real_lr(
    hr: np.ndarray, scale: int, seed: int, index: int, cfg: RealConfig | None = None
) -> tuple[np.ndarray, dict]:
    """The benchmark input of image `index` of a set under `--degradation real --seed seed`: a uint8 (H/s, W/s, C)
    image (H, W multiples of `scale`) and the parameters used. CPU, float64, a generator per image: the same
    input whatever else is evaluated, in any order."""
    import torch

    rng = np.random.default_rng([seed, index])
    params = draw(rng, cfg or RealConfig(), 1)
    x = torch.from_numpy(hr.astype(np.float64) / 255.0).permute(2, 0, 1)[None]
    if x.shape[1] == 1:  # JPEG and grey noise work on colour; a grey image is degraded as grey RGB
        x = x.repeat(1, 3, 1, 1)
    generator = torch.Generator().manual_seed(params.noise_seed)
    lr = apply(x, params, scale, generator)[0].permute(1, 2, 0).numpy()
    lr = np.floor(lr * 255.0 + 0.5).astype(np.uint8)
    return (lr[..., :1] if hr.shape[2] == 1 else lr), params.image(0)
