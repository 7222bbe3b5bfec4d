"""What an export hands back, and writing its file so that a failed export or check never leaves a half file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irtool.errors import IrtoolError
from irtool.export.verify import Verification


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


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` (same suffix, for tools that look at it), moved onto `path` on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
