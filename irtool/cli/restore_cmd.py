"""`irtool restore`: images, folders, globs and videos through a restoration model."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import typer

from irtool.cli._app import app
from irtool.io.headers import MAX_PIXELS

_EPILOG = """\
Examples:

  # 4x super-resolution of a photo (photo-x4: copes with noise, blur and JPEG) into ./restored/photo.jpg
  irtool restore photo.jpg
  # clean benchmark-style inputs (MATLAB-bicubic LR): the model trained for them
  irtool restore lr/ -m sr-x4
  # clean up a photo at its own size (noise, blur, JPEG); -m photo-x2 enlarges 2x
  irtool restore photo.jpg -m photo
  # a folder tree with the denoiser; outputs that exist are skipped
  irtool restore shots/ -r -m denoise -o clean/
  # a glob, quoted so irtool expands it the same way in every shell
  irtool restore "scans/**/*.tif" -f png --suffix _x4
  # video: frame timing kept, audio and subtitles copied
  irtool restore clip.mp4 -o clip_x4.mkv --crf 16
  # smaller tiles on the second GPU
  irtool restore big.png -t 256 -d cuda:1 --precision fp16
  # the x8 self-ensemble: a little sharper, 8x the time
  irtool restore portrait.png -x
  # an exported ONNX model on onnxruntime (no torch needed)
  irtool restore in/ -m sr-x4.onnx -t 0
  # a Hub model pinned to a commit, from the cache, no network
  irtool restore in/ -m hf://owner/repo@<commit>/model.safetensors --offline
  # 4 GPUs: each process takes every 4th input (by RANK) and GPU LOCAL_RANK
  torchrun --nproc_per_node 4 -m irtool restore frames/ -o out/

Outputs go to a `restored` folder beside the inputs unless -o says otherwise. They keep the input's \
bit depth, channels (grey, alpha), EXIF and ICC profile, and never replace an input.

Exit codes: 0 all done or skipped; 1 some inputs failed (the summary lists them); 2 bad options; \
3 model unavailable; 4 out of memory at the smallest tile, or device missing; 130 interrupted.
"""

_IO = "Input/Output"
_MODEL = "Model"
_TILES = "Tiling & memory"
_PERF = "Performance"
_VIDEO = "Video"
_OUT = "Reporting"


@app.command("restore", epilog=_EPILOG, no_args_is_help=True)
def restore_command(
    inputs: list[str] = typer.Argument(..., metavar="INPUT", help="Image or video files, folders, glob patterns."),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Output folder (or file, for one input). Default: <input folder>/restored.",
        rich_help_panel=_IO,
        show_default=False,
    ),
    recursive: bool = typer.Option(
        False, "--recursive", "-r", help="Include subfolders of folder inputs.", rich_help_panel=_IO
    ),
    name: str = typer.Option(
        "{stem}", "--name", help="Output name template: {stem} {model} {scale} {task} {parent}.", rich_help_panel=_IO
    ),
    suffix: str = typer.Option("", "--suffix", help="Text added after the name, e.g. _x4.", rich_help_panel=_IO),
    fmt: str | None = typer.Option(
        None,
        "--format",
        "-f",
        "--ext",
        help="Image format: png, jpg, webp, tif, bmp, exr. Default: the input's.",
        rich_help_panel=_IO,
        show_default=False,
    ),
    quality: int | None = typer.Option(
        None,
        "--quality",
        min=1,
        max=100,
        help="JPEG quality (default 95); WebP quality (default lossless).",
        rich_help_panel=_IO,
        show_default=False,
    ),
    skip_existing: bool = typer.Option(
        False,
        "--skip-existing",
        help="Skip inputs whose output exists (always on for folder and glob inputs).",
        rich_help_panel=_IO,
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace existing outputs (never inputs).", rich_help_panel=_IO
    ),
    strip_metadata: bool = typer.Option(
        False, "--strip-metadata", help="Do not copy EXIF and ICC to the outputs.", rich_help_panel=_IO
    ),
    model_ref: str = typer.Option(
        "photo-x4",
        "--model",
        "-m",
        help=(
            "A shipped name (irtool models list: photo-x4 for photos, sr-x4 for clean bicubic LR, photo, denoise, "
            "...), a .safetensors/.pth/.onnx file, or hf://owner/repo\\[@rev]/file."
        ),
        rich_help_panel=_MODEL,
    ),
    offline: bool = typer.Option(
        False, "--offline", help="Never touch the network; Hub models must be cached.", rich_help_panel=_MODEL
    ),
    tta: bool = typer.Option(
        False,
        "--tta",
        "-x",
        help="x8 self-ensemble: average over 4 rotations x 2 mirror images (a little sharper, 8x slower).",
        rich_help_panel=_MODEL,
    ),
    tile: str = typer.Option(
        "auto",
        "--tile",
        "-t",
        help="Tile side in input pixels; auto (from free GPU memory; 512 on CPU) or 0 (whole).",
        rich_help_panel=_TILES,
    ),
    tile_overlap: int = typer.Option(
        16,
        "--tile-overlap",
        min=0,
        help="Pixels cross-faded between tiles (neighbours share twice this).",
        rich_help_panel=_TILES,
    ),
    tile_batch: int = typer.Option(
        1, "--tile-batch", min=1, help="Tiles per forward pass (helps small models on GPU).", rich_help_panel=_TILES
    ),
    max_pixels: int = typer.Option(
        MAX_PIXELS,
        "--max-pixels",
        min=0,
        help="Refuse images with more pixels than this, checked in the file header before decoding (the default is "
        "Pillow's decompression-bomb limit, 179 MP); 0 = no limit. Video frames are not limited.",
        rich_help_panel=_TILES,
    ),
    device: str = typer.Option("auto", "--device", "-d", help="auto, cpu, cuda, cuda:N or mps.", rich_help_panel=_PERF),
    precision: str = typer.Option(
        "auto",
        "--precision",
        help="auto (GPU: fp16, else bf16, where the model allows; CPU: bf16 where the CPU has it natively and the "
        "model allows, else fp32; `irtool doctor` says which), fp32, bf16, fp16.",
        rich_help_panel=_PERF,
    ),
    threads: int | None = typer.Option(
        None,
        "--threads",
        min=1,
        help="CPU threads for the model (default: torch's).",
        rich_help_panel=_PERF,
        show_default=False,
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="Images restored side by side, each with its share of the threads (default: 2 for a batch of images on "
        "the CPU, else 1; 1 keeps memory lowest).",
        rich_help_panel=_PERF,
        show_default=False,
    ),
    compile_model: bool = typer.Option(
        False, "--compile", help="torch.compile the model (pays off on long GPU runs).", rich_help_panel=_PERF
    ),
    codec: str | None = typer.Option(
        None,
        "--codec",
        help="Video encoder (default libx264; libvpx-vp9 for .webm).",
        rich_help_panel=_VIDEO,
        show_default=False,
    ),
    crf: int | None = typer.Option(
        None,
        "--crf",
        min=0,
        max=63,
        help="Constant quality (default 18; lower = better).",
        rich_help_panel=_VIDEO,
        show_default=False,
    ),
    preset: str | None = typer.Option(
        None,
        "--preset",
        help="Encoder speed preset: libx264/libx265 ultrafast .. veryslow (default veryfast), libsvtav1 0-13, "
        "NVENC p1-p7. Faster presets write bigger files at the same --crf, slower ones smaller files.",
        rich_help_panel=_VIDEO,
        show_default=False,
    ),
    pix_fmt: str | None = typer.Option(
        None,
        "--pix-fmt",
        help="Output pixel format (default yuv420p; yuv420p10le for a source of more than 8 bits where the codec "
        "has it).",
        rich_help_panel=_VIDEO,
        show_default=False,
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout.", rich_help_panel=_OUT),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress or notes on stderr (the summary stays).", rich_help_panel=_OUT
    ),
) -> None:
    """Restore images and videos: super-resolution, denoising, deraining, deblurring."""
    from irtool.errors import UsageError

    if skip_existing and overwrite:
        raise UsageError("--skip-existing and --overwrite exclude each other")
    tile_size = _parse_tile(tile)
    started = time.perf_counter()

    from irtool.cli._output import info, warn
    from irtool.cli._progress import ProgressBar
    from irtool.cli._restore_progress import RestoreProgress
    from irtool.engine.base import make_runner
    from irtool.engine.jobs import Naming, plan_before_model, plan_jobs, shard
    from irtool.engine.pipeline import BatchStopped, ReadOptions, VideoOptions, WriteOptions, run_jobs, summarize
    from irtool.models.ref import ModelRef, open_model

    ref = ModelRef.parse(model_ref)
    if ref.kind == "file":  # exit 3 before any input is looked at; names and Hub files are only known once loaded
        ref.local_file()
    naming = Naming(output=output, name=name, suffix=suffix, format=fmt)
    existing = "overwrite" if overwrite else "skip" if skip_existing else "auto"
    # Bad inputs, -o and -f are refused before the model loads (or downloads), not after inference on every file.
    planned = plan_before_model(inputs, naming, recursive=recursive, existing=existing)
    model = open_model(ref, offline=offline, device=device, threads=threads)
    d = model.descriptor
    naming = dataclasses.replace(naming, model=d.name or ref.label, scale=d.scale, task=d.task)
    if planned is None:  # the name template uses the model's fields
        planned = plan_jobs(inputs, naming, recursive=recursive, existing=existing)
    jobs = shard(planned)
    runner = make_runner(
        model,
        device=device,
        precision=precision,
        tile=tile_size,
        overlap=tile_overlap,
        tile_batch=tile_batch,
        compile=compile_model,
        tta=tta,
        threads=threads,
        log=warn,
    )
    if not quiet:
        where = _where(str(runner.device), runner.runtime)
        info(f"{naming.model} (x{d.scale} {d.task}) on {where}, {runner.precision}: {len(jobs)} input(s)")
    stopped: BatchStopped | None = None
    with ProgressBar(len(jobs), description="files", quiet=quiet) as bar:
        progress = RestoreProgress(bar, jobs)
        reporter = progress.reporter()
        try:
            outcomes = run_jobs(
                jobs,
                runner,
                write=WriteOptions(quality=quality, keep_metadata=not strip_metadata),
                video=VideoOptions(codec=codec, crf=crf, pix_fmt=pix_fmt, preset=preset),
                read=ReadOptions(max_pixels=max_pixels),
                reporter=reporter,
                workers=workers,
            )
        except BatchStopped as exc:  # out of memory at the smallest tile: summarise what was done, then exit 4
            stopped, outcomes = exc, exc.outcomes
        except KeyboardInterrupt:  # one line with the counts, then exit 130 (irtool.cli.main)
            from irtool.cli._output import interrupted

            bar.stop()
            interrupted(progress.interrupted_message())
    summary = summarize(outcomes, runner, naming.model, time.perf_counter() - started)
    _print_summary(summary)
    if json_out:
        from irtool.cli._output import print_json

        print_json(summary)
    if stopped is not None:
        raise stopped
    if summary["failed"]:
        raise typer.Exit(1)


def _parse_tile(text: str) -> int | None:
    from irtool.errors import UsageError

    text = text.strip().lower()
    if text == "auto":
        return None
    if text.isdigit():
        return int(text)
    raise UsageError(f"--tile {text!r}: give a size in pixels, auto, or 0 for whole images")


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from irtool.cli._output import err

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    state = f"{summary['done']} done, {summary['skipped']} skipped, {summary['failed']} failed"
    table.add_row("restored", state + f" in {summary['seconds']:.1f} s")
    tta = ", x8 self-ensemble" if summary["tta"] else ""
    table.add_row(
        "model",
        f"{summary['model']} on {_where(summary['device'], summary['runtime'])}, {summary['precision']}, "
        f"tile {summary['tile']}{tta}",
    )
    if summary["nan_retries"] or summary["oom_retries"]:
        table.add_row(
            "retries",
            f"{summary['oom_retries']} out of memory, {summary['nan_retries']} NaN tile batches redone in fp32",
        )
    err.print(table, highlight=False)
    for item in summary["items"]:  # one unwrapped line each: easy to grep and to copy a path from
        if item["status"] == "failed":
            err.print(f"[red]failed[/red]   {escape(item['error'])}", highlight=False, soft_wrap=True)


def _where(device: str, runtime: str) -> str:
    """The device, and what runs the model there unless it is torch (an ONNX graph runs on onnxruntime)."""
    return device if runtime == "torch" else f"{device} ({runtime})"
