"""MDTA, Restormer's multi-Dconv-head transposed attention: attention across channels, linear in the pixel count.

Restormer uses it in every block (`MDTA`, the official key names); Hi-IR uses the same core as its optional L3
image-level flow (`archs.hiir.attention.ChannelAttention`, with the key names its checkpoints have). The core,
`transposed_attention`, is the one place the arithmetic is written.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def transposed_attention(qkv: torch.Tensor, heads: int, temperature: torch.Tensor) -> torch.Tensor:
    """(B, 3C, H, W) queries, keys and values stacked on channels -> (B, C, H, W).

    Channels are split head-major (channels [h*C/heads, (h+1)*C/heads) form head h). Queries and keys are
    L2-normalised over the pixels, so each head's (C/heads x C/heads) map compares whole channels; the learnt
    per-head `temperature` (heads, 1, 1) is the only scale.
    """
    h, w = qkv.shape[-2:]
    q, k, v = (rearrange(t, "b (head c) h w -> b head c (h w)", head=heads) for t in qkv.chunk(3, dim=1))
    q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    attn = (q @ k.transpose(-2, -1) * temperature).softmax(dim=-1)  # (b, head, c, c)
    return rearrange(attn @ v, "b head c (h w) -> b (head c) h w", h=h, w=w)


class MDTA(nn.Module):
    """1x1 conv to q, k, v, a 3x3 depthwise conv, transposed attention, 1x1 conv out; (B, C, H, W) in and out.

    Child names are the official Restormer ones (`qkv`, `qkv_dwconv`, `project_out`, `temperature`).
    """

    def __init__(self, dim: int, num_heads: int, bias: bool):
        super().__init__()
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project_out(transposed_attention(self.qkv_dwconv(self.qkv(x)), self.num_heads, self.temperature))
