"""What a user may write for a model, parsed once: `ModelRef.parse`, and `open_model`, used by every command.

    sr-x4                                     a registry name (irtool models list)
    runs/x4/best.safetensors, official.pth    a local weight file: our header, or a bare state_dict (detected)
    model.onnx                                an exported ONNX graph (runs on onnxruntime, no torch needed)
    hf://owner/repo[@rev]/file.safetensors    a file on the Hugging Face Hub (`hf:owner/repo/...` is the same)

A bare word is a registry name unless a file of that name exists; anything with a path separator or a model-file
suffix is a file. A folder is never a registry name's stand-in: `irtool export sr-x4 -o sr-x4` leaves a folder
`sr-x4` that the next `irtool export sr-x4` must not read. This module imports neither torch nor onnxruntime.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from irtool.errors import UnavailableError
from irtool.models.checkpoint import SUFFIXES as WEIGHT_SUFFIXES

if TYPE_CHECKING:
    from irtool.hub import HubRef

ONNX_SUFFIX = ".onnx"

Kind = Literal["name", "file", "hub"]


@dataclass(frozen=True)
class ModelRef:
    """A parsed model reference. `text` is canonical: Hub references are spelt `hf://...`."""

    kind: Kind
    text: str

    @classmethod
    def parse(cls, ref: str | Path | ModelRef) -> ModelRef:
        if isinstance(ref, ModelRef):
            return ref
        if isinstance(ref, Path):
            return cls("file", str(ref))
        text = str(ref).strip()
        if text.startswith("hf:"):
            from irtool.hub import parse_ref

            return cls("hub", str(parse_ref(text)))  # validates, and writes the short form out in full
        suffix = Path(text).suffix.lower()
        if "/" in text or "\\" in text or suffix in WEIGHT_SUFFIXES or suffix == ONNX_SUFFIX or Path(text).is_file():
            return cls("file", text)
        return cls("name", text)

    @property
    def is_onnx(self) -> bool:
        return self.kind != "name" and self.text.lower().endswith(ONNX_SUFFIX)

    @property
    def hub(self) -> HubRef:
        from irtool.hub import parse_ref

        return parse_ref(self.text)

    @property
    def label(self) -> str:
        """A short name for output file names and summaries: the registry name or the file's stem."""
        if self.kind == "name":
            return self.text
        return Path(self.hub.filename if self.kind == "hub" else self.text).stem

    def local_file(self, *, offline: bool = False) -> Path:
        """The file the model comes from: the file itself, the Hub cache's copy, or a named model's weights (shipped,
        or downloaded and checked against the registry's sha256). UnavailableError when there is none."""
        if self.kind == "file":
            path = Path(self.text)
            if not path.exists():  # exit 3 like any model that cannot be had, not 1 like a bad input image
                raise UnavailableError(f"{path}: no such model file")
            return path
        if self.kind == "hub":
            return _fetch(self.text, offline=offline)
        from irtool.models import registry

        entry = registry.get_entry(self.text)
        weights = entry.weights_ref()
        if weights is None:
            raise UnavailableError(
                f"model {entry.name!r} has no weights in irtool (architecture only); "
                "pass a weight file instead, e.g. the official .pth, or use it untrained "
                "(`irtool export NAME --untrained`; `load(NAME, pretrained=False)` in Python)"
            )
        if weights.startswith("hf:"):
            return _fetch(weights, offline=offline, sha256=entry.sha256)  # the hub checks what it downloads
        path = Path(weights)
        if not path.is_file():
            raise UnavailableError(f"model {entry.name!r}: weight file {path} is missing")
        if entry.sha256:
            from irtool.hub import sha256_file

            digest = sha256_file(path)
            if digest != entry.sha256.lower():
                raise UnavailableError(f"{path}: sha256 {digest} does not match the expected {entry.sha256}")
        return path

    def __str__(self) -> str:
        return self.text


def open_model(
    ref: str | Path | ModelRef,
    *,
    offline: bool = False,
    pretrained: bool = True,
    device: str = "auto",
    threads: int | None = None,
) -> Any:
    """The model behind `ref`, ready for `irtool.engine.make_runner`: a torch module in eval mode, or an `OnnxModel`.

    `device` and `threads` matter to ONNX graphs only, whose session is made here (a torch module is placed by its
    runner). `pretrained=False` gives a named configuration random weights.
    """
    ref = ModelRef.parse(ref)
    if ref.is_onnx:
        from irtool.models.onnx import OnnxModel

        return OnnxModel(ref.local_file(offline=offline), threads=threads, device=device)
    from irtool.models import load

    return load(ref, pretrained=pretrained, offline=offline)


def _fetch(ref: str, *, offline: bool, sha256: str | None = None) -> Path:
    from irtool.hub import resolve_model_file

    return resolve_model_file(ref, offline=offline, sha256=sha256)
