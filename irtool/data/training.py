"""Training data: clean images decoded once into memory, random patches, and degradations made per batch.

Split in two on purpose:
- `PatchSampler` (CPU, numpy) picks images, crop offsets and one of the 8 flips/rotations, all from one seeded
  `torch.Generator`, so its whole state is one tensor that a checkpoint can store and restore exactly.
- `Degradation` runs on the training device with the ops of `irtool.ops.degrade`: MATLAB-bicubic downscaling (the
  same kernel, and the same rounding to uint8 after each pass, as the benchmark LR files), Gaussian noise, JPEG (the
  one that needs an encoder, on the CPU).
Images stay uint8 in memory (T91 + BSD200 is about 100 MB) and move to the device as uint8 patches.

For SR the sampler crops `Degradation.margin` extra target pixels on every side and the degradation cuts them off
after downscaling: the bicubic kernel reaches 2 LR pixels past a patch's edge, so without the margin about a quarter
of a 32x32 LR patch would be made from mirrored pixels that no interior test pixel ever sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from irtool.errors import InputError, UsageError

if TYPE_CHECKING:
    import torch

DegradationTask = Literal["sr", "denoise", "jpeg", "paired"]


@dataclass(frozen=True)
class DegradationSpec:
    """What `Degradation` makes of clean patches; `irtool.train.config.DataConfig.degradation()` builds one.

    Its own type rather than the training config, so that the data layer does not depend on `irtool.train`.
    """

    task: DegradationTask
    scale: int = 1  # sr: the downscaling factor
    sigma: float | None = None  # denoise: a fixed noise level on the 0..255 scale ...
    sigma_range: tuple[float, ...] | None = None  # ... or (low, high), drawn uniformly per image
    jpeg_quality: tuple[int, ...] | None = None  # jpeg: (low, high), quality drawn uniformly per image


def _to_channels(pixels: np.ndarray, channels: int, path: Path) -> np.ndarray:
    """uint8 (H, W, C) with the wanted channel count; gray from RGB uses BT.601 weights (as OpenCV)."""
    if pixels.dtype == np.uint16:  # training works on 8-bit levels, like every benchmark
        pixels = ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if pixels.dtype != np.uint8:
        raise InputError(f"{path}: training images must be 8 or 16 bit, got {pixels.dtype}")
    c = pixels.shape[2]
    if c == 4:
        pixels = pixels[..., :3]
    if channels == 3 and pixels.shape[2] == 1:
        return np.repeat(pixels, 3, axis=2)
    if channels == 1 and pixels.shape[2] == 3:
        y = pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)[..., None]
    return pixels


def _image_files(folder: Path) -> list[Path]:
    from irtool.io.images import is_image_path

    if not folder.is_dir():
        raise UsageError(f"training data folder not found: {folder} (relative roots are read under $IRTOOL_DATA_DIR)")
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p))
    if not files:
        raise UsageError(f"no images in training data folder {folder}")
    return files


def load_images(files: list[Path], channels: int) -> list[np.ndarray]:
    from irtool.io.images import read_image

    return [np.ascontiguousarray(_to_channels(read_image(f).pixels, channels, f)) for f in files]


@dataclass
class ImageStore:
    """Decoded training images. `inputs` is set for paired data (deraining): same names under input/ and target/."""

    targets: list[np.ndarray]
    inputs: list[np.ndarray] | None = None

    @classmethod
    def from_folders(cls, roots: list[Path], channels: int, paired: bool = False) -> ImageStore:
        if not paired:
            files = [f for root in roots for f in _image_files(root)]
            return cls(load_images(files, channels))
        targets: list[np.ndarray] = []
        inputs: list[np.ndarray] = []
        for root in roots:
            t_files, i_files = _image_files(root / "target"), _image_files(root / "input")
            if len(t_files) != len(i_files):
                raise UsageError(f"{root}: input/ has {len(i_files)} images but target/ has {len(t_files)}")
            targets += load_images(t_files, channels)
            inputs += load_images(i_files, channels)
        for i, (t, x) in enumerate(zip(targets, inputs, strict=True)):
            if t.shape != x.shape:
                raise UsageError(f"paired image {i}: input {x.shape} and target {t.shape} differ in size")
        return cls(targets, inputs)

    def __len__(self) -> int:
        return len(self.targets)


def _pad_to(img: np.ndarray, size: int) -> np.ndarray:
    """Reflect-pad bottom/right so that both sides are at least `size` (as Restormer's loader does)."""
    ph, pw = max(0, size - img.shape[0]), max(0, size - img.shape[1])
    if ph == 0 and pw == 0:
        return img
    return np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(img.shape[:2]) > 1 else "edge")


def _dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 rotations/flips of a square: k in 0..7."""
    if k >= 4:
        img = img[:, ::-1]
    return np.rot90(img, k % 4)


class PatchSampler:
    """Random patches from an ImageStore; all randomness from one generator (seed it per process rank)."""

    def __init__(self, store: ImageStore, seed: int):
        import torch

        self.store = store
        self.generator = torch.Generator().manual_seed(seed)

    def _randint(self, high: int) -> int:
        import torch

        return int(torch.randint(high, (1,), generator=self.generator))

    def draw(self, batch: int, patch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Targets (B, C, P, P) uint8, and the inputs for paired data (else None)."""
        import torch

        targets, inputs = [], []
        for _ in range(batch):
            i = self._randint(len(self.store))
            target = _pad_to(self.store.targets[i], patch)
            top = self._randint(target.shape[0] - patch + 1)
            left = self._randint(target.shape[1] - patch + 1)
            k = self._randint(8)
            targets.append(_dihedral(target[top : top + patch, left : left + patch], k))
            if self.store.inputs is not None:
                source = _pad_to(self.store.inputs[i], patch)
                inputs.append(_dihedral(source[top : top + patch, left : left + patch], k))
        to_tensor = lambda arrays: torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
        return to_tensor(targets), (to_tensor(inputs) if inputs else None)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


class Degradation:
    """Makes (inputs, targets) on the device from float targets in [0, 1] (B, C, H, W) with `margin` extra pixels."""

    def __init__(self, spec: DegradationSpec, device: torch.device, seed: int):
        import torch

        self.spec = spec
        self.device = torch.device(device)
        self.generator = torch.Generator(self.device).manual_seed(seed)
        # Twice the scale reaches past the x`scale` bicubic kernel's half-width and keeps the LR grid aligned.
        self.margin = 2 * spec.scale if spec.task == "sr" else 0

    def __call__(
        self, target: torch.Tensor, given_input: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        from irtool.ops.degrade import add_gaussian_noise_torch, bicubic_downsample_torch, jpeg_compress

        spec = self.spec
        if given_input is not None:  # paired data: the input comes from disk with its target
            return given_input.to(self.device, non_blocking=True).float().div_(255), target
        if spec.task == "sr":
            m, lm = self.margin, self.margin // spec.scale
            lr = bicubic_downsample_torch(target, spec.scale)
            return lr[..., lm : lr.shape[-2] - lm, lm : lr.shape[-1] - lm], target[..., m:-m, m:-m]
        b = target.shape[0]
        if spec.task == "denoise":
            if spec.sigma is not None:
                sigma = torch.full((b,), float(spec.sigma), device=self.device)
            else:
                low, high = spec.sigma_range
                sigma = low + (high - low) * torch.rand((b,), generator=self.generator, device=self.device)
            # Like the benchmarks (and Restormer's training): no clipping, no quantisation of the noisy image.
            return add_gaussian_noise_torch(target, sigma, generator=self.generator), target
        if spec.task == "jpeg":
            low, high = spec.jpeg_quality
            quality = torch.randint(low, high + 1, (b,), generator=self.generator, device=self.device)
            return jpeg_compress(target, quality.tolist()), target
        raise UsageError(f"task '{spec.task}' needs its inputs from the sampler")

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


def build(
    roots: Sequence[Path], channels: int, spec: DegradationSpec, device: torch.device, seed: int
) -> tuple[PatchSampler, Degradation]:
    """The sampler over the images in `roots` (folders, already resolved) and the degradation `spec` describes."""
    store = ImageStore.from_folders(list(roots), channels, paired=spec.task == "paired")
    return PatchSampler(store, seed), Degradation(spec, device, seed + 1)
