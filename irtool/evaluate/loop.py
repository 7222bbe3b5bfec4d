"""`evaluate`: run a model over a test set the way a protocol says, and score every image.

The model runs through the engine's runner (irtool.engine.base.make_runner), the same code as `irtool restore`, so
device choice, precision, the NaN guard and the x8 self-ensemble mean one thing everywhere. What stays here is
what the protocols define: how the input is made from the ground truth (LR by MATLAB bicubic, seeded noise, the
luma plane), how the output is rounded, and how it is scored. Defaults keep the published protocols: the whole
image at once (`tile=0`; tiles change scores slightly) in fp32.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from irtool.engine.workers import images_at_once, in_parallel
from irtool.errors import InputError, UsageError
from irtool.evaluate.protocols import Degradation, GrayConvention, Protocol, _luma_plane, get_protocol, score, to_uint8
from irtool.evaluate.report import ImageScore, Progress, Report, mean, run_info
from irtool.evaluate.samples import Sample, dataset_samples, memory_info, memory_samples

if TYPE_CHECKING:
    import torch

    from irtool.data.benchmarks import Dataset
    from irtool.engine.base import ImageRunner


def evaluate(
    model: Any,
    data: str | Dataset | Iterable[Any],
    protocol: str | Protocol = "sr",
    *,
    scale: int | None = None,
    sigma: float | None = None,
    gray: GrayConvention | None = None,
    device: str | torch.device | None = "cpu",
    precision: str = "fp32",
    tile: int | None = 0,
    self_ensemble: bool = False,
    degradation: Degradation = "bicubic",
    seed: int = 0,
    runner: ImageRunner | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
) -> Report:
    """Run `model` on every image of `data` and score it under `protocol`.

    `model`: a torch module from irtool.models, an `OnnxModel` (irtool.models.open_model), a runner from
    `make_runner`, or any callable taking a (1, C, H, W) float tensor in [0, 1] (no descriptor: pass the scale).
    `data`: a benchmark name, a `Dataset`, or images in memory: uint8 arrays (H, W, C) of ground truth,
    `(input, target)` pairs for deraining, or `Sample`s. For SR the LR input is always made here from the ground
    truth; for denoising the noise is always added here.

    `degradation` (SR protocols): "bicubic", the published benchmark LR, or "real", the realistic chain of
    `irtool.ops.realistic` with its default ranges, drawn for image i (0-based, in the set's order) from
    `numpy.random.default_rng([seed, i])`; each image's parameters are kept in its `ImageScore.degradation`.

    The model runs through the engine's runner on `device` at `precision` (fp32: what the published protocols
    use; "auto" lets the runner pick fp16/bf16 on a GPU), on the whole image unless `tile` says otherwise.
    `self_ensemble`: average the x8 rotations and mirror images of every input (the papers' "+" rows). A `runner`
    built beforehand is used as it is: its own device, precision, tile and self-ensemble apply. All of these are
    recorded in the report's `run` block.

    A module handed in in train mode (validation during training) is run as it is, without conversion to
    channels_last, and given back in train mode on the device it came on, its parameters untouched.
    """
    from irtool.data import benchmarks

    proto = get_protocol(protocol, gray=gray)
    descriptor = getattr(runner if runner is not None else model, "descriptor", None)
    scale = _check_scale(proto, descriptor, scale)
    if proto.task == "denoise" and sigma is None:
        raise UsageError("the denoise protocol needs a noise level: pass sigma (e.g. 15, 25 or 50)")
    if proto.task != "denoise" and sigma is not None:
        raise UsageError(f"sigma applies to the denoise protocol only, not {proto.name!r}")
    if degradation not in ("bicubic", "real"):
        raise UsageError(f"degradation must be 'bicubic' or 'real', got {degradation!r}")
    if degradation == "real" and (proto.task != "sr" or proto.luma_only):
        raise UsageError(f"the real degradation makes RGB inputs for the sr and sr-rgb protocols, not {proto.name!r}")
    if sigma is not None and not (math.isfinite(sigma) and sigma >= 0):
        raise UsageError(f"sigma must be a noise level of 0 or more (on 0..255), got {sigma:g}")

    if isinstance(data, str):
        data = benchmarks.load(data)
    if isinstance(data, benchmarks.Dataset):
        if (data.inputs is not None) != (proto.task == "derain"):
            raise UsageError(f"{data.name} is a {data.task} set; it cannot be scored with the {proto.name} protocol")
        total, samples, info = data.count, dataset_samples(data), data.info()
    else:
        listed = memory_samples(list(data))
        total, samples, info = len(listed), iter(listed), memory_info(listed)

    handed_back = _TrainingState.of(model)  # before the runner puts it in eval mode
    try:
        built = runner is None
        if runner is None:
            runner = _build_runner(
                model, scale=scale, device=device, precision=precision, tile=tile, tta=self_ensemble, log=log
            )
        in_channels = runner.descriptor.in_channels
        done: dict[int, ImageScore] = {}
        pending = enumerate(samples)
        lock, stop = threading.Lock(), threading.Event()

        def score_next(worker: ImageRunner, _tiles: bool) -> bool:
            """Make, restore and score the next image on `worker`; False when there is none (or on a stop)."""
            with lock:  # the samples are read from disk one at a time
                index, sample = next(pending, (None, None))
            if index is None or stop.is_set():
                return False
            if degradation == "real":
                x, target, params = _real_input(sample, index, scale=scale, seed=seed, in_channels=in_channels)
            else:
                x, target = _model_input(sample, proto, scale=scale, sigma=sigma, in_channels=in_channels)
                params = None
            pred = to_uint8(worker.restore(np.ascontiguousarray(x.transpose(2, 0, 1))), proto)
            p, s = score(pred, target, proto, scale=scale)
            with lock:
                done[index] = ImageScore(sample.name, p, s, params)
                if progress is not None:
                    progress(len(done), total, done[index])
            return True

        start = time.perf_counter()
        # Two images side by side on the CPU (irtool.engine.workers), but never the model being trained.
        workers = images_at_once(runner, total) if built and handed_back.module is None else 1
        if workers > 1:
            in_parallel(runner, workers, score_next, stop)
        else:
            while score_next(runner, True):
                pass
        scores = [done[i] for i in sorted(done)]
    finally:
        handed_back.restore()
    if not scores:
        raise InputError(f"no images to evaluate in {info.get('name')}")
    settings = runner.settings()
    settings["self_ensemble"] = settings.pop("tta")
    return Report(
        psnr=mean([s.psnr for s in scores]),
        ssim=mean([s.ssim for s in scores]),
        per_image=scores,
        protocol=proto.describe(scale=scale, sigma=sigma, degradation=degradation, seed=seed),
        dataset=info,
        model=_describe_model(model if model is not None else runner),
        seconds=time.perf_counter() - start,
        run=run_info(settings),
    )


def _build_runner(
    model: Any,
    *,
    scale: int,
    device: Any,
    precision: str,
    tile: int | None,
    tta: bool,
    log: Callable[[str], None] | None,
) -> ImageRunner:
    """The engine's runner for `model`, with what evaluation needs on top of `make_runner`'s defaults."""
    from irtool.engine.base import ImageRunner, make_runner
    from irtool.models.onnx import OnnxModel

    if isinstance(model, ImageRunner):
        return model
    if getattr(model, "descriptor", None) is None:
        if not callable(model):
            raise UsageError(f"cannot evaluate a {type(model).__name__}: pass a model, a runner or a callable")
        from irtool.evaluate.callables import CallableRunner

        return CallableRunner(model, scale=scale, tta=tta, log=log)
    device = str(device or "auto")
    if isinstance(model, OnnxModel):
        # The graph runs at the precision it was exported in: asking for that one (eval's fp32) is no conflict.
        if precision.strip().lower() == model.precision:
            precision = "auto"
        return make_runner(model, precision=precision, tile=tile, tta=tta, log=log)
    torch = sys.modules.get("torch")
    training = torch is not None and isinstance(model, torch.nn.Module) and model.training
    # The model being trained: converting it to channels_last would change it for the optimizer too.
    channels_last = False if training else None
    return make_runner(
        model, device=device, precision=precision, tile=tile, tta=tta, channels_last=channels_last, log=log
    )


class _TrainingState:
    """A torch module's train mode and device, put back after evaluation (the runner sets eval mode and moves it)."""

    def __init__(self, module: Any = None) -> None:
        self.module = module
        self.device = None
        if module is not None:
            param = next(module.parameters(), None)
            self.device = param.device if param is not None else None

    @classmethod
    def of(cls, model: Any) -> _TrainingState:
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(model, torch.nn.Module) and model.training:
            return cls(model)
        return cls()

    def restore(self) -> None:
        if self.module is None:
            return
        self.module.train()
        if self.device is not None and next(self.module.parameters()).device != self.device:
            self.module.to(self.device)


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


def _model_input(
    sample: Sample, proto: Protocol, *, scale: int, sigma: float | None, in_channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """(model input as float32 (H, W, C) in [0, 1], ground truth as uint8 (H*scale, W*scale, C')) for one sample."""
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
    return np.asarray(x, dtype=np.float32), target


def _real_input(
    sample: Sample, index: int, *, scale: int, seed: int, in_channels: int
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(model input, ground truth, the chain's parameters) of image `index` under the real degradation."""
    from irtool.io.images import to_float32
    from irtool.ops.realistic import real_lr
    from irtool.ops.resize import modcrop

    target = modcrop(sample.target, scale)
    lr, params = real_lr(target, scale, seed, index)
    return np.asarray(to_float32(_channels_for(lr, in_channels)), dtype=np.float32), target, params


def _channels_for(img: np.ndarray, in_channels: int) -> np.ndarray:
    """The image as the model takes it: grey replicated to RGB for 3-channel models (BasicSR reads grey as RGB)."""
    c = img.shape[2]
    if c == in_channels:
        return img
    if c == 1 and in_channels == 3:
        return np.repeat(img, 3, axis=2)
    raise UsageError(f"the model takes {in_channels}-channel images, this one has {c} channels")


def _describe_model(model: Any) -> dict[str, Any]:
    descriptor = getattr(model, "descriptor", None)
    if descriptor is not None:
        return descriptor.to_dict()
    return {"name": getattr(model, "__name__", type(model).__name__)}
