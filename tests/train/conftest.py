"""Fixtures for trainer tests: a registered tiny model and a config builder writing into tmp_path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tinynet, also imported by the torchrun entry script
import tinynet  # noqa: E402


@pytest.fixture(autouse=True)
def _tiny_models():
    tinynet.register()


@pytest.fixture
def tiny_config(tmp_path: Path, data_root: Path):
    """A dict config for a 2-layer x2 SR net on Set5 patches: a few steps cost well under a second."""

    def make(**sections) -> dict:
        cfg = {
            "model": {"name": "tiny-test-sr"},
            "data": {
                "task": "sr",
                "roots": [str(data_root / "Set5" / "HR")],
                "scale": 2,
                "patch_size": 16,
                "batch_size": 2,
            },
            "schedule": {"steps": 6, "warmup_steps": 2},
            "optim": {"lr": 1e-3, "ema_decay": 0.9},
            "run": {
                "out_dir": str(tmp_path / "run"),
                "log_every": 1,
                "checkpoint_every": 3,
                "threads": 1,
                "keep_checkpoints": 5,
            },
        }
        for name, values in sections.items():
            cfg[name] = {**cfg.get(name, {}), **values}
        return cfg

    return make
