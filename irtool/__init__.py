"""irtool: image restoration (super-resolution, denoising, deraining, deblurring) with paper-exact evaluation.

The package imports nothing heavy at the top level so that `irtool --help` stays instant; the public API below is
resolved on first use:

    irtool.load_model(ref)          a named model, a .safetensors/.pth file or an hf:// reference (irtool.models.load)
    irtool.open_model(ref)          the same, or an .onnx graph: what every command runs (irtool.models.open_model)
    irtool.create_model(name, ...)  a named configuration, randomly initialised (irtool.models.create)

Pixels go through `irtool.engine.make_runner(model, ...)`; scoring lives in `irtool.evaluate.evaluate(...)`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_model": ("irtool.models", "load"),
    "open_model": ("irtool.models", "open_model"),
    "create_model": ("irtool.models", "create"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'irtool' has no attribute {name!r}")
