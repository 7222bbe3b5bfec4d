"""Training patches and on-the-fly degradations."""

from __future__ import annotations

import numpy as np
import torch

from irtool.data.training import Degradation, ImageStore, PatchSampler, bicubic_down_quantized
from irtool.ops.resize import imresize_uint8
from irtool.train.config import DataConfig


def test_bicubic_lr_matches_the_benchmark_lr_path():
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (24, 36, 3), dtype=np.uint8)
    expected = imresize_uint8(hr, 1 / 3)
    got = bicubic_down_quantized(torch.from_numpy(hr).permute(2, 0, 1)[None].double() / 255, 3)
    got = (got[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)


def test_sampler_is_reproducible_and_restorable():
    rng = np.random.default_rng(1)
    store = ImageStore(
        [rng.integers(0, 256, (20, 30, 3), dtype=np.uint8), rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)]
    )
    a, b = PatchSampler(store, seed=5), PatchSampler(store, seed=5)
    first, _ = a.draw(4, 16)  # 16 > 9: the small image is reflect-padded
    assert first.shape == (4, 3, 16, 16) and first.dtype == torch.uint8
    assert torch.equal(first, b.draw(4, 16)[0])
    state = a.state_dict()
    nxt = a.draw(3, 8)[0]
    a.load_state_dict(state)
    assert torch.equal(a.draw(3, 8)[0], nxt)


def test_paired_and_jpeg_inputs_are_cropped_with_their_targets():
    target = np.arange(16 * 16 * 3, dtype=np.uint32).reshape(16, 16, 3).astype(np.uint8)
    store = ImageStore([target], inputs=[target.copy()])
    t, x = PatchSampler(store, seed=0).draw(3, 8)
    assert torch.equal(t, x)  # same crop and same flip/rotation
    flat = np.full((16, 16, 3), 128, np.uint8)
    t, x = PatchSampler(ImageStore([flat]), seed=0, jpeg_quality=[10, 20]).draw(2, 8)
    assert x is not None and x.shape == t.shape


def test_blind_noise_levels_are_drawn_per_image():
    cfg = DataConfig(task="denoise", roots=["x"], sigma_range=[0, 50])
    target = torch.full((64, 1, 32, 32), 0.5)
    noisy = Degradation(cfg, torch.device("cpu"), seed=0)(target)
    sigmas = (noisy - target).std(dim=(1, 2, 3)) * 255
    assert sigmas.min() < 10 and sigmas.max() > 40  # spread over the range
    fixed = Degradation(DataConfig(task="denoise", roots=["x"], sigma=25), torch.device("cpu"), seed=0)(target)
    assert abs(float((fixed - target).std()) * 255 - 25) < 0.5
