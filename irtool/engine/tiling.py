"""Tiles that bound memory, and a blend that hides their seams.

A plan cuts each axis into tiles of one size (a multiple of the model's size multiple) that overlap their
neighbours by at least `2 * overlap` input pixels. Inside each overlap the outer part of both
tiles is thrown away (that is where a tile's missing context shows) and the middle `overlap` pixels are cross-faded
with raised-cosine weights that sum to one. A convolutional net whose output pixel sees `r` input pixels on each side
therefore gives exactly its whole-image result when `overlap >= 2 * r`.

Only tiles visit the model. The output is assembled on the host one tile row at a time: rows that no later tile can
touch are handed to `write` at once, so the float32 buffer is one stripe high, never the whole image.

    read(y0, y1, x0, x1) -> (C, h, w) float32        the input region, from wherever the pixels live
    forward((B, C, h, w)) -> (B, C_out, h*s, w*s)    float32 on the host
    write(top, rows)                                  rows: (C_out, n, W*s) finished output rows starting at `top`

All three speak NumPy arrays: the host side needs no torch, so an ONNX model runs through the same code on a
machine without it. Runners (irtool.engine.base) call `plan_tiles` and `run_tiled`; the torch Runner converts to
tensors at its forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Span = tuple[int, int]  # [start, stop) along one axis, input pixels
ReadFn = Callable[[int, int, int, int], np.ndarray]
ForwardFn = Callable[[np.ndarray], np.ndarray]
WriteFn = Callable[[int, np.ndarray], None]

# On the CPU memory is rarely the limit; a tile this size keeps activations of the shipped models in a few hundred
# MB and the overlap overhead small (benchmarks/restore.py measures the trade-off).
CPU_TILE = 512
DEFAULT_OVERLAP = 16


@dataclass(frozen=True)
class TilePlan:
    height: int
    width: int
    rows: tuple[Span, ...]
    cols: tuple[Span, ...]
    overlap: int  # input pixels cross-faded between neighbours (they share at least twice this)
    scale: int

    @property
    def tile_count(self) -> int:
        return len(self.rows) * len(self.cols)

    @property
    def tile_size(self) -> int:
        """The largest tile side, in input pixels."""
        return max(b - a for a, b in self.rows + self.cols)


def plan_tiles(height: int, width: int, *, tile: int, overlap: int, scale: int = 1, multiple: int = 1) -> TilePlan:
    """Tiles of at most `tile` input pixels a side (0: the whole image in one piece)."""
    multiple = max(1, multiple)
    overlap = max(0, overlap)
    if tile > 0:
        tile = max(multiple, tile // multiple * multiple)
        overlap = min(overlap, tile // 4)  # at least half of every tile is useful work
    rows, row_overlap = split_axis(height, tile, overlap, multiple)
    cols, col_overlap = split_axis(width, tile, overlap, multiple)
    return TilePlan(height, width, rows, cols, min(row_overlap, col_overlap), scale)


def split_axis(length: int, tile: int, overlap: int, multiple: int = 1) -> tuple[tuple[Span, ...], int]:
    """Evenly spread tiles of equal size covering [0, length), and the overlap they allow.

    Neighbours share at least twice the returned overlap (the requested one unless the tile is too small for it)
    and a tile never overlaps its neighbour's neighbour (the stripe assembly and the weights rely on that).
    Tile sizes are multiples of `multiple`, so the model pads nothing inside a tile (the last one, which ends at
    `length`, may be shorter). Starts sit on the coarsest grid (a divisor of `multiple`) that costs no extra
    work: on the multiple itself a tile sees the same window and downsampling grid as the whole image.
    """
    if tile <= 0 or length <= tile:
        return ((0, length),), overlap
    while True:
        best: tuple[int, tuple[Span, ...]] | None = None
        for grid in sorted((d for d in range(1, multiple + 1) if multiple % d == 0), reverse=True):
            spans = _even_spans(length, tile, 2 * overlap, multiple, grid)
            work = sum(-(-(b - a) // multiple) * multiple for a, b in spans) if spans else 0  # padded sizes
            if spans is not None and (best is None or work < best[0]):
                best = (work, spans)
        if best is not None:
            return best[1], overlap
        if overlap == 0:
            raise AssertionError(f"no tiling of {length} pixels with tiles of {tile}")
        overlap //= 2


def _even_spans(length: int, max_size: int, need: int, multiple: int, grid: int) -> tuple[Span, ...] | None:
    """The fewest, smallest equal tiles covering `length`, neighbours sharing >= `need` pixels, starts on `grid`."""
    if need >= max_size:
        return None
    first_count = max(2, math.ceil((length - need) / (max_size - need)))
    for count in range(first_count, first_count + 8):
        size = -(-math.ceil((length + (count - 1) * need) / count) // multiple) * multiple
        while size <= max_size:
            last = -(-(length - size) // grid) * grid
            starts = [grid * round(i * last / (count - 1) / grid) for i in range(count)]
            ends = [min(length, a + size) for a in starts]
            if any(end - start < need for end, start in zip(ends, starts[1:], strict=False)):
                size += multiple  # a rounding gap: one step larger closes it
                continue
            if any(b <= a for a, b in zip(starts, starts[1:], strict=False)) or any(
                start < end for end, start in zip(ends, starts[2:], strict=False)
            ):
                return None  # steps shorter than the overlap: more or larger tiles only make it worse
            return tuple(zip(starts, ends, strict=True))
    return None


def axis_weights(spans: tuple[Span, ...], overlap: int, scale: int) -> list[np.ndarray | None]:
    """Per tile, the blend weight of each output pixel along this axis (None where it is all ones).

    Where tiles i and i+1 overlap, tile i+1 fades in with a raised cosine across `overlap * scale` output pixels
    centred in the shared region, and tile i fades out with exactly one minus that, so the weights sum to one.
    """
    centres = [(b + a) / 2 * scale for (a, _), (_, b) in zip(spans[1:], spans, strict=False)]
    width = overlap * scale
    weights: list[np.ndarray | None] = []
    for i, (a, b) in enumerate(spans):
        if len(spans) == 1:
            weights.append(None)
            continue
        pixel_centres = np.arange(a * scale, b * scale) + 0.5
        w = np.ones(len(pixel_centres))
        if i > 0:
            w *= _rise(pixel_centres, centres[i - 1], width)
        if i < len(spans) - 1:
            w *= 1 - _rise(pixel_centres, centres[i], width)
        weights.append(w.astype(np.float32))
    return weights


def _rise(positions: np.ndarray, centre: float, width: float) -> np.ndarray:
    """0 before the ramp, 1 after it, a raised cosine across it (a hard step when the width is 0)."""
    if width <= 0:
        return (positions >= centre).astype(np.float64)
    t = np.clip((positions - (centre - width / 2)) / width, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * t)


def run_tiled(
    plan: TilePlan,
    read: ReadFn,
    forward: ForwardFn,
    write: WriteFn,
    *,
    out_channels: int,
    batch: int = 1,
    on_tiles: Callable[[int], None] | None = None,
) -> None:
    """Run every tile of `plan` (up to `batch` equal-sized tiles per forward pass), blend, and write the rows."""
    s = plan.scale
    out_width = plan.width * s
    row_weights = axis_weights(plan.rows, plan.overlap, s)
    col_weights = axis_weights(plan.cols, plan.overlap, s)
    stripe_top = 0  # output row where the stripe starts (everything above has been written)
    stripe = np.zeros((out_channels, 0, out_width), np.float32)
    for r, (y0, y1) in enumerate(plan.rows):
        # Grow the stripe down to this tile row's bottom; its upper part carries what the previous row left.
        grown = np.zeros((out_channels, y1 * s - stripe_top, out_width), np.float32)
        grown[:, : stripe.shape[1]] = stripe
        stripe = grown
        for group in _equal_width_groups(plan.cols, batch):
            x = np.stack([read(y0, y1, x0, x1) for _, (x0, x1) in group]).astype(np.float32, copy=False)
            y = forward(x)
            for k, (c, (x0, x1)) in enumerate(group):
                part = y[k]
                if row_weights[r] is not None:
                    part = part * row_weights[r][:, None]
                if col_weights[c] is not None:
                    part = part * col_weights[c][None, :]
                stripe[:, y0 * s - stripe_top : y1 * s - stripe_top, x0 * s : x1 * s] += part
            if on_tiles is not None:
                on_tiles(len(group))
        done = plan.rows[r + 1][0] * s if r + 1 < len(plan.rows) else plan.height * s
        write(stripe_top, stripe[:, : done - stripe_top])
        stripe = stripe[:, done - stripe_top :]
        stripe_top = done


def _equal_width_groups(cols: tuple[Span, ...], batch: int) -> list[list[tuple[int, Span]]]:
    """Consecutive tiles of one width, at most `batch` per group: they can share a forward pass."""
    groups: list[list[tuple[int, Span]]] = []
    for c, span in enumerate(cols):
        last = groups[-1] if groups else None
        if last and len(last) < batch and last[0][1][1] - last[0][1][0] == span[1] - span[0]:
            last.append((c, span))
        else:
            groups.append([(c, span)])
    return groups
