"""Restormer: the official checkpoint layout (from the model notes, models.md 1.2-1.4), detection, and semantics.

The expected keys, shapes and parameter counts below are written from the notes' tables (measured on the official
code), not from our module. Full-size models are built on the `meta` device unless a test needs numbers.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import irtool.models
from irtool.models import registry
from irtool.models.archs.restormer.detect import detect
from irtool.models.archs.restormer.network import FeedForward
from irtool.models.layers.mdta import MDTA

# models.md 1.3: (prefix, blocks, width d, heads h); hid = int(2.66 * d)
LEVELS = [
    ("encoder_level1", 4, 48, 1),
    ("encoder_level2", 6, 96, 2),
    ("encoder_level3", 6, 192, 4),
    ("latent", 8, 384, 8),
    ("decoder_level3", 6, 192, 4),
    ("decoder_level2", 6, 96, 2),
    ("decoder_level1", 4, 96, 1),
    ("refinement", 4, 96, 1),
]
HIDDEN = {48: 127, 96: 255, 192: 510, 384: 1021}
# registration order of the official module
ORDER = [
    "patch_embed",
    "encoder_level1",
    "down1_2",
    "encoder_level2",
    "down2_3",
    "encoder_level3",
    "down3_4",
    "latent",
    "up4_3",
    "reduce_chan_level3",
    "decoder_level3",
    "up3_2",
    "reduce_chan_level2",
    "decoder_level2",
    "up2_1",
    "decoder_level1",
    "refinement",
    "skip_conv",
    "output",
]
NON_BLOCK = {
    "patch_embed": [("patch_embed.proj.weight", (48, "in", 3, 3))],
    "down1_2": [("down1_2.body.0.weight", (24, 48, 3, 3))],
    "down2_3": [("down2_3.body.0.weight", (48, 96, 3, 3))],
    "down3_4": [("down3_4.body.0.weight", (96, 192, 3, 3))],
    "up4_3": [("up4_3.body.0.weight", (768, 384, 3, 3))],
    "reduce_chan_level3": [("reduce_chan_level3.weight", (192, 384, 1, 1))],
    "up3_2": [("up3_2.body.0.weight", (384, 192, 3, 3))],
    "reduce_chan_level2": [("reduce_chan_level2.weight", (96, 192, 1, 1))],
    "up2_1": [("up2_1.body.0.weight", (192, 96, 3, 3))],
    "skip_conv": [("skip_conv.weight", (96, 48, 1, 1))],
    "output": [("output.weight", ("out", 96, 3, 3))],
}


def official_layout(in_ch: int = 3, out_ch: int = 3, with_bias: bool = True, dual_pixel: bool = False):
    """The official state_dict as an ordered list of (key, shape), per models.md 1.3."""
    levels = {p: (n, d, h) for p, n, d, h in LEVELS}
    layout = []
    for child in ORDER:
        if child == "skip_conv" and not dual_pixel:
            continue
        if child in levels:
            n, d, h = levels[child]
            hid = HIDDEN[d]
            for i in range(n):
                p = f"{child}.{i}"
                layout.append((f"{p}.norm1.body.weight", (d,)))
                if with_bias:
                    layout.append((f"{p}.norm1.body.bias", (d,)))
                layout += [
                    (f"{p}.attn.temperature", (h, 1, 1)),
                    (f"{p}.attn.qkv.weight", (3 * d, d, 1, 1)),
                    (f"{p}.attn.qkv_dwconv.weight", (3 * d, 1, 3, 3)),
                    (f"{p}.attn.project_out.weight", (d, d, 1, 1)),
                    (f"{p}.norm2.body.weight", (d,)),
                ]
                if with_bias:
                    layout.append((f"{p}.norm2.body.bias", (d,)))
                layout += [
                    (f"{p}.ffn.project_in.weight", (2 * hid, d, 1, 1)),
                    (f"{p}.ffn.dwconv.weight", (2 * hid, 1, 3, 3)),
                    (f"{p}.ffn.project_out.weight", (d, hid, 1, 1)),
                ]
        else:
            for key, shape in NON_BLOCK[child]:
                layout.append((key, tuple({"in": in_ch, "out": out_ch}.get(s, s) for s in shape)))
    return layout


def meta_model(name: str, **overrides):
    with torch.device("meta"):
        return irtool.models.create(name, **overrides)


def layout_of(model) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def small(**overrides):
    """A tiny Restormer (same code paths, ~50k params) for numeric tests."""
    hp = {"dim": 8, "num_blocks": [1, 1, 1, 2], "num_refinement_blocks": 1, "heads": [1, 2, 2, 4], **overrides}
    return irtool.models.create("restormer", **hp).eval()


def test_default_has_the_papers_parameter_count_per_child():
    model = meta_model("restormer")
    assert sum(p.numel() for p in model.parameters()) == 26_126_644
    per_child = {name: sum(p.numel() for p in child.parameters()) for name, child in model.named_children()}
    # models.md 1.2, measured on the official module
    assert per_child == {
        "patch_embed": 1_296,
        "encoder_level1": 125_116,
        "down1_2": 10_368,
        "encoder_level2": 707_232,
        "down2_3": 41_472,
        "encoder_level3": 2_738_112,
        "down3_4": 165_888,
        "latent": 14_370_448,
        "up4_3": 2_654_208,
        "reduce_chan_level3": 73_728,
        "decoder_level3": 2_738_112,
        "up3_2": 663_552,
        "reduce_chan_level2": 18_432,
        "decoder_level2": 707_232,
        "up2_1": 165_888,
        "decoder_level1": 471_484,
        "refinement": 471_484,
        "output": 2_592,
    }


@pytest.mark.parametrize(
    ("name", "layout_args", "params", "n_keys"),
    [
        ("restormer", {}, 26_126_644, 494),
        ("restormer-derain", {}, 26_126_644, 494),
        ("restormer-deblur-motion", {}, 26_126_644, 494),
        ("restormer-defocus", {}, 26_126_644, 494),
        ("restormer-defocus-dp", {"in_ch": 6, "dual_pixel": True}, 26_132_548, 495),
        ("restormer-denoise-color", {"with_bias": False}, 26_111_668, 406),
        ("restormer-denoise-gray", {"in_ch": 1, "out_ch": 1, "with_bias": False}, 26_109_076, 406),
        ("restormer-denoise-real", {"with_bias": False}, 26_111_668, 406),
    ],
)
def test_state_dict_is_the_official_layout(name, layout_args, params, n_keys):
    model = meta_model(name)
    assert layout_of(model) == official_layout(**layout_args)  # keys, order and shapes
    assert len(model.state_dict()) == n_keys
    assert sum(p.numel() for p in model.parameters()) == params
    assert model.descriptor.size_multiple == 8
    assert "non-commercial" in model.descriptor.license


@pytest.mark.parametrize("name", [e.name for e in irtool.models.list_models() if e.arch == "restormer"])
def test_each_released_config_is_detected_from_its_state_dict(name):
    model = meta_model(name)
    found = registry.detect(model.state_dict())
    assert found is not None
    assert found == ("restormer", model.descriptor.hparams)  # every hyper-parameter read back


def test_detection_reads_non_default_shapes():
    model = meta_model("restormer", dim=16, num_blocks=[1, 2, 3, 1], num_refinement_blocks=2, heads=[2, 2, 4, 4])
    hp = detect(model.state_dict())
    assert hp["dim"] == 16 and hp["num_blocks"] == [1, 2, 3, 1] and hp["num_refinement_blocks"] == 2
    assert hp["heads"] == [2, 2, 4, 4] and hp["ffn_expansion_factor"] == 2.66 and hp["norm"] == "ln"
    assert detect({"conv_first.weight": torch.zeros(1)}) is None


@pytest.mark.parametrize("factor", [2.66, 2.2, 8 / 3, 1.3])
def test_detection_reads_the_ffn_factor_from_every_level(factor):
    # int() truncates: from level 1 alone (dim 48) 2.2 reads as 105/48 = 2.1875, which builds 210 channels at
    # dim 96 instead of 211; every level's width has to agree.
    model = meta_model("restormer", ffn_expansion_factor=factor)
    with torch.device("meta"):
        rebuilt = registry.build("restormer", detect(model.state_dict()))
    assert layout_of(rebuilt) == layout_of(model)


@pytest.mark.slow  # a full-size (26M) model: building, saving, loading and one forward pass
def test_official_pth_loads_and_runs_on_any_size(tmp_path):
    torch.manual_seed(0)
    source = irtool.models.create("restormer")
    with torch.no_grad():
        for p in source.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    path = tmp_path / "deraining.pth"
    torch.save({"params": source.state_dict()}, path)
    model = irtool.models.load(path)
    assert model.descriptor.arch == "restormer" and model.descriptor.hparams["norm"] == "ln"
    loaded = model.state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in source.state_dict().items())
    with torch.no_grad():
        assert model(torch.rand(1, 3, 37, 53)).shape == (1, 3, 37, 53)


def test_odd_sizes_are_reflect_padded_to_8_and_cropped_back():
    model = small()
    x = torch.rand(2, 3, 13, 22)
    with torch.no_grad():
        padded = F.pad(x, (0, 2, 0, 3), mode="reflect")  # 16 x 24, as the official test scripts pad
        assert torch.allclose(model(x), model(padded)[..., :13, :22], atol=1e-6)
        assert model(torch.rand(1, 3, 3, 5)).shape == (1, 3, 3, 5)  # too small to reflect: replicate


def test_mdta_is_channel_attention_with_head_major_groups():
    torch.manual_seed(0)
    attn = MDTA(dim=6, num_heads=2, bias=False)
    with torch.no_grad():
        attn.temperature.copy_(torch.tensor([0.5, 2.0]).view(2, 1, 1))
        x = torch.randn(1, 6, 4, 5)
        q, k, v = attn.qkv_dwconv(attn.qkv(x)).chunk(3, dim=1)
        heads = []
        for h, t in enumerate((0.5, 2.0)):  # channels [3h, 3h+3) form head h
            qh, kh, vh = (z[0, 3 * h : 3 * h + 3].reshape(3, -1) for z in (q, k, v))
            qh, kh = qh / qh.norm(dim=1, keepdim=True), kh / kh.norm(dim=1, keepdim=True)
            heads.append(torch.softmax(qh @ kh.T * t, dim=-1) @ vh)
        expected = attn.project_out(torch.cat(heads).reshape(1, 6, 4, 5))
        assert torch.allclose(attn(x), expected, atol=1e-6)


def test_gdfn_gates_the_second_half_with_gelu_of_the_first():
    torch.manual_seed(0)
    ffn = FeedForward(dim=4, expansion=2.66, bias=True)
    assert ffn.project_out.in_channels == 10  # int(4 * 2.66) = 10, truncated
    with torch.no_grad():
        x = torch.randn(1, 4, 3, 3)
        h = ffn.dwconv(ffn.project_in(x))
        assert torch.allclose(ffn(x), ffn.project_out(F.gelu(h[:, :10]) * h[:, 10:]), atol=1e-6)


def test_dual_pixel_variant_has_no_image_residual():
    model = small(in_channels=6, dual_pixel=True)
    with torch.no_grad():
        model.output.weight.zero_()
        assert torch.equal(model(torch.rand(1, 6, 16, 16)), torch.zeros(1, 3, 16, 16))
        plain = small()
        plain.output.weight.zero_()
        x = torch.rand(1, 3, 16, 16)
        assert torch.equal(plain(x), x)


def test_iln_option_rescales_every_residual_branch():
    iln = small(norm="iln")
    keys = iln.state_dict().keys()
    assert "encoder_level1.0.norm1.body.gamma" in keys and "encoder_level1.0.norm1.body.weight" not in keys
    assert iln.descriptor.global_stats and not small().descriptor.global_stats
    assert detect(iln.state_dict())["norm"] == "iln"
    # With bias-free convs and beta = 0, x + std(x) * F(iLN(x)) is positively homogeneous: f(a x) = a f(x).
    # Plain LN blocks (x + F(LN(x))) are not: the branch ignores the input's scale.
    torch.manual_seed(0)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(iln(3 * x), 3 * iln(x), rtol=1e-3, atol=1e-3)
        ln = small()
        assert not torch.allclose(ln(3 * x), 3 * ln(x), rtol=1e-2, atol=1e-2)


def test_bad_hyper_parameters_are_usage_errors():
    from irtool.errors import UsageError

    with pytest.raises(UsageError, match="norm"):
        irtool.models.create("restormer", norm="batchnorm")
    with pytest.raises(UsageError, match="unknown hyper-parameter"):
        irtool.models.create("restormer", LayerNorm_type="BiasFree")
