"""Image-file pixels keep what they had: bit depth, grey, alpha."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from irtool.engine import Runner
from irtool.engine.pixels import restore_pixels
from irtool.models import create
from tests.engine.conftest import TinyCNN


def _rng():
    return np.random.default_rng(0)


def test_uint16_stays_uint16_bit_exact_through_identity():
    pixels = _rng().integers(0, 65536, (37, 29, 3), dtype=np.uint16)
    out = restore_pixels(Runner(create("identity"), device="cpu", tile=16, overlap=4), pixels)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, pixels)  # no trip through 8 bits


def test_float32_stays_float_and_is_not_clipped():
    pixels = _rng().random((20, 20, 3), dtype=np.float32) * 4.0  # HDR values above 1
    out = restore_pixels(Runner(create("identity"), device="cpu"), pixels)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, pixels, rtol=0, atol=1e-6)


def test_grey_through_an_rgb_model_comes_back_grey():
    grey = _rng().integers(0, 256, (30, 40, 1), dtype=np.uint8)
    runner = Runner(create("bicubic", scale=2), device="cpu", tile=16, overlap=4)
    out = restore_pixels(runner, grey)
    assert out.shape == (60, 80, 1) and out.dtype == np.uint8
    # Bicubic on replicated grey is the same in all three channels: the luma of it is bicubic of the grey image.
    expected = create("bicubic", scale=2)(torch.from_numpy(grey.transpose(2, 0, 1)).float()[None] / 255)[0, 0]
    expected = np.floor(np.clip(expected.numpy(), 0, 1) * 255 + 0.5)
    assert np.abs(out[:, :, 0].astype(int) - expected).max() <= 1


def test_rgb_through_a_grey_model_runs_per_channel(seeded):
    model = TinyCNN(channels=1).eval()
    runner = Runner(model, device="cpu", tile=0)
    pixels = _rng().integers(0, 256, (16, 12, 3), dtype=np.uint8)
    out = restore_pixels(runner, pixels)
    assert out.shape == pixels.shape
    with torch.no_grad():
        green = model(torch.from_numpy(pixels[:, :, 1].astype(np.float32) / 255)[None, None])[0, 0].numpy()
    np.testing.assert_array_equal(out[:, :, 1], np.floor(np.clip(green, 0, 1) * 255 + 0.5).astype(np.uint8))


def test_alpha_is_upscaled_apart_for_sr_and_kept_for_same_size():
    rgba = _rng().integers(0, 256, (20, 24, 4), dtype=np.uint8)
    up = restore_pixels(Runner(create("bicubic", scale=2), device="cpu"), rgba)
    assert up.shape == (40, 48, 4)
    np.testing.assert_array_equal(up[:, :, 3], cv2.resize(rgba[:, :, 3], (48, 40), interpolation=cv2.INTER_CUBIC))
    same = restore_pixels(Runner(create("identity"), device="cpu"), rgba)
    np.testing.assert_array_equal(same, rgba)


def test_uint16_alpha_with_sr_keeps_depth():
    rgba = _rng().integers(0, 65536, (10, 10, 4), dtype=np.uint16)
    out = restore_pixels(Runner(create("bicubic", scale=2), device="cpu"), rgba)
    assert out.dtype == np.uint16 and out.shape == (20, 20, 4)


def test_huge_images_go_through_files_with_the_same_result(monkeypatch):
    from irtool.engine import paged

    rgba = _rng().integers(0, 256, (70, 50, 4), dtype=np.uint8)
    runner = Runner(create("bicubic", scale=2), device="cpu", tile=32, overlap=4)
    in_ram = restore_pixels(runner, rgba)
    monkeypatch.setattr(paged, "SPILL_BYTES", 1024)
    spilled = paged.spill(rgba)
    assert isinstance(spilled, paged.PagedArray) and spilled._map is not None
    out = restore_pixels(runner, spilled)
    assert isinstance(out, paged.PagedArray)
    np.testing.assert_array_equal(out, in_ram)  # released rows are still there, read back from the file
    np.testing.assert_array_equal(spilled, rgba)
