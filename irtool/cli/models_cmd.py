"""`irtool models list|info|convert`: what models exist, what one needs and costs, and .pth -> our .safetensors.

`models download` is added to `models_app` by the restore/hub side (`@models_app.command("download")` in its own
module), so all model commands share one group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from irtool.cli._app import app

models_app = typer.Typer(
    name="models",
    help="List, inspect and convert models.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(models_app, name="models")

_LIST_EPILOG = """\
Examples:

  irtool models list
  irtool models list --json | jq '.[] | select(.task == "denoise") | .name'

Runnable models come first. Status: "ready" = runs as named (weights shipped inside the package, or none needed);
"download" = runs once its weights are fetched from the Hub (first use, or `irtool models download`); "weights
needed" = an architecture only: give it a weight file (e.g. an official Restormer .pth) with -m FILE.
Weights: "shipped" = inside the package; "not needed" = no parameters (bicubic, identity); "hf"/"file" = fetched
or read from that reference; "none" = no weights known. `--json` has the same rows, with "ready": true/false.
"""

_INFO_EPILOG = """\
Examples:

  irtool models info restormer                       # params, MACs at 1x3x256x256
  irtool models info restormer --size 512x768 --json
  irtool models info deraining.pth                   # an official checkpoint: detected configuration

MACs: "conv" counts convolutions only (the convention of the usual Restormer figure, 140.99G at 256x256);
"conv + linear" adds linear layers (the fair comparison for token-based models such as Hi-IR, whose projections
are nn.Linear); "all" adds the attention matrix products too. Element-wise ops are never counted.
"""

_CONVERT_EPILOG = """\
Examples:

  irtool models convert deraining.pth                       # -> deraining.safetensors
  irtool models convert net_g_300000.pth -o mine.safetensors --meta task=denoise

The architecture and its hyper-parameters are detected from the state_dict and written into the file's header,
so `irtool restore -m mine.safetensors` needs no options. Licences of the weights are not changed by converting.
"""


@models_app.command("list", epilog=_LIST_EPILOG)
def list_command(
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """List the named models: which run as they are, task, scale, parameters, licence and where their weights are."""
    import torch

    from irtool.cli._output import out, print_json
    from irtool.models import create, list_models
    from irtool.models.profile import count_params, format_count

    rows = []
    for entry in list_models():
        with torch.device("meta"):  # counting parameters needs shapes only
            d = create(entry.name)
            params = count_params(d)
        desc = d.descriptor
        weights = _weights_kind(entry) if params else "not needed"
        rows.append(
            {
                "name": entry.name,
                "ready": _ready(entry, weights),
                "status": _STATUS[weights] if weights != "file" or _ready(entry, weights) else "weights needed",
                "arch": entry.arch,
                "task": desc.task,
                "scale": desc.scale,
                "params": params,
                "license": desc.license,
                "weights": weights,
                "description": entry.description,
            }
        )
    rows.sort(key=lambda r: not r["ready"])  # stable: registry order within each group
    if json_out:
        print_json(rows)
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("name", "status", "task", "scale", "params", "weights", "license"):
        table.add_column(col, justify="right" if col in ("scale", "params") else "left", no_wrap=col != "license")
    for r in rows:
        status = f"[green]{r['status']}[/green]" if r["ready"] else r["status"]
        cells = (r["task"], f"x{r['scale']}", format_count(r["params"]), r["weights"], r["license"])
        table.add_row(escape(r["name"]), status, *map(escape, cells))
    out.print(table)
    ready = sum(r["ready"] for r in rows)
    out.print(
        f"{ready} of {len(rows)} run as named; the others are architectures: give weights with -m FILE or -m hf://...",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@models_app.command("info", epilog=_INFO_EPILOG)
def info_command(
    model: str = typer.Argument(..., help="Registry name, weight file (.safetensors/.pth) or hf:// reference."),
    offline: bool = typer.Option(False, "--offline", help="Never touch the network; Hub models must be cached."),
    size: str = typer.Option("256x256", "--size", help="Input HxW for the MAC count (the input, not the output)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Show a model's descriptor, parameter count, MACs at a stated input size, weights and file metadata."""
    from irtool.cli._output import out, print_json
    from irtool.models import ModelDescriptor, info
    from irtool.models.profile import count_macs, format_count

    h, w = _parse_size(size)
    result = info(model, offline=offline)
    result["macs"] = count_macs(ModelDescriptor.from_dict(result["descriptor"]), h, w)
    if json_out:
        print_json(result)
        return
    d = result["descriptor"]
    macs = result["macs"]["macs"]
    lines = [
        f"{result['name']}  {result['description']}".rstrip(),
        f"  arch {d['arch']}, task {d['task']}, scale x{d['scale']}, channels {d['in_channels']}->{d['out_channels']}",
        f"  params {format_count(result['params'])} ({result['params']:,})",
        f"  MACs at 1x{d['in_channels']}x{h}x{w}: {format_count(macs['conv'])} conv only, "
        f"{format_count(macs['conv_linear'])} conv + linear, {format_count(macs['all'])} all (+ attention matmuls)",
        f"  size multiple {d['size_multiple']}, fp16 safe {d['fp16_safe']}, bf16 safe {d['bf16_safe']}, "
        f"global statistics {d['global_stats']}",
        f"  licence {d['license']}",
        f"  weights {_weights_text(result['weights'])}",
        f"  hparams {d['hparams']}",
    ]
    lines += [f"  {k}: {v}" for k, v in result["metadata"].items()]
    out.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


@models_app.command("convert", epilog=_CONVERT_EPILOG)
def convert_command(
    source: Path = typer.Argument(..., help="A .pth/.pt/.ckpt (or bare .safetensors) state_dict of a known arch."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Output .safetensors (default: beside SOURCE)."),
    meta: list[str] = typer.Option([], "--meta", metavar="KEY=VALUE", help="Extra header entries (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Replace OUTPUT if it exists."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Convert a foreign checkpoint into irtool's .safetensors, with the detected architecture in its header."""
    from irtool.cli._output import info, print_json
    from irtool.errors import UsageError
    from irtool.models import load_file, save

    output = output or source.with_suffix(".safetensors")
    if output.suffix != ".safetensors":
        raise UsageError(f"{output}: the output must end in .safetensors")
    if output.resolve() == source.resolve():
        raise UsageError(f"{output}: would overwrite the input; pass another -o")
    if output.exists() and not force:
        raise UsageError(f"{output} exists; pass --force to replace it")
    extra: dict[str, Any] = {}
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--meta {item!r}: expected KEY=VALUE")
        extra[key] = value
    model = load_file(source)
    save(model, output, metadata={"source": source.name, **extra})
    result = {"source": str(source), "output": str(output), "descriptor": model.descriptor.to_dict()}
    if json_out:
        print_json(result)
    else:
        info(f"{source} -> {output} ({model.descriptor.arch}, {model.descriptor.hparams})")


def _weights_kind(entry: Any) -> str:
    if entry.weights is None:
        return "shipped" if entry.shipped_file.is_file() else "none"
    from irtool.models.ref import ModelRef

    return "hf" if ModelRef.parse(entry.weights).kind == "hub" else "file"


_STATUS = {"shipped": "ready", "not needed": "ready", "hf": "download", "file": "ready", "none": "weights needed"}


def _ready(entry: Any, weights: str) -> bool:
    """Runs as named: nothing to fetch by hand (a Hub reference downloads on first use; a local file must exist)."""
    if weights == "file":
        return Path(entry.weights).expanduser().is_file()
    return weights != "none"


def _weights_text(w: dict[str, Any]) -> str:
    if "file" in w:
        return w["file"]
    if not w["needed"]:
        return "not needed (no parameters)"
    if w["ref"] is None:
        return "none (architecture only; pass a weight file)"
    return f"{'shipped ' if w['shipped'] else ''}{w['ref']}"


def _parse_size(text: str) -> tuple[int, int]:
    from irtool.errors import UsageError

    parts = text.lower().split("x")
    try:
        h, w = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (0, 0)
    except ValueError:
        h = w = 0
    if h <= 0 or w <= 0:
        raise UsageError(f"--size {text!r}: expected HxW (e.g. 256x256) or one number")
    return h, w
