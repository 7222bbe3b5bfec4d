"""What an export hands back, and writing its file so that a failed export or check never leaves a half file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irtool.errors import IrtoolError, UsageError
from irtool.export.verify import Verification
from irtool.files import atomic_output  # noqa: F401  (re-exported for the exporters)


@dataclass
class ExportResult:
    path: Path
    format: str
    details: dict[str, Any] = field(default_factory=dict)  # opset, precision, files, ...
    verification: Verification | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            **self.details,
            "verification": self.verification.to_dict() if self.verification else None,
        }


class VerificationFailed(IrtoolError):
    """The exported copy does not match torch; nothing was written (the result says by how much)."""

    def __init__(self, result: ExportResult):
        assert result.verification is not None
        self.result = result
        super().__init__(
            f"{result.path}: not written, the {result.format} export does not match torch: "
            f"{result.verification.summary()} (--no-verify writes it anyway)"
        )


class ExportFailed(IrtoolError):
    """The exporter (torch.onnx, the tracer) rejected the model; nothing was written."""


def exporter_error(what: str, fmt: str, error: BaseException) -> ExportFailed:
    """One line from an exporter's exception: torch's carry whole IR graphs or Python stacks after the first line."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    reason = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return ExportFailed(f"{what}: cannot be exported to {fmt} ({reason})")


def check_output(path: Path, *, folder: bool) -> None:
    """Refuse an output path that cannot be written, before the (slow) export rather than at its very end."""
    if folder and path.exists() and not path.is_dir():
        raise UsageError(f"{path}: exists and is not a folder (a hub export writes a folder)")
    if not folder and path.is_dir():
        raise UsageError(f"{path}: is a folder; give the name of the file to write")
    for parent in (path.parent, *path.parent.parents):
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{path}: cannot be created, {parent} is a file")
            break
