"""PSNR / SSIM as BasicSR computes them: cross-checks against scikit-image, numpy vs torch, grey-image modes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from irtool.errors import UsageError
from irtool.ops.degrade import bicubic_lr
from irtool.ops.metrics import psnr, psnr_torch, rgb_to_y, rgb_to_y_torch, rgb_to_y_uint8, ssim, ssim_torch
from irtool.ops.resize import imresize, modcrop


def _bicubic_up(lr: np.ndarray, scale: int) -> np.ndarray:
    x = torch.from_numpy(lr).permute(2, 0, 1).double() / 255
    up = imresize(x, scale).permute(1, 2, 0).numpy()
    return np.clip(np.floor(up * 255 + 0.5), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def butterfly_pair(data_root, read_rgb):
    """A real (prediction, ground truth) pair: Set5 butterfly, bicubic x4 down and up."""
    hr = modcrop(read_rgb(data_root / "Set5" / "HR" / "butterfly.png"), 4)
    return _bicubic_up(bicubic_lr(hr, 4), 4), hr


def _chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].double()


def test_ssim_matches_scikit_image_channelwise(butterfly_pair):
    pred, gt = butterfly_pair
    ref = np.mean(
        [
            structural_similarity(
                pred[..., c].astype(np.float64),
                gt[..., c].astype(np.float64),
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
                data_range=255,
            )
            for c in range(3)
        ]
    )
    assert 0.5 < ref < 0.9
    assert abs(ssim(pred, gt) - ref) < 1e-9


@pytest.mark.parametrize("y_channel", [False, True])
@pytest.mark.parametrize("crop", [0, 4])
def test_numpy_and_torch_agree(butterfly_pair, y_channel, crop):
    pred, gt = butterfly_pair
    p_t = psnr_torch(_chw(pred), _chw(gt), crop_border=crop, y_channel=y_channel)
    s_t = ssim_torch(_chw(pred), _chw(gt), crop_border=crop, y_channel=y_channel)
    assert p_t.dtype == torch.float64 and p_t.shape == (1,)
    assert abs(p_t.item() - psnr(pred, gt, crop_border=crop, y_channel=y_channel)) < 1e-10
    assert abs(s_t.item() - ssim(pred, gt, crop_border=crop, y_channel=y_channel)) < 1e-10


def test_torch_is_per_image_in_a_batch(butterfly_pair):
    pred, gt = butterfly_pair
    batch_pred = torch.cat([_chw(pred), _chw(gt)])
    batch_gt = torch.cat([_chw(gt), _chw(gt)])
    p = psnr_torch(batch_pred, batch_gt, crop_border=4, y_channel=True)
    s = ssim_torch(batch_pred, batch_gt, crop_border=4, y_channel=True)
    assert abs(p[0].item() - psnr(pred, gt, crop_border=4, y_channel=True)) < 1e-10
    assert math.isinf(p[1].item())
    assert abs(s[1].item() - 1.0) < 1e-12 and s[0] < 0.95


def test_identity_gives_inf_psnr_and_unit_ssim(butterfly_pair):
    _, gt = butterfly_pair
    assert psnr(gt, gt) == float("inf")
    assert psnr(gt, gt, crop_border=4, y_channel=True) == float("inf")
    assert ssim(gt, gt) == pytest.approx(1.0, abs=1e-12)
    assert ssim(gt, gt, y_channel=True) == pytest.approx(1.0, abs=1e-12)


def test_psnr_of_known_error():
    gt = np.full((16, 16, 3), 100, np.uint8)
    pred = gt.copy()
    pred[0, 0, 0] = 110  # MSE = 100 / (16 * 16 * 3)
    assert psnr(pred, gt) == pytest.approx(10 * math.log10(255**2 * 768 / 100), abs=1e-12)
    assert psnr(pred, gt, crop_border=1) == float("inf")  # the only error sits in the cropped border


def test_studio_range_luma():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    np.testing.assert_allclose(rgb_to_y(rgb)[0], [16, 235, 16 + 65.481, 16 + 128.553, 16 + 24.966], atol=1e-4)
    assert list(rgb_to_y_uint8(rgb)[0]) == [16, 235, 81, 145, 41]


def test_y_psnr_above_rgb_psnr(butterfly_pair):
    # Y is a smoothed mix of the channels with a 219/255 range: consistently higher PSNR for bicubic output.
    pred, gt = butterfly_pair
    assert psnr(pred, gt, crop_border=4, y_channel=True) > psnr(pred, gt, crop_border=4) + 0.5


def test_grey_modes(data_root, read_rgb):
    gt = modcrop(read_rgb(data_root / "Set14" / "HR" / "bridge.png"), 3)
    assert gt.shape[2] == 1
    pred = _bicubic_up(bicubic_lr(gt, 3), 3)
    assert pred.shape[2] == 1
    rgb_pred, rgb_gt = np.repeat(pred, 3, axis=2), np.repeat(gt, 3, axis=2)
    kw = {"crop_border": 3, "y_channel": True}
    # "rgb": same as scoring the replicated RGB image; "matlab": scored on the full-range grey level
    assert psnr(pred, gt, **kw) == psnr(rgb_pred, rgb_gt, **kw)
    full = psnr(pred, gt, gray_mode="matlab", **kw)
    assert psnr(pred, gt, **kw) - full == pytest.approx(20 * math.log10(255 / 219), abs=0.02)
    assert full == pytest.approx(psnr(pred, gt, crop_border=3), abs=1e-9)
    assert psnr(rgb_pred, gt, gray_mode="matlab", **kw) == pytest.approx(full, abs=1e-9)  # 3-channel prediction
    assert ssim(pred, gt, gray_mode="matlab", **kw) != ssim(pred, gt, **kw)
    for mode in ("rgb", "matlab"):
        p_t = psnr_torch(_chw(rgb_pred), _chw(gt), gray_mode=mode, **kw).item()
        s_t = ssim_torch(_chw(pred), _chw(gt), gray_mode=mode, **kw).item()
        assert abs(p_t - psnr(rgb_pred, gt, gray_mode=mode, **kw)) < 1e-9
        assert abs(s_t - ssim(pred, gt, gray_mode=mode, **kw)) < 1e-9


def test_bad_inputs_raise_usage_error():
    a = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(UsageError):
        psnr(a, np.zeros((20, 21, 3), np.uint8))
    with pytest.raises(UsageError):
        ssim(a, a, crop_border=5)  # 10x10 left: smaller than the window
    with pytest.raises(UsageError):
        psnr(a, a, gray_mode="yiq")


def _basicsr_to_y_channel(img: np.ndarray) -> np.ndarray:
    """BasicSR's `to_y_channel` step by step (metric_util.py + color_util.bgr2ycbcr), on an RGB uint8 array."""
    bgr = img[..., ::-1].astype(np.float32) / 255.0
    y = np.dot(bgr, [24.966, 128.553, 65.481]) + 16.0  # float64
    y /= 255.0
    y = y.astype(np.float32)  # _convert_output_type_range(img, np.float32)
    return y * 255.0


def test_luma_is_basicsrs_to_the_last_bit(butterfly_pair):
    pred, gt = butterfly_pair
    for img in (pred, gt):
        ref = _basicsr_to_y_channel(img)
        assert ref.dtype == np.float32
        np.testing.assert_array_equal(rgb_to_y(img), ref)
        np.testing.assert_array_equal(rgb_to_y_torch(_chw(img))[0, 0].numpy(), ref)
    # and so PSNR equals BasicSR's calculate_psnr (float64 from the float32 Y) exactly
    c = 4
    p, g = (_basicsr_to_y_channel(x)[c:-c, c:-c].astype(np.float64) for x in (pred, gt))
    expected = 10.0 * np.log10(255.0 * 255.0 / np.mean((p - g) ** 2))
    assert psnr(pred, gt, crop_border=c, y_channel=True) == expected
