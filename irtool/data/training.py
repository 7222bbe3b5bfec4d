"""Training data: clean images decoded once into memory, random patches, and degradations made per batch.

Split in two on purpose:
- `PatchSampler` (CPU, numpy) picks images, crop offsets and one of the 8 flips/rotations, all from one seeded
  `torch.Generator`, so its whole state is one tensor that a checkpoint can store and restore exactly.
- `Degradation` runs on the training device: MATLAB-bicubic downscaling (the same kernel, and the same rounding to
  uint8 after each pass, as the benchmark LR files) and Gaussian noise. Only JPEG needs an encoder and so happens on
  the CPU side.
Images stay uint8 in memory (T91 + BSD200 is about 100 MB) and move to the device as uint8 patches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from irtool.errors import InputError, UsageError

if TYPE_CHECKING:
    import torch

    from irtool.train.config import DataConfig


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

    def __init__(self, store: ImageStore, seed: int, jpeg_quality: list[int] | None = None):
        import torch

        self.store = store
        self.jpeg_quality = jpeg_quality
        self.generator = torch.Generator().manual_seed(seed)

    def _randint(self, high: int) -> int:
        import torch

        return int(torch.randint(high, (1,), generator=self.generator))

    def draw(self, batch: int, patch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Targets (B, C, P, P) uint8, and the inputs for paired/JPEG data (else None)."""
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
            elif self.jpeg_quality is not None:
                low, high = self.jpeg_quality
                inputs.append(_jpeg(np.ascontiguousarray(targets[-1]), low + self._randint(high - low + 1)))
        to_tensor = lambda arrays: torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
        return to_tensor(targets), (to_tensor(inputs) if inputs else None)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    flag = cv2.IMREAD_GRAYSCALE if img.shape[2] == 1 else cv2.IMREAD_COLOR
    bgr = img if img.shape[2] == 1 else img[..., ::-1]
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG patch")
    out = cv2.imdecode(buf, flag)
    return out[..., None] if out.ndim == 2 else out[..., ::-1]


class Degradation:
    """Makes the model input from float targets in [0, 1] on the device (B, C, H, W)."""

    def __init__(self, cfg: DataConfig, device: torch.device, seed: int):
        import torch

        self.cfg = cfg
        self.device = torch.device(device)
        self.generator = torch.Generator(self.device).manual_seed(seed)

    def __call__(self, target: torch.Tensor, given_input: torch.Tensor | None = None) -> torch.Tensor:
        import torch

        cfg = self.cfg
        if given_input is not None:  # paired or JPEG: made on the CPU side
            return given_input.to(self.device, non_blocking=True).float().div_(255)
        if cfg.task == "sr":
            return bicubic_down_quantized(target, cfg.scale)
        if cfg.task == "denoise":
            b = target.shape[0]
            if cfg.sigma is not None:
                sigma = torch.full((b, 1, 1, 1), float(cfg.sigma), device=self.device)
            else:
                low, high = cfg.sigma_range
                u = torch.rand((b, 1, 1, 1), generator=self.generator, device=self.device)
                sigma = low + (high - low) * u
            noise = torch.randn(target.shape, generator=self.generator, device=self.device)
            # Like the benchmarks (and Restormer's training): no clipping, no quantisation of the noisy image.
            return target + noise * (sigma / 255.0)
        raise UsageError(f"task '{cfg.task}' needs its inputs from the sampler")

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


def bicubic_down_quantized(target: torch.Tensor, scale: int) -> torch.Tensor:
    """MATLAB bicubic downscaling by 1/scale with rounding to uint8 levels after each 1-D pass.

    Matches `imresize_uint8` (which made the benchmark LR files), so the model trains on the LR it is tested on.
    """
    from irtool.ops.resize import imresize

    x = target * 255.0
    x = imresize(x, (1.0 / scale, 1.0)).add_(0.5).floor_().clamp_(0, 255)
    x = imresize(x, (1.0, 1.0 / scale)).add_(0.5).floor_().clamp_(0, 255)
    return x.div_(255.0)


def build(cfg: DataConfig, device: torch.device, seed: int) -> tuple[PatchSampler, Degradation]:
    """The sampler and the degradation for a data config (roots already resolved to folders)."""
    from irtool.train.config import resolve_root

    roots = [resolve_root(r) for r in cfg.roots]
    store = ImageStore.from_folders(roots, cfg.channels, paired=cfg.task == "paired")
    sampler = PatchSampler(store, seed, jpeg_quality=cfg.jpeg_quality if cfg.task == "jpeg" else None)
    return sampler, Degradation(cfg, device, seed + 1)
