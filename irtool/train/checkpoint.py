"""Checkpoints that let a run stop and continue exactly.

A checkpoint is a folder `checkpoints/step-0001000/` holding
    model.safetensors   the trained weights   } our safetensors format (irtool.models.save): each loads on its own
    ema.safetensors     their moving average  } with `irtool.models.load`, so any checkpoint can be evaluated
    state.pt            step, optimiser, LR scheduler, EMA counter, best score, and every rank's RNG states
                        (python, numpy, torch, CUDA, the patch sampler and the degradation generator)
The folder is written under a temporary name and renamed, so a crash never leaves a half checkpoint behind.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from irtool.errors import InputError

_STEP_DIR = re.compile(r"^step-(\d+)$")


def save(
    run_dir: Path,
    step: int,
    model: nn.Module,
    ema_model: nn.Module | None,
    state: dict[str, Any],
    metadata: dict[str, Any],
    keep: int,
) -> Path:
    from irtool import models

    root = run_dir / "checkpoints"
    final = root / f"step-{step:07d}"
    tmp = root / f".step-{step:07d}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    models.save(model, tmp / "model.safetensors", metadata={**metadata, "irtool.train.weights": "raw"})
    if ema_model is not None:
        models.save(ema_model, tmp / "ema.safetensors", metadata={**metadata, "irtool.train.weights": "ema"})
    torch.save(state, tmp / "state.pt")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in sorted(_step_dirs(root))[:-keep] if keep > 0 else []:
        shutil.rmtree(old[1], ignore_errors=True)
    return final


def _step_dirs(root: Path) -> list[tuple[int, Path]]:
    if not root.is_dir():
        return []
    return [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name)) and p.is_dir()]


def latest(run_dir: Path) -> Path | None:
    found = sorted(_step_dirs(run_dir / "checkpoints"))
    return found[-1][1] if found else None


def resolve(resume: str, run_dir: Path) -> Path:
    """`auto` -> the newest checkpoint of this run (None if there is none yet); else a checkpoint folder or a run."""
    path = Path(resume)
    if (path / "state.pt").is_file():
        return path
    found = latest(path)
    if found is None:
        raise InputError(f"--resume {resume}: no checkpoint there (expected a step-N folder with state.pt, or a run)")
    return found


def load(ckpt: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None, dict[str, Any]]:
    """(weights, EMA weights or None, training state) of a checkpoint folder."""
    from irtool.models.checkpoint import read

    weights = read(ckpt / "model.safetensors").state_dict
    ema = read(ckpt / "ema.safetensors").state_dict if (ckpt / "ema.safetensors").is_file() else None
    try:
        state = torch.load(ckpt / "state.pt", map_location="cpu", weights_only=False)
    except Exception as e:
        raise InputError(f"{ckpt / 'state.pt'}: cannot be read ({e})") from None
    return weights, ema, state
