"""The one way pixels go through a model: `read -> tile -> model -> blend -> write`.

    base.py         ImageRunner (the runner interface: options, tile loop, self-ensemble) and make_runner
    runner.py       Runner: torch on a device at a precision, auto tile size, out-of-memory back-off, NaN guard,
                    i-LN statistics shared across tiles
    onnx_runner.py  OnnxRunner: an exported graph on onnxruntime, in NumPy
    tiling.py       tile plans aligned to the model's size multiple, raised-cosine blending, stripe assembly
    pixels.py       image-file pixels through a runner: bit depth, grey and alpha kept
    jobs.py         inputs (files, folders, globs, videos) -> jobs with output paths and skip/overwrite decisions
    pipeline.py     a batch of jobs with decoding and encoding in threads beside the model; videos frame by frame;
                    the batch summary
    devices.py      device and precision choice, free memory

Public API: `make_runner(model, ...)`, `restore_image(model, pixels_chw, ...)`, `ImageRunner`, `Runner` (imported
lazily: importing this package does not import torch, so ONNX models run without it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from irtool.engine.base import ImageRunner, make_runner, restore_image
    from irtool.engine.runner import Runner

__all__ = ["ImageRunner", "Runner", "make_runner", "restore_image"]


def __getattr__(name: str) -> Any:
    if name == "Runner":
        from irtool.engine.runner import Runner

        return Runner
    if name in __all__:
        from irtool.engine import base

        return getattr(base, name)
    raise AttributeError(f"module 'irtool.engine' has no attribute {name!r}")
