"""Training data: clean images decoded once into memory, random patches, and degradations made per batch.

Split in two on purpose:
- `PatchSampler` (on the training device) picks images, crop offsets and one of the 8 flips/rotations for a whole
  batch and cuts it in one gather, all from one seeded `torch.Generator`, so its whole state is one tensor that a
  checkpoint can store and restore exactly.
- `Degradation` runs on the training device with the ops of `irtool.ops.degrade`: MATLAB-bicubic downscaling (the
  same kernel, and the same rounding to uint8 after each pass, as the benchmark LR files), Gaussian noise, JPEG (the
  one that needs an encoder, on the CPU), and the realistic chain of `irtool.ops.realistic` (blur, resize, noise and
  JPEG, twice), whose random choices come from a NumPy generator and whose noise from the device's generator.
Images stay uint8, uploaded to the device once (T91 + BSD200 is about 100 MB).

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
from irtool.ops.realistic import RealConfig

if TYPE_CHECKING:
    import torch

DegradationTask = Literal["sr", "real", "denoise", "jpeg", "paired"]


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
    real: RealConfig | None = None  # real: the chain's ranges (irtool.ops.realistic); None: its defaults


def _to_channels(pixels: np.ndarray, channels: int, path: Path) -> np.ndarray:
    """uint8 (H, W, C) with the wanted channel count; gray from RGB uses BT.601 weights (as OpenCV)."""
    if pixels.dtype == np.uint16:  # training works on 8-bit levels, like every benchmark
        pixels = ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if pixels.dtype != np.uint8:
        raise InputError(f"{path}: training images must be 8 or 16 bit, got {pixels.dtype}")
    c = pixels.shape[2]
    if c in (2, 4):  # grey + alpha, RGBA: alpha is not trained on
        pixels = pixels[..., :-1]
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


def _reflect(index: torch.Tensor, length: torch.Tensor, edge: torch.Tensor) -> torch.Tensor:
    """Coordinates past the end of an axis brought back into it as np.pad pads bottom/right: mirrored ("reflect",
    the edge pixel not repeated), or the edge repeated where the image is one pixel thin ("edge"); clamped where one
    mirror is not enough."""
    import torch

    mirrored = torch.where((index < length) | edge, index, 2 * (length - 1) - index)
    return torch.minimum(mirrored.clamp_min(0), length - 1)


class _Packed:
    """Images of different sizes in one flat uint8 tensor on the device, with each one's offset, height and width."""

    def __init__(self, images: list[np.ndarray], device: torch.device):
        import torch

        self.channels = images[0].shape[2]
        sizes = [img.shape[0] * img.shape[1] * self.channels for img in images]
        self.flat = torch.from_numpy(np.concatenate([img.reshape(-1) for img in images])).to(device)
        self.offset = torch.tensor(np.cumsum([0, *sizes[:-1]]), dtype=torch.int64, device=device)
        self.height = torch.tensor([img.shape[0] for img in images], dtype=torch.int64, device=device)
        self.width = torch.tensor([img.shape[1] for img in images], dtype=torch.int64, device=device)

    def gather(self, which: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """(B,) image indices, (B, P, P) source rows and columns -> (B, C, P, P) uint8."""
        import torch

        c = torch.arange(self.channels, device=self.flat.device)
        pixel = (rows * self.width[which, None, None] + cols) * self.channels
        index = self.offset[which, None, None, None] + pixel[..., None] + c
        return self.flat[index].permute(0, 3, 1, 2).contiguous()


class PatchSampler:
    """Random patches from an ImageStore, cut for a whole batch at once on the training device.

    The images are uploaded once as uint8 (T91 + BSD200 is about 100 MB); a batch is one gather whose index already
    holds each patch's crop offset, one of the 8 flips/rotations, and the bottom/right reflection that pads an image
    smaller than the patch (as Restormer's loader does). No per-patch Python work and no host-to-device copy per
    step, so the sampler keeps up with a GPU; all randomness comes from one generator on that device, whose state a
    checkpoint stores and restores exactly.
    """

    def __init__(self, store: ImageStore, seed: int, device: torch.device | str = "cpu"):
        import torch

        self.store = store
        self.device = torch.device(device)
        self.generator = torch.Generator(self.device).manual_seed(seed)
        self._targets = _Packed(store.targets, self.device)
        self._inputs = _Packed(store.inputs, self.device) if store.inputs is not None else None

    def draw(self, batch: int, patch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Targets (B, C, P, P) uint8 on the sampler's device, and the inputs for paired data (else None)."""
        return self.cut(*self.choose(batch, patch), patch)

    def choose(self, batch: int, patch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image, top, left, flip/rotation 0..7) of each patch of a batch, each a (B,) tensor on the device."""
        import torch

        packed, g, dev = self._targets, self.generator, self.device
        which = torch.randint(len(self.store), (batch,), generator=g, device=dev)
        # An image smaller than the patch is padded to it: its only crop starts at 0.
        top = (torch.rand(batch, generator=g, device=dev) * ((packed.height[which] - patch).clamp_min(0) + 1)).long()
        left = (torch.rand(batch, generator=g, device=dev) * ((packed.width[which] - patch).clamp_min(0) + 1)).long()
        return which, top, left, torch.randint(8, (batch,), generator=g, device=dev)

    def cut(
        self, which: torch.Tensor, top: torch.Tensor, left: torch.Tensor, k: torch.Tensor, patch: int
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The patches `choose` picked, as one gather (see the class docstring)."""
        import torch

        packed, dev = self._targets, self.device
        height, width = packed.height[which], packed.width[which]
        k = k[:, None, None]
        y = torch.arange(patch, device=dev)[None, :, None]
        x = torch.arange(patch, device=dev)[None, None, :]
        last = patch - 1
        # Output pixel (y, x) of rot90(flip?(crop), k % 4) comes from crop pixel (u, v).
        quarter = k % 4
        u = torch.where(quarter == 0, y, torch.where(quarter == 1, x, torch.where(quarter == 2, last - y, last - x)))
        v = torch.where(quarter == 0, x, torch.where(quarter == 1, last - y, torch.where(quarter == 2, last - x, y)))
        v = torch.where(k >= 4, last - v, v)
        edge = (torch.minimum(height, width) == 1)[:, None, None]
        rows = _reflect(top[:, None, None] + u, height[:, None, None], edge)
        cols = _reflect(left[:, None, None] + v, width[:, None, None], edge)
        targets = packed.gather(which, rows, cols)
        inputs = self._inputs.gather(which, rows, cols) if self._inputs is not None else None
        return targets, inputs

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
        self.rng = np.random.default_rng(seed)  # the realistic chain's choices (kernels, levels, qualities)
        # Twice the scale reaches past the x`scale` bicubic kernel's half-width and keeps the LR grid aligned.
        # The realistic chain's blurs reach 10 target pixels: 12 or more, a multiple of the scale, keeps them inside.
        self.margin = {"sr": 2 * spec.scale, "real": spec.scale * -(-12 // spec.scale)}.get(spec.task, 0)

    def __call__(
        self, target: torch.Tensor, given_input: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        from irtool.ops import realistic
        from irtool.ops.degrade import add_gaussian_noise_torch, bicubic_downsample_torch, jpeg_compress

        spec = self.spec
        if given_input is not None:  # paired data: the input comes from disk with its target
            return given_input.to(self.device, non_blocking=True).float().div_(255), target
        if spec.task in ("sr", "real"):
            m, lm = self.margin, self.margin // spec.scale
            if spec.task == "sr":
                lr = bicubic_downsample_torch(target, spec.scale)
            else:
                params = realistic.draw(self.rng, spec.real or RealConfig(), target.shape[0])
                lr = realistic.apply(target, params, spec.scale, self.generator)
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
        return {"generator": self.generator.get_state(), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        if "rng" in state:  # checkpoints from before the realistic chain hold the torch generator only
            self.rng.bit_generator.state = state["rng"]


def build(
    roots: Sequence[Path], channels: int, spec: DegradationSpec, device: torch.device, seed: int
) -> tuple[PatchSampler, Degradation]:
    """The sampler over the images in `roots` (folders, already resolved) and the degradation `spec` describes."""
    store = ImageStore.from_folders(list(roots), channels, paired=spec.task == "paired")
    return PatchSampler(store, seed, device), Degradation(spec, device, seed + 1)
