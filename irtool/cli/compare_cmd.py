"""`irtool compare BEFORE AFTER`: a before/after page (slider and zoomed crops) or a still picture of the two."""

from __future__ import annotations

from pathlib import Path

import typer

from irtool.cli._app import app

_EPILOG = """\
Examples:

  irtool compare photo.jpg restored/photo.png          # -> restored/photo.compare.html
  irtool compare photo.jpg restored/photo.png -o side-by-side.png
  irtool compare noisy.png clean.png --crops 4 --zoom 4 --crop-size 96
  irtool compare in.jpg out.png --label-before "JPEG q30" --label-after "sr-x4"

The HTML page is one file (images embedded, no network): a slider over the
whole picture (drag, or arrow keys) and zoomed crops where the two differ
most. A smaller BEFORE is enlarged to AFTER's size by nearest neighbour, so
its real pixels show; alpha is shown over a checkerboard; 16-bit as 8-bit.
.png/.jpg/.webp writes one still picture instead. Inputs are never written.

Exit codes: 0 ok; 1 an input could not be read; 2 bad options, an output
suffix other than .html/.png/.jpg/.jpeg/.webp, -o naming an input, an output
that cannot be written, or two pictures of different aspect ratios.
"""


@app.command("compare", epilog=_EPILOG)
def compare_command(
    before: Path = typer.Argument(
        ..., help="What went in: the input picture (e.g. the small JPEG).", show_default=False
    ),
    after: Path = typer.Argument(..., help="What came out: the restored picture.", show_default=False),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="An .html page, or a .png/.jpg/.webp picture (default: <AFTER stem>.compare.html next to AFTER).",
        show_default=False,
        rich_help_panel="Output",
    ),
    max_side: int = typer.Option(
        2048,
        "--max-side",
        min=64,
        help="The whole-picture views are scaled down to at most this many pixels a side (crops never are).",
        rich_help_panel="Output",
    ),
    label_before: str | None = typer.Option(
        None, "--label-before", help="Text for BEFORE (default: 'before (input)').", rich_help_panel="Output"
    ),
    label_after: str | None = typer.Option(
        None, "--label-after", help="Text for AFTER (default: 'after').", rich_help_panel="Output"
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Do not print the output's path.", rich_help_panel="Output"
    ),
    crops: int = typer.Option(
        3, "--crops", min=0, max=4, help="Zoomed crops, placed where the two differ most.", rich_help_panel="Crops"
    ),
    crop_size: int = typer.Option(
        128, "--crop-size", min=8, help="Crop side in AFTER's pixels.", rich_help_panel="Crops"
    ),
    zoom: int = typer.Option(
        3, "--zoom", min=1, max=16, help="Crop magnification (pixelated).", rich_help_panel="Crops"
    ),
) -> None:
    """Before/after pictures: a self-contained HTML page with a slider and zoomed crops, or one still image."""
    from irtool.cli._output import info
    from irtool.io.compare import write_compare

    written = write_compare(
        before,
        after,
        output,
        crops=crops,
        crop_size=crop_size,
        zoom=zoom,
        max_side=max_side,
        label_before=label_before,
        label_after=label_after,
    )
    if not quiet:
        info(f"wrote {written}")
