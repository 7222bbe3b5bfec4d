"""Command-line entry point: `irtool = irtool.cli:main`.

`main` turns expected failures into one line on stderr and a documented exit code (see `irtool.errors`).
"""

from __future__ import annotations

import os
import sys

import typer

import irtool.cli.compare_cmd  # noqa: E402,F401
import irtool.cli.datasets_cmd  # noqa: E402,F401
import irtool.cli.doctor_cmd  # noqa: E402,F401
import irtool.cli.eval_cmd  # noqa: E402,F401
import irtool.cli.export_cmd  # noqa: E402,F401

# Each command module registers itself on `app` at import time; none imports torch at module level.
# Add one line per command module below.
import irtool.cli.models_cmd  # noqa: E402,F401
import irtool.cli.models_download  # noqa: E402,F401
import irtool.cli.restore_cmd  # noqa: E402,F401
import irtool.cli.train_cmd  # noqa: E402,F401
from irtool.cli._app import app
from irtool.errors import EXIT_INTERRUPTED, EXIT_RESOURCES, EXIT_SOME_FAILED, EXIT_USAGE, IrtoolError

__all__ = ["app", "main"]


def _fail(message: str, code: int) -> None:
    from irtool.cli._output import error

    error(message)
    sys.exit(code)


def _out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or torch's out-of-memory error (CUDA/CPU class, or MPS's RuntimeError).

    Torch is consulted only when a command has already imported it, so this never slows down a failing --help.
    """
    if isinstance(exc, MemoryError):
        return True
    if "torch" not in sys.modules:
        return False
    from irtool.engine.devices import is_out_of_memory

    return is_out_of_memory(exc)


def main(argv: list[str] | None = None) -> None:
    from irtool.cli import _output

    debug = bool(os.environ.get("IRTOOL_DEBUG") or os.environ.get("TYPER_STANDARD_TRACEBACK"))
    _output.interrupt_reported = False
    try:
        code = app(args=argv, prog_name="irtool", standalone_mode=False)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        _fail("interrupted", EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    except IrtoolError as e:
        if debug:
            raise
        _fail(str(e), e.exit_code)
    except Exception as e:
        # Typer ships its own copy of click, so usage errors are recognised by shape rather than by class.
        if hasattr(e, "show") and isinstance(getattr(e, "exit_code", None), int):
            e.show()
            sys.exit(e.exit_code or EXIT_USAGE)
        if debug:  # a bug: still one line unless debugging
            raise
        if _out_of_memory(e):  # not a bug but a resource limit: its own exit code (4), the first line of the message
            detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            _fail(f"out of memory: {detail} (try --device cpu, a smaller --tile, or smaller inputs)", EXIT_RESOURCES)
        _fail(f"{type(e).__name__}: {e} (set IRTOOL_DEBUG=1 for the traceback)", EXIT_SOME_FAILED)
    if code == EXIT_INTERRUPTED and not _output.interrupt_reported:  # Typer turns Ctrl-C into this code, silently
        _output.err.print("interrupted", highlight=False)
    sys.exit(code if isinstance(code, int) else 0)
