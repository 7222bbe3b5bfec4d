"""The protocol presets and the scoring rules they imply: what "PSNR on Set5" means in each family of papers.

A protocol is data (a frozen `Protocol`), so a report can spell out every convention behind its number and a test
can compare presets field by field. Scoring (`score`, `to_uint8`) lives beside the presets because each rule here
(rounding, Y conversion, grey handling) is part of a protocol's definition, not of the loop that runs a model.
This module needs NumPy only: scoring saved outputs imports no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np

from irtool.errors import UsageError

Task = Literal["sr", "denoise", "derain"]
GrayConvention = Literal["rgb", "matlab"]
Rounding = Literal["half-even", "half-away"]
Degradation = Literal["bicubic", "real"]  # how an SR protocol makes its LR input


@dataclass(frozen=True)
class Protocol:
    name: str
    task: Task
    color: Literal["y", "rgb"]  # what is scored: BT.601 studio-range luma, or the RGB channels
    y_rounded: bool = False  # Y computed from the uint8 images and rounded to uint8 (MATLAB rgb2ycbcr on uint8)
    crop_border: int | None = None  # pixels cut from each side before scoring; None = the SR scale
    round_output: bool = True  # clamp the output to [0, 1] and round to uint8 levels before scoring
    # How ties round: "half-even" is np.round, what the Python test scripts do (BasicSR tensor2img, Restormer's
    # img_as_ubyte, KAIR); "half-away" is MATLAB's uint8(). About 1 output value in 10^5 is an exact tie.
    rounding: Rounding = "half-even"
    # The model sees only the Y plane (SR): Y of the uint8 HR, rounded; LR = bicubic of that plane, not quantised.
    luma_only: bool = False
    # Grey ground truth (one channel): "rgb" = read as RGB with three equal channels, so Y is studio range
    # (modern BasicSR); "matlab" = scored on its own full-range grey level (the classic MATLAB tables).
    gray: GrayConvention = "rgb"

    def border(self, scale: int) -> int:
        return scale if self.crop_border is None else self.crop_border

    def describe(
        self, *, scale: int, sigma: float | None, degradation: Degradation = "bicubic", seed: int = 0
    ) -> dict[str, Any]:
        """The preset and every convention it implies, for reports (so a number can be reproduced)."""
        d: dict[str, Any] = asdict(self)
        d["crop_border"] = self.border(scale)
        d["scale"] = scale
        d["color"] = {"y": "BT.601 studio-range Y (MATLAB rgb2ycbcr)", "rgb": "RGB"}[self.color]
        if self.color == "y":
            d["y_precision"] = "uint8-rounded" if self.y_rounded else "float"
        d["ssim"] = "Wang v1.0: 11x11 Gaussian window sigma 1.5, K1=0.01 K2=0.03, L=255, 'valid', channel mean"
        d["psnr"] = "10*log10(255^2/MSE) in float64, per image; dataset score = mean over images"
        if self.task == "sr" and self.luma_only:
            d["lr"] = (
                f"Y plane of the uint8 HR (MATLAB rgb2ycbcr, rounded), modcrop({scale}), then MATLAB "
                f"imresize(1/{scale}, 'bicubic') in float, not quantised; the model upscales the Y plane"
            )
        elif self.task == "sr" and degradation == "real":
            d["degradation"] = "real"
            d["seed"] = seed
            d["lr"] = (
                f"modcrop({scale}), then irtool's realistic chain (irtool.ops.realistic, default ranges: Real-ESRGAN's "
                f"second-order blur / resize / noise / JPEG) down by {scale}, drawn for image i from "
                f"numpy.random.default_rng([{seed}, i]), applied on the CPU in float64, rounded to uint8; every "
                "image's parameters are in per_image[].degradation"
            )
        elif self.task == "sr":
            d["lr"] = f"modcrop({scale}) then MATLAB imresize(1/{scale}, 'bicubic') on uint8 RGB, made locally"
        if self.task == "denoise":
            d["sigma"] = sigma
            d["noise"] = (
                "numpy legacy RandomState(0) re-seeded before every image; float32 [0,1] + N(0, sigma/255); "
                "not clipped before the model"
            )
        if self.task == "derain":
            d["pairing"] = "sorted order of input and target file names (MATLAB dir())"
        return d


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("sr", "sr", color="y"),
        Protocol("sr-rgb", "sr", color="rgb"),
        Protocol("sr-luma", "sr", color="y", y_rounded=True, luma_only=True, rounding="half-away"),
        Protocol("denoise", "denoise", color="rgb", crop_border=0),
        Protocol("derain", "derain", color="y", y_rounded=True, crop_border=0),
    )
}


def get_protocol(protocol: str | Protocol, *, gray: GrayConvention | None = None) -> Protocol:
    """A preset by name (or a Protocol as is), with the grey-image convention overridden when given."""
    if isinstance(protocol, str):
        if protocol not in PROTOCOLS:
            raise UsageError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
        protocol = PROTOCOLS[protocol]
    if gray is not None:
        if gray not in ("rgb", "matlab"):
            raise UsageError(f"gray convention must be 'rgb' or 'matlab', got {gray!r}")
        protocol = replace(protocol, gray=gray)
    return protocol


# ------------------------------------------------------------------------------------------------------- scoring
def _matlab_y_uint8(rgb: np.ndarray) -> np.ndarray:
    """MATLAB `rgb2ycbcr` on a uint8 image, Y plane only: computed in double, stored as uint8 (round half away)."""
    x = rgb.astype(np.float64)
    y = 16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)[:, :, None]


def _luma_plane(img: np.ndarray, gray: GrayConvention) -> np.ndarray:
    """The uint8 Y plane the luma pipeline works on; a grey image is its own Y under the MATLAB convention."""
    if img.shape[2] == 1:
        return img if gray == "matlab" else _matlab_y_uint8(np.repeat(img, 3, axis=2))
    return _matlab_y_uint8(img)


def score(pred: np.ndarray, target: np.ndarray, protocol: Protocol, *, scale: int = 1) -> tuple[float, float]:
    """(PSNR, SSIM) of one uint8 prediction against its uint8 ground truth under `protocol`."""
    from irtool.ops.metrics import psnr, ssim

    border = protocol.border(scale)
    if protocol.luma_only:  # both are uint8 Y planes already
        args = {"crop_border": border, "y_channel": False, "gray_mode": "matlab"}
    elif protocol.color == "y" and protocol.y_rounded:
        if pred.shape[2] == 1:
            pred = np.repeat(pred, 3, axis=2)
        if target.shape[2] == 1:
            target = np.repeat(target, 3, axis=2)
        # One rounded Y plane each; "matlab" keeps the single channel as it is (no further conversion).
        args = {"crop_border": border, "y_channel": False, "gray_mode": "matlab"}
        pred, target = _matlab_y_uint8(pred), _matlab_y_uint8(target)
    else:
        args = {"crop_border": border, "y_channel": protocol.color == "y", "gray_mode": protocol.gray}
    return psnr(pred, target, **args), ssim(pred, target, **args)


def to_uint8(out: np.ndarray, proto: Protocol) -> np.ndarray:
    """A model's (C, H, W) float output as the protocol scores it: clamped, (H, W, C), rounded to uint8 levels.

    The arithmetic is BasicSR's tensor2img in float32 (clamp, x255, round), so scores match the reference scripts
    bit for bit; `proto.rounding` picks how exact ties go.
    """
    arr = np.clip(np.asarray(out, dtype=np.float32), 0, 1).transpose(1, 2, 0)
    if proto.luma_only and arr.shape[2] > 1:  # a Y plane through an RGB model comes back as three (near) equal planes
        arr = arr.mean(axis=2, keepdims=True)
    scaled = arr * np.float32(255.0)  # float32, as in BasicSR's tensor2img
    if not proto.round_output:
        return scaled  # float on the 0..255 scale: the metrics take it as it is
    if proto.rounding == "half-even":
        return np.round(scaled).astype(np.uint8)
    # Half away from zero without floor(x + 0.5), which in float32 turns 0.49999997 into 1.
    low = np.floor(scaled)
    return (low + (scaled - low >= 0.5)).astype(np.uint8)
