"""The one way pixels go through a model: `read -> pad/tile -> model -> blend -> write`.

    tiling.py    tile plans aligned to the model's size multiple, raised-cosine blending, stripe assembly
    runner.py    Runner: device, precision, auto tile size, out-of-memory back-off, NaN guard, i-LN statistics
    pixels.py    image-file pixels through a Runner: bit depth, grey and alpha kept
    jobs.py      inputs (files, folders, globs, videos) -> jobs with output paths and skip/overwrite decisions
    pipeline.py  a batch of jobs with decoding and encoding in threads beside the model; videos frame by frame
    devices.py   device and precision choice, free memory

Public API: `restore_image(model, pixels_chw, ...)` and `Runner` (imported lazily: importing this package does not
import torch, so `irtool.engine.onnx_runner` stays torch-free).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from irtool.engine.runner import Runner, restore_image

__all__ = ["Runner", "restore_image"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from irtool.engine import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'irtool.engine' has no attribute {name!r}")
