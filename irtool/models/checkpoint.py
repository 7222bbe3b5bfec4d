"""Weight files on disk: our `.safetensors` (with `irtool.*` header metadata) and foreign `.pth`/`.safetensors`.

Our files say what they hold, so loading needs no guessing:
    irtool.format_version   "1"
    irtool.arch             key in the architecture table ("restormer", ...)
    irtool.hparams          JSON: the constructor arguments
    irtool.descriptor       JSON: the ModelDescriptor (task, licence, ...)
plus free-form string entries (training info, source file, ...). Foreign files hold a bare state_dict, perhaps
wrapped the BasicSR way (`{'params': sd}` or `{'params_ema': sd}`) and perhaps with DataParallel's `module.` prefix;
the registry then recognises the architecture from key names and shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from irtool.errors import InputError, first_line

if TYPE_CHECKING:
    import torch

FORMAT_VERSION = "1"
# EMA weights first: when a BasicSR file holds both, the EMA ones are the better model (and what the papers report).
_WRAPPER_KEYS = ("params_ema", "params", "state_dict")
SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt")


@dataclass
class Checkpoint:
    path: Path
    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, str]  # the safetensors header; empty for .pth

    @property
    def arch(self) -> str | None:
        return self.metadata.get("irtool.arch")

    @property
    def hparams(self) -> dict[str, Any]:
        return self._json("irtool.hparams")

    @property
    def descriptor(self) -> dict[str, Any]:
        return self._json("irtool.descriptor")

    def _json(self, key: str) -> dict[str, Any]:
        try:
            return json.loads(self.metadata.get(key, "{}"))
        except json.JSONDecodeError as e:
            raise InputError(f"{self.path}: header entry {key} is not valid JSON ({e})") from None


def read_metadata(path: str | Path) -> dict[str, str]:
    """The header metadata of a .safetensors file without reading its tensors ({} for other formats)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        return {}
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as e:
        raise InputError(f"{path}: not a readable .safetensors file ({first_line(e)})") from None


def read(path: str | Path) -> Checkpoint:
    """Read a weight file into a plain state_dict on the CPU (no code from the file is ever executed)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        metadata = read_metadata(path)
        try:
            return Checkpoint(path, load_file(str(path), device="cpu"), metadata)
        except Exception as e:
            raise InputError(f"{path}: not a readable .safetensors file ({first_line(e)})") from None
    if path.suffix not in SUFFIXES:
        raise InputError(f"{path}: not a weight file (expected {', '.join(SUFFIXES)})")
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt zip, truncated file, or a pickle that needs arbitrary code
        raise InputError(f"{path}: cannot be read as a PyTorch checkpoint ({first_line(e)})") from None
    return Checkpoint(path, canonicalize(obj, path), {})


def canonicalize(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """Unwrap `{'params_ema'|'params'|'state_dict': sd}` and strip a `module.` prefix shared by every key."""
    import torch

    if isinstance(obj, dict):
        for key in _WRAPPER_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"{path}: does not hold a state_dict (a mapping of names to tensors)")
    if all(k.startswith("module.") for k in obj):
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
    return dict(obj)


def write(path: str | Path, state_dict: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write a .safetensors file atomically (irtool.files)."""
    from safetensors.torch import save_file

    from irtool.files import atomic_output

    # clone: safetensors refuses tensors that share storage, and views must be made contiguous anyway
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    with atomic_output(Path(path)) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def irtool_metadata(descriptor: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, str]:
    """The header of one of our files: free-form entries first, so they can never shadow the `irtool.*` ones."""
    meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (extra or {}).items()}
    meta.update(
        {
            "irtool.format_version": FORMAT_VERSION,
            "irtool.arch": descriptor["arch"],
            "irtool.hparams": json.dumps(descriptor["hparams"]),
            "irtool.descriptor": json.dumps(descriptor),
        }
    )
    return meta
