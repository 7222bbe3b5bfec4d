"""Dual PatchNorm on the convolutional stem: placements, keys, and the cases it must refuse."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import irtool.models
from irtool.errors import UsageError
from irtool.models.patch_norm import PatchEmbed, parse_patch_norm
from irtool.models.restormer import detect


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
    path = tmp_path / "m.pth"
    torch.save({"params": model.state_dict()}, path)
    loaded = irtool.models.load(path)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert loaded(x).shape == x.shape
