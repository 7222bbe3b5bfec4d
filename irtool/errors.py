"""Errors that the CLI turns into one line on stderr and a documented exit code.

Library code raises these; `irtool.cli` catches them. Anything else is a bug and exits 1 with a short message
(set TYPER_STANDARD_TRACEBACK=1 or IRTOOL_DEBUG=1 for the traceback).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_RESOURCES = 4
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 some inputs failed; 2 usage error; 3 model or dataset unavailable; "
    "4 out of resources (memory, device); 130 interrupted."
)


class IrtoolError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    exit_code = EXIT_SOME_FAILED


class InputError(IrtoolError):
    """An input file could not be read or is not what it should be (the message names the file)."""

    exit_code = EXIT_SOME_FAILED


class UsageError(IrtoolError):
    """Options that do not fit together, or a bad value the parser could not catch."""

    exit_code = EXIT_USAGE


class UnavailableError(IrtoolError):
    """A model, weight file or dataset is unknown, missing offline, or failed verification."""

    exit_code = EXIT_UNAVAILABLE


class ResourceError(IrtoolError):
    """Out of memory at the smallest tile, or the requested device is not present."""

    exit_code = EXIT_RESOURCES


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none): what a one-line error quotes."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
