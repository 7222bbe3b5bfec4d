"""What the shipped weights' descriptors promise: fp16 keeps their output (checked with the CPU's fp16 kernels)."""

import pytest
import torch

from irtool.models import load
from irtool.models.checkpoint import read_metadata
from irtool.models.registry import WEIGHTS_DIR

SHIPPED = ["sr-x2", "sr-x3", "sr-x4", "denoise", "photo-x2", "photo-x4", "photo"]


def _photo_like(size: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 6, size), torch.linspace(0, 6, size), indexing="ij")
    base = torch.stack([torch.sin(xx + yy), torch.cos(0.7 * xx - yy), torch.sin(0.3 * xx * yy)]) * 0.3 + 0.5
    noise = torch.randn(base.shape, generator=torch.Generator().manual_seed(0)) * 0.1  # texture, and sigma-25 noise
    return (base + noise)[None]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_is_fp16_safe(name):
    model = load(name)
    assert model.descriptor.fp16_safe
    x = _photo_like(64)
    with torch.inference_mode():
        full = model(x)
        half = load(name).half()(x.half()).float()
    assert torch.isfinite(half).all()
    # fp16 rounding alone: about 1e-3 on [0, 1]. An overflow or a lost i-LN statistic would be orders larger.
    assert (half - full).abs().max() < 1e-2
    assert (half - full).abs().mean() < 1e-3


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_file_header_agrees_with_the_registry(name):
    import json

    header = json.loads(read_metadata(WEIGHTS_DIR / f"{name}.safetensors")["irtool.descriptor"])
    assert header["fp16_safe"] == load(name).descriptor.fp16_safe


@pytest.mark.parametrize(
    ("name", "init", "scale", "task"),
    [("photo-x2", "sr-x2", 2, "sr"), ("photo-x4", "sr-x4", 4, "sr"), ("photo", "denoise", 1, "photo")],
)
def test_photo_models_load_by_name_offline(name, init, scale, task):
    model = load(name, offline=True)
    assert (model.descriptor.scale, model.descriptor.task) == (scale, task)
    with torch.inference_mode():
        out = model(_photo_like(32))
    assert out.shape == (1, 3, 32 * scale, 32 * scale) and torch.isfinite(out).all()
    # Fine-tuned on the realistic chain, not a copy of the weights they started from.
    meta = read_metadata(WEIGHTS_DIR / f"{name}.safetensors")
    assert '"task": "real"' in meta["irtool.train.config"]
    start = load(init, offline=True).state_dict()
    assert any(not torch.equal(v, start[k]) for k, v in model.state_dict().items())
