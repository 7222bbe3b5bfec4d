"""Degradations: benchmark noise identical to the reference scripts' global-seed draw; training ops behave."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from irtool.errors import UsageError
from irtool.ops.degrade import (
    add_gaussian_noise_torch,
    benchmark_gaussian_noise,
    bicubic_downsample_torch,
    bicubic_lr,
    jpeg_compress,
)
from irtool.ops.resize import imresize_uint8, modcrop


def test_benchmark_noise_equals_global_seed_path_and_leaves_global_state_alone():
    img = np.random.default_rng(3).random((13, 17, 3)).astype(np.float32)
    for sigma in (15, 25, 50):
        # what Restormer's test script does, per image
        np.random.seed(seed=0)
        ref = img.copy()
        ref += np.random.normal(0, sigma / 255.0, ref.shape)
        np.random.seed(123)
        before = np.random.get_state()[1].copy()
        out = benchmark_gaussian_noise(img, sigma)
        assert np.array_equal(np.random.get_state()[1], before)  # global generator untouched
        assert out.dtype == np.float32 and np.array_equal(out, ref)
    assert benchmark_gaussian_noise(img.astype(np.float64), 25).dtype == np.float64


def test_benchmark_noise_is_unclipped_and_has_the_right_strength():
    img = np.full((64, 64, 3), 0.99, np.float64)
    noisy = benchmark_gaussian_noise(img, 50)
    assert noisy.max() > 1.0
    assert abs((noisy - img).std() - 50 / 255) < 0.01
    with pytest.raises(UsageError):
        benchmark_gaussian_noise(np.zeros((4, 4, 3), np.uint8), 25)


def test_bicubic_lr_crops_then_shrinks(data_root, read_rgb):
    hr = read_rgb(data_root / "Set5" / "HR" / "woman.png")
    lr = bicubic_lr(hr, 3)
    assert lr.shape == (hr.shape[0] // 3, hr.shape[1] // 3, 3)
    assert np.array_equal(lr, imresize_uint8(modcrop(hr, 3), 1 / 3))


def test_torch_downsample_equals_the_uint8_benchmark_path():
    img = np.random.default_rng(0).integers(0, 256, (24, 36, 3), dtype=np.uint8)
    batch = torch.from_numpy(img).permute(2, 0, 1)[None].double() / 255
    lr = bicubic_downsample_torch(batch, 4)
    assert lr.shape == (1, 3, 6, 9)
    levels = lr * 255
    ref = torch.from_numpy(imresize_uint8(img, 0.25)).permute(2, 0, 1)[None].double()
    assert torch.equal(levels.round(), ref) and (levels - ref).abs().max() < 1e-9
    assert not torch.equal(bicubic_downsample_torch(batch, 4, quantize=False) * 255, levels)


def test_gaussian_noise_torch_per_image_sigma_and_generator():
    batch = torch.zeros(3, 1, 64, 64)
    sig = torch.tensor([0.0, 10.0, 50.0])
    out = add_gaussian_noise_torch(batch, sig, generator=torch.Generator().manual_seed(1))
    assert out[0].abs().max() == 0
    assert out[1].std().item() == pytest.approx(10 / 255, rel=0.1)
    assert out[2].std().item() == pytest.approx(50 / 255, rel=0.1)
    again = add_gaussian_noise_torch(batch, sig, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out, again)
    assert add_gaussian_noise_torch(batch, 25.0).std().item() == pytest.approx(25 / 255, rel=0.1)
    with pytest.raises(UsageError):
        add_gaussian_noise_torch(batch, torch.tensor([1.0, 2.0]))


def test_jpeg_round_trip():
    torch.manual_seed(0)
    smooth = torch.nn.functional.interpolate(torch.rand(2, 3, 8, 8), size=(32, 32), mode="bilinear")
    out = jpeg_compress(smooth, [95, 10])
    assert out.shape == smooth.shape and out.dtype == smooth.dtype
    err_hi, err_lo = ((out - smooth) ** 2).mean(dim=(1, 2, 3))
    assert err_hi < err_lo  # lower quality, larger error
    assert err_hi < 1e-3
    grey = jpeg_compress(smooth[:, :1], 50)
    assert grey.shape == (2, 1, 32, 32)
    assert torch.equal(grey * 255, (grey * 255).round())
