"""MATLAB bicubic resize: bit-exact against the benchmark LR files, and consistent between its two paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from irtool.errors import UsageError
from irtool.ops.resize import imresize, imresize_uint8, modcrop, resize_weights

SETS = {
    "Set5": ["baby", "bird", "butterfly", "head", "woman"],
    "Set14": ["baboon", "barbara", "bridge", "coastguard", "comic", "face", "flowers", "foreman", "lenna", "man",
              "monarch", "pepper", "ppt3", "zebra"],
}  # fmt: skip
CASES = [(s, n, k) for s, names in SETS.items() for n in names for k in (2, 3, 4)]


@pytest.mark.parametrize(("dataset", "name", "scale"), CASES, ids=[f"{s}-{n}-x{k}" for s, n, k in CASES])
def test_reference_lr_files_bit_exact(data_root, read_rgb, dataset, name, scale):
    hr = read_rgb(data_root / dataset / "HR" / f"{name}.png")
    ref = read_rgb(data_root / dataset / "LR_bicubic" / f"X{scale}" / f"{name}x{scale}.png")
    lr = imresize_uint8(modcrop(hr, scale), 1 / scale)
    assert lr.shape == ref.shape  # bridge stays one channel, like its stored LR
    assert np.count_nonzero(lr != ref) == 0


def test_all_reference_files_are_covered(data_root):
    for dataset, names in SETS.items():
        assert sorted(p.stem for p in (data_root / dataset / "HR").glob("*.png")) == names


def test_grey_2d_input_same_as_one_channel(data_root, read_rgb):
    hr = modcrop(read_rgb(data_root / "Set14" / "HR" / "bridge.png"), 4)
    assert np.array_equal(imresize_uint8(hr[:, :, 0], 0.25), imresize_uint8(hr, 0.25)[:, :, 0])


def test_output_size_is_ceil_of_scaled_size():
    assert imresize(torch.zeros(255, 256, dtype=torch.float64), 1 / 3).shape == (85, 86)
    assert imresize(torch.zeros(7, 5), 0.5).shape == (4, 3)
    assert imresize(torch.zeros(7, 5), 2).shape == (14, 10)
    assert imresize(torch.zeros(7, 5), size=(3, 11)).shape == (3, 11)


def test_weights_are_normalised_and_symmetric_border_repeats_edge():
    idx, w = resize_weights(10, 40, 4.0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert idx.min() == 0 and idx.max() == 9
    # the first output sample sits left of pixel 1: its taps reach past the border and mirror back onto 0, 1, ...
    assert list(idx[0]) == [1, 0, 0, 1]
    idx, w = resize_weights(40, 10, 0.25)
    assert w.shape[1] == 16  # 4 / scale + 2 taps when shrinking, minus the two that are zero for every sample


def test_constant_image_stays_constant_both_directions():
    x = torch.full((2, 3, 17, 23), 0.3, dtype=torch.float64)
    for s in (0.25, 1 / 3, 0.5, 2, 3, 4, 1.7):
        torch.testing.assert_close(imresize(x, s), torch.full_like(imresize(x, s), 0.3), rtol=0, atol=1e-12)


def test_batched_leading_dims_match_single_images():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 4, 19, 13, dtype=torch.float64)
    y = imresize(x, 3)
    assert y.shape == (2, 3, 4, 57, 39)
    torch.testing.assert_close(y[1, 2], imresize(x[1, 2], 3), rtol=0, atol=0)
    torch.testing.assert_close(y[0, 1, 3], imresize(x[0, 1, 3], 3), rtol=0, atol=0)


def test_float_and_uint8_paths_agree_for_a_single_pass():
    # With one dimension unchanged there is one pass, so the uint8 path is exactly the rounded float path.
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(24, 30, 3), dtype=np.uint8)
    for size in [(24, 10), (24, 90), (8, 30), (72, 30)]:
        ref = imresize_uint8(img, size=size)
        flt = imresize(torch.from_numpy(img).permute(2, 0, 1).double(), size=size).permute(1, 2, 0).numpy()
        assert np.array_equal(ref, np.clip(np.floor(flt + 0.5), 0, 255).astype(np.uint8))


def test_shrink_without_antialias_differs_and_float32_close_to_float64():
    torch.manual_seed(0)
    x = torch.rand(1, 32, 32, dtype=torch.float64)
    assert (imresize(x, 0.5) - imresize(x, 0.5, antialias=False)).abs().max() > 1e-3
    torch.testing.assert_close(imresize(x.float(), 0.5).double(), imresize(x, 0.5), rtol=0, atol=1e-5)


def test_bad_arguments_raise_usage_error():
    with pytest.raises(UsageError):
        imresize(torch.zeros(4, 4, dtype=torch.uint8), 2)
    with pytest.raises(UsageError):
        imresize(torch.zeros(4, 4), 2, size=(8, 8))
    with pytest.raises(UsageError):
        imresize(torch.zeros(4, 4), 0)
    with pytest.raises(UsageError):
        imresize_uint8(np.zeros((4, 4), np.float32), 2)


def test_modcrop_keeps_top_left():
    img = np.arange(7 * 10).reshape(7, 10)
    assert np.array_equal(modcrop(img, 3), img[:6, :9])
    assert modcrop(np.zeros((8, 8, 3)), 4).shape == (8, 8, 3)


def test_gather_path_matches_sparse_path():
    # the gather path serves devices without sparse matmul (MPS); check it here on the CPU
    from irtool.ops.resize import _Pass, _resize_dim_gather, _resize_dim_sparse

    x = torch.rand(2, 3, 20, 30, dtype=torch.float64)
    for dim, n in ((-2, 20), (-1, 30)):
        for out_len, s in ((n * 3, 3.0), (n // 2, 0.5)):
            p = _Pass(dim, n, out_len, s)
            torch.testing.assert_close(
                _resize_dim_gather(x, p, True), _resize_dim_sparse(x, p, True), rtol=0, atol=1e-12
            )


def test_half_precision_input_keeps_its_dtype():
    x = torch.rand(1, 3, 16, 16)
    y = imresize(x.to(torch.bfloat16), 2)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), imresize(x, 2), rtol=0, atol=0.02)


def test_most_shrunk_dimension_goes_first():
    # MATLAB orders passes by scale; with rounding between passes the order changes the uint8 result
    img = np.random.default_rng(2).integers(0, 256, (40, 40), dtype=np.uint8)
    both = imresize_uint8(img, size=(80, 20))
    width_first = imresize_uint8(imresize_uint8(img, size=(40, 20)), size=(80, 20))
    height_first = imresize_uint8(imresize_uint8(img, size=(80, 40)), size=(80, 20))
    assert np.array_equal(both, width_first)
    assert not np.array_equal(both, height_first)
