"""Dual PatchNorm on the convolutional stem: placements, keys, and the cases it must refuse."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import irtool.models
from irtool.errors import UsageError
from irtool.models.archs.restormer.detect import detect
from irtool.models.layers.patch_norm import PatchEmbed, parse_patch_norm


def test_spec_parsing():
    assert parse_patch_norm("none") == ("none", "none")
    assert parse_patch_norm("dpn") == ("patch", "ln")
    assert parse_patch_norm("holistic+none") == ("holistic", "none")
    with pytest.raises(ValueError, match="patch_norm"):
        parse_patch_norm("patch+batchnorm")


def test_off_by_default_keeps_the_official_keys():
    assert list(PatchEmbed(3, 8).state_dict()) == ["proj.weight"]
    keys = list(PatchEmbed(3, 8, "dpn").state_dict())
    assert keys == ["proj.weight", "pre_norm.weight", "pre_norm.bias", "post_norm.weight", "post_norm.bias"]


def test_patch_pre_norm_normalises_each_3x3_neighbourhood_before_the_projection():
    torch.manual_seed(0)
    embed = PatchEmbed(3, 5, "patch+none")
    x = torch.rand(1, 3, 6, 7)
    y, std = embed(x)
    assert std is None
    # pixel (2, 3): its 27 values (c, ky, kx), standardised, then the conv weights as a dot product
    patch = x[0, :, 1:4, 2:5].reshape(-1)
    patch = (patch - patch.mean()) / torch.sqrt(patch.var(unbiased=False) + 1e-6)
    expected = embed.proj.weight.reshape(5, -1) @ patch
    assert torch.allclose(y[0, :, 2, 3], expected, atol=1e-5)
    # border pixels see the conv's zero padding as part of their patch
    corner = F.pad(x, (1, 1, 1, 1))[0, :, 0:3, 0:3].reshape(-1)
    corner = (corner - corner.mean()) / torch.sqrt(corner.var(unbiased=False) + 1e-6)
    assert torch.allclose(y[0, :, 0, 0], embed.proj.weight.reshape(5, -1) @ corner, atol=1e-5)


def test_post_norm_normalises_the_embedding_of_each_pixel():
    y, _ = PatchEmbed(3, 16, "none+ln")(torch.rand(2, 3, 5, 5))
    assert torch.allclose(y.mean(1), torch.zeros(2, 5, 5), atol=1e-5)
    assert torch.allclose(y.var(1, unbiased=False), torch.ones(2, 5, 5), atol=1e-3)


def test_holistic_pre_norm_is_invariant_to_image_brightness_and_contrast():
    embed = PatchEmbed(3, 8, "holistic+none")
    x = torch.rand(1, 3, 8, 8)
    y1, s1 = embed(x)
    y2, s2 = embed(2 * x + 0.2)
    assert torch.allclose(y1, y2, rtol=2e-3, atol=2e-3)  # up to i-LN's eps
    assert torch.allclose(s2, 2 * s1, rtol=2e-3)  # the std that the model re-applies at its output


def test_channel_pre_norm_is_refused_for_gray_input():
    with pytest.raises(ValueError, match="constant"):
        PatchEmbed(1, 8, "channel+none")
    PatchEmbed(3, 8, "channel+none")
    with pytest.raises(UsageError):
        irtool.models.create("restormer-denoise-gray", patch_norm="channel+ln")


def test_holistic_pre_norm_needs_the_image_residual():
    with pytest.raises(UsageError, match="dual-pixel"):
        irtool.models.create("restormer-defocus-dp", patch_norm="holistic+none")


@pytest.mark.parametrize("spec", ["dpn", "channel+none", "holistic+ln", "none+ln"])
def test_restormer_with_dpn_runs_and_is_detected_again(spec, tmp_path):
    hp = {"dim": 8, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1, "heads": [1, 1, 2, 2]}
    model = irtool.models.create("restormer", patch_norm=spec, **hp).eval()
    assert detect(model.state_dict())["patch_norm"] == spec.replace("dpn", "patch+ln")
    x = torch.rand(1, 3, 12, 20)
    assert _loaded_from_official_format(model, tmp_path, x).shape == x.shape


def _loaded_from_official_format(model, tmp_path, x: torch.Tensor) -> torch.Tensor:
    """Save `model` as an official-style .pth, load it back by detection alone; same output on x (returned)."""
    path = tmp_path / "m.pth"
    torch.save({"params": model.state_dict()}, path)
    loaded = irtool.models.load(path)
    with torch.no_grad():
        out = loaded(x)
        assert torch.equal(out, model(x))
    return out


_HIIR = {
    "hiir-sr": {"scale": 2, "dim": 12, "depths": [2], "heads": 2, "window": 4, "dispersion": 2, "norm": "iln"},
    "hiir-unet": {"dim": 8, "depths": [1, 2], "refinement": 1, "heads": [1, 2], "window": 4, "dispersion": 2},
}


@pytest.mark.parametrize("arch", sorted(_HIIR))
@pytest.mark.parametrize("spec", ["dpn", "holistic+ln", "none+ln"])
def test_hiir_with_dpn_runs_and_is_detected_again(arch, spec, tmp_path):
    from irtool.models.registry import build, detect

    model = build(arch, {**_HIIR[arch], "patch_norm": spec}).eval()
    found = detect(model.state_dict())
    assert found is not None and found[0] == arch
    assert found[1]["patch_norm"] == spec.replace("dpn", "patch+ln")
    out = _loaded_from_official_format(model, tmp_path, torch.rand(1, 3, 13, 18))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("arch", sorted(_HIIR))
def test_hiir_stem_keys_are_unchanged_without_dpn(arch):
    from irtool.models.registry import build

    stem = "conv_first" if arch == "hiir-sr" else "patch_embed"
    plain = [k for k in build(arch, _HIIR[arch]).state_dict() if k.startswith(stem + ".")]
    assert plain[0] == f"{stem}.weight"  # the shipped weights' keys: they still load strictly
    dpn = [k for k in build(arch, {**_HIIR[arch], "patch_norm": "dpn"}).state_dict() if k.startswith(stem + ".")]
    assert dpn == [f"{stem}.{k}" for k in ("proj.weight", "pre_norm.weight", "pre_norm.bias")] + [
        f"{stem}.post_norm.weight",
        f"{stem}.post_norm.bias",
    ]


def test_hiir_holistic_pre_norm_makes_the_sr_output_follow_contrast():
    """Under a holistic pre-norm the stem sees a brightness/contrast-free image and the residual is rescaled by the
    input's std, so what the network adds scales with the input's contrast (up to i-LN's eps)."""
    from irtool.models.registry import build

    torch.manual_seed(0)
    hp = {**_HIIR["hiir-sr"], "norm": "ln", "patch_norm": "holistic+none", "image_residual": "bicubic"}
    model = build("hiir-sr", hp).eval()
    for p in model.parameters():
        if not p.any():  # the zero-initialised last conv: give the branch something to add
            torch.nn.init.normal_(p, std=0.1)
    x = torch.rand(1, 3, 8, 8) * 0.5
    with torch.no_grad():
        base = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        added1 = model(x) - base
        added2 = model(2 * x) - 2 * base
    assert added1.abs().max() > 1e-3
    assert torch.allclose(added2, 2 * added1, rtol=1e-2, atol=1e-3)


def test_hiir_unet_holistic_pre_norm_needs_the_image_residual():
    from irtool.models.registry import build

    with pytest.raises(UsageError, match="holistic"):
        build("hiir-unet", {**_HIIR["hiir-unet"], "out_channels": 1, "patch_norm": "holistic+none"})
