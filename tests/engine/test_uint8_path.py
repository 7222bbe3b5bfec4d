"""Whole frames through the device in 8 bits (Runner.restore_uint8): the same pixels as the tiled float path."""

from __future__ import annotations

import numpy as np
import pytest

from irtool import models
from irtool.engine import make_runner
from irtool.io.images import from_float32, to_float32


def _tiled_path(runner, frame: np.ndarray) -> np.ndarray:
    return from_float32(runner.restore(to_float32(frame).transpose(2, 0, 1)).transpose(1, 2, 0), np.uint8)


@pytest.mark.parametrize("name", ["sr-x4", "denoise", "bicubic"])
def test_uint8_round_trip_equals_the_float_path_and_a_batch_equals_frame_by_frame(name):
    runner = make_runner(models.load(name), device="cpu", tile=0)
    frames = np.random.default_rng(0).integers(0, 256, (3, 20, 28, 3), dtype=np.uint8)
    frames[0, :4] = 0  # saturated areas: the rounding and clamping at both ends
    frames[1, :4] = 255
    batch = runner.restore_uint8(frames)
    s = runner.descriptor.scale
    assert batch.dtype == np.uint8 and batch.shape == (3, 20 * s, 28 * s, 3)
    for i, frame in enumerate(frames):
        assert np.array_equal(batch[i], _tiled_path(runner, frame)), i  # bit-exact with the float path
        assert np.array_equal(batch[i], runner.restore_uint8(frame[None])[0]), i


def test_frames_that_need_tiles_or_the_ensemble_take_the_tiled_path():
    model = models.load("sr-x2")
    frames = np.zeros((1, 40, 70, 3), np.uint8)
    assert make_runner(model, device="cpu", tile=32).restore_uint8(frames) is None  # larger than a tile
    assert make_runner(model, device="cpu", tile=0, tta=True).restore_uint8(frames) is None
    assert make_runner(model, device="cpu", tile=0).restore_uint8(frames.astype(np.uint16)) is None
    assert make_runner(model, device="cpu", tile=0).restore_uint8(frames) is not None


def test_restore_pixels_takes_the_8_bit_path_for_whole_frames_and_gives_the_tiled_pixels(monkeypatch):
    from irtool.engine.pixels import restore_pixels

    image = np.random.default_rng(1).integers(0, 256, (30, 41, 3), dtype=np.uint8)
    whole = make_runner(models.load("bicubic"), device="cpu", tile=0)
    calls = []
    original = whole.restore_uint8
    monkeypatch.setattr(whole, "restore_uint8", lambda frames: calls.append(frames.shape) or original(frames))
    totals = []
    fast = restore_pixels(whole, image, on_total=totals.append)
    assert calls == [(1, 30, 41, 3)] and totals == [1]
    floats = make_runner(models.load("bicubic"), device="cpu", tile=0)
    monkeypatch.setattr(floats, "restore_uint8", lambda frames: None)  # the float stripes the tiled path writes
    assert fast.dtype == np.uint8 and np.array_equal(fast, restore_pixels(floats, image))
    grey_alpha = np.dstack([image[..., :1], image[..., :1]])  # alpha never goes through the model: tiled path
    calls.clear()
    assert restore_pixels(whole, grey_alpha).shape == (120, 164, 2) and calls == []
