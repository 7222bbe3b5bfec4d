"""Compact named configurations for shipping and laptops: `compact-sr-x2/x3/x4` and `compact-denoise` (<= 1M params).

They are trained on a 2-core CPU in an hour or two and run on laptop CPUs, so they were chosen for quality per CPU
millisecond and per training step, not for the best score at any budget. What decided it, measured on this machine:
on a CPU a transformer block's element-wise work (norms, permutes, the attention-bias gradient) costs far more than
its MACs suggest. One training step (batch 16, 48x48 LR, x4) took about 3.5x longer for a 6-block Hi-IR (0.26M params)
than for a plain 16-conv residual net (0.35M), and 4 conv blocks + one L1/L2 pair cost about 1.3x the conv net.
So the compact models spend their MACs in convolutions and keep just enough Hi-IR attention for regional context.

compact-sr-x{2,3,4}: a hybrid columnar Hi-IR (`hiir-sr`).
- 48 channels, one stage: 4 residual conv blocks (3x3-LReLU-3x3), then one L1 block (8x8 windows) and one L2 block
  (dispersion 4: pixels spread over 32x32 regions), a 3x3 stage conv and the stage residual.
- Gated depthwise-conv FFN (ratio 2) in the attention blocks: locality the unshifted windows lack.
- `pixelshuffledirect` upsampler (one conv + pixel shuffle, as SwinIR's lightweight model) and an image residual over
  the bicubic-upsampled input, with the upsampler conv zero-initialised: the untrained model outputs exactly bicubic,
  so every training step is spent on detail, and early checkpoints already beat bicubic.
- i-LN (`norm="iln"`). A 300-step pilot (x4, T91 crops 96 px, batch 8, Adam 1e-3, 1 thread; Set5 PSNR-Y, bicubic
  28.43) gave 29.60 dB with i-LN, 29.24 with LayerNorm, 29.33 with LayerNorm blocks and an Affine final norm, and
  29.50 for a plain 16-conv residual net (0.35M params), so i-LN is what makes the hybrid learn faster than a CNN
  per step. The price: image-wide statistics, so tiled inference must share them (`global_stats=True` in the
  descriptor; `norms.record_statistics`). `create("compact-sr-x4", norm="ln")` gives tile-independent models.

compact-denoise: a Hi-IR U-Net (`hiir-unet`) for blind colour Gaussian denoising: 3 levels of 24/48/96 channels,
attention only at half and quarter resolution (2 and 4 blocks; windows 8, dispersion 4, i.e. regions of 64 and 128
input pixels), no blocks at full resolution (pixel-unshuffle keeps every pixel, as FFDNet works at half resolution),
conv FFN ratio 2, i-LN, image residual. Not a small Restormer: our Restormer is registered under the Restormer
non-commercial licence, and shipped defaults must be Apache-2.0. Full-resolution blocks cost 2.5x the training time.

| name | params | GMACs @ 1x3x256x256 (conv / conv + linear / all) |
|---|---|---|
| compact-sr-x2 | 266,466 | 14.24 / 17.26 / 17.76 |
| compact-sr-x3 | 272,961 | 14.67 / 17.69 / 18.19 |
| compact-sr-x4 | 282,054 | 15.26 / 18.28 / 18.78 |
| compact-denoise | 721,992 | 2.10 / 5.12 / 5.50 |

MACs from `models.profile.count_macs` (see there for what each column counts). CPU seconds per output megapixel,
with 1 and 2 threads, are in the README's cost table (`benchmarks/models.py`, measured on an idle machine).
"""

from __future__ import annotations

from irtool.models.registry import register

_SR = {
    "dim": 48,
    "depths": [2],
    "conv_blocks": 4,
    "heads": 3,
    "window": 8,
    "dispersion": 4,
    "ffn": "conv",
    "ffn_ratio": 2.0,
    "stage_conv": "3x3",
    "upsampler": "pixelshuffledirect",
    "image_residual": "bicubic",
    "norm": "iln",
}

_DENOISE = {
    "dim": 24,
    "depths": [0, 2, 4],
    "refinement": 0,
    "heads": [1, 2, 4],
    "window": 8,
    "dispersion": 4,
    "ffn": "conv",
    "ffn_ratio": 2.0,
    "norm": "iln",
}

for _scale in (2, 3, 4):
    register(
        f"compact-sr-x{_scale}",
        arch="hiir-sr",
        hparams={**_SR, "scale": _scale},
        description=f"compact Hi-IR for x{_scale} super-resolution (~0.3M params, CPU-friendly)",
    )

register(
    "compact-denoise",
    arch="hiir-unet",
    hparams=_DENOISE,
    descriptor={"task": "denoise"},
    description="compact Hi-IR U-Net for blind colour Gaussian denoising (~0.7M params, CPU-friendly)",
)


# The shipped models: the compact configurations with weights trained by `irtool train --preset <name>`, stored in
# irtool/models/weights/<name>.safetensors with a model card <name>.md beside them.
# fp16 is safe for these weights (not for the bare architectures, whose activations depend on training): their
# largest activation on Set5 / CBSD68 is about 13, far from fp16's 65504 (i-LN statistics are taken in fp32 anyway),
# and fp16 costs at most 0.0014 dB of PSNR against fp32 where bf16 costs up to 0.038 (benchmarks/precision.py;
# tests/models/test_shipped.py pins it).
_SHIPPED = {"fp16_safe": True}
for _scale in (2, 3, 4):
    register(
        f"sr-x{_scale}",
        arch="hiir-sr",
        hparams={**_SR, "scale": _scale},
        descriptor=_SHIPPED,
        description=f"shipped x{_scale} super-resolution (compact-sr-x{_scale}, trained on T91 + BSD200)",
    )

register(
    "denoise",
    arch="hiir-unet",
    hparams=_DENOISE,
    descriptor={"task": "denoise", **_SHIPPED},
    description="shipped blind colour denoiser, sigma 0-50 (compact-denoise, trained on T91 + BSD200)",
)
