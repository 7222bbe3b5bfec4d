"""Model implementations, the registry of named configurations, and loading of weights.

Public API (torch is imported lazily by the functions):
    create(name, **overrides) -> nn.Module   a named configuration, randomly initialised
    ModelRef.parse(ref)                      the one parser of model references (irtool.models.ref)
    open_model(ref) -> nn.Module | OnnxModel what every command runs: a torch model, or an ONNX graph
    load(ref) -> nn.Module                   a registry name (with its weights), a .safetensors/.pth file, or an
                                             hf://owner/repo[@rev]/file.safetensors reference; returned in eval mode
    save(model, path, metadata=...)          our .safetensors, with the architecture and hparams in its header
    list_models() -> list[ModelEntry]        every named configuration
    info(ref) -> dict                        descriptor, parameter count, weights and file metadata
    weights_file(ref) -> Path                the local file a reference's weights come from
    register(...), register_arch(...)        add configurations / architectures (see irtool.models.registry)
Every module returned carries `.descriptor` (irtool.models.descriptor.ModelDescriptor).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from irtool.errors import InputError, UsageError
from irtool.models import checkpoint, registry
from irtool.models.descriptor import ModelDescriptor
from irtool.models.ref import ModelRef, open_model
from irtool.models.registry import ModelEntry, register, register_arch

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "ModelDescriptor",
    "ModelEntry",
    "ModelRef",
    "create",
    "info",
    "list_models",
    "load",
    "load_file",
    "open_model",
    "register",
    "register_arch",
    "save",
    "weights_file",
]


def create(name: str, **overrides: Any) -> nn.Module:
    """A named configuration with random weights; `overrides` replace its hyper-parameters (e.g. norm="iln")."""
    entry = registry.get_entry(name)
    return registry.build(entry.arch, {**entry.hparams, **overrides}, {**entry.descriptor, "name": name})


def list_models() -> list[ModelEntry]:
    return registry.entries()


def load(ref: str | Path | ModelRef, *, pretrained: bool = True, offline: bool = False) -> nn.Module:
    """Load a torch model by registry name, local weight file or Hub reference (see irtool.models.ref).

    A named configuration without weights raises UnavailableError unless `pretrained=False` (random weights).
    An ONNX graph is not a torch module: `open_model` opens either.
    """
    ref = ModelRef.parse(ref)
    if ref.is_onnx:
        raise UsageError(f"{ref}: an ONNX graph runs on onnxruntime; open it with irtool.models.open_model")
    if ref.kind != "name":
        return load_file(ref.local_file(offline=offline))
    model = create(ref.text)
    if not pretrained or not any(True for _ in model.parameters()):  # bicubic, identity: nothing to load
        return model.eval()
    path = ref.local_file(offline=offline)
    _load_weights(model, checkpoint.read(path).state_dict, path)
    return model.eval()


def weights_file(ref: str | Path | ModelRef, *, offline: bool = False) -> Path:
    """The local file that `ref`'s weights come from: the file itself, the Hub cache's copy, or a named model's
    shipped or registered weights (downloaded and checked against the registry's sha256 where it has one)."""
    return ModelRef.parse(ref).local_file(offline=offline)


def load_file(path: str | Path) -> nn.Module:
    """Build the model a weight file describes (our header) or holds (architecture detected from the keys)."""
    ckpt = checkpoint.read(path)
    if ckpt.arch is not None:
        model = registry.build(ckpt.arch, ckpt.hparams, ckpt.descriptor)
    else:
        found = registry.detect(ckpt.state_dict)
        if found is None:
            known = ", ".join(a for a, spec in registry.archs().items() if spec.detect is not None)
            raise InputError(f"{ckpt.path}: state_dict matches no known architecture (checked: {known})")
        model = registry.build(*found)
    _load_weights(model, ckpt.state_dict, ckpt.path)
    return model.eval()


def save(model: nn.Module, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
    """Write our .safetensors atomically; `metadata` holds free-form entries (non-strings are stored as JSON)."""
    descriptor = getattr(model, "descriptor", None)
    if not isinstance(descriptor, ModelDescriptor):
        raise TypeError("save() needs a model from irtool.models (one with a .descriptor)")
    checkpoint.write(path, model.state_dict(), checkpoint.irtool_metadata(descriptor.to_dict(), metadata))


def info(ref: str | Path | ModelRef, *, offline: bool = False) -> dict[str, Any]:
    """What `irtool models info` prints: descriptor, parameter count, where the weights are, file metadata."""
    from irtool.models.profile import count_params

    ref = ModelRef.parse(ref)
    if ref.is_onnx:
        raise UsageError(f"{ref}: `models info` reads weight files and registry names, not ONNX graphs")
    if ref.kind != "name":
        path = ref.local_file(offline=offline)
        model = load_file(path)
        weights: dict[str, Any] = {"file": str(path)}
        metadata = checkpoint.read_metadata(path)
        description = ""
    else:
        entry = registry.get_entry(ref.text)
        model = create(entry.name)
        shipped = entry.weights is None and entry.shipped_file.is_file()
        weights = {
            "needed": count_params(model) > 0,
            "shipped": shipped,
            "ref": entry.weights_ref(),
            "sha256": entry.sha256,
        }
        metadata = checkpoint.read_metadata(entry.shipped_file) if shipped else {}
        description = entry.description
    return {
        "name": model.descriptor.name or ref.label,
        "description": description,
        "descriptor": model.descriptor.to_dict(),
        "params": count_params(model),
        "weights": weights,
        "metadata": {k: v for k, v in metadata.items() if not k.startswith("irtool.")},
    }


def _load_weights(model: nn.Module, state_dict: dict, path: Path) -> None:
    """Strict load with a one-line reason, since a half-loaded model restores garbage silently."""
    try:
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as e:  # shape mismatch
        sizes = [line.strip() for line in str(e).splitlines() if "size mismatch" in line]
        raise InputError(f"{path}: weights do not fit {model.descriptor.arch} ({(sizes or [str(e)])[0]})") from None
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s), e.g. {missing[0]}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s), e.g. {unexpected[0]}")
        raise InputError(f"{path}: weights do not fit {model.descriptor.arch}: {'; '.join(parts)}")
