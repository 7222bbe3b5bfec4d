"""Hi-IR's attention: the token groupings of the L1 and L2 levels, the attention inside a group, and L3.

Feature maps are channels-last `(B, H, W, C)`. A *grouping* turns a map into `(B * groups, N, C)` token groups and
back; attention runs independently inside each group, so a batch of tiles is just a bigger batch.

L1 (local): self-attention in non-overlapping `p x p` windows, with no shift.

L2 (regional, dispersed): a region of `P x P` L1 windows (side `P*p`, `P` = `dispersion`). Each group takes one
`c x c` cell (`cell`) at the same offset inside every window of the region, so its `P^2 * c^2` tokens are spread over
the whole region on a lattice of stride `p`. After an L1 then an L2 layer every pixel has a path from every pixel of
its region. With `c = 1` (the default) this is a dilated grid bounded by the region, the lattice from the authors'
rebuttal; `c = p` degenerates to a plain `P*p` window. The permutation is a reshape + permute, so it is exactly
invertible.

Both groupings pad the map (edge replication) to their own multiple when needed and crop back, so any H, W works.

Attention: scaled dot-product by default (the paper's scaling advice), `attn_type="cosine"` as an option; a learned
relative position bias per head, indexed by relative offsets (L2's on the lattice: window offset x in-cell offset,
so the checkpoint's table shape tells the dispersion and cell back).

L3 (image level): `ChannelAttention`, Restormer's MDTA over the whole map, for `l3="channel"` (see `blocks`).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from irtool.models.layers.mdta import transposed_attention
from irtool.models.layers.padding import pad_to_multiple

AttnType = Literal["dot", "cosine"]


class Grouping:
    """A reversible split of a `(B, H, W, C)` map into attention groups (no parameters)."""

    def __init__(self, window: int, dispersion: int = 1, cell: int = 1):
        if dispersion > 1 and window % cell:
            raise ValueError(f"cell {cell} must divide window {window}")
        self.window, self.dispersion, self.cell = window, dispersion, cell

    @property
    def multiple(self) -> int:
        """The side of the square the grouping tiles the map with."""
        return self.window * self.dispersion

    @property
    def group_size(self) -> int:
        if self.dispersion == 1:
            return self.window**2
        return (self.dispersion * self.cell) ** 2

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) with H, W multiples of `multiple` -> (B * groups, N, C)."""
        p, big_p, c = self.window, self.dispersion, self.cell
        if big_p == 1:
            return rearrange(x, "b (h p1) (w p2) ch -> (b h w) (p1 p2) ch", p1=p, p2=p)
        # Region axes (h, w), window-in-region axes (P1, P2), cell-in-window axes (q1, q2), pixel-in-cell (c1, c2).
        return rearrange(
            x,
            "b (h P1 q1 c1) (w P2 q2 c2) ch -> (b h w q1 q2) (P1 c1 P2 c2) ch",
            P1=big_p,
            P2=big_p,
            c1=c,
            c2=c,
            q1=p // c,
            q2=p // c,
        )

    def merge(self, t: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The exact inverse of `split` for a map of size (height, width)."""
        p, big_p, c = self.window, self.dispersion, self.cell
        if big_p == 1:
            return rearrange(t, "(b h w) (p1 p2) ch -> b (h p1) (w p2) ch", h=height // p, w=width // p, p1=p, p2=p)
        return rearrange(
            t,
            "(b h w q1 q2) (P1 c1 P2 c2) ch -> b (h P1 q1 c1) (w P2 q2 c2) ch",
            h=height // self.multiple,
            w=width // self.multiple,
            q1=p // c,
            q2=p // c,
            P1=big_p,
            P2=big_p,
            c1=c,
            c2=c,
        )

    def _token_axes(self) -> list[tuple[torch.Tensor, int]]:
        """Each token's integer coordinates, in `split` order, as (values, axis size) pairs."""
        # Always on the CPU: models are also built on the meta device (MAC counting).
        i = torch.arange(self.group_size, device="cpu")
        p, big_p, c = self.window, self.dispersion, self.cell
        if big_p == 1:
            return [(i // p, p), (i % p, p)]
        # token order (P1 c1 P2 c2): window-in-region row/col and pixel-in-cell row/col
        return [(i // (c * big_p * c), big_p), ((i // c) % big_p, big_p), ((i // (big_p * c)) % c, c), (i % c, c)]

    def token_coordinates(self) -> torch.Tensor:
        """(N, 2) pixel offsets (row, col) of a group's tokens inside its region, in `split` order."""
        axes = self._token_axes()
        if self.dispersion == 1:
            return torch.stack([axes[0][0], axes[1][0]], dim=1)
        (wr, _), (wc, _), (cr, _), (cc, _) = axes
        return torch.stack([wr * self.window + cr, wc * self.window + cc], dim=1)

    @property
    def bias_shape(self) -> tuple[int, ...]:
        """Shape of the relative position bias table (without heads): one entry per relative offset.

        L1: (2p-1)^2 pixel offsets. L2: (2P-1)^2 window offsets x (2c-1)^2 in-cell offsets, which for cell < window
        is exactly one entry per pixel offset on the lattice, and keeps P and c readable from a checkpoint.
        """
        if self.dispersion == 1:
            return ((2 * self.window - 1) ** 2,)
        return ((2 * self.dispersion - 1) ** 2, (2 * self.cell - 1) ** 2)

    def relative_position_index(self) -> torch.Tensor:
        """(N, N) index into the flattened bias table for every (query, key) pair of a group."""
        index = torch.zeros(self.group_size, self.group_size, dtype=torch.long, device="cpu")
        for values, size in self._token_axes():
            index = index * (2 * size - 1) + (values[:, None] - values[None, :] + size - 1)
        return index


class GroupAttention(nn.Module):
    """Multi-head self-attention inside the groups of one `Grouping`, with a learned relative position bias.

    `attn_type="dot"`: softmax(q k^T / sqrt(d) + bias). `"cosine"`: softmax(cos(q, k) * tau + bias) with a learned
    per-head log-temperature clamped at log(100) (Swin-V2 / GRL style).
    Uses `F.scaled_dot_product_attention` with the bias as an additive float mask, so it maps to fused kernels on
    CPU/GPU and exports to ONNX.
    """

    def __init__(self, dim: int, heads: int, grouping: Grouping, attn_type: AttnType = "dot", qkv_bias: bool = True):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        if attn_type not in ("dot", "cosine"):
            raise ValueError(f"attn_type must be 'dot' or 'cosine', got {attn_type!r}")
        self.heads, self.grouping, self.attn_type = heads, grouping, attn_type
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        # Derived from the configuration, so it stays out of the state_dict.
        self.register_buffer("rpb_index", grouping.relative_position_index(), persistent=False)
        self.rpb_table = nn.Parameter(torch.zeros(*grouping.bias_shape, heads))
        nn.init.trunc_normal_(self.rpb_table, std=0.02)
        if attn_type == "cosine":
            self.logit_scale = nn.Parameter(torch.full((heads, 1, 1), math.log(10.0)))

    def position_bias(self) -> torch.Tensor:
        n = self.rpb_index.shape[0]
        table = self.rpb_table.reshape(-1, self.heads)
        return table[self.rpb_index.reshape(-1)].reshape(n, n, self.heads).permute(2, 0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        h, w = x.shape[1:3]
        xp = pad_to_multiple(x, self.grouping.multiple, channels_last=True)
        tokens = self.grouping.split(xp)
        q, k, v = rearrange(self.qkv(tokens), "g n (three h d) -> three g h n d", three=3, h=self.heads)
        # A 4-D mask (1, heads, N, N) keeps SDPA on its fused CPU kernel; a 3-D one falls back to the slow math path.
        bias = self.position_bias().to(q.dtype)[None]
        if self.attn_type == "cosine":
            scale = torch.clamp(self.logit_scale, max=math.log(100.0)).exp().to(q.dtype)
            q, k = F.normalize(q, dim=-1) * scale, F.normalize(k, dim=-1)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        out = self.proj(rearrange(out, "g h n d -> g n (h d)"))
        out = self.grouping.merge(out, xp.shape[1], xp.shape[2])
        return out[:, :h, :w]


class ChannelAttention(nn.Module):
    """Transposed (channel x channel) attention over the whole map, as Restormer's MDTA: a cheap image-level flow.

    Cost is linear in the pixel count. Its statistics span the image, so tiles do not reproduce the whole image.
    The same arithmetic as `layers.mdta.MDTA` on a channels-last map, with bias and the child names Hi-IR
    checkpoints have (`qkv_dw`, `proj`).
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, 3 * dim, 1)
        self.qkv_dw = nn.Conv2d(3 * dim, 3 * dim, 3, padding=1, groups=3 * dim)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        qkv = self.qkv_dw(self.qkv(x.permute(0, 3, 1, 2)))
        return self.proj(transposed_attention(qkv, self.heads, self.temperature)).permute(0, 2, 3, 1)
