"""Where things are printed: progress and logs to stderr, results to stdout."""

from __future__ import annotations

import json
import math
import sys
from typing import Any, NoReturn

from rich.console import Console
from rich.text import Text

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


# Messages are printed with soft_wrap: rich wraps at 80 columns when stderr is not a terminal, and a log should get
# one line per message, whole, to grep. They are plain text (markup off): paths and references may hold brackets.


def warn(message: str) -> None:
    err.print(Text.assemble(("warning:", "yellow"), " ", message), highlight=False, soft_wrap=True)


def info(message: str) -> None:
    err.print(message, markup=False, highlight=False, soft_wrap=True)


def error(message: str) -> None:
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)


interrupt_reported = False  # irtool.cli.main prints a bare "interrupted" unless a command said more


def interrupted(message: str) -> NoReturn:
    """Say what a Ctrl-C left behind (printed even with --quiet: it replaces the summary) and exit 130."""
    import typer

    from irtool.errors import EXIT_INTERRUPTED

    global interrupt_reported
    interrupt_reported = True
    err.print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_INTERRUPTED)
