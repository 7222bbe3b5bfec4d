"""Two tables: architectures (how to build, describe and recognise a network) and named configurations.

An *architecture* knows how to turn hyper-parameters into a module (`build`), what a runner must know about the
result (`describe`), and, optionally, how to recognise its own state_dict and read the hyper-parameters back from
key names and shapes (`detect`). A *named configuration* is an architecture plus fixed hyper-parameters, descriptor
fields that the hyper-parameters cannot tell (task, licence), and where its weights live, if anywhere.

Architecture modules register themselves when imported (see `_ARCH_MODULES`), so a new family needs one line there:

    register_arch("restormer", build=Restormer, describe=describe_restormer, detect=detect_restormer)
    register("restormer-denoise-gray", arch="restormer", hparams={"in_channels": 1, "out_channels": 1, ...},
             descriptor={"task": "denoise"}, description="...")

Weights of a named configuration: `weights=None` means "shipped in irtool/models/weights/<name>.safetensors if that
file exists"; otherwise a local path or an `hf://owner/repo[@rev]/file.safetensors` reference.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from irtool.errors import UnavailableError, UsageError

if TYPE_CHECKING:
    import torch
    from torch import nn

WEIGHTS_DIR = Path(__file__).parent / "weights"

# Modules that call register_arch / register at import time. Imported on first use of either table, so that
# importing irtool.models (e.g. from the CLI) stays free of torch.
_ARCH_MODULES = ("irtool.models.builtin", "irtool.models.restormer", "irtool.models.hiir", "irtool.models.compact")

StateDict = Mapping[str, "torch.Tensor"]


@dataclass(frozen=True)
class Architecture:
    name: str
    build: Callable[..., nn.Module]  # build(**hparams) -> module (no descriptor needed; the registry attaches it)
    describe: Callable[[dict[str, Any]], dict[str, Any]]  # full hparams -> ModelDescriptor fields
    detect: Callable[[StateDict], dict[str, Any] | None] | None = None  # state_dict -> hparams, None if not ours

    def default_hparams(self) -> dict[str, Any]:
        """The keyword defaults of `build`, so a descriptor always records every hyper-parameter."""
        sig = inspect.signature(self.build)
        return {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


@dataclass(frozen=True)
class ModelEntry:
    name: str
    arch: str
    hparams: dict[str, Any] = field(default_factory=dict)
    descriptor: dict[str, Any] = field(default_factory=dict)  # e.g. {"task": "denoise"}; overrides `describe`
    weights: str | None = None  # None: shipped file if present; else a path or an hf:// reference
    sha256: str | None = None
    description: str = ""

    @property
    def shipped_file(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}.safetensors"

    def weights_ref(self) -> str | None:
        """Where the weights are (a path or hf:// reference), or None when this is an architecture only."""
        if self.weights is not None:
            return self.weights
        return str(self.shipped_file) if self.shipped_file.is_file() else None


ARCHS: dict[str, Architecture] = {}
MODELS: dict[str, ModelEntry] = {}
_loaded = False


def register_arch(
    name: str,
    *,
    build: Callable[..., nn.Module],
    describe: Callable[[dict[str, Any]], dict[str, Any]],
    detect: Callable[[StateDict], dict[str, Any] | None] | None = None,
) -> Architecture:
    """Add an architecture. `detect` is tried in registration order when a bare state_dict is loaded."""
    if name in ARCHS:
        raise ValueError(f"architecture {name!r} is already registered")
    ARCHS[name] = arch = Architecture(name, build, describe, detect)
    return arch


def register(
    name: str,
    *,
    arch: str,
    hparams: dict[str, Any] | None = None,
    descriptor: dict[str, Any] | None = None,
    weights: str | None = None,
    sha256: str | None = None,
    description: str = "",
) -> ModelEntry:
    """Add a named configuration of a registered architecture."""
    if name in MODELS:
        raise ValueError(f"model {name!r} is already registered")
    if arch not in ARCHS:
        raise ValueError(f"model {name!r}: architecture {arch!r} is not registered")
    entry = ModelEntry(name, arch, dict(hparams or {}), dict(descriptor or {}), weights, sha256, description)
    MODELS[name] = entry
    return entry


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    for module in _ARCH_MODULES:
        importlib.import_module(module)
    _loaded = True


def archs() -> dict[str, Architecture]:
    _ensure_loaded()
    return ARCHS


def get_arch(name: str) -> Architecture:
    _ensure_loaded()
    try:
        return ARCHS[name]
    except KeyError:
        raise UnavailableError(f"unknown architecture {name!r} (known: {', '.join(sorted(ARCHS))})") from None


def entries() -> list[ModelEntry]:
    """Every named configuration, in registration order."""
    _ensure_loaded()
    return list(MODELS.values())


def get_entry(name: str) -> ModelEntry:
    _ensure_loaded()
    if name in MODELS:
        return MODELS[name]
    close = difflib.get_close_matches(name, list(MODELS), n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `irtool models list` shows them all"
    raise UnavailableError(f"unknown model {name!r}{hint}")


def build(arch_name: str, hparams: dict[str, Any], descriptor: dict[str, Any] | None = None) -> nn.Module:
    """Build an architecture and attach its ModelDescriptor (descriptor fields override `describe`)."""
    from irtool.models.descriptor import ModelDescriptor
    from irtool.models.norms import has_global_statistics

    arch = get_arch(arch_name)
    unknown = set(hparams) - set(inspect.signature(arch.build).parameters)
    if unknown:
        raise UsageError(f"{arch_name}: unknown hyper-parameter(s) {', '.join(sorted(unknown))}")
    full = {**arch.default_hparams(), **hparams}
    try:
        model = arch.build(**full)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{arch_name}: {e}") from e
    fields = {**arch.describe(full), **(descriptor or {})}
    fields.update(arch=arch_name, hparams=_jsonable(full), global_stats=has_global_statistics(model))
    model.descriptor = ModelDescriptor.from_dict(fields)
    return model


def detect(state_dict: StateDict) -> tuple[str, dict[str, Any]] | None:
    """The first architecture whose `detect` recognises this state_dict, with the hyper-parameters it read."""
    for arch in archs().values():
        if arch.detect is not None and (hparams := arch.detect(state_dict)) is not None:
            return arch.name, hparams
    return None


def _jsonable(value: Any) -> Any:
    """Tuples become lists so that hparams survive a JSON round trip unchanged."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
