"""Training throughput of the shipped presets, and the training time recorded in the shipped weights.

Runs the real trainer (`irtool.train.loop.train`) for a few steps of each preset at its own patch and batch size,
on the CPU and, when present, on CUDA, and reports images/s and it/s of the steady-state window (the first steps,
which pay for start-up, are left out), and the images/s of the data path alone (patches and degradations). Then
prints what each shipped model's weights say about their training, summed over every stage (a fine-tuned model's
header lists the runs behind its starting weights): steps, minutes of optimiser steps, devices, CPU and GPU minutes.

    IRTOOL_DATA_DIR=../shared/datasets python benchmarks/train_speed.py [--presets sr-x4 denoise] [--steps 12]
    [--threads 2]

`--presets` with no names prints only the shipped weights' table. "minutes" are wall-clock minutes of optimiser
steps (validation excluded); "CPU-min" multiplies them by the threads used, an upper bound on CPU time when the
machine is shared. Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def timing_overrides(out_dir: str, device: str, steps: int) -> list[str]:
    """A short timing run of a preset: no validation, one checkpoint at the end, the second half logged apart."""
    return [
        f"run.out_dir={out_dir}",
        f"run.device={device}",
        f"schedule.steps={steps}",
        f"run.log_every={steps // 2}",
        f"run.checkpoint_every={steps * 10}",  # only the final one
        "val.dataset=null",
        "model.init=null",  # throughput does not depend on the starting weights
    ]


def measure(preset: str, device: str, steps: int, threads: int | None) -> dict:
    import torch

    from irtool.train import config
    from irtool.train.loop import train
    from irtool.train.schedule import patch_and_batch

    with tempfile.TemporaryDirectory() as tmp:
        overrides = timing_overrides(tmp, device, steps)
        if threads:
            overrides.append(f"run.threads={threads}")
        cfg = config.load(config.preset_path(preset), overrides)
        train(cfg)
        records = [json.loads(line) for line in (Path(tmp) / "metrics.jsonl").read_text().splitlines()]
    steady = records[-1]  # the second half of the steps
    patch, batch = patch_and_batch(0, cfg.data, cfg.progressive)
    return {
        "data_images_per_s": round(data_rate(cfg, device, patch, batch, steps), 1),
        "preset": preset,
        "device": device,
        "threads": torch.get_num_threads() if device == "cpu" else None,
        "patch": patch,
        "batch": batch,
        "images_per_s": round(steady["images_per_s"], 2),
        "it_per_s": round(steady["it_per_s"], 3),
    }


def data_rate(cfg, device: str, patch: int, batch: int, steps: int) -> float:
    """Images/s of the data path alone (patches cut and degraded on the device), apart from the model."""
    import time

    import torch

    from irtool.data import training

    dev = torch.device(device)
    sampler, degrade = training.build(cfg.data.resolved_roots(), cfg.data.channels, cfg.data.degradation(), dev, 0)

    def one() -> None:
        target, given = sampler.draw(batch, patch + 2 * degrade.margin)
        degrade(target.float().div_(255), given)

    one()  # warm-up
    if dev.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        one()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - started)


def shipped_training() -> list[dict]:
    from irtool.models.checkpoint import read_metadata
    from irtool.models.registry import WEIGHTS_DIR

    rows = []
    for name in ("sr-x2", "sr-x3", "sr-x4", "denoise"):
        path = WEIGHTS_DIR / f"{name}.safetensors"
        if not path.is_file():
            rows.append({"model": name, "weights": "missing"})
            continue
        meta = read_metadata(path)
        # This run, and the stages behind the weights it started from (irtool.train.lineage), oldest first.
        stages = [*json.loads(meta.get("irtool.train.lineage", "[]"))]
        stages.append(
            {
                "steps": int(meta.get("irtool.train.step", "0")),
                "seconds": float(meta.get("irtool.train.seconds", "nan")),
                "device": meta.get("irtool.train.device"),
                "threads": int(meta.get("irtool.train.threads", "1")),
            }
        )
        rows.append(
            {
                "model": name,
                "stages": len(stages),
                "steps": sum(st["steps"] for st in stages),
                "device": "+".join(sorted({str(st["device"]) for st in stages})),
                "train_minutes": round(sum(st["seconds"] for st in stages) / 60, 1),
                "cpu_minutes": round(sum(st["seconds"] * (st["threads"] or 1) for st in stages) / 60, 1)
                if all(st["device"] == "cpu" for st in stages)
                else None,
                "gpu_minutes": round(
                    sum(st["seconds"] for st in stages if str(st["device"]).startswith("cuda")) / 60, 1
                ),
            }
        )
    return rows


def main() -> None:
    import torch

    from irtool.train.config import list_presets

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="*", default=list_presets())
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: the preset's)")
    args = parser.parse_args()

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = [measure(p, d, args.steps, args.threads) for p in args.presets for d in devices]
    if rows:  # `--presets` with no names: only the table of the shipped weights
        header = f"{'preset':10} {'device':6} {'threads':>7} {'patch':>5} {'batch':>5} {'img/s':>8} {'it/s':>7}"
        print(header + f" {'data img/s':>10}")
        for r in rows:
            print(
                f"{r['preset']:10} {r['device']:6} {r['threads'] or '-':>7} {r['patch']:>5} {r['batch']:>5} "
                f"{r['images_per_s']:>8.2f} {r['it_per_s']:>7.3f} {r['data_images_per_s']:>10.1f}"
            )
        print()
    print(f"{'model':8} {'stages':>6} {'steps':>7} {'device':6} {'minutes':>8} {'CPU-min':>8} {'GPU-min':>8}")
    for r in shipped_training():
        if r.get("weights") == "missing":
            print(f"{r['model']:8} (no shipped weights)")
            continue
        cpu = r["cpu_minutes"] if r["cpu_minutes"] is not None else "-"
        print(
            f"{r['model']:8} {r['stages']:>6} {r['steps']:>7} {r['device']:6} {r['train_minutes']:>8} {cpu:>8} "
            f"{r['gpu_minutes']:>8}"
        )


if __name__ == "__main__":
    main()
