"""PSNR and SSIM exactly as BasicSR computes them (the numbers SR and denoising papers report).

- Inputs are RGB, values on the 0..255 scale (uint8, or float already rounded to uint8 levels by the caller).
- `crop_border` pixels are removed from every side first (SR papers use crop_border = scale).
- `y_channel=True` scores the BT.601 studio-range luma (MATLAB `rgb2ycbcr`), kept in float, not rounded.
- PSNR is in float64 and `inf` for identical images. SSIM is Wang's v1.0 (11x11 Gaussian window, sigma 1.5, 'valid'
  region, K = 0.01, 0.03 on L = 255), averaged over channels for RGB.

Grey images (one channel): with `gray_mode="rgb"` (default, BasicSR/RCAN convention) the grey image is treated as an
RGB image with three equal channels, so on the Y channel it is scored on 16 + 219/255 * g. With `gray_mode="matlab"`
it is scored on its own full-range grey level, as the classic MATLAB tables did for Set14's `bridge`; a 3-channel
prediction for a 1-channel ground truth is then reduced to grey with MATLAB's `rgb2gray` weights.
Grey-ness is decided by the ground truth's channel count, not by its pixels (Set14's `man` is RGB with R = G = B and
is scored as RGB in both modes, as in MATLAB).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import numpy as np

from irtool.errors import UsageError

if TYPE_CHECKING:
    import torch

GrayMode = Literal["rgb", "matlab"]

_Y_WEIGHTS = (65.481, 128.553, 24.966)  # BT.601 studio swing, for R, G, B in [0, 1]
_GRAY_WEIGHTS = (0.298936021293775, 0.587043074451121, 0.114020904255103)  # MATLAB rgb2gray
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 studio-range luma on the 0..255 scale, as float (H, W), from an RGB (H, W, 3) array in 0..255.

    Follows BasicSR's `to_y_channel` step by step so results agree to the last digit: float32 / 255, the weighted sum
    in float64 over B, G, R (its arrays are BGR), / 255 and stored as float32 (`_convert_output_type_range`), then
    * 255 in float32. Skipping that float32 store moves Y by up to ~1e-5 and PSNR in the 7th digit.
    """
    x = img.astype(np.float32) / np.float32(255.0)
    y = np.dot(x[..., ::-1], _Y_WEIGHTS[::-1]) + 16.0
    return (y / 255.0).astype(np.float32) * np.float32(255.0)


def rgb_to_y_uint8(img: np.ndarray) -> np.ndarray:
    """MATLAB `rgb2ycbcr` on a uint8 RGB image, Y plane only: the luma rounded to uint8 (H, W).

    Older MATLAB protocols score this rounded Y (SRCNN-era SR tables, Restormer deraining) instead of BasicSR's float Y.
    """
    x = img.astype(np.float64)
    y = 16.0 + (_Y_WEIGHTS[0] / 255) * x[..., 0] + (_Y_WEIGHTS[1] / 255) * x[..., 1] + (_Y_WEIGHTS[2] / 255) * x[..., 2]
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)  # MATLAB rounds half away from zero


def _as_hwc(img: np.ndarray) -> np.ndarray:
    return img[:, :, None] if img.ndim == 2 else img


def _prepare(pred: np.ndarray, gt: np.ndarray, crop_border: int, y_channel: bool, gray_mode: GrayMode):
    """Bring both images to the (H, W, C) float64 arrays that are scored."""
    pred, gt = _as_hwc(np.asarray(pred)), _as_hwc(np.asarray(gt))
    if pred.shape[:2] != gt.shape[:2]:
        raise UsageError(f"image sizes differ: prediction {pred.shape[:2]} vs ground truth {gt.shape[:2]}")
    if gray_mode not in ("rgb", "matlab"):
        raise UsageError(f"gray_mode must be 'rgb' or 'matlab', got {gray_mode!r}")
    if gt.shape[2] == 1 and gray_mode == "matlab":
        if pred.shape[2] == 3:
            pred = (pred.astype(np.float64) @ np.asarray(_GRAY_WEIGHTS))[:, :, None]
        if y_channel:  # the grey level itself is the luma; BasicSR's to_y_channel still passes it through float32 / 255
            pred, gt = (x.astype(np.float32) / np.float32(255) * np.float32(255) for x in (pred, gt))
    else:
        if gt.shape[2] == 1:
            gt = np.repeat(gt, 3, axis=2)
        if pred.shape[2] == 1:
            pred = np.repeat(pred, 3, axis=2)
        if pred.shape[2] != gt.shape[2]:
            raise UsageError(f"channel counts differ: prediction {pred.shape[2]} vs ground truth {gt.shape[2]}")
        if y_channel:
            if gt.shape[2] != 3:
                raise UsageError("y_channel needs RGB images")
            pred, gt = rgb_to_y(pred)[:, :, None], rgb_to_y(gt)[:, :, None]
    if crop_border:
        pred = pred[crop_border:-crop_border, crop_border:-crop_border]
        gt = gt[crop_border:-crop_border, crop_border:-crop_border]
    return pred.astype(np.float64), gt.astype(np.float64)


def psnr(
    pred: np.ndarray, gt: np.ndarray, *, crop_border: int = 0, y_channel: bool = False, gray_mode: GrayMode = "rgb"
) -> float:
    """PSNR in dB between two RGB (or grey) images on the 0..255 scale; `inf` when they are equal."""
    p, g = _prepare(pred, gt, crop_border, y_channel, gray_mode)
    mse = np.mean((p - g) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


@lru_cache(maxsize=1)
def _gaussian_1d() -> np.ndarray:
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))  # cv2.getGaussianKernel(11, 1.5)
    return g / g.sum()


def _gaussian_window() -> np.ndarray:
    return np.outer(_gaussian_1d(), _gaussian_1d())


def _ssim_plane(a: np.ndarray, b: np.ndarray) -> float:
    import cv2

    win = _gaussian_window()

    def blur(x: np.ndarray) -> np.ndarray:  # 'valid' filtering: border values are cut away below
        return cv2.filter2D(x, -1, win)[5:-5, 5:-5]

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + _C1) * (2 * cov + _C2)
    den = (mu_a**2 + mu_b**2 + _C1) * (var_a + var_b + _C2)
    return float(np.mean(num / den))


def ssim(
    pred: np.ndarray, gt: np.ndarray, *, crop_border: int = 0, y_channel: bool = False, gray_mode: GrayMode = "rgb"
) -> float:
    """SSIM (Wang v1.0 settings) between two RGB (or grey) images on the 0..255 scale; mean over channels."""
    p, g = _prepare(pred, gt, crop_border, y_channel, gray_mode)
    if min(p.shape[:2]) < 11:
        raise UsageError(f"SSIM needs images of at least 11x11 pixels after cropping, got {p.shape[:2]}")
    return float(np.mean([_ssim_plane(p[:, :, c], g[:, :, c]) for c in range(p.shape[2])]))


# ---- torch, batched: (B, C, H, W) in [0, 255] -> per-image float64 tensor (B,) ----


def rgb_to_y_torch(x: torch.Tensor) -> torch.Tensor:
    """Like `rgb_to_y` on (B, 3, H, W) in 0..255 -> (B, 1, H, W) float64, with the same float32 / float64 steps."""
    import torch

    x = (x.to(torch.float32) / 255.0).to(torch.float64)
    w = torch.tensor(_Y_WEIGHTS[::-1], dtype=torch.float64, device=x.device).reshape(1, 3, 1, 1)
    y = (x.flip(1) * w).sum(dim=1, keepdim=True) + 16.0  # summed B, G, R like the NumPy path
    return ((y / 255.0).to(torch.float32) * 255.0).to(torch.float64)


def _prepare_torch(pred, gt, crop_border: int, y_channel: bool, gray_mode: GrayMode):
    import torch

    if pred.ndim != 4 or gt.ndim != 4 or pred.shape[-2:] != gt.shape[-2:] or pred.shape[0] != gt.shape[0]:
        raise UsageError(f"expected matching (B, C, H, W) tensors, got {tuple(pred.shape)} and {tuple(gt.shape)}")
    if gray_mode not in ("rgb", "matlab"):
        raise UsageError(f"gray_mode must be 'rgb' or 'matlab', got {gray_mode!r}")
    if gt.shape[1] == 1 and gray_mode == "matlab":
        if pred.shape[1] == 3:
            w = torch.tensor(_GRAY_WEIGHTS, dtype=torch.float64, device=pred.device).reshape(1, 3, 1, 1)
            pred = (pred.to(torch.float64) * w).sum(dim=1, keepdim=True)
        if y_channel:
            pred = pred.to(torch.float32) / 255.0 * 255.0
            gt = gt.to(torch.float32) / 255.0 * 255.0
    else:
        if gt.shape[1] == 1:
            gt = gt.expand(-1, 3, -1, -1)
        if pred.shape[1] == 1:
            pred = pred.expand(-1, 3, -1, -1)
        if pred.shape[1] != gt.shape[1]:
            raise UsageError(f"channel counts differ: prediction {pred.shape[1]} vs ground truth {gt.shape[1]}")
        if y_channel:
            pred, gt = rgb_to_y_torch(pred), rgb_to_y_torch(gt)
    if crop_border:
        pred = pred[..., crop_border:-crop_border, crop_border:-crop_border]
        gt = gt[..., crop_border:-crop_border, crop_border:-crop_border]
    return pred.to(torch.float64), gt.to(torch.float64)


def psnr_torch(
    pred: torch.Tensor, gt: torch.Tensor, *, crop_border: int = 0, y_channel: bool = False, gray_mode: GrayMode = "rgb"
) -> torch.Tensor:
    """Per-image PSNR (B,) float64 of (B, C, H, W) tensors in 0..255, on their device; same numbers as `psnr`."""
    import torch

    p, g = _prepare_torch(pred, gt, crop_border, y_channel, gray_mode)
    mse = ((p - g) ** 2).mean(dim=(1, 2, 3))
    return torch.where(mse == 0, torch.full_like(mse, float("inf")), 10.0 * torch.log10(255.0**2 / mse))


def ssim_torch(
    pred: torch.Tensor, gt: torch.Tensor, *, crop_border: int = 0, y_channel: bool = False, gray_mode: GrayMode = "rgb"
) -> torch.Tensor:
    """Per-image SSIM (B,) float64 of (B, C, H, W) tensors in 0..255, on their device; same numbers as `ssim`."""
    import torch

    p, g = _prepare_torch(pred, gt, crop_border, y_channel, gray_mode)
    if min(p.shape[-2:]) < 11:
        raise UsageError(f"SSIM needs images of at least 11x11 pixels after cropping, got {tuple(p.shape[-2:])}")
    g1 = _gaussian_1d().tolist()
    h, w = p.shape[-2] - 10, p.shape[-1] - 10

    def blur(x: torch.Tensor) -> torch.Tensor:
        # 'valid' Gaussian filtering as two 1-D passes of shifted sums: float64 convolutions are slow on CPU.
        x = sum(g1[k] * x[..., k : k + h, :] for k in range(11))
        return sum(g1[k] * x[..., k : k + w] for k in range(11))

    mu_p, mu_g, pp, gg, pg = blur(torch.stack([p, g, p * p, g * g, p * g]))
    var_p, var_g, cov = pp - mu_p**2, gg - mu_g**2, pg - mu_p * mu_g
    ssim_map = ((2 * mu_p * mu_g + _C1) * (2 * cov + _C2)) / ((mu_p**2 + mu_g**2 + _C1) * (var_p + var_g + _C2))
    return ssim_map.mean(dim=(1, 2, 3))
