"""Where things are printed: progress and logs to stderr, results to stdout."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from rich.console import Console

# Logs, progress bars and warnings. Results never go here, so `--json | jq` always works.
err = Console(stderr=True)
# Results: tables and JSON.
out = Console()


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _jsonable(value.item())
    return value


def print_json(obj: Any) -> None:
    """One JSON document on stdout (infinities written as strings, since JSON has none)."""
    sys.stdout.write(json.dumps(_jsonable(obj), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {message}", highlight=False)


def info(message: str) -> None:
    err.print(message, highlight=False)
