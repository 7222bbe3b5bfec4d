"""The one pad-to-multiple helper: every network here pads its input (or a layer its map) and crops back, so any
H, W works. The padding mode is part of each network's numbers, so callers name theirs."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

PadMode = Literal["replicate", "reflect"]


def pad_to_multiple(
    x: torch.Tensor, multiple: int, *, mode: PadMode = "replicate", channels_last: bool = False
) -> torch.Tensor:
    """Pad the bottom and right of a map so that height and width are multiples of `multiple`; `x` itself if they are.

    `x` is (B, C, H, W), or (B, H, W, C) with `channels_last=True`. `mode="replicate"` repeats the edge pixels (Hi-IR);
    `"reflect"` mirrors without repeating the edge, as the official Restormer test scripts do, and falls back to
    replicate when the map is too small to reflect (a pad as large as the side).
    """
    h, w = x.shape[1:3] if channels_last else x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if not (ph or pw):
        return x
    if mode == "reflect" and not (ph < h and pw < w):
        mode = "replicate"
    if channels_last:  # F.pad's replicate/reflect modes act on the trailing two axes of an NCHW tensor
        return F.pad(x.permute(0, 3, 1, 2), (0, pw, 0, ph), mode=mode).permute(0, 2, 3, 1)
    return F.pad(x, (0, pw, 0, ph), mode=mode)
