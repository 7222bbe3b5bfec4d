"""The evaluation loop and its protocols, on small synthetic images (the benchmark numbers are in test_eval_cli)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from irtool import models
from irtool.errors import InputError, UsageError
from irtool.evaluate import PROTOCOLS, Sample, evaluate, evaluate_folders, get_protocol, pair_folders, score
from irtool.io.images import write_image
from irtool.ops.degrade import bicubic_lr
from irtool.ops.metrics import psnr, ssim
from irtool.ops.resize import imresize


def _image(seed: int, h: int = 40, w: int = 52, c: int = 3) -> np.ndarray:
    """A smooth random uint8 image (smooth so that bicubic does something sensible)."""
    rng = np.random.default_rng(seed)
    small = torch.from_numpy(rng.random((c, h // 4, w // 4)))
    return (imresize(small, 4.0).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def test_presets_are_data_and_reported():
    assert set(PROTOCOLS) == {"sr", "sr-rgb", "sr-luma", "denoise", "derain"}
    sr = get_protocol("sr", gray="matlab")
    assert sr.gray == "matlab" and PROTOCOLS["sr"].gray == "rgb"  # presets are frozen, overrides are copies
    d = sr.describe(scale=3, sigma=None)
    assert d["crop_border"] == 3 and d["round_output"] and d["y_precision"] == "float" and "lr" in d
    d = PROTOCOLS["denoise"].describe(scale=1, sigma=25)
    assert d["crop_border"] == 0 and d["sigma"] == 25 and "RandomState(0)" in d["noise"]
    assert PROTOCOLS["derain"].describe(scale=1, sigma=None)["y_precision"] == "uint8-rounded"
    with pytest.raises(UsageError):
        get_protocol("sr-fancy")
    with pytest.raises(UsageError):
        get_protocol("sr", gray="yiq")  # type: ignore[arg-type]


def test_sr_in_memory_matches_the_protocol_by_hand():
    hr = [_image(0), _image(1, 37, 45)]  # the second one needs a modcrop at x2
    report = evaluate(models.create("bicubic", scale=2), hr, "sr")
    for img, s in zip(hr, report.per_image, strict=True):
        gt = img[: img.shape[0] // 2 * 2, : img.shape[1] // 2 * 2]
        lr = torch.from_numpy(bicubic_lr(img, 2)).permute(2, 0, 1)[None].float() / 255
        up = (imresize(lr, 2.0)[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
        assert s.psnr == pytest.approx(psnr(up, gt, crop_border=2, y_channel=True), abs=1e-9)
        assert s.ssim == pytest.approx(ssim(up, gt, crop_border=2, y_channel=True), abs=1e-9)
    assert report.psnr == pytest.approx(np.mean([s.psnr for s in report.per_image]))
    assert report.dataset["count"] == 2 and len(report.dataset["checksum"]) == 64
    assert report.model["arch"] == "bicubic" and report.protocol["scale"] == 2
    assert report.to_dict()["run"]["device"] == "cpu" and report.to_dict()["protocol"]["rounding"] == "half-even"
    rgb = evaluate(models.create("bicubic", scale=2), hr, "sr-rgb")
    assert rgb.psnr < report.psnr  # Y is the easier score on natural-ish images


def test_scale_and_sigma_are_checked():
    hr = [_image(0)]
    with pytest.raises(UsageError, match="x2"):
        evaluate(models.create("bicubic", scale=2), hr, "sr", scale=4)
    with pytest.raises(UsageError, match="sigma"):
        evaluate(models.load("identity"), hr, "denoise")
    with pytest.raises(UsageError, match="sigma"):
        evaluate(models.create("bicubic", scale=2), hr, "sr", sigma=25)
    with pytest.raises(UsageError, match="scale"):
        evaluate(lambda x: x, hr, "sr")  # a plain callable does not say its scale
    with pytest.raises(UsageError, match="returned"):
        evaluate(lambda x: x, hr, "sr", scale=2)


def test_denoise_reseeds_the_legacy_generator_before_every_image():
    """Reference: Restormer's test script, written out with NumPy's global legacy generator."""
    images = [_image(3), _image(4, 33, 29)]
    report = evaluate(models.load("identity"), images, "denoise", sigma=25)
    again = evaluate(lambda x: x, images, "denoise", sigma=25)  # a plain callable works the same
    for img, s, s2 in zip(images, report.per_image, again.per_image, strict=True):
        np.random.seed(seed=0)
        noisy = np.float32(img) / 255.0
        noisy += np.random.normal(0, 25 / 255.0, noisy.shape)
        out = np.floor(np.clip(noisy, 0, 1) * 255 + 0.5)
        mse = np.mean((out - img.astype(np.float64)) ** 2)
        assert s.psnr == pytest.approx(20 * math.log10(255 / math.sqrt(mse)), abs=1e-9)
        assert (s.psnr, s.ssim) == (s2.psnr, s2.ssim)
    assert report.per_image[0].psnr < 21  # sigma 25 noise: about 20 dB


def test_derain_scores_rounded_y_without_border():
    target = _image(5)
    rain = np.clip(target.astype(int) + 40 * (np.arange(target.shape[1]) % 7 == 0)[None, :, None], 0, 255)
    report = evaluate(models.load("identity"), [(rain.astype(np.uint8), target)], "derain")

    def y8(x: np.ndarray) -> np.ndarray:  # MATLAB rgb2ycbcr on uint8, Y plane
        x = x.astype(np.float64)
        return np.floor(16 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255 + 0.5)

    mse = np.mean((y8(rain) - y8(target)) ** 2)
    assert report.psnr == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-9)
    with pytest.raises(UsageError, match="paired"):
        evaluate(models.load("identity"), [target], "derain")


def test_grey_conventions_differ_by_the_studio_range():
    """A grey image scored as RGB (studio-range Y) gains exactly 20*log10(255/219) dB over its full-range level."""
    grey = [_image(6, c=1)]
    rgb = evaluate(models.create("bicubic", scale=2), grey, "sr", gray="rgb")
    mat = evaluate(models.create("bicubic", scale=2), grey, "sr", gray="matlab")
    assert rgb.psnr - mat.psnr == pytest.approx(20 * math.log10(255 / 219), abs=1e-6)
    assert rgb.protocol["gray"] == "rgb" and mat.protocol["gray"] == "matlab"


def test_luma_protocol_runs_the_y_plane():
    img = _image(7)
    bicubic = models.create("bicubic", scale=2)
    seen = []

    def spy(x):
        seen.append((tuple(x.shape), bool((x[:, 0] == x[:, 1]).all() and (x[:, 1] == x[:, 2]).all())))
        return bicubic(x)

    report = evaluate(spy, [img], "sr-luma", scale=2)
    assert seen == [((1, 3, 20, 26), True)]  # the Y plane, replicated for a 3-channel model
    assert report.protocol["luma_only"] and report.protocol["y_precision"] == "uint8-rounded"
    # The same numbers through the bicubic module itself (the engine's torch runner): the adapter changes nothing.
    direct = evaluate(bicubic, [img], "sr-luma")
    assert (direct.psnr, direct.ssim) == (report.psnr, report.ssim)
    assert report.run["runtime"] == "callable" and direct.run["runtime"] == "torch"


def test_pair_folders_by_name_then_sorted_order(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for i in range(3):
        write_image(gt / f"img{i}.png", _image(i))
        write_image(pred / f"img{i}_x1.png", _image(i))
    pairs, how = pair_folders(pred, gt)
    assert how == "name" and [(p.name, g.name) for p, g in pairs][0] == ("img0_x1.png", "img0.png")

    other = tmp_path / "other"
    for i in range(3):
        write_image(other / f"out-{i}.png", _image(i))
    pairs, how = pair_folders(other, gt)
    assert how == "sorted order" and pairs[2][0].name == "out-2.png"

    report = evaluate_folders(pred, gt, "denoise")
    assert report.psnr == math.inf and report.ssim == pytest.approx(1.0)
    assert report.dataset["pairing"] == "name" and report.model is None

    (other / "out-3.png").write_bytes((other / "out-2.png").read_bytes())
    with pytest.raises(InputError, match="counts differ"):
        pair_folders(other, gt)


def test_folder_sr_crops_ground_truth_to_prediction(tmp_path):
    hr = _image(8, 41, 50)
    write_image(tmp_path / "gt" / "a.png", hr)
    write_image(tmp_path / "pred" / "a.png", hr[:40, :48])  # modcrop to x4
    report = evaluate_folders(tmp_path / "pred", tmp_path / "gt", "sr", scale=4)
    assert report.psnr == math.inf
    with pytest.raises(UsageError, match="--scale"):
        evaluate_folders(tmp_path / "pred", tmp_path / "gt", "sr")
    write_image(tmp_path / "pred" / "a.png", hr[:30, :48])
    with pytest.raises(InputError, match="does not match"):
        evaluate_folders(tmp_path / "pred", tmp_path / "gt", "sr", scale=4)


def test_score_of_identical_images_and_sample_type():
    img = _image(9)
    p, s = score(img, img, PROTOCOLS["sr"], scale=2)
    assert p == math.inf and s == pytest.approx(1.0)
    report = evaluate(models.load("identity"), [Sample("named", img)], "denoise", sigma=0)
    assert report.per_image[0].name == "named" and report.psnr == math.inf


def test_training_validation_gives_the_model_back_in_train_mode():
    model = models.create("bicubic", scale=2).train()
    evaluate(model, [_image(10)], "sr")
    assert model.training


def test_training_validation_leaves_the_trained_model_as_it_was(monkeypatch):
    """What irtool.train.loop.validate does: a model with weights, in train mode, evaluated on its device."""
    from irtool.engine import runner as runner_module

    torch.manual_seed(0)
    model = models.create("sr-x2").train()
    before = {k: (v.clone(), v.dtype, v.stride()) for k, v in model.state_dict().items()}
    built = []

    class SpyRunner(runner_module.Runner):
        def __init__(self, *args, **kwargs):
            built.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(runner_module, "Runner", SpyRunner)
    report = evaluate(model, [_image(11, 24, 24)], "sr", device=torch.device("cpu"))
    assert model.training and all(m.training for m in model.modules())
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k, (value, dtype, stride) in before.items():
        assert after[k].dtype == dtype and after[k].stride() == stride, k
        assert torch.equal(after[k], value), k
    # Never converted to channels_last (on CUDA the runner would do that to a model it owns), run in fp32.
    assert built and built[0]["channels_last"] is False
    assert report.run["precision"] == "fp32" and report.run["device"] == "cpu" and report.run["tile"] == "whole image"


def test_a_model_in_eval_mode_is_run_by_make_runner_and_precision_is_recorded():
    """bf16 on the CPU runs (autocast) and is recorded; it moves the score a little, never the protocol."""
    img = [_image(12, 32, 32)]
    model = models.load("sr-x2")  # trained weights: a random initialisation outputs (nearly) its bicubic skip
    fp32 = evaluate(model, img, "sr")
    bf16 = evaluate(model, img, "sr", precision="bf16")
    assert fp32.run["precision"] == "fp32" and bf16.run["precision"] == "bf16"
    assert bf16.psnr != fp32.psnr and abs(bf16.psnr - fp32.psnr) < 1.0
    assert not model.training and all(p.dtype == torch.float32 for p in model.parameters())
    with pytest.raises(UsageError, match="precision"):
        evaluate(model, img, "sr", precision="fp8")


def test_a_prepared_runner_is_used_with_its_own_settings():
    from irtool.engine import make_runner

    img = [_image(13, 32, 32)]
    model = models.create("bicubic", scale=2)
    runner = make_runner(model, device="cpu", precision="fp32", tile=16, overlap=4, tta=True)
    tiled = evaluate(model, img, "sr", runner=runner)
    whole = evaluate(model, img, "sr")
    assert tiled.run["tile"].startswith("16px") and tiled.run["self_ensemble"] is True
    assert whole.run["tile"] == "whole image" and whole.run["self_ensemble"] is False
    assert tiled.model["arch"] == "bicubic"


def _exact_tie() -> tuple[float, int]:
    """A float32 v with float32(v * 255) == k + 0.5 exactly, k even: half-even gives k, half-away k + 1."""
    for k in range(2, 255, 2):
        v = np.float32((k + 0.5) / 255)
        if v * np.float32(255) == k + 0.5:
            return float(v), k
    raise AssertionError("no exact tie found")


def test_output_ties_round_like_the_reference_scripts():
    """BasicSR's tensor2img (and Restormer, KAIR) use np.round: half to even. MATLAB's uint8() rounds half away."""
    v, k = _exact_tie()
    model = lambda x: torch.full_like(x, v)  # noqa: E731
    assert evaluate(model, [np.full((16, 16, 3), k, np.uint8)], "denoise", sigma=0).psnr == math.inf
    # sr-luma scores the grey level itself under the MATLAB convention: a one-channel target of level k + 1
    luma = evaluate(model, [np.full((16, 16, 1), k + 1, np.uint8)], "sr-luma", scale=1, gray="matlab")
    assert luma.psnr == math.inf
    assert PROTOCOLS["sr"].describe(scale=2, sigma=None)["rounding"] == "half-even"
    assert PROTOCOLS["sr-luma"].describe(scale=2, sigma=None)["rounding"] == "half-away"


def test_bad_sigma_and_scale_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="sigma must be"):
        evaluate(models.load("identity"), [_image(0)], "denoise", sigma=-5)
    with pytest.raises(UsageError, match="positive integer, got 0"):
        evaluate(models.create("bicubic", scale=4), [_image(0)], "sr", scale=0)
    write_image(tmp_path / "gt" / "a.png", _image(0))
    write_image(tmp_path / "pred" / "a.png", _image(0))
    with pytest.raises(UsageError, match="positive integer, got -1"):
        evaluate_folders(tmp_path / "pred", tmp_path / "gt", "sr", scale=-1)


def test_real_degradation_is_seeded_per_image_and_reported():
    from irtool.ops.realistic import real_lr

    images = [_image(i, 48, 48) for i in range(3)]
    seen = []

    def upscale(x):  # records what the model was given
        seen.append((x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
        return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")

    report = evaluate(upscale, images, "sr", scale=2, degradation="real", seed=4)
    assert report.protocol["degradation"] == "real" and report.protocol["seed"] == 4
    for i, (img, shown, s) in enumerate(zip(images, seen, report.per_image, strict=True)):
        lr, params = real_lr(img, 2, 4, i)
        assert np.array_equal(shown, lr) and s.degradation == params
    assert "degradation" in report.to_dict()["per_image"][0]
    plain = evaluate(upscale, images, "sr", scale=2)
    assert "degradation" not in plain.to_dict()["per_image"][0] and "degradation" not in plain.protocol
    with pytest.raises(UsageError, match="real degradation"):
        evaluate(upscale, images, "sr-luma", scale=2, degradation="real")
    with pytest.raises(UsageError, match="'bicubic' or 'real'"):
        evaluate(upscale, images, "sr", scale=2, degradation="jpeg")
