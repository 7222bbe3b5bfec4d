"""`irtool eval`: PSNR/SSIM of a model on a benchmark set, or of saved outputs against ground truth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from irtool.cli._app import app
from irtool.cli._output import info

_EPILOG = """\
Examples:

  irtool eval -m sr-x4 --dataset Set5 --scale 4
  irtool eval -m denoise --dataset CBSD68 --sigma 25 --json > cbsd68.json
  irtool eval -m bicubic --dataset Set14 -s 2 -p sr-luma --gray-convention rgb
  irtool eval -m sr-x4 --dataset BSD100 -x        # x8 self-ensemble ("+" rows)
  irtool eval -m photo-x4 --dataset BSD100 --degradation real --seed 0
  irtool eval -m sr-x4.onnx --dataset Set5          # an exported graph, on onnxruntime
  irtool eval -m sr-x4 --dataset Set5 -d cuda --precision auto
  irtool eval --pred results/ --gt Set5/HR --protocol sr --scale 4
  irtool eval --pred derained/ --gt Rain100L/target --protocol derain

Protocols: sr (BasicSR: Y channel, border = scale, LR made here by MATLAB
bicubic), sr-rgb, sr-luma (the MATLAB Y-only pipeline of the published
bicubic rows), denoise (noise seeded with 0 per image, RGB), derain (rounded
Y, no border). --degradation real makes the SR input with the realistic chain
(blur, resize, noise, JPEG, twice; Real-ESRGAN's ranges) seeded per image
from --seed; --json lists every image's parameters. --json writes every
convention used, and how the model ran
(device, precision, tile, self-ensemble). The published protocols run the
whole image in fp32: other precisions and tiling change scores slightly.
Sets come from $IRTOOL_DATA_DIR (`irtool datasets list`). --pred/--gt pair
files by name, else by sorted order.

Exit codes: 0 ok; 1 an image could not be read; 2 bad options; 3 model or
set unavailable; 4 out of memory, or the device is missing.
"""

_TASK_PROTOCOL = {"sr": "sr", "denoise": "denoise", "derain": "derain"}


@app.command("eval", epilog=_EPILOG)
def eval_command(
    dataset: str | None = typer.Option(
        None, "--dataset", "-D", help="Benchmark set by name (irtool datasets list).", rich_help_panel="Data"
    ),
    pred: Path | None = typer.Option(
        None, "--pred", help="Folder of outputs to score (instead of running a model).", rich_help_panel="Data"
    ),
    gt: Path | None = typer.Option(None, "--gt", help="Ground-truth folder for --pred.", rich_help_panel="Data"),
    limit: int | None = typer.Option(
        None, "--limit", help="Only the first N images of the set (a quick check).", rich_help_panel="Data"
    ),
    offline: bool = typer.Option(
        False, "--offline", help="Never download (sets and weights must be local).", rich_help_panel="Data"
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help=(
            "Registry name (bicubic, identity, sr-x4, ...), weight file, exported .onnx graph, or "
            "hf://owner/repo\\[@rev]/file (hf:owner/repo/file is the same)."
        ),
        rich_help_panel="Model",
    ),
    scale: int | None = typer.Option(
        None, "--scale", "-s", help="SR scale (default: the model's).", rich_help_panel="Protocol"
    ),
    sigma: float | None = typer.Option(
        None, "--sigma", help="Gaussian noise level on 0..255 (denoise protocol).", rich_help_panel="Protocol"
    ),
    protocol: str | None = typer.Option(
        None,
        "--protocol",
        "-p",
        help="sr, sr-rgb, sr-luma, denoise, derain (default: the set's task).",
        rich_help_panel="Protocol",
    ),
    degradation: str = typer.Option(
        "bicubic",
        "--degradation",
        help="SR input: bicubic (the published LR) or real (blur, resize, noise and JPEG, twice, seeded).",
        rich_help_panel="Protocol",
    ),
    seed: int = typer.Option(
        0, "--seed", help="Seed of --degradation real (image i draws from [seed, i]).", rich_help_panel="Protocol"
    ),
    gray: str = typer.Option(
        "rgb",
        "--gray-convention",
        help="Grey images: 'rgb' = read as RGB, studio-range Y (BasicSR); 'matlab' = full-range grey level.",
        rich_help_panel="Protocol",
    ),
    device: str = typer.Option("auto", "--device", "-d", help="auto, cpu, cuda, cuda:N, mps.", rich_help_panel="Run"),
    precision: str = typer.Option(
        "fp32",
        "--precision",
        help=(
            "fp32 (what the published protocols use), bf16, fp16, or auto (what restore uses: fp16/bf16 on GPU, "
            "bf16 on a CPU with native bf16, where the model allows). An ONNX graph runs at the precision it was "
            "exported in."
        ),
        rich_help_panel="Run",
    ),
    tile: int = typer.Option(
        0,
        "--tile",
        "-t",
        min=0,
        help="Tile side in input pixels; 0 = the whole image (the protocols' setting). Tiling changes scores slightly.",
        rich_help_panel="Run",
    ),
    tta: bool = typer.Option(
        False,
        "--tta",
        "-x",
        help="x8 self-ensemble (the papers' '+' rows): average over 4 rotations x 2 mirror images; 8x slower.",
        rich_help_panel="Run",
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Print the report as JSON on stdout.", rich_help_panel="Output"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar.", rich_help_panel="Output"),
) -> None:
    """Score a model on a benchmark set under a paper protocol, or score saved outputs against ground truth."""
    from irtool.errors import UsageError

    if gray not in ("rgb", "matlab"):
        raise UsageError(f"--gray-convention must be 'rgb' or 'matlab', got {gray!r}")
    if degradation not in ("bicubic", "real"):
        raise UsageError(f"--degradation must be 'bicubic' or 'real', got {degradation!r}")
    folder_mode = pred is not None or gt is not None
    if folder_mode:
        if pred is None or gt is None:
            raise UsageError("--pred and --gt go together")
        ran_options = (dataset, model, sigma, limit)
        if any(v is not None for v in ran_options) or tta or tile or precision != "fp32" or degradation != "bicubic":
            raise UsageError(
                "--pred/--gt score saved outputs: --dataset, --model, --sigma, --limit, --tta, --tile, "
                "--precision and --degradation do not apply"
            )
        if protocol is None:
            raise UsageError("say which protocol scores these outputs: --protocol sr|sr-rgb|sr-luma|denoise|derain")
    elif dataset is None or model is None:
        raise UsageError("give --dataset and --model (or --pred and --gt to score saved outputs)")

    if folder_mode:
        from irtool.evaluate import evaluate_folders

        with _progress(quiet) as progress:
            report = evaluate_folders(pred, gt, protocol, scale=scale, gray=gray, progress=progress)
    else:
        run = _RunOptions(device=device, precision=precision, tile=tile, tta=tta, degradation=degradation, seed=seed)
        report = _evaluate_model(dataset, model, protocol, scale, sigma, gray, run, offline, limit, quiet)

    if json_out:
        from irtool.cli._output import print_json

        print_json(report.to_dict())
    else:
        _print_table(report)


@dataclass(frozen=True)
class _RunOptions:
    """How the model runs (the report's `run` block records what was used)."""

    device: str
    precision: str
    tile: int
    tta: bool
    degradation: str = "bicubic"
    seed: int = 0


def _evaluate_model(
    dataset: str,
    model_ref: str,
    protocol: str | None,
    scale: int | None,
    sigma: float | None,
    gray: str,
    run: _RunOptions,
    offline: bool,
    limit: int | None,
    quiet: bool,
) -> Any:
    from irtool import models
    from irtool.cli._output import warn
    from irtool.data import benchmarks
    from irtool.engine.devices import PRECISIONS
    from irtool.errors import UsageError
    from irtool.evaluate import evaluate
    from irtool.models import ModelRef, open_model

    if run.precision.strip().lower() not in PRECISIONS:  # before any loading; an ONNX graph would only log it
        raise UsageError(f"--precision {run.precision!r}: choose {', '.join(PRECISIONS)}")
    data = benchmarks.load(dataset, offline=offline, limit=limit)  # before the model: a missing set fails fast
    ref = ModelRef.parse(model_ref)
    model = open_model(ref, offline=offline, device=run.device)
    descriptor = model.descriptor
    # Weightless built-ins (bicubic) take any scale: rebuild at the one asked for.
    weightless = ref.kind == "name" and "scale" in descriptor.hparams and not _has_parameters(model)
    if weightless and scale is not None and descriptor.scale != scale:
        model = models.create(ref.text, scale=scale)
    chosen = protocol or _default_protocol(data.task, descriptor.arch)
    if protocol is None and chosen != _TASK_PROTOCOL[data.task]:
        info(f"scoring the {descriptor.arch} baseline with protocol {chosen} (how the published rows were made)")
    with _progress(quiet) as progress:
        return evaluate(
            model,
            data,
            chosen,
            scale=scale,
            sigma=sigma,
            gray=gray,
            device=run.device,
            precision=run.precision,
            tile=run.tile,
            self_ensemble=run.tta,
            degradation=run.degradation,
            seed=run.seed,
            progress=progress,
            log=warn,
        )


def _has_parameters(model: Any) -> bool:
    """Whether a torch module holds weights (an ONNX graph is never rebuilt at another scale)."""
    parameters = getattr(model, "parameters", None)
    return parameters is None or next(parameters(), None) is not None


def _default_protocol(task: str, arch: str) -> str:
    """The protocol a model is scored with when none is asked for.

    The bicubic row that every SR paper copies (Set5 x2 33.66 ...) comes from the SRCNN/VDSR-era MATLAB pipeline,
    which works on the Y plane alone (`sr-luma`); scoring the baseline through the RGB pipeline lands 0.01-0.02 dB
    above those tables. Models are scored with the task's modern preset.
    """
    if task == "sr" and arch == "bicubic":
        return "sr-luma"
    return _TASK_PROTOCOL[task]


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[int, int, Any], None]]:
    """The CLI's shared progress bar over images (irtool.cli._progress), as the callback `evaluate` takes.

    On stderr, so it stays on with --json; off with --quiet and when stderr is not a terminal.
    """
    from irtool.cli._progress import ProgressBar

    with ProgressBar(None, description="scoring", quiet=quiet) as bar:

        def update(done: int, total: int, last: Any) -> None:
            bar.update(done, total=total, postfix=f"{last.name}: {last.psnr:.2f} dB")

        yield update


def _print_table(report: Any) -> None:
    from rich.table import Table

    from irtool.cli._output import out

    proto, data = report.protocol, report.dataset
    title = f"{data['name']} ({data['count']} images"
    if data.get("subset"):
        title += f" of {data['expected']}, subset"
    title += f") - protocol {proto['name']}"
    if proto["task"] == "sr":
        title += f" x{proto['scale']}"
    if proto.get("sigma") is not None:
        title += f" sigma {proto['sigma']:g}"
    if proto.get("degradation") == "real":
        title += f", real degradation seed {proto['seed']}"
    table = Table(title=title)
    table.add_column("image")
    table.add_column("PSNR (dB)", justify="right")
    table.add_column("SSIM", justify="right")
    for s in report.per_image:
        table.add_row(s.name, f"{s.psnr:.4f}", f"{s.ssim:.4f}")
    table.add_section()
    table.add_row("[bold]mean[/bold]", f"[bold]{report.psnr:.4f}[/bold]", f"[bold]{report.ssim:.4f}[/bold]")
    out.print(table)
    out.print(_caption(report), highlight=False)


def _caption(report: Any) -> str:
    proto, data = report.protocol, report.dataset
    parts = [proto["color"], f"border {proto['crop_border']}", f"grey as {proto['gray']}"]
    if report.model:
        parts.insert(0, f"model {report.model.get('name') or report.model.get('arch')}")
    if data.get("pairing"):
        parts.append(f"paired by {data['pairing']}")
    run = report.run or {}
    if run.get("device"):  # scoring saved outputs runs no model
        parts.append(f"{run['device']}, {run.get('precision')}")
        if run.get("tile") not in (None, "whole image"):
            parts.append(f"tile {run['tile']}")
    if run.get("self_ensemble"):
        parts.append("x8 self-ensemble")
    parts.append(f"{report.seconds:.1f} s")
    return "; ".join(parts)
