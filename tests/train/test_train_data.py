"""Training patches and on-the-fly degradations."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from irtool.data.training import Degradation, DegradationSpec, ImageStore, PatchSampler, build
from irtool.ops.resize import imresize_uint8
from irtool.train.config import DataConfig


def test_sr_patches_are_the_benchmark_lr_of_their_image_interior():
    """The margin makes an LR patch equal to the same pixels of the whole image's benchmark LR, level for level."""
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (48, 60, 3), dtype=np.uint8)
    whole_lr = imresize_uint8(hr, 1 / 3)
    degrade = Degradation(DegradationSpec("sr", scale=3), torch.device("cpu"), seed=0)
    m = degrade.margin
    top, left, patch = 12, 18, 18  # multiples of the scale, so the LR grids line up
    crop = torch.from_numpy(hr[top - m : top + patch + m, left - m : left + patch + m]).permute(2, 0, 1)[None]
    lr, target = degrade(crop.double() / 255)
    assert target.shape == (1, 3, patch, patch)
    assert torch.equal(
        (target[0].permute(1, 2, 0) * 255).round().byte(), torch.from_numpy(hr[top:, left:][:patch, :patch])
    )
    got = (lr[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    s = 3
    assert np.array_equal(got, whole_lr[top // s : (top + patch) // s, left // s : (left + patch) // s])
    plain = imresize_uint8(np.ascontiguousarray(hr[top : top + patch, left : left + patch]), 1 / 3)
    assert not np.array_equal(plain, got)  # without the margin the patch edges would be made from mirrored pixels


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


def _numpy_patch(img: np.ndarray, top: int, left: int, k: int, patch: int) -> np.ndarray:
    """The sampler's contract, one patch at a time in NumPy: pad bottom/right to the patch (reflect; edge for a
    one-pixel-thin image), crop, mirror for k >= 4, rotate by k % 4 quarter turns."""
    ph, pw = max(0, patch - img.shape[0]), max(0, patch - img.shape[1])
    img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(img.shape[:2]) > 1 else "edge")
    crop = img[top : top + patch, left : left + patch]
    return np.rot90(crop[:, ::-1] if k >= 4 else crop, k % 4)


@pytest.mark.parametrize("patch", [4, 8, 16])
def test_one_gather_cuts_what_crops_flips_and_pads_one_by_one_would(patch):
    """The batched cut (one gather on the device) equals per-patch NumPy crops, for all 8 flips/rotations and for
    images smaller than the patch."""
    rng = np.random.default_rng(1)
    sizes = [(20, 30, 3), (9, 12, 3), (1, 5, 3)]
    store = ImageStore([rng.integers(0, 256, size, dtype=np.uint8) for size in sizes])
    sampler = PatchSampler(store, seed=3)
    which, top, left, k = sampler.choose(96, patch)
    assert set(k.tolist()) == set(range(8))
    got, _ = sampler.cut(which, top, left, k, patch)
    for b in range(96):
        want = _numpy_patch(store.targets[int(which[b])], int(top[b]), int(left[b]), int(k[b]), patch)
        assert np.array_equal(got[b].permute(1, 2, 0).numpy(), want), b


def test_paired_inputs_are_cropped_with_their_targets_and_jpeg_is_made_on_the_fly():
    target = np.arange(16 * 16 * 3, dtype=np.uint32).reshape(16, 16, 3).astype(np.uint8)
    store = ImageStore([target], inputs=[target.copy()])
    t, x = PatchSampler(store, seed=0).draw(3, 8)
    assert torch.equal(t, x)  # same crop and same flip/rotation
    smooth = torch.nn.functional.interpolate(torch.rand(2, 3, 4, 4), size=(16, 16), mode="bilinear")
    spec = DataConfig(task="jpeg", roots=["x"], jpeg_quality=[10, 20]).degradation()
    degraded, same = Degradation(spec, torch.device("cpu"), seed=0)(smooth)
    assert same is smooth and degraded.shape == smooth.shape and not torch.equal(degraded, smooth)
    assert torch.equal(degraded * 255, (degraded * 255).round())  # decoded JPEG: uint8 levels


def test_blind_noise_levels_are_drawn_per_image():
    spec = DataConfig(task="denoise", roots=["x"], sigma_range=[0, 50]).degradation()
    target = torch.full((64, 1, 32, 32), 0.5)
    noisy, _ = Degradation(spec, torch.device("cpu"), seed=0)(target)
    sigmas = (noisy - target).std(dim=(1, 2, 3)) * 255
    assert sigmas.min() < 10 and sigmas.max() > 40  # spread over the range
    fixed, _ = Degradation(DegradationSpec("denoise", sigma=25), torch.device("cpu"), seed=0)(target)
    assert abs(float((fixed - target).std()) * 255 - 25) < 0.5


def test_a_data_config_becomes_the_data_layers_own_spec_and_roots(monkeypatch, tmp_path):
    monkeypatch.setenv("IRTOOL_DATA_DIR", str(tmp_path))
    cfg = DataConfig(task="denoise", roots=["imgs", str(tmp_path / "abs")], channels=1, sigma_range=[5, 50])
    assert cfg.degradation() == DegradationSpec("denoise", scale=1, sigma=None, sigma_range=(5, 50))
    assert cfg.resolved_roots() == [tmp_path / "imgs", tmp_path / "abs"]
    (tmp_path / "imgs").mkdir()
    from irtool.io.images import write_image

    write_image(tmp_path / "imgs" / "a.png", np.full((12, 10, 3), 200, np.uint8))
    sampler, degrade = build(cfg.resolved_roots()[:1], cfg.channels, cfg.degradation(), torch.device("cpu"), 0)
    assert sampler.store.targets[0].shape == (12, 10, 1) and degrade.margin == 0


def test_the_data_layer_does_not_import_the_trainer():
    """irtool.train builds on irtool.data; the other way round would be an import cycle."""
    code = (
        "import sys, irtool.data.training, irtool.data.benchmarks\n"
        "print(sorted(m for m in sys.modules if m.startswith('irtool.train')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_real_degradation_makes_lr_patches_of_uint8_levels_and_resumes_exactly():
    spec = DegradationSpec("real", scale=2)
    degrade = Degradation(spec, torch.device("cpu"), seed=3)
    assert degrade.margin == 12  # past the 21-tap blur's reach, a multiple of the scale
    target = torch.rand(4, 3, 32 + 2 * degrade.margin, 32 + 2 * degrade.margin)
    saved = degrade.state_dict()
    lr, cut = degrade(target)
    assert lr.shape == (4, 3, 16, 16) and cut.shape == (4, 3, 32, 32)
    assert torch.equal(lr, (lr * 255).round() / 255)
    again = Degradation(spec, torch.device("cpu"), seed=99)
    again.load_state_dict(saved)
    assert torch.equal(again(target)[0], lr)  # choices and noise both come back with the state
    assert not torch.equal(degrade(target)[0], lr)


def test_real_ranges_come_from_the_data_config():
    from irtool.train.config import from_dict

    cfg = from_dict(
        {
            "model": {"name": "compact-sr-x2"},
            "data": {
                "task": "real",
                "roots": ["T91"],
                "scale": 2,
                "real": {"first": {"noise_sigma": [1, 5], "blur": {"prob": 0.5}}, "final_sinc_prob": 0},
            },
            "schedule": {"steps": 1},
        }
    )
    real = cfg.data.degradation().real
    assert real.first.noise_sigma == [1.0, 5.0] and real.first.blur.prob == 0.5 and real.final_sinc_prob == 0.0
    assert real.second.jpeg_quality == [30, 95]  # keys left out keep Real-ESRGAN's ranges
