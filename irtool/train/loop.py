"""The training loop: one function, `train(cfg)`, that the CLI, the tests and torchrun all call.

Each step: draw patches (CPU) -> degrade them on the device -> forward (bf16 autocast on CUDA) -> L1/Charbonnier
-> backward -> clip -> AdamW -> LR schedule -> EMA. Everything random is seeded and checkpointed, so a resumed run
produces the same losses, bit for bit, as one that never stopped (tests/train/test_resume.py holds us to that).

Files a run writes in `run.out_dir`:
    config.yaml          the resolved configuration (after --set overrides)
    metrics.jsonl        one JSON object per log line and per validation
    checkpoints/step-N/  see irtool.train.checkpoint
    best.safetensors     EMA weights with the best validation PSNR so far
    last.safetensors     EMA weights at the end
    tensorboard/         when the tensorboard package is installed
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from irtool.errors import InputError, UsageError
from irtool.train import checkpoint, distributed
from irtool.train.config import TrainConfig
from irtool.train.ema import EMA
from irtool.train.optim import adamw, make_loss, step_unless
from irtool.train.schedule import lr_factor, patch_and_batch

# Non-finite losses are skipped; this many in a row means the run has diverged.
MAX_BAD_STEPS = 10


@dataclass
class StepLog:
    step: int
    loss: float
    lr: float
    patch: int
    batch: int  # per process
    images_per_s: float  # all processes together
    it_per_s: float


# Called by the CLI to draw progress: (event, payload) with event in {"start", "step", "val", "end"}.
Reporter = Callable[[str, dict[str, Any]], None]


def _quiet(event: str, payload: dict[str, Any]) -> None:
    pass


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def build_model(cfg: TrainConfig) -> nn.Module:
    """The configured model, started from `model.init` where given (tensors of another shape stay fresh)."""
    from irtool import models

    model = models.create(cfg.model.name, **cfg.model.options)
    if cfg.model.init:
        source = models.load(cfg.model.init).state_dict()
        own = model.state_dict()
        fitting = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
        if not fitting:
            raise InputError(f"model.init {cfg.model.init}: no tensor fits {cfg.model.name}")
        model.load_state_dict(fitting, strict=False)
    return model


def lineage(init: str | None) -> list[dict[str, Any]]:
    """The training stages behind the starting weights, oldest first, from their header: a model fine-tuned from
    the shipped one reports all the steps and minutes that went into it, not only its own run's."""
    if not init:
        return []
    from irtool import models
    from irtool.models.checkpoint import read_metadata

    meta = read_metadata(models.weights_file(init))
    if "irtool.train.step" not in meta:
        return []  # weights from elsewhere (an official checkpoint): nothing known about their training
    stage = {
        "weights": str(init),
        "description": meta.get("irtool.train.description", ""),
        "steps": int(meta["irtool.train.step"]),
        "seconds": float(meta.get("irtool.train.seconds", "nan")),
        "device": meta.get("irtool.train.device"),
        "threads": int(meta.get("irtool.train.threads", "0")) or None,
        "processes": int(meta.get("irtool.train.processes", "1")),
    }
    return [*json.loads(meta.get("irtool.train.lineage", "[]")), stage]


def _amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    if cfg.run.amp == "off" or (cfg.run.amp == "auto" and device.type != "cuda"):
        return None
    return torch.bfloat16


# The evaluation protocol for each training task (irtool.evaluate presets).
_PROTOCOLS = {"sr": "sr", "real": "sr", "denoise": "denoise", "paired": "derain"}


def validate(model: nn.Module, cfg: TrainConfig, device: torch.device) -> dict[str, float]:
    """PSNR/SSIM on the validation set through irtool.evaluate: the same code and protocol as `irtool eval`."""
    from irtool.data import benchmarks
    from irtool.evaluate import evaluate

    data = benchmarks.load(cfg.val.dataset, limit=cfg.val.max_images)
    protocol = _PROTOCOLS[cfg.data.task]
    degradation = "real" if cfg.data.task == "real" else "bicubic"
    report = evaluate(model, data, protocol, sigma=cfg.val.sigma, degradation=degradation, device=device)
    return {"psnr": report.psnr, "ssim": report.ssim}


class _Logger:
    """JSONL always; TensorBoard when the package is installed. Rank 0 only."""

    def __init__(self, run_dir: Path, enabled: bool):
        self.enabled = enabled
        self.file = open(run_dir / "metrics.jsonl", "a", encoding="utf-8") if enabled else None  # noqa: SIM115
        self.tb = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run_dir / "tensorboard"))
            except Exception:  # tensorboard not installed (it is an optional extra)
                self.tb = None

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.tb is not None:
            step = record["step"]
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.tb.add_scalar(key, value, step)

    def close(self) -> None:
        if self.file:
            self.file.close()
        if self.tb is not None:
            self.tb.close()


def _progress_meta(step: int, train_seconds: float, ctx: distributed.Context) -> dict[str, str]:
    """How far training got, for weight headers and model cards (seconds of optimiser steps, validation excluded)."""
    return {
        "irtool.train.step": str(step),
        "irtool.train.seconds": f"{train_seconds:.1f}",
        "irtool.train.processes": str(ctx.world_size),
        "irtool.train.device": str(ctx.device),
        "irtool.train.threads": str(torch.get_num_threads()),
    }


def _save_resolved_config(cfg: TrainConfig, run_dir: Path) -> None:
    import yaml

    text = yaml.safe_dump(cfg.to_dict(), sort_keys=False)
    tmp = run_dir / ".config.yaml.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(run_dir / "config.yaml")


def train(cfg: TrainConfig, *, resume: str | None = None, report: Reporter = _quiet) -> dict[str, Any]:
    """Run (or continue) a training run; returns a summary (steps, best score, files written)."""
    ctx = distributed.setup(cfg.run.device)
    try:
        return _train(cfg, ctx, resume, report)
    finally:
        distributed.teardown(ctx)


def _train(cfg: TrainConfig, ctx: distributed.Context, resume: str | None, report: Reporter) -> dict[str, Any]:
    from irtool.data import training

    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    device = ctx.device
    run_dir = Path(cfg.run.out_dir)
    seed = cfg.run.seed + 1000 * ctx.rank  # every rank draws different patches
    seed_everything(seed)

    model = build_model(cfg).to(device)
    if cfg.run.channels_last:
        model = model.to(memory_format=torch.channels_last)
    ema = EMA(model, cfg.optim.ema_decay) if cfg.optim.ema_decay is not None else None
    optimizer = adamw(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg.schedule, cfg.optim.lr))
    sampler, degrade = training.build(
        cfg.data.resolved_roots(), cfg.data.channels, cfg.data.degradation(), device, seed
    )

    start, best, train_seconds = 0, -math.inf, 0.0
    ckpt_path = None
    if resume:
        ckpt_path = checkpoint.latest(run_dir) if resume == "auto" else checkpoint.resolve(resume, run_dir)
    if ckpt_path is not None:
        weights, ema_weights, state = checkpoint.load(ckpt_path)
        if state["world_size"] != ctx.world_size:
            raise UsageError(f"{ckpt_path} was written by {state['world_size']} process(es); resume with as many")
        try:
            model.load_state_dict(weights)
            if ema is not None and ema_weights is not None:
                ema.model.load_state_dict(ema_weights)
        except RuntimeError as e:  # another model, or the architecture changed since the checkpoint was written
            first = next((line.strip() for line in str(e).splitlines() if "mismatch" in line or "Missing" in line), "")
            raise InputError(f"{ckpt_path}: the checkpoint does not fit model {cfg.model.name} ({first})") from None
        if ema is not None and state["ema"] is not None:
            ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        ranks = state["ranks"][ctx.rank]
        set_rng_state(ranks["rng"])
        sampler.load_state_dict(ranks["sampler"])
        degrade.load_state_dict(ranks["degrade"])
        start, best, train_seconds = state["step"], state["best"], state.get("train_seconds", 0.0)

    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _save_resolved_config(cfg, run_dir)
    logger = _Logger(run_dir, ctx.is_main)
    net = distributed.wrap(model, ctx)
    if cfg.run.compile:
        net = torch.compile(net)
    loss_fn = make_loss(cfg)
    amp_dtype = _amp_dtype(cfg, device)
    total = cfg.schedule.steps
    meta = {
        "irtool.train.config": json.dumps(cfg.to_dict()),
        "irtool.train.description": cfg.description,
        "irtool.train.lineage": json.dumps(lineage(cfg.model.init)),
    }

    def save_checkpoint(step: int) -> None:
        ranks = distributed.gather(
            {"rng": rng_state(), "sampler": sampler.state_dict(), "degrade": degrade.state_dict()}, ctx
        )
        if ctx.is_main:
            state = {
                "step": step,
                "world_size": ctx.world_size,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "ema": ema.state_dict() if ema else None,
                "best": best,
                "train_seconds": train_seconds,
                "ranks": ranks,
            }
            info = {**meta, **_progress_meta(step, train_seconds, ctx)}
            checkpoint.save(run_dir, step, model, ema.model if ema else None, state, info, cfg.run.keep_checkpoints)
        distributed.barrier(ctx)

    report("start", {"start": start, "total": total, "run_dir": str(run_dir), "world_size": ctx.world_size})
    net.train()
    # Read on the host at log steps only: a per-step .item() would stall a GPU's queue every step.
    zero = lambda: torch.zeros((), device=device)  # noqa: E731
    bad_run, worst_run, loss_sum, loss_steps = zero(), zero(), zero(), zero()
    window_images, window_start = 0, time.perf_counter()
    last_log: StepLog | None = None
    for step in range(start, total):
        patch, batch = patch_and_batch(step, cfg.data, cfg.progressive)
        target_u8, input_u8 = sampler.draw(batch, patch + 2 * degrade.margin)  # on the device already
        inputs, target = degrade(target_u8.float().div_(255), input_u8)
        if cfg.run.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            pred = net(inputs)
        loss = loss_fn(pred.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # The gradient norm is the same on every rank after DDP's all-reduce, so all ranks skip a bad step together.
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip_norm or math.inf)
        bad = (~torch.isfinite(grad_norm)).float()
        lr = optimizer.param_groups[0]["lr"]
        step_unless(optimizer, bad)
        scheduler.step()
        if ema is not None:
            ema.update(model)  # after a skipped step it averages in unchanged weights
        bad_run = (bad_run + 1) * bad
        worst_run = torch.maximum(worst_run, bad_run)
        loss_sum += torch.where(bad > 0, 0.0, loss.detach().float())
        loss_steps += 1 - bad
        done = step + 1
        window_images += batch * ctx.world_size

        if done % cfg.run.log_every == 0 or done == total:
            if float(worst_run) >= MAX_BAD_STEPS:  # the one host sync of a log window
                raise RuntimeError(f"training diverged: {MAX_BAD_STEPS}+ non-finite gradients in a row by step {done}")
            mean_loss = distributed.mean(float(loss_sum / loss_steps.clamp_min(1)), ctx)
            elapsed = time.perf_counter() - window_start
            train_seconds += elapsed
            images_per_s = window_images / max(elapsed, 1e-9)
            last_log = StepLog(done, mean_loss, lr, patch, batch, images_per_s, images_per_s / (batch * ctx.world_size))
            window_images, window_start = 0, time.perf_counter()
            worst_run.zero_(), loss_sum.zero_(), loss_steps.zero_()
            record = {**last_log.__dict__, "train_seconds": round(train_seconds, 2)}
            logger.write(record)
            report("step", record)

        validate_now = cfg.val.dataset and ((cfg.val.every and done % cfg.val.every == 0) or done == total)
        if validate_now:
            if ctx.is_main:
                scores = validate(ema.model if ema else model, cfg, device)
                score = scores.get("psnr", -math.inf)
                improved = score > best
                if improved:
                    best = score
                    from irtool import models

                    models.save(
                        ema.model if ema else model,
                        run_dir / "best.safetensors",
                        metadata={
                            **meta,
                            **_progress_meta(done, train_seconds, ctx),
                            "irtool.train.val": json.dumps(scores),
                        },
                    )
                record = {"step": done, **{f"val_{k}": v for k, v in scores.items()}, "best_psnr": best}
                logger.write(record)
                report("val", record)
                net.train()
            distributed.barrier(ctx)
            window_start = time.perf_counter()  # validation time is not training throughput

        if done % cfg.run.checkpoint_every == 0 or done == total:
            save_checkpoint(done)

    final = ema.model if ema else model
    if ctx.is_main and total > start:
        from irtool import models

        models.save(final, run_dir / "last.safetensors", metadata={**meta, **_progress_meta(total, train_seconds, ctx)})
    logger.close()
    summary = {
        "run_dir": str(run_dir),
        "steps": total,
        "resumed_from": start or None,
        "best_psnr": best if math.isfinite(best) else None,
        "train_seconds": round(train_seconds, 1),
        "last": last_log.__dict__ if last_log else None,
    }
    report("end", summary)
    return summary
