"""Reading hyper-parameters back from a bare state_dict: the helpers the architectures' `detect` functions share.

A foreign checkpoint (an official `.pth`, a file without our header) tells its configuration only through key names
and tensor shapes. These helpers read the two things every transformer family needs: how many numbered children a
container holds, and the FFN expansion ratio behind the hidden widths.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

import torch

StateDict = Mapping[str, torch.Tensor]


def count_indices(sd: StateDict, pattern: str) -> int:
    """How many distinct values fill the `(\\d+)` group of `pattern`, matched at the start of each key."""
    rx = re.compile(pattern)
    return len({m.group(1) for k in sd if (m := rx.match(k))})


def expansion_ratio(widths: Iterable[tuple[int, int]], preferred: Sequence[float] = ()) -> float:
    """A ratio r with `int(dim * r) == hidden` for every (dim, hidden) pair, so the rebuilt model has these shapes.

    One pair does not pin r down: int() truncates, so e.g. 2.2 and 2.1875 both give 105 hidden channels at dim 48,
    but differ at dim 96 (211 vs 210). Every level's widths are checked. The `preferred` values (what configurations
    actually write, such as Restormer's 2.66) are tried first, then the shortest decimal the widths allow.
    """
    pairs = [(int(d), int(h)) for d, h in widths]
    if not pairs:
        raise ValueError("no FFN widths to read the expansion ratio from")

    def fits(r: float) -> bool:
        return all(int(d * r) == h for d, h in pairs)

    for r in preferred:
        if fits(r):
            return r
    low = max(h / d for d, h in pairs)  # every valid r lies in [low, high)
    for digits in range(1, 10):
        scale = 10**digits
        for r in (round(low, digits), math.ceil(low * scale - 1e-6) / scale):
            if fits(r):
                return r
    # Inconsistent widths (no single ratio builds them all): the first level's; strict loading then names the key.
    d, h = pairs[0]
    return (h + 0.5) / d
