from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from irtool.models import create, registry
from irtool.models.archs.hiir.attention import GroupAttention, Grouping
from irtool.models.archs.hiir.sr import HiIRSR
from irtool.models.archs.hiir.unet import HiIRUNet
from irtool.models.norms import record_statistics, use_statistics

TINY_SR = {"dim": 12, "depths": (2,), "heads": 2, "window": 4, "dispersion": 2}
TINY_UNET = {"dim": 8, "depths": (1, 2, 2), "refinement": 1, "heads": (1, 2, 2), "window": 4, "dispersion": 2}


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("upsampler", ["pixelshuffle", "pixelshuffledirect"])
def test_sr_odd_sizes(scale, upsampler):
    torch.manual_seed(0)
    model = HiIRSR(scale=scale, upsampler=upsampler, upsampler_channels=8, **TINY_SR).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 37, 53))
    assert out.shape == (2, 3, 37 * scale, 53 * scale)
    assert torch.isfinite(out).all()


def test_unet_odd_size_and_batch_of_tiles():
    torch.manual_seed(0)
    model = HiIRUNet(**TINY_UNET).eval()
    x = torch.rand(3, 3, 37, 53)
    with torch.no_grad():
        batched = model(x)
        single = model(x[1:2])
    assert batched.shape == x.shape
    assert torch.allclose(batched[1:2], single, atol=1e-5)  # groups never mix images of a batch


@pytest.mark.parametrize(("window", "dispersion", "cell"), [(4, 1, 1), (4, 3, 1), (4, 2, 2), (6, 2, 3)])
def test_permutation_inverts_exactly(window, dispersion, cell):
    g = Grouping(window, dispersion, cell)
    side = g.multiple * 2
    x = torch.randn(2, side, side + g.multiple, 5)
    tokens = g.split(x)
    assert tokens.shape == (x.numel() // 5 // g.group_size, g.group_size, 5)
    assert torch.equal(g.merge(tokens, x.shape[1], x.shape[2]), x)


def test_l2_groups_hold_dispersed_pixels_of_one_region():
    g = Grouping(window=4, dispersion=3)
    side = g.multiple
    yy, xx = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    coords = torch.stack([yy, xx], -1)[None].float()  # each pixel carries its own (row, col)
    group0 = g.split(coords)[0].long()
    # one pixel at the same in-window offset from each of the 3 x 3 windows: a stride-4 lattice over the region
    assert torch.equal(group0, g.token_coordinates())
    assert sorted({int(r) for r in group0[:, 0]}) == [0, 4, 8]


def _input_gradient(attn: GroupAttention, x: torch.Tensor, out_pixel: tuple[int, int]) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    attn(x)[0, out_pixel[0], out_pixel[1]].sum().backward()
    return x.grad[0].abs().sum(-1)


def test_l2_mixes_far_pixels_of_its_region_and_l1_does_not():
    torch.manual_seed(0)
    x = torch.randn(1, 24, 24, 8)
    far = (8, 8)  # same in-window offset as (0, 0), two windows away, still inside the 12 x 12 region
    l2 = GroupAttention(8, 2, Grouping(window=4, dispersion=3))
    grad = _input_gradient(l2, x, far)
    assert grad[0, 0] > 0 and grad[4, 8] > 0
    assert grad[1, 0] == 0  # a different in-window offset: another group
    assert grad[12, 8] == 0  # same offset, but the next region
    l1 = GroupAttention(8, 2, Grouping(window=4))
    grad = _input_gradient(l1, x, far)
    assert grad[0, 0] == 0 and grad[9, 9] > 0


@pytest.mark.parametrize(
    "options",
    [{}, {"layout": "paired", "attn_type": "cosine", "l3": "channel", "ffn": "conv", "cell": 2, "norm": "iln"}],
)
def test_every_parameter_of_every_block_gets_gradient(options):
    torch.manual_seed(0)
    sr = HiIRSR(scale=2, upsampler_channels=8, stage_conv="1x1", conv_blocks=1, **TINY_SR, **options)
    unet = HiIRUNet(**{**TINY_UNET, "depths": (0, 2, 2), "refinement": 1}, **options)
    for model in (sr, unet):
        out = model(torch.rand(2, 3, 16, 24))
        (out - torch.rand_like(out)).abs().mean().backward()
        dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert not dead


def test_iln_tiles_with_shared_statistics_equal_the_whole_image():
    torch.manual_seed(0)
    model = HiIRSR(scale=2, norm="iln", upsampler="pixelshuffledirect", stage_conv="1x1", **TINY_SR).eval()
    img = torch.rand(1, 3, 16, 64) * torch.linspace(0.1, 1.0, 64)  # contrast grows to the right: tiles differ
    # Grid-aligned tiles (multiples of window * dispersion = 8) wide enough that their edges do not reach the
    # kept columns: the left tile keeps input columns 0..24, the right one 24..64.
    left, right = img[..., :40], img[..., 8:]
    with torch.no_grad():
        with record_statistics(model) as stats:
            whole = model(img)
        with use_statistics(model, stats):
            shared = torch.cat([model(left)[..., :48], model(right)[..., 32:]], dim=-1)
        alone = torch.cat([model(left)[..., :48], model(right)[..., 32:]], dim=-1)
    assert torch.allclose(shared, whole, atol=1e-5)
    assert not torch.allclose(alone, whole, atol=1e-3)  # per-tile statistics really differ


def test_registered_configs_norm_override_and_descriptor():
    model = create("hiir-sr-x3", norm="iln", depths=[2], dim=12, heads=2)
    d = model.descriptor
    assert (d.arch, d.task, d.scale, d.global_stats) == ("hiir-sr", "sr", 3, True)
    assert d.bf16_safe and not d.fp16_safe
    assert d.size_multiple == 64
    unet = create("hiir-unet", dim=8, depths=[1, 1, 1, 1], refinement=1)
    assert unet.descriptor.task == "denoise" and not unet.descriptor.global_stats
    assert unet.descriptor.size_multiple == 4 * 8 * 2**3  # window 8 x dispersion 4 at the 1/8 level


@pytest.mark.parametrize(
    ("arch", "hparams"),
    [
        ("hiir-sr", {"scale": 3, "upsampler_channels": 8, **TINY_SR, "layout": "paired", "cell": 2, "norm": "iln"}),
        ("hiir-sr", {"scale": 4, "upsampler": "pixelshuffledirect", **TINY_SR, "ffn": "conv", "stage_conv": "none"}),
        ("hiir-unet", {**TINY_UNET, "attn_type": "cosine", "l3": "channel", "norm": "ln_nobias", "dispersion": 3}),
        # the compact hybrids' residual conv blocks, and a ratio that one level's width alone does not pin down
        ("hiir-sr", {"scale": 2, "upsampler": "pixelshuffledirect", **TINY_SR, "conv_blocks": 2, "ffn_ratio": 2.2}),
        ("hiir-unet", {**TINY_UNET, "ffn": "conv", "ffn_ratio": 2.2}),
    ],
)
def test_architecture_is_detected_from_state_dict_keys(arch, hparams):
    torch.manual_seed(0)
    model = registry.build(arch, hparams).eval()
    found = registry.detect(model.state_dict())
    assert found is not None and found[0] == arch
    rebuilt = registry.build(arch, found[1]).eval()
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x = torch.rand(1, 3, 12, 20)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))


def test_detect_ignores_other_architectures():
    sd = {"conv_first.weight": torch.zeros(4, 3, 3, 3), "body.0.weight": torch.zeros(4, 4, 3, 3)}
    assert registry.get_arch("hiir-sr").detect(sd) is None
    assert registry.get_arch("hiir-unet").detect(sd) is None


def test_image_residual_starts_at_the_interpolation():
    model = HiIRSR(scale=2, image_residual="bicubic", upsampler="pixelshuffledirect", **TINY_SR).eval()
    x = torch.rand(1, 3, 10, 14)
    with torch.no_grad():
        expected = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        assert torch.allclose(model(x), expected, atol=1e-6)
