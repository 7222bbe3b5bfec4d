"""Every named model in one table (timm's manner): architecture, hyper-parameters, descriptor fields, weights.

The registry adds them in the order written here, which is the order `irtool models list` shows. An entry names an
architecture of `irtool.models.archs`; `hparams` are the constructor arguments that differ from its defaults;
`descriptor` holds what the hyper-parameters cannot tell (the task of a configuration trained for one, fp16 safety of
trained weights). `weights=None` means "shipped in irtool/models/weights/<name>.safetensors if that file exists";
otherwise a local path or an `hf://owner/repo[@rev]/file.safetensors` reference (with `sha256` to verify it).

This module is data only (no torch), like the architecture table.
"""

from __future__ import annotations

from typing import Any

from irtool.models.registry import ModelEntry

_BIAS_FREE = {"norm": "ln_nobias"}

# ---- compact configurations -------------------------------------------------------------------------------------
# For shipping and laptops (<= 1M params). They are trained on a 2-core CPU in an hour or two and run on laptop
# CPUs, so they were chosen for quality per CPU millisecond and per training step, not for the best score at any
# budget. What decided it, measured on this machine: on a CPU a transformer block's element-wise work (norms,
# permutes, the attention-bias gradient) costs far more than its MACs suggest. One training step (batch 16, 48x48 LR,
# x4) took about 3.5x longer for a 6-block Hi-IR (0.26M params) than for a plain 16-conv residual net (0.35M), and 4
# conv blocks + one L1/L2 pair cost about 1.3x the conv net. So the compact models spend their MACs in convolutions
# and keep just enough Hi-IR attention for regional context.
#
# compact-sr-x{2,3,4}: a hybrid columnar Hi-IR (`hiir-sr`).
# - 48 channels, one stage: 4 residual conv blocks (3x3-LReLU-3x3), then one L1 block (8x8 windows) and one L2 block
#   (dispersion 4: pixels spread over 32x32 regions), a 3x3 stage conv and the stage residual.
# - Gated depthwise-conv FFN (ratio 2) in the attention blocks: locality the unshifted windows lack.
# - `pixelshuffledirect` upsampler (one conv + pixel shuffle, as SwinIR's lightweight model) and an image residual
#   over the bicubic-upsampled input, with the upsampler conv zero-initialised: the untrained model outputs exactly
#   bicubic, so every training step is spent on detail, and early checkpoints already beat bicubic.
# - i-LN (`norm="iln"`). A 300-step pilot (x4, T91 crops 96 px, batch 8, Adam 1e-3, 1 thread; Set5 PSNR-Y, bicubic
#   28.43) gave 29.60 dB with i-LN, 29.24 with LayerNorm, 29.33 with LayerNorm blocks and an Affine final norm, and
#   29.50 for a plain 16-conv residual net (0.35M params), so i-LN is what makes the hybrid learn faster than a CNN
#   per step. The price: image-wide statistics, so tiled inference must share them (`global_stats=True` in the
#   descriptor; `norms.record_statistics`). `create("compact-sr-x4", norm="ln")` gives tile-independent models.
#
# compact-denoise: a Hi-IR U-Net (`hiir-unet`) for blind colour Gaussian denoising: 3 levels of 24/48/96 channels,
# attention only at half and quarter resolution (2 and 4 blocks; windows 8, dispersion 4, i.e. regions of 64 and 128
# input pixels), no blocks at full resolution (pixel-unshuffle keeps every pixel, as FFDNet works at half
# resolution), conv FFN ratio 2, i-LN, image residual. Not a small Restormer: our Restormer is registered under the
# Restormer non-commercial licence, and shipped defaults must be Apache-2.0. Full-resolution blocks cost 2.5x the
# training time.
#
# | name            | params  | GMACs @ 1x3x256x256 (conv / conv + linear / all) |
# |-----------------|---------|--------------------------------------------------|
# | compact-sr-x2   | 266,466 | 14.24 / 17.26 / 17.76                            |
# | compact-sr-x3   | 272,961 | 14.67 / 17.69 / 18.19                            |
# | compact-sr-x4   | 282,054 | 15.26 / 18.28 / 18.78                            |
# | compact-denoise | 721,992 | 2.10 / 5.12 / 5.50                               |
#
# MACs from `models.profile.count_macs` (see there for what each column counts). CPU seconds per output megapixel,
# with 1 and 2 threads, are in the README's cost table (`benchmarks/models.py`, measured on an idle machine).
_COMPACT_SR: dict[str, Any] = {
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
_COMPACT_DENOISE: dict[str, Any] = {
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

# The shipped models are the compact configurations with weights trained by `irtool train --preset <name>`, stored in
# irtool/models/weights/<name>.safetensors with a model card <name>.md beside them.
# fp16 is safe for these weights (not for the bare architectures, whose activations depend on training): their
# largest activation on Set5 / CBSD68 is about 13, far from fp16's 65504 (i-LN statistics are taken in fp32 anyway),
# and fp16 costs at most 0.0014 dB of PSNR against fp32 where bf16 costs up to 0.038 (benchmarks/precision.py;
# tests/models/test_shipped.py pins it).
_SHIPPED = {"fp16_safe": True}

CONFIGS: tuple[ModelEntry, ...] = (
    # ---- without weights: the baselines ----
    ModelEntry("bicubic", "bicubic", description="MATLAB bicubic upscaling by `scale` (default 4); no weights"),
    ModelEntry("identity", "identity", description="returns the input unchanged; no weights"),
    # ---- Restormer: the released configurations (weights: the official .pth files, not shipped) ----
    ModelEntry(
        "restormer",
        "restormer",
        descriptor={"task": "derain"},
        description="Restormer default configuration (26.1M params, WithBias LayerNorm)",
    ),
    ModelEntry(
        "restormer-derain",
        "restormer",
        descriptor={"task": "derain"},
        description="the released deraining configuration (deraining.pth)",
    ),
    ModelEntry(
        "restormer-deblur-motion",
        "restormer",
        descriptor={"task": "deblur"},
        description="the released motion deblurring configuration (motion_deblurring.pth)",
    ),
    ModelEntry(
        "restormer-defocus",
        "restormer",
        descriptor={"task": "defocus"},
        description="single-image defocus deblurring (single_image_defocus_deblurring.pth)",
    ),
    ModelEntry(
        "restormer-defocus-dp",
        "restormer",
        hparams={"in_channels": 6, "dual_pixel": True},
        descriptor={"task": "defocus"},
        description="dual-pixel defocus deblurring, input = left and right views stacked "
        "(dual_pixel_defocus_deblurring.pth)",
    ),
    ModelEntry(
        "restormer-denoise-color",
        "restormer",
        hparams=_BIAS_FREE,
        descriptor={"task": "denoise"},
        description="Gaussian colour denoising (gaussian_color_denoising_*.pth)",
    ),
    ModelEntry(
        "restormer-denoise-gray",
        "restormer",
        hparams={**_BIAS_FREE, "in_channels": 1, "out_channels": 1},
        descriptor={"task": "denoise"},
        description="Gaussian grayscale denoising (gaussian_gray_denoising_*.pth)",
    ),
    ModelEntry(
        "restormer-denoise-real",
        "restormer",
        hparams=_BIAS_FREE,
        descriptor={"task": "denoise"},
        description="real-noise denoising, SIDD (real_denoising.pth)",
    ),
    # ---- Hi-IR base sizes (architecture only) ----
    # The paper's exact Hi-IR-B numbers are not public in code; these follow SwinIR-M's budget (180 channels, 6 stages
    # of 6 blocks, ~12M parameters) and Restormer's U-Net (~25M), which the paper compares with.
    *(
        ModelEntry(
            f"hiir-sr-x{s}",
            "hiir-sr",
            hparams={"scale": s},
            description=f"Hi-IR base, super-resolution x{s} (architecture only; SwinIR-M-sized)",
        )
        for s in (2, 3, 4)
    ),
    ModelEntry(
        "hiir-unet",
        "hiir-unet",
        descriptor={"task": "denoise"},
        description="Hi-IR base U-Net for denoising / deraining / deblurring (architecture only; Restormer-sized)",
    ),
    # ---- compact configurations (see the notes above) ----
    *(
        ModelEntry(
            f"compact-sr-x{s}",
            "hiir-sr",
            hparams={**_COMPACT_SR, "scale": s},
            description=f"compact Hi-IR for x{s} super-resolution (~0.3M params, CPU-friendly)",
        )
        for s in (2, 3, 4)
    ),
    ModelEntry(
        "compact-denoise",
        "hiir-unet",
        hparams=_COMPACT_DENOISE,
        descriptor={"task": "denoise"},
        description="compact Hi-IR U-Net for blind colour Gaussian denoising (~0.7M params, CPU-friendly)",
    ),
    # ---- shipped: compact configurations with trained weights in irtool/models/weights ----
    *(
        ModelEntry(
            f"sr-x{s}",
            "hiir-sr",
            hparams={**_COMPACT_SR, "scale": s},
            descriptor=_SHIPPED,
            description=f"shipped x{s} super-resolution (compact-sr-x{s}, trained on T91 + BSD200)",
        )
        for s in (2, 3, 4)
    ),
    ModelEntry(
        "denoise",
        "hiir-unet",
        hparams=_COMPACT_DENOISE,
        descriptor={"task": "denoise", **_SHIPPED},
        description="shipped blind colour denoiser, sigma 0-50 (compact-denoise, trained on T91 + BSD200)",
    ),
    # ---- shipped photo models: the same networks fine-tuned on the realistic chain (irtool.ops.realistic) ----
    *(
        ModelEntry(
            f"photo-x{s}",
            "hiir-sr",
            hparams={**_COMPACT_SR, "scale": s},
            descriptor=_SHIPPED,
            description=f"shipped x{s} super-resolution for real photos: noise, blur and JPEG (compact-sr-x{s})",
        )
        for s in (2, 4)
    ),
    ModelEntry(
        "photo",
        "hiir-unet",
        hparams=_COMPACT_DENOISE,
        descriptor={"task": "photo", **_SHIPPED},
        description="shipped photo clean-up at the same size: noise, blur and JPEG (compact-denoise)",
    ),
)
