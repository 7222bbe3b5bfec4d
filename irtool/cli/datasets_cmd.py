"""`irtool datasets list|fetch`: the benchmark sets irtool knows, and getting them onto this machine."""

from __future__ import annotations

from pathlib import Path

import typer

from irtool.cli._app import app

datasets_app = typer.Typer(
    help="Benchmark test sets: what is known, what is here, and fetching them.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(datasets_app, name="datasets")

_LIST_EPILOG = """\
Examples:

  irtool datasets list
  IRTOOL_DATA_DIR=/data/benchmarks irtool datasets list --json

Sets live under $IRTOOL_DATA_DIR (default: <cache>/datasets, cache = $IRTOOL_CACHE_DIR or the user cache folder).
"""

_FETCH_EPILOG = """\
Examples:

  irtool datasets fetch Urban100                    # pinned revision, verified
  irtool datasets fetch Set5 --allow-unpinned       # source follows a branch
  irtool datasets fetch Manga109 --from ~/Manga109  # licence: your own copy
  irtool datasets fetch CBSD68 --from CBSD68.zip    # a folder or zip/tar(.gz)

Downloads use the Hugging Face cache and honour HF_ENDPOINT and HF_HUB_OFFLINE.
"""


@datasets_app.command("list", epilog=_LIST_EPILOG)
def list_command(
    json_out: bool = typer.Option(False, "--json", help="Print the listing as JSON on stdout."),
) -> None:
    """Known benchmark sets: task, size, whether they are present locally, and where they come from."""
    from irtool.data import benchmarks

    rows = benchmarks.status()
    if json_out:
        from irtool.cli._output import print_json

        print_json({"root": str(benchmarks.data_root()), "datasets": rows})
        return
    from rich.table import Table

    from irtool.cli._output import out

    table = Table(title=f"Benchmark sets in {benchmarks.data_root()}")
    for col in ("name", "task", "images", "local", "source"):
        table.add_column(col, justify="right" if col == "images" else "left")
    for r in rows:
        local = r["local"] if r["present"] else "[dim]no[/dim]"
        table.add_row(r["name"], r["task"], str(r["images"]), local, r["source_short"])
    out.print(table)


@datasets_app.command("fetch", epilog=_FETCH_EPILOG)
def fetch_command(
    name: str = typer.Argument(..., help="Set name, e.g. Urban100 (irtool datasets list)."),
    source: Path | None = typer.Option(
        None, "--from", help="A folder or archive holding the set (required for Manga109).", show_default=False
    ),
    allow_unpinned: bool = typer.Option(
        False, "--allow-unpinned", help="Accept a download source that is not pinned to a commit."
    ),
    offline: bool = typer.Option(False, "--offline", help="Use the download cache only; never the network."),
    json_out: bool = typer.Option(False, "--json", help="Print what was fetched as JSON on stdout."),
) -> None:
    """Put a benchmark set under the data root: downloaded (pinned, verified) or copied from --from."""
    from irtool.cli._output import info, print_json
    from irtool.data import benchmarks

    bench = benchmarks.get(name)
    already = benchmarks.find_local(bench)
    if (already is None or already.subset) and (source or bench.source):
        info(f"fetching {bench.name} from {source or bench.describe_source()} ...")
    ds = benchmarks.fetch(bench.name, source=source, allow_unpinned=allow_unpinned, offline=offline)
    result = {**ds.info(), "fetched": already is None or already.subset}
    if json_out:
        print_json(result)
        return
    state = "fetched" if result["fetched"] else "already present"
    subset = f" (subset: {ds.count} of {ds.expected})" if ds.subset else ""
    typer.echo(f"{ds.name}: {state}, {ds.count} images{subset} in {ds.path}")
