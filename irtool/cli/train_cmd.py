"""`irtool train`: train or fine-tune a model from a YAML config or a shipped preset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from irtool.cli._app import app

if TYPE_CHECKING:
    from irtool.cli._progress import ProgressBar

_EPILOG = """\
Examples:

  irtool train --preset sr-x4                                   # the recipe of the shipped sr-x4 model
  irtool train my.yaml --set optim.lr=2e-4 --set run.out_dir=runs/a
  irtool train --preset denoise --set model.init=sr-x4 --print-config
  irtool train my.yaml --resume auto                            # continue the newest checkpoint in run.out_dir
  torchrun --nproc_per_node 2 -m irtool train my.yaml           # DistributedDataParallel (gloo on CPU, nccl on CUDA)

Relative dataset roots in a config are read under $IRTOOL_DATA_DIR. Presets: irtool train --list-presets.
"""


@app.command("train", epilog=_EPILOG)
def train_command(
    config: Path | None = typer.Argument(None, help="Training config (YAML).", show_default=False),
    preset: str | None = typer.Option(
        None, "--preset", help="Use a shipped config by name instead of a file.", rich_help_panel="Config"
    ),
    overrides: list[str] = typer.Option(
        [],
        "--set",
        metavar="KEY=VALUE",
        help="Override a config value, e.g. --set optim.lr=2e-4 (repeatable).",
        rich_help_panel="Config",
    ),
    print_config: bool = typer.Option(
        False, "--print-config", help="Print the resolved config as YAML and exit.", rich_help_panel="Config"
    ),
    list_presets: bool = typer.Option(False, "--list-presets", help="List shipped presets.", rich_help_panel="Config"),
    resume: str | None = typer.Option(
        None,
        "--resume",
        help="'auto' (newest checkpoint in run.out_dir, if any) or a checkpoint/run folder.",
        rich_help_panel="Run",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Run folder (same as --set run.out_dir=...).", rich_help_panel="Run"
    ),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N, mps.", rich_help_panel="Run"),
    json_out: bool = typer.Option(
        False, "--json", help="Print the run summary as JSON on stdout.", rich_help_panel="Output"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar.", rich_help_panel="Output"),
) -> None:
    """Train a restoration model: validated YAML config, EMA, checkpoints with exact resume, DDP via torchrun."""
    from irtool.errors import UsageError
    from irtool.train import config as cfg_mod

    if list_presets:
        _print_presets(json_out)
        return
    if (config is None) == (preset is None):
        raise UsageError("give a CONFIG file or --preset NAME (one of them)")
    path = cfg_mod.preset_path(preset) if preset else config
    extra = list(overrides)
    if out is not None:
        extra.append(f"run.out_dir={out}")
    if device is not None:
        extra.append(f"run.device={device}")
    cfg = cfg_mod.load(path, extra)

    if print_config:
        import yaml

        typer.echo(yaml.safe_dump(cfg.to_dict(), sort_keys=False), nl=False)
        return

    from irtool.cli._output import print_json
    from irtool.cli._progress import ProgressBar
    from irtool.launch import launch_env
    from irtool.train.loop import train

    # Under torchrun every process gets here: rank 0 alone draws progress and prints the summary.
    main_process = launch_env().is_main
    with ProgressBar(description="train", quiet=quiet or not main_process) as bar:
        summary = train(cfg, resume=resume, report=_reporter(bar))
    if json_out and main_process:
        print_json(summary)


def _print_presets(json_out: bool) -> None:
    import yaml

    from irtool.cli._output import out, print_json
    from irtool.train.config import PRESETS_DIR, list_presets

    rows = []
    for name in list_presets():
        data = yaml.safe_load((PRESETS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
        rows.append({"name": name, "model": data["model"]["name"], "description": data.get("description", "")})
    if json_out:
        print_json(rows)
        return
    from rich.table import Table

    table = Table("preset", "model", "description")
    for r in rows:
        table.add_row(r["name"], r["model"], r["description"])
    out.print(table)


def _reporter(bar: ProgressBar) -> Callable[[str, dict[str, Any]], None]:
    """The training loop's `report` callback: steps on the bar (it/s, loss, lr), one note per validation."""

    def report(event: str, payload: dict[str, Any]) -> None:
        if event == "start":
            bar.reset(payload["total"], completed=payload["start"])
            if payload["start"]:
                bar.note(f"resumed at step {payload['start']} in {payload['run_dir']}")
        elif event == "step":
            postfix = f"{payload['it_per_s']:.2f} it/s  loss {payload['loss']:.4f} lr {payload['lr']:.1e}"
            bar.update(payload["step"], postfix=postfix)
        elif event == "val":
            scores = " ".join(f"{k[4:]} {v:.4f}" for k, v in payload.items() if k.startswith("val_"))
            bar.note(f"step {payload['step']}: validation {scores} (best psnr {payload['best_psnr']:.4f})")
        elif event == "end":
            bar.stop()
            bar.note(f"done: {payload['steps']} steps, run folder {payload['run_dir']}")

    return report
