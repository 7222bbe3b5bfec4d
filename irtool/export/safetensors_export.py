"""irtool's own weight file: the weights plus everything needed to rebuild and describe the model, in one file.

The header (written by `irtool.models.save`, so there is one format) holds the architecture, hyper-parameters and
the descriptor (task, scale, channels, value range, size multiple, licence). Free-form entries of the source file
travel along, so a training run's summary (`irtool.train.*`: steps, time, device, validation scores, config)
stays with the weights it describes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from irtool import __version__
from irtool.export.files import ExportResult, VerificationFailed, atomic_output
from irtool.export.verify import Shape, compare
from irtool.models.ref import ModelRef

# Header entries that `irtool.models.save` writes itself from the model (never copied from the source file).
_OWN_KEYS = ("irtool.format_version", "irtool.arch", "irtool.hparams", "irtool.descriptor")


def export_safetensors(
    model: nn.Module,
    path: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    verify: bool = True,
    shapes: list[Shape] | None = None,
) -> ExportResult:
    """Write `model` with `metadata`; with `verify`, kept only if `irtool.models.load` of it gives identical output."""
    from irtool import models

    path = Path(path)
    header = {k: v for k, v in (metadata or {}).items() if k not in _OWN_KEYS}
    header["irtool.exported_with"] = f"irtool {__version__}"
    result = ExportResult(path, "safetensors", {"metadata": sorted(header)})
    with atomic_output(path) as tmp:
        models.save(model, tmp, metadata=header)
        if verify:
            reloaded = models.load(tmp)
            result.verification = compare(model, lambda x: _run(reloaded, x), shapes=shapes, tolerance=0.0)
            if not result.verification.ok:
                raise VerificationFailed(result)
    return result


def source_metadata(ref: str | Path | ModelRef, *, offline: bool = False) -> dict[str, str]:
    """The free-form header entries of the file behind a model reference ({} when it has none).

    `offline` as for `irtool.models.load`: the model was just loaded from the same (cached) file, so an offline
    export must not go back to the network for its header.
    """
    from irtool.models import checkpoint, registry

    ref = ModelRef.parse(ref)
    if ref.kind == "name" and registry.get_entry(ref.text).weights_ref() is None:
        return {}
    return _free(checkpoint.read_metadata(ref.local_file(offline=offline)))


def _free(meta: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in meta.items() if k not in _OWN_KEYS}


def _run(model: nn.Module, x: Any) -> Any:
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()
