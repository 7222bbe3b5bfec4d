"""Shared layers: the one pad-to-multiple helper and the one MDTA core behind Restormer's and Hi-IR's L3 attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from irtool.models.archs.hiir.attention import ChannelAttention
from irtool.models.layers.mdta import MDTA
from irtool.models.layers.padding import pad_to_multiple


def test_pad_to_multiple_modes_and_layouts():
    x = torch.rand(2, 3, 13, 22)
    aligned = x[..., :8, :16]
    assert pad_to_multiple(x, 1) is x and pad_to_multiple(aligned, 8, mode="reflect") is aligned
    assert torch.equal(pad_to_multiple(x, 8, mode="reflect"), F.pad(x, (0, 2, 0, 3), mode="reflect"))
    assert torch.equal(pad_to_multiple(x, 8), F.pad(x, (0, 2, 0, 3), mode="replicate"))
    small = torch.rand(1, 3, 3, 5)  # a pad of 5 rows cannot reflect 3: replicate instead
    assert torch.equal(pad_to_multiple(small, 8, mode="reflect"), F.pad(small, (0, 3, 0, 5), mode="replicate"))
    nhwc = pad_to_multiple(x.permute(0, 2, 3, 1), 8, channels_last=True)
    assert torch.equal(nhwc.permute(0, 3, 1, 2), pad_to_multiple(x, 8))


def test_hiir_channel_attention_is_mdta_on_a_channels_last_map():
    torch.manual_seed(0)
    mdta, l3 = MDTA(8, 2, bias=True), ChannelAttention(8, 2)
    # the same tensors under the key names each family's checkpoints have
    sd = {k.replace("qkv_dwconv", "qkv_dw").replace("project_out", "proj"): v for k, v in mdta.state_dict().items()}
    l3.load_state_dict(sd)
    x = torch.randn(1, 8, 5, 7)
    with torch.no_grad():
        assert torch.equal(l3(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2), mdta(x))
