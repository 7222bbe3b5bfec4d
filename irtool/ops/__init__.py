"""Image operations that define benchmark protocols: MATLAB-exact bicubic resize, BasicSR-exact metrics, degradations.

Torch is imported only inside the functions that need it, so importing this package stays cheap.
"""

from irtool.ops.degrade import (
    add_gaussian_noise_torch,
    benchmark_gaussian_noise,
    bicubic_downsample_torch,
    bicubic_lr,
    jpeg_compress,
)
from irtool.ops.metrics import psnr, psnr_torch, rgb_to_y, rgb_to_y_uint8, ssim, ssim_torch
from irtool.ops.resize import imresize, imresize_uint8, modcrop

__all__ = [
    "add_gaussian_noise_torch",
    "benchmark_gaussian_noise",
    "bicubic_downsample_torch",
    "bicubic_lr",
    "imresize",
    "imresize_uint8",
    "jpeg_compress",
    "modcrop",
    "psnr",
    "psnr_torch",
    "rgb_to_y",
    "rgb_to_y_uint8",
    "ssim",
    "ssim_torch",
]
