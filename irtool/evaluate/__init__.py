"""Score a restoration model the way the papers did: protocol presets and one evaluation loop.

A protocol is data (a frozen `Protocol`): which colour space is scored, how many border pixels are cut, whether the
output is rounded to 8 bits first, and how grey images are treated. Presets:

- `sr`      BasicSR / modern papers: LR made here from the HR (modcrop, MATLAB bicubic on uint8 RGB: bit-exact with
            the benchmark LR files), output rounded to uint8, PSNR/SSIM on the float BT.601 Y channel, border = scale.
- `sr-rgb`  the same on RGB (what BasicSR's own EDSR/SwinIR training configs report; ~1-2 dB lower).
- `sr-luma` the SRCNN/VDSR-era MATLAB pipeline behind the published bicubic rows: Y = rgb2ycbcr of the uint8 HR
            (rounded), LR = bicubic of that Y plane in float (not quantised), the model upscales the Y plane,
            output rounded, scored on the uint8 Y plane, border = scale. For Y-channel models and the baseline.
- `denoise` Restormer/SwinIR/KAIR: NumPy's legacy generator seeded with 0 before every image, N(0, sigma/255) added in
            float, not clipped, output rounded to uint8, PSNR/SSIM on RGB, no border.
- `derain`  Restormer's MATLAB script: Y from the uint8 images (MATLAB rgb2ycbcr on uint8, i.e. rounded Y), no border;
            inputs and targets paired by sorted order.

`evaluate()` serves `irtool eval`, training validation and the benchmarks, on a named set, a `Dataset`, or images
already in memory; it runs the model through the engine's runner (fp32, whole image by default). `evaluate_folders()`
scores another tool's outputs against ground truth. The modules:

    protocols   the presets and the scoring rules (score, to_uint8); NumPy only
    samples     test images as the protocols take them (uint8), from a set or from memory
    loop        evaluate(): a model over a set, through the engine's runner
    folders     pair_folders(), evaluate_folders(): saved outputs, no model and no torch
    report      Report, ImageScore
    callables   a bare callable behind the runner interface
"""

from __future__ import annotations

from irtool.evaluate.folders import evaluate_folders, pair_folders
from irtool.evaluate.loop import evaluate
from irtool.evaluate.protocols import (
    PROTOCOLS,
    GrayConvention,
    Protocol,
    Rounding,
    Task,
    get_protocol,
    score,
    to_uint8,
)
from irtool.evaluate.report import ImageScore, Progress, Report
from irtool.evaluate.samples import Sample

__all__ = [
    "PROTOCOLS",
    "GrayConvention",
    "ImageScore",
    "Progress",
    "Protocol",
    "Report",
    "Rounding",
    "Sample",
    "Task",
    "evaluate",
    "evaluate_folders",
    "get_protocol",
    "pair_folders",
    "score",
    "to_uint8",
]
