"""The Typer application object, shared by every command module.

Command modules import `app` from here and register themselves; none of them imports torch at module level, so
`irtool --help` stays instant.
"""

from __future__ import annotations

import typer
from typer.core import TyperOption

from irtool.errors import EXIT_CODES_HELP

# Typer's rich help (0.29 here) prints every option's type, so `--overwrite <bool>` reads as if it took a value; click's
# plain help leaves flags bare. Older Typers have no such hook and need nothing.
_value_type = getattr(TyperOption, "display_type_rich", None)


def _flag_type(self: TyperOption, ctx: typer.Context) -> str | None:
    """No value type after an on/off flag; every other option keeps its own."""
    if self.is_flag and self.metavar is None:
        return None
    return _value_type(self, ctx) if _value_type is not None else None


if _value_type is not None:
    TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

app = typer.Typer(
    name="irtool",
    help="Image restoration: super-resolution, denoising, deraining, deblurring.",
    epilog=EXIT_CODES_HELP,
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
)


def _version_callback(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    from irtool import __version__

    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = "not installed"
    typer.echo(f"irtool {__version__} (torch {torch_version})")
    raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Image restoration: super-resolution, denoising, deraining, deblurring.

    Progress and logs go to stderr; results (tables, JSON) go to stdout.
    """
