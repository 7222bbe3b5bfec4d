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
already in memory. `evaluate_folders()` scores another tool's outputs against ground truth.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from irtool.errors import InputError, UsageError

if TYPE_CHECKING:
    import torch

    from irtool.data.benchmarks import Dataset

Task = Literal["sr", "denoise", "derain"]
GrayConvention = Literal["rgb", "matlab"]
Rounding = Literal["half-even", "half-away"]


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

    def describe(self, *, scale: int, sigma: float | None) -> dict[str, Any]:
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


# ------------------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class ImageScore:
    name: str
    psnr: float
    ssim: float


@dataclass
class Report:
    psnr: float  # mean over images
    ssim: float
    per_image: list[ImageScore]
    protocol: dict[str, Any]
    dataset: dict[str, Any]
    model: dict[str, Any] | None
    seconds: float
    # Where the numbers were made (device, irtool and torch versions): a GPU may differ from the CPU in the last digits.
    run: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "psnr": self.psnr,
            "ssim": self.ssim,
            "per_image": [asdict(s) for s in self.per_image],
            "protocol": self.protocol,
            "dataset": self.dataset,
            "model": self.model,
            "seconds": round(self.seconds, 3),
            "run": self.run,
        }


def _run_info(device: torch.device | None) -> dict[str, Any]:
    import sys

    from irtool import __version__

    torch = sys.modules.get("torch")  # scoring saved files needs no torch: do not import it just to name it
    return {
        "device": str(device) if device is not None else None,
        "irtool": __version__,
        "torch": getattr(torch, "__version__", None),
    }


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else math.nan


# --------------------------------------------------------------------------------------------------- the samples
@dataclass(frozen=True)
class Sample:
    """One test image: the ground truth (uint8, H x W x C) and, for paired tasks, the degraded input."""

    name: str
    target: np.ndarray
    input: np.ndarray | None = None


Progress = Callable[[int, int, ImageScore], None]  # (images done, total, score of the last one)
Runner = Callable[[Any, "torch.Tensor"], "torch.Tensor"]  # (model, (1, C, H, W) float) -> (1, C', H', W')


def _as_uint8_image(pixels: np.ndarray, what: str) -> np.ndarray:
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.dtype != np.uint8:
        raise InputError(f"{what}: benchmark protocols score 8-bit images, got {pixels.dtype}")
    if pixels.shape[2] == 4:
        pixels = pixels[:, :, :3]  # alpha is not part of any benchmark
    return pixels


def _read(path: Path) -> np.ndarray:
    from irtool.io.images import read_image

    return _as_uint8_image(read_image(path).pixels, str(path))


def _dataset_samples(ds: Dataset) -> Iterator[Sample]:
    inputs = ds.inputs if ds.inputs is not None else [None] * ds.count
    for target, inp in zip(ds.targets, inputs, strict=True):
        yield Sample(target.stem, _read(target), _read(inp) if inp is not None else None)


def _memory_samples(items: Sequence[Any]) -> list[Sample]:
    samples = []
    for i, item in enumerate(items):
        if isinstance(item, Sample):
            samples.append(item)
        elif isinstance(item, tuple) and len(item) == 2:  # (input, target), e.g. a deraining validation pair
            inp, tgt = item
            samples.append(Sample(f"{i:04d}", _as_uint8_image(tgt, f"image {i}"), _as_uint8_image(inp, f"input {i}")))
        else:
            samples.append(Sample(f"{i:04d}", _as_uint8_image(np.asarray(item), f"image {i}")))
    return samples


def _memory_info(samples: Sequence[Sample]) -> dict[str, Any]:
    h = hashlib.sha256()
    for s in samples:
        h.update(s.name.encode())
        for arr in (s.target, s.input):
            if arr is not None:
                h.update(str(arr.shape).encode() + np.ascontiguousarray(arr).tobytes())
    return {"name": "in-memory", "count": len(samples), "checksum": h.hexdigest()}


# ------------------------------------------------------------------------------------------------------- scoring
def _matlab_y_uint8(rgb: np.ndarray) -> np.ndarray:
    """MATLAB `rgb2ycbcr` on a uint8 image, Y plane only: computed in double, stored as uint8 (round half away)."""
    x = rgb.astype(np.float64)
    y = 16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)[:, :, None]


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


def _plain_forward(model: Any, x: torch.Tensor) -> torch.Tensor:
    import torch

    with torch.inference_mode():
        return model(x)


def _to_tensor(pixels: np.ndarray, device: torch.device) -> torch.Tensor:
    import torch

    t = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).permute(2, 0, 1)
    return t.unsqueeze(0).to(device)


def _to_uint8(out: torch.Tensor, proto: Protocol) -> np.ndarray:
    arr = out[0].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    if proto.luma_only and arr.shape[2] > 1:  # a Y plane through an RGB model comes back as three (near) equal planes
        arr = arr.mean(axis=2, keepdims=True)
    scaled = arr * 255.0  # float32, as in BasicSR's tensor2img
    if not proto.round_output:
        return scaled  # float on the 0..255 scale: the metrics take it as it is
    if proto.rounding == "half-even":
        return np.round(scaled).astype(np.uint8)
    # Half away from zero without floor(x + 0.5), which in float32 turns 0.49999997 into 1.
    low = np.floor(scaled)
    return (low + (scaled - low >= 0.5)).astype(np.uint8)


def _channels_for(img: np.ndarray, in_channels: int) -> np.ndarray:
    """The image as the model takes it: grey replicated to RGB for 3-channel models (BasicSR reads grey as RGB)."""
    c = img.shape[2]
    if c == in_channels:
        return img
    if c == 1 and in_channels == 3:
        return np.repeat(img, 3, axis=2)
    raise UsageError(f"the model takes {in_channels}-channel images, this one has {c} channels")


def _resolve_device(device: str | torch.device | None) -> torch.device:
    import torch

    from irtool.engine.devices import resolve_device

    return device if isinstance(device, torch.device) else resolve_device(str(device or "auto"))


def _describe_model(model: Any) -> dict[str, Any]:
    descriptor = getattr(model, "descriptor", None)
    if descriptor is not None:
        return descriptor.to_dict()
    return {"name": getattr(model, "__name__", type(model).__name__)}


# -------------------------------------------------------------------------------------------------- the main loop
def evaluate(
    model: Any,
    data: str | Dataset | Iterable[Any],
    protocol: str | Protocol = "sr",
    *,
    scale: int | None = None,
    sigma: float | None = None,
    gray: GrayConvention | None = None,
    device: str | torch.device | None = "cpu",
    runner: Runner | None = None,
    progress: Progress | None = None,
    self_ensemble: bool = False,
) -> Report:
    """Run `model` on every image of `data` and score it under `protocol`.

    `model`: an irtool model (its `.descriptor` gives the scale and channels) or any callable taking a
    (1, C, H, W) float tensor in [0, 1]. `data`: a benchmark name, a `Dataset`, or images in memory: uint8 arrays
    (H, W, C) of ground truth, `(input, target)` pairs for deraining, or `Sample`s. For SR the LR input is always
    made here from the ground truth; for denoising the noise is always added here. The model runs in fp32 on
    `device` through `runner` (default: one plain forward under inference_mode; the tiling engine fits here).
    `self_ensemble`: average the x8 rotations and mirror images of every input (the papers' "+" rows); recorded in
    the report's `run` block.
    """
    import torch

    from irtool.data import benchmarks

    proto = get_protocol(protocol, gray=gray)
    descriptor = getattr(model, "descriptor", None)
    scale = _check_scale(proto, descriptor, scale)
    if proto.task == "denoise" and sigma is None:
        raise UsageError("the denoise protocol needs a noise level: pass sigma (e.g. 15, 25 or 50)")
    if proto.task != "denoise" and sigma is not None:
        raise UsageError(f"sigma applies to the denoise protocol only, not {proto.name!r}")
    if sigma is not None and not (math.isfinite(sigma) and sigma >= 0):
        raise UsageError(f"sigma must be a noise level of 0 or more (on 0..255), got {sigma:g}")

    if isinstance(data, str):
        data = benchmarks.load(data)
    if isinstance(data, benchmarks.Dataset):
        if (data.inputs is not None) != (proto.task == "derain"):
            raise UsageError(f"{data.name} is a {data.task} set; it cannot be scored with the {proto.name} protocol")
        total, samples, info = data.count, _dataset_samples(data), data.info()
    else:
        listed = _memory_samples(list(data))
        total, samples, info = len(listed), iter(listed), _memory_info(listed)

    dev = _resolve_device(device)
    # Training validation hands in a model in train mode: evaluate in eval mode, then give it back as it was.
    was_training = isinstance(model, torch.nn.Module) and model.training
    if isinstance(model, torch.nn.Module):
        model = model.to(dev).float().eval()
    run = runner or _plain_forward
    if self_ensemble:
        from irtool.engine.ensemble import self_ensemble as ensembled

        single = run

        def run(model: Any, x: torch.Tensor) -> torch.Tensor:
            return ensembled(lambda t: single(model, t))(x)

    in_channels = descriptor.in_channels if descriptor is not None else 3

    scores: list[ImageScore] = []
    start = time.perf_counter()
    try:
        for sample in samples:
            pred, target = _restore(
                model, run, sample, proto, scale=scale, sigma=sigma, in_channels=in_channels, dev=dev
            )
            p, s = score(pred, target, proto, scale=scale)
            scores.append(ImageScore(sample.name, p, s))
            if progress is not None:
                progress(len(scores), total, scores[-1])
    finally:
        if was_training:
            model.train()
    if not scores:
        raise InputError(f"no images to evaluate in {info.get('name')}")
    return Report(
        psnr=_mean([s.psnr for s in scores]),
        ssim=_mean([s.ssim for s in scores]),
        per_image=scores,
        protocol=proto.describe(scale=scale, sigma=sigma),
        dataset=info,
        model=_describe_model(model),
        seconds=time.perf_counter() - start,
        run={**_run_info(dev), "self_ensemble": self_ensemble},
    )


def _check_scale(proto: Protocol, descriptor: Any, scale: int | None) -> int:
    if scale is not None and scale < 1:  # first: "the model upscales x4, but scale 0 was asked for" misleads
        raise UsageError(f"scale must be a positive integer, got {scale}")
    model_scale = descriptor.scale if descriptor is not None else None
    if proto.task != "sr":
        if (scale or 1) != 1 or (model_scale or 1) != 1:
            raise UsageError(f"the {proto.name} protocol compares same-size images; the scale must be 1")
        return 1
    if scale is None:
        if model_scale is None:
            raise UsageError("the SR protocols need the scale (the model does not say it)")
        return model_scale
    if model_scale is not None and model_scale != scale:
        raise UsageError(f"the model upscales x{model_scale}, but scale {scale} was asked for")
    return scale


def _restore(
    model: Any,
    run: Runner,
    sample: Sample,
    proto: Protocol,
    *,
    scale: int,
    sigma: float | None,
    in_channels: int,
    dev: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, ground truth) for one sample, both uint8 (H, W, C) and the same size."""
    import torch

    from irtool.io.images import to_float32
    from irtool.ops.degrade import benchmark_gaussian_noise, bicubic_lr
    from irtool.ops.resize import imresize, modcrop

    target = sample.target
    if proto.task == "sr" and proto.luma_only:
        target = modcrop(_luma_plane(target, proto.gray), scale)
        lr = imresize(torch.from_numpy(target[:, :, 0].astype(np.float64) / 255.0), 1.0 / scale).numpy()
        x = _channels_for(lr[:, :, None].astype(np.float32), in_channels)
    elif proto.task == "sr":
        target = modcrop(target, scale)  # the GT is cropped to LR size x scale
        x = to_float32(_channels_for(bicubic_lr(target, scale), in_channels))
    elif proto.task == "denoise":
        # The reference scripts add noise to the image as the network sees it (grey as RGB for colour models).
        target = _channels_for(target, in_channels)
        x = benchmark_gaussian_noise(to_float32(target), float(sigma))
    else:
        if sample.input is None:
            raise UsageError(f"{sample.name}: the {proto.name} protocol needs an input image paired with the target")
        if sample.input.shape != target.shape:
            raise InputError(f"{sample.name}: input {sample.input.shape} and target {target.shape} differ in size")
        x = to_float32(_channels_for(sample.input, in_channels))

    out = run(model, _to_tensor(x, dev))
    expected = (target.shape[0], target.shape[1])
    if tuple(out.shape[-2:]) != expected:
        raise UsageError(f"{sample.name}: the model returned {tuple(out.shape[-2:])} pixels, expected {expected}")
    return _to_uint8(out, proto), target


def _luma_plane(img: np.ndarray, gray: GrayConvention) -> np.ndarray:
    """The uint8 Y plane the luma pipeline works on; a grey image is its own Y under the MATLAB convention."""
    if img.shape[2] == 1:
        return img if gray == "matlab" else _matlab_y_uint8(np.repeat(img, 3, axis=2))
    return _matlab_y_uint8(img)


# ------------------------------------------------------------------------------------------ scoring saved outputs
def pair_folders(pred_dir: Path, gt_dir: Path) -> tuple[list[tuple[Path, Path]], str]:
    """Match predictions to ground truth: by file stem (a prediction may add `_suffix`), else by sorted order.

    Returns the (prediction, ground truth) pairs and how they were matched ("name" or "sorted order").
    """
    from irtool.io.images import is_image_path

    def images(d: Path) -> list[Path]:
        if not d.is_dir():
            raise InputError(f"{d}: not a folder")
        return sorted(p for p in d.iterdir() if p.is_file() and is_image_path(p) and not p.name.startswith("."))

    preds, gts = images(pred_dir), images(gt_dir)
    if not gts:
        raise InputError(f"{gt_dir}: no images")
    pairs: list[tuple[Path, Path]] = []
    by_name = True
    for gt in gts:
        found = [p for p in preds if p.stem == gt.stem] or [p for p in preds if p.stem.startswith(gt.stem + "_")]
        if len(found) != 1:
            by_name = False
            break
        pairs.append((found[0], gt))
    if by_name and len({p for p, _ in pairs}) == len(pairs):
        return pairs, "name"
    if len(preds) != len(gts):
        raise InputError(
            f"cannot pair {len(preds)} predictions in {pred_dir} with {len(gts)} ground-truth images in {gt_dir} "
            "by name, and the counts differ"
        )
    return list(zip(preds, gts, strict=True)), "sorted order"


def evaluate_folders(
    pred_dir: str | Path,
    gt_dir: str | Path,
    protocol: str | Protocol = "sr",
    *,
    scale: int | None = None,
    gray: GrayConvention | None = None,
    progress: Progress | None = None,
) -> Report:
    """Score saved outputs (any tool's) against ground-truth images under `protocol`.

    For SR the ground truth is cropped to the prediction's size (a prediction is HR modcropped to the scale), as
    BasicSR crops the GT to LR size x scale.
    """
    proto = get_protocol(protocol, gray=gray)
    if proto.task == "sr" and scale is None:
        raise UsageError("scoring SR outputs needs --scale (the border cut from each side)")
    if proto.task == "sr" and scale < 1:
        raise UsageError(f"scale must be a positive integer, got {scale}")
    scale = scale if proto.task == "sr" else 1
    pairs, how = pair_folders(Path(pred_dir), Path(gt_dir))
    scores: list[ImageScore] = []
    start = time.perf_counter()
    for pred_path, gt_path in pairs:
        pred, gt = _read(pred_path), _read(gt_path)
        if proto.task == "sr" and pred.shape[:2] != gt.shape[:2]:
            h, w = pred.shape[:2]
            if not (0 <= gt.shape[0] - h < scale and 0 <= gt.shape[1] - w < scale):
                raise InputError(
                    f"{pred_path.name}: {w}x{h} does not match the ground truth {gt.shape[1]}x{gt.shape[0]} "
                    f"cropped to a multiple of {scale}"
                )
            gt = gt[:h, :w]
        elif pred.shape[:2] != gt.shape[:2]:
            raise InputError(f"{pred_path.name}: size {pred.shape[:2]} differs from {gt_path.name} {gt.shape[:2]}")
        if proto.luma_only:
            pred, gt = _luma_plane(pred, proto.gray), _luma_plane(gt, proto.gray)
        p, s = score(pred, gt, proto, scale=scale)
        scores.append(ImageScore(gt_path.stem, p, s))
        if progress is not None:
            progress(len(scores), len(pairs), scores[-1])
    from irtool.data.benchmarks import listing_checksum

    gt_files = [g for _, g in pairs]
    return Report(
        psnr=_mean([s.psnr for s in scores]),
        ssim=_mean([s.ssim for s in scores]),
        per_image=scores,
        protocol=proto.describe(scale=scale, sigma=None),
        dataset={
            "name": Path(gt_dir).name,
            "path": str(gt_dir),
            "count": len(pairs),
            "checksum": listing_checksum(gt_files, Path(gt_dir).parent),
            "predictions": str(pred_dir),
            "pairing": how,
        },
        model=None,
        seconds=time.perf_counter() - start,
        run=_run_info(None),
    )
