"""Tiny configurations of the real architectures (random weights), small enough to export in a second or two."""

from __future__ import annotations

import pytest
import torch

from irtool import models

_RESTORMER = {"dim": 8, "num_blocks": (1, 1, 1, 1), "num_refinement_blocks": 1, "heads": (1, 1, 2, 2)}
# name -> (registry name, hyper-parameter overrides). Between them: MDTA and windowed/dispersed attention with
# relative position bias, LayerNorm with and without i-LN, pixel (un)shuffle, bicubic image residual, in-graph padding.
TINY = {
    "restormer-ln": ("restormer", _RESTORMER),
    "restormer-iln": ("restormer", {**_RESTORMER, "norm": "iln"}),
    "hiir-sr-iln": (
        "hiir-sr-x4",
        {
            "dim": 12,
            "depths": [2],
            "heads": 2,
            "window": 4,
            "dispersion": 2,
            "l3": "channel",
            "ffn": "conv",
            "norm": "iln",
            "upsampler": "pixelshuffledirect",
            "image_residual": "bicubic",
        },
    ),
    "hiir-unet": ("hiir-unet", {"dim": 8, "depths": [1, 1, 1, 1], "refinement": 1, "window": 2, "dispersion": 2}),
}


def tiny(key: str) -> torch.nn.Module:
    """Random weights, with every parameter nudged: some layers start at zero (Hi-IR's last conv), which would
    leave whole branches out of the comparison."""
    name, overrides = TINY[key]
    torch.manual_seed(0)
    model = models.create(name, **overrides).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p), alpha=0.05)
    return model


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Two cores are shared by the whole suite: one thread avoids oversubscription stalls in torch and onnxruntime."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
