"""Test images as the protocols take them: 8-bit ground truth, and for paired tasks the degraded input.

Benchmark protocols score 8-bit images only, so everything is checked and normalised to uint8 (H, W, C) here,
once, whether it comes from a benchmark set on disk or from arrays in memory (training validation, tests).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from irtool.errors import InputError

if TYPE_CHECKING:
    from irtool.data.benchmarks import Dataset


@dataclass(frozen=True)
class Sample:
    """One test image: the ground truth (uint8, H x W x C) and, for paired tasks, the degraded input."""

    name: str
    target: np.ndarray
    input: np.ndarray | None = None


def as_uint8_image(pixels: np.ndarray, what: str) -> np.ndarray:
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.dtype != np.uint8:
        raise InputError(f"{what}: benchmark protocols score 8-bit images, got {pixels.dtype}")
    if pixels.shape[2] in (2, 4):
        pixels = pixels[:, :, :-1]  # alpha (after grey or RGB) is not part of any benchmark
    return pixels


def read_uint8(path: Path) -> np.ndarray:
    from irtool.io.images import read_image

    return as_uint8_image(read_image(path).pixels, str(path))


def dataset_samples(ds: Dataset) -> Iterator[Sample]:
    """A benchmark set's images, read one at a time (a set need not fit in memory)."""
    inputs = ds.inputs if ds.inputs is not None else [None] * ds.count
    for target, inp in zip(ds.targets, inputs, strict=True):
        yield Sample(target.stem, read_uint8(target), read_uint8(inp) if inp is not None else None)


def memory_samples(items: Sequence[Any]) -> list[Sample]:
    """Samples from arrays (ground truth), `(input, target)` pairs, or Samples, named by position."""
    samples = []
    for i, item in enumerate(items):
        if isinstance(item, Sample):
            samples.append(item)
        elif isinstance(item, tuple) and len(item) == 2:  # (input, target), e.g. a deraining validation pair
            inp, tgt = item
            samples.append(Sample(f"{i:04d}", as_uint8_image(tgt, f"image {i}"), as_uint8_image(inp, f"input {i}")))
        else:
            samples.append(Sample(f"{i:04d}", as_uint8_image(np.asarray(item), f"image {i}")))
    return samples


def memory_info(samples: Sequence[Sample]) -> dict[str, Any]:
    """The report's dataset block for images in memory: a checksum stands in for the set's name."""
    h = hashlib.sha256()
    for s in samples:
        h.update(s.name.encode())
        for arr in (s.target, s.input):
            if arr is not None:
                h.update(str(arr.shape).encode() + np.ascontiguousarray(arr).tobytes())
    return {"name": "in-memory", "count": len(samples), "checksum": h.hexdigest()}
