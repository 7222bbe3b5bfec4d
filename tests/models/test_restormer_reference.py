"""Restormer against a reference that shares no code with `irtool.models.archs.restormer`.

A functional re-statement of the official network, written from the model notes (models.md 1.1) with plain
`torch.nn.functional` calls on the state_dict tensors: no module of ours is used, so a wrong chunk order, head
grouping, norm or concat order in our classes shows up as a numeric difference. Compared within 1e-5 in fp32, on
a multiple-of-8 input and on an odd one through the official test protocol (reflect-pad bottom/right to a
multiple of 8, run, crop). The official `restormer_arch.py` itself is not part of this repository (non-commercial
licence): `benchmarks/check_restormer_parity.py --reference FILE` compares against a local copy of it.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import irtool.models
from irtool.models.detection import count_indices

TINY = {"dim": 8, "num_blocks": [1, 2, 1, 2], "num_refinement_blocks": 2, "heads": [1, 2, 2, 4]}
# The released variants: WithBias and BiasFree LayerNorm, grey, dual-pixel; and bias=True convolutions.
CONFIGS = {
    "withbias": {},
    "biasfree": {"norm": "ln_nobias"},
    "gray": {"norm": "ln_nobias", "in_channels": 1, "out_channels": 1},
    "dual-pixel": {"in_channels": 6, "dual_pixel": True},
    "bias": {"bias": True},
}


# ---- the functional reference (models.md 1.1), on a state_dict ----------------------------------------------------


def _conv(sd, name, x, groups=1):
    w = sd[f"{name}.weight"]
    return F.conv2d(x, w, sd.get(f"{name}.bias"), padding=w.shape[-1] // 2, groups=groups)


def _layer_norm(sd, name, x):
    """Over the channels of each pixel; BiasFree (no `.bias` key) divides by the centred std without centring x."""
    w, b = sd[f"{name}.body.weight"][:, None, None], sd.get(f"{name}.body.bias")
    var = x.var(1, keepdim=True, unbiased=False)
    if b is None:
        return x / torch.sqrt(var + 1e-5) * w
    return (x - x.mean(1, keepdim=True)) / torch.sqrt(var + 1e-5) * w + b[:, None, None]


def _mdta(sd, p, x):
    b, c, h, w = x.shape
    temperature = sd[f"{p}.temperature"]  # (heads, 1, 1)
    heads = temperature.shape[0]
    qkv = _conv(sd, f"{p}.qkv_dwconv", _conv(sd, f"{p}.qkv", x), groups=3 * c)
    # channels [0, c/heads) are head 0, etc.; each channel is one vector over all pixels
    q, k, v = (t.reshape(b, heads, c // heads, h * w) for t in qkv.split(c, dim=1))
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    k = k / k.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    attn = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * temperature, dim=-1)
    return _conv(sd, f"{p}.project_out", torch.matmul(attn, v).reshape(b, c, h, w))


def _gdfn(sd, p, x):
    y = _conv(sd, f"{p}.project_in", x)
    y = _conv(sd, f"{p}.dwconv", y, groups=y.shape[1])
    gate, value = y.split(y.shape[1] // 2, dim=1)
    return _conv(sd, f"{p}.project_out", F.gelu(gate) * value)


def _stage(sd, prefix, x):
    for i in range(count_indices(sd, rf"{prefix}\.(\d+)\.")):
        p = f"{prefix}.{i}"
        x = x + _mdta(sd, f"{p}.attn", _layer_norm(sd, f"{p}.norm1", x))
        x = x + _gdfn(sd, f"{p}.ffn", _layer_norm(sd, f"{p}.norm2", x))
    return x


def reference_restormer(sd, img):
    """The official forward pass, for H and W multiples of 8."""
    emb = _conv(sd, "patch_embed.proj", img)
    enc1 = _stage(sd, "encoder_level1", emb)
    enc2 = _stage(sd, "encoder_level2", F.pixel_unshuffle(_conv(sd, "down1_2.body.0", enc1), 2))
    enc3 = _stage(sd, "encoder_level3", F.pixel_unshuffle(_conv(sd, "down2_3.body.0", enc2), 2))
    y = _stage(sd, "latent", F.pixel_unshuffle(_conv(sd, "down3_4.body.0", enc3), 2))
    y = torch.cat([F.pixel_shuffle(_conv(sd, "up4_3.body.0", y), 2), enc3], dim=1)
    y = _stage(sd, "decoder_level3", _conv(sd, "reduce_chan_level3", y))
    y = torch.cat([F.pixel_shuffle(_conv(sd, "up3_2.body.0", y), 2), enc2], dim=1)
    y = _stage(sd, "decoder_level2", _conv(sd, "reduce_chan_level2", y))
    y = torch.cat([F.pixel_shuffle(_conv(sd, "up2_1.body.0", y), 2), enc1], dim=1)  # no channel reduction
    y = _stage(sd, "refinement", _stage(sd, "decoder_level1", y))
    if "skip_conv.weight" in sd:  # dual-pixel: a skip from the stem, no image residual (6 channels in, 3 out)
        return _conv(sd, "output", y + _conv(sd, "skip_conv", emb))
    return _conv(sd, "output", y) + img


def official_test_protocol(forward, x):
    """Reflect-pad bottom/right to a multiple of 8, run, crop back: the official test scripts."""
    h, w = x.shape[-2:]
    return forward(F.pad(x, (0, -w % 8, 0, -h % 8), mode="reflect"))[..., :h, :w]


def _perturbed(model):
    """Random weights everywhere: LN scales, biases and temperatures away from their initial 1 / 0."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


@pytest.mark.parametrize("ours", CONFIGS.values(), ids=CONFIGS.keys())
def test_equals_the_functional_reference(ours, tmp_path):
    source = _perturbed(irtool.models.create("restormer", **{**TINY, **ours}))
    path = tmp_path / "official.pth"
    torch.save({"params": source.state_dict()}, path)
    model = irtool.models.load(path)  # detected from keys and shapes, as an official file would be
    sd = {k: v.clone() for k, v in source.state_dict().items()}
    n_in = ours.get("in_channels", 3)
    torch.manual_seed(1)
    with torch.no_grad():
        for shape in ((16, 24), (13, 21)):
            x = torch.rand(2, n_in, *shape)
            expected = official_test_protocol(lambda t: reference_restormer(sd, t), x)
            assert (model(x) - expected).abs().max() < 1e-5
