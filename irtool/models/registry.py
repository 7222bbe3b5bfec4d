"""The registry's mechanics: the architecture table and the named configurations, looked up, built and detected.

An *architecture* knows how to turn hyper-parameters into a module (`build`), what a runner must know about the
result (`describe`), and, optionally, how to recognise its own state_dict and read the hyper-parameters back from
key names and shapes (`detect`). A *named configuration* is an architecture plus fixed hyper-parameters, descriptor
fields that the hyper-parameters cannot tell (task, licence), and where its weights live, if anywhere.

What is registered comes from two tables, loaded on first use (so importing this module stays free of torch):
`irtool.models.archs.ARCHITECTURES` (the architectures, in detection order) and `irtool.models.configs.CONFIGS`
(the named configurations, in listing order). Their written order is the registry's order, whatever was imported
before. `register_arch` / `register` add more at run time (after the tables' entries):

    register_arch("mynet", build=MyNet, describe=describe_mynet, detect=detect_mynet)
    register("mynet-small", arch="mynet", hparams={"dim": 32}, descriptor={"task": "denoise"}, description="...")

Weights of a named configuration: `weights=None` means "shipped in irtool/models/weights/<name>.safetensors if that
file exists"; otherwise a local path or an `hf://owner/repo[@rev]/file.safetensors` reference.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from irtool.errors import UnavailableError, UsageError

if TYPE_CHECKING:
    import torch
    from torch import nn

WEIGHTS_DIR = Path(__file__).parent / "weights"

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
    """Add an architecture after the table's; `detect` is tried after theirs when a bare state_dict is loaded."""
    _ensure_loaded()
    return _add_arch(Architecture(name, build, describe, detect))


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
    """Add a named configuration of a registered architecture (listed after the table's)."""
    _ensure_loaded()
    return _add_model(ModelEntry(name, arch, dict(hparams or {}), dict(descriptor or {}), weights, sha256, description))


def _add_arch(arch: Architecture) -> Architecture:
    if arch.name in ARCHS:
        raise ValueError(f"architecture {arch.name!r} is already registered")
    ARCHS[arch.name] = arch
    return arch


def _add_model(entry: ModelEntry) -> ModelEntry:
    if entry.name in MODELS:
        raise ValueError(f"model {entry.name!r} is already registered")
    if entry.arch not in ARCHS:
        raise ValueError(f"model {entry.name!r}: architecture {entry.arch!r} is not registered")
    # a copy: table entries share dicts (e.g. a compact configuration and its shipped model)
    MODELS[entry.name] = entry = replace(entry, hparams=dict(entry.hparams), descriptor=dict(entry.descriptor))
    return entry


def _import_arch(name: str, target: str) -> Architecture:
    """The Architecture object a table entry "package.module:ATTRIBUTE" names."""
    module, _, attr = target.partition(":")
    arch = getattr(importlib.import_module(module), attr)
    if not isinstance(arch, Architecture) or arch.name != name:
        raise TypeError(f"architecture table: {target} is not the Architecture {name!r}")
    return arch


def _ensure_loaded() -> None:
    """Register the tables' architectures, then their named configurations, each in written order, once."""
    global _loaded
    if _loaded:
        return
    from irtool.models.archs import ARCHITECTURES
    from irtool.models.configs import CONFIGS

    table = [_import_arch(name, target) for name, target in ARCHITECTURES.items()]  # imports torch
    _loaded = True
    for arch in table:
        _add_arch(arch)
    for entry in CONFIGS:
        _add_model(entry)


def archs() -> dict[str, Architecture]:
    """Every architecture, in detection order: the table's, then those registered at run time."""
    _ensure_loaded()
    return ARCHS


def get_arch(name: str) -> Architecture:
    _ensure_loaded()
    try:
        return ARCHS[name]
    except KeyError:
        raise UnavailableError(f"unknown architecture {name!r} (known: {', '.join(sorted(ARCHS))})") from None


def entries() -> list[ModelEntry]:
    """Every named configuration: the table's in written order, then those registered at run time."""
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
    """The first architecture (in table order) whose `detect` recognises this state_dict, with the hparams it read."""
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
