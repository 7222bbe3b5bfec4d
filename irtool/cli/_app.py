"""The Typer application object, shared by every command module.

Command modules import `app` from here and register themselves; none of them imports torch at module level, so
`irtool --help` stays instant.
"""

from __future__ import annotations

import typer

from irtool.errors import EXIT_CODES_HELP

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
