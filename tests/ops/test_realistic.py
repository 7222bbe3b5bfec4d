"""The realistic degradation chain: seeded and reproducible, inside its configured ranges, replayable from a report."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from irtool.errors import UsageError
from irtool.ops.kernels import BlurConfig, blur, draw_kernel, make_kernel, stack_kernels
from irtool.ops.realistic import RealConfig, StageConfig, apply, draw, real_lr


def _image(h: int = 64, w: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = (127 + 100 * np.sin(yy / 5.0)[..., None] * np.cos(xx / 7.0)[..., None]).repeat(3, axis=2)
    return np.clip(smooth + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8)


def test_same_seed_and_index_give_the_same_input_and_parameters():
    hr = _image()
    lr1, p1 = real_lr(hr, 4, seed=0, index=3)
    lr2, p2 = real_lr(hr, 4, seed=0, index=3)
    assert lr1.shape == (16, 12, 3) and lr1.dtype == np.uint8
    assert np.array_equal(lr1, lr2) and p1 == p2
    json.dumps(p1)  # plain data: it goes into the JSON report


def test_other_seeds_and_indices_draw_other_chains():
    hr = _image()
    params = [real_lr(hr, 2, seed=s, index=i)[1] for s, i in ((0, 0), (0, 1), (1, 0))]
    assert params[0] != params[1] and params[0] != params[2]


def test_a_report_replays_the_input():
    """The per-image parameters and the noise seed are enough to rebuild the input exactly."""
    hr = _image()
    lr, p = real_lr(hr, 2, seed=5, index=7)
    names = ("blur1", "noise1", "jpeg1", "blur2", "noise2", "jpeg2", "final_sinc")
    fields = {k: [p[k]] for k in names} | {k: p[k] for k in p if k not in names}
    from irtool.ops.realistic import ChainParams

    x = torch.from_numpy(hr.astype(np.float64) / 255).permute(2, 0, 1)[None]
    out = apply(x, ChainParams(**fields), 2, torch.Generator().manual_seed(p["noise_seed"]))
    replay = np.floor(out[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(replay, lr)


def test_every_drawn_value_lies_in_its_configured_range():
    cfg = RealConfig(
        first=StageConfig(
            blur=BlurConfig(sizes=[9, 13], sigma=[0.5, 1.0], sinc_prob=0.3, beta_plateau=[1.2, 1.5]),
            resize_probs=[1, 1, 0],
            resize_range=[0.5, 1.25],
            noise_sigma=[3, 4],
            poisson_scale=[0.1, 0.2],
            jpeg_quality=[70, 72],
        ),
        second=StageConfig(
            blur=BlurConfig(prob=0.5, types=["iso", "aniso"], type_probs=[1, 1], sizes=[7, 7], sinc_prob=0.0),
            resize_probs=[0, 0, 1],
            jpeg_quality=[90, 90],
        ),
        final_sinc_prob=0.0,
    )
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(40):
        p = draw(rng, cfg, 4)
        assert p.resize1["factor"] != 1.0 and 0.5 <= p.resize1["factor"] <= 1.25
        assert p.resize2["factor"] == 1.0
        assert p.final_sinc == [None] * 4
        for k1, n1, q1, k2, q2 in zip(p.blur1, p.noise1, p.jpeg1, p.blur2, p.jpeg2, strict=True):
            assert k1["size"] in (9, 11, 13)
            if k1["type"] == "sinc":
                low = math.pi / 3 if k1["size"] < 13 else math.pi / 5  # small kernels keep a higher cut-off
                assert low <= k1["omega"] <= math.pi
            else:
                assert all(0.5 <= s <= 1.0 for s in k1["sigma"])
            if k1["type"].startswith("plateau"):
                assert 1.2 <= k1["beta"] <= 1.5
            seen.add(k1["type"])
            key, low, high = ("sigma", 3, 4) if n1["type"] == "gaussian" else ("scale", 0.1, 0.2)
            assert low <= n1[key] <= high
            assert 70 <= q1 <= 72 and q2 == 90
            assert k2 is None or (k2["type"] in ("iso", "aniso") and k2["size"] == 7)
    assert {"sinc", "iso", "aniso"} <= seen


def test_kernels_are_normalised_symmetric_and_shaped_as_asked():
    iso = make_kernel({"type": "iso", "size": 21, "sigma": [2.0, 2.0], "theta": 0.0})
    r = torch.arange(21, dtype=torch.float64) - 10
    expected = torch.exp(-(r[:, None] ** 2 + r[None] ** 2) / 8)
    assert torch.allclose(iso, expected / expected.sum())
    rng = np.random.default_rng(1)
    for _ in range(30):
        params = draw_kernel(rng, BlurConfig(sinc_prob=0.3))
        k = make_kernel(params)
        assert k.shape == (params["size"],) * 2
        assert abs(float(k.sum()) - 1) < 1e-12
        assert torch.allclose(k, k.flip(0, 1))  # point symmetric: correlation and convolution agree
    # Anisotropic: longer along the axis with the larger sigma, turned by theta.
    wide = make_kernel({"type": "aniso", "size": 15, "sigma": [3.0, 0.5], "theta": 0.0})
    assert wide[7, 0] > wide[0, 7]
    turned = make_kernel({"type": "aniso", "size": 15, "sigma": [3.0, 0.5], "theta": math.pi / 2})
    assert torch.allclose(turned, wide.T, atol=1e-12)


def test_an_image_without_blur_is_left_as_it_is_in_a_blurred_batch():
    x = torch.rand(2, 3, 20, 20, dtype=torch.float64)
    kernels = stack_kernels([None, {"type": "iso", "size": 5, "sigma": [1.0, 1.0], "theta": 0.0}], x.dtype, "cpu")
    y = blur(x, kernels)
    assert torch.equal(y[0], x[0]) and not torch.allclose(y[1], x[1])
    assert stack_kernels([None, None], x.dtype, "cpu") is None


def test_grey_images_stay_grey():
    grey = _image()[..., :1]
    lr, _ = real_lr(grey, 2, seed=0, index=0)
    assert lr.shape == (32, 24, 1)


def test_sizes_must_divide_by_the_scale():
    with pytest.raises(UsageError, match="divisible"):
        apply(torch.rand(1, 3, 10, 10), draw(np.random.default_rng(0), RealConfig(), 1), 4, torch.Generator())


def test_bad_ranges_are_refused_by_name():
    with pytest.raises(UsageError, match=r"data\.real\.second\.jpeg_quality"):
        RealConfig(second=StageConfig(jpeg_quality=[0, 101])).check()
    with pytest.raises(UsageError, match=r"data\.real\.first\.noise_sigma"):
        RealConfig(first=StageConfig(noise_sigma=[9, 3])).check()
    with pytest.raises(UsageError, match="types"):
        RealConfig(first=StageConfig(blur=BlurConfig(types=["box"], type_probs=[1]))).check()
