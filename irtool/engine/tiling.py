"""Tiles that bound memory, and a blend that hides their seams.

A plan cuts each axis into tiles of one size (a multiple of the model's size multiple) that overlap their
neighbours by at least `2 * overlap` input pixels. Inside each overlap the outer part of both
tiles is thrown away (that is where a tile's missing context shows) and the middle `overlap` pixels are cross-faded
with raised-cosine weights that sum to one. A convolutional net whose output pixel sees `r` input pixels on each side
therefore gives exactly its whole-image result when `overlap >= 2 * r`.

Only tiles visit the model. The output is assembled on the host one tile row at a time: rows that no later tile can
touch are handed to `write` at once, so the float32 buffer is one stripe high, never the whole image. A `write` that
is a `RegionWriter` (irtool.engine.pixels) gets each tile's finished block instead, and the float32 kept is only
the overlaps still to be blended: a 24000-pixel-wide SR stripe alone would be 590 MB.

    read(y0, y1, x0, x1) -> (C, h, w) float32        the input region, from wherever the pixels live
    forward((B, C, h, w)) -> (B, C_out, h*s, w*s)    float32 on the host
    write(top, rows)                                  rows: (C_out, n, W*s) finished output rows starting at `top`,
                                                      a view valid during the call only (the buffer is reused)

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
# Finished rows go to `write` in bands of about this many float bytes, so that converting them needs little memory.
_WRITE_BAND_BYTES = 16 << 20


@dataclass(frozen=True)
class RegionWriter:
    """A `write` that also takes finished blocks anywhere: `region(top, left, block)`, block (C_out, h, w).

    Given one, `run_tiled` writes each tile's finished pixels as soon as that tile is blended and keeps in float only
    what later tiles still add to (the overlaps), instead of a whole tile row of the output: memory then no longer
    grows with the image's width. Called as a plain `write` it forwards to `rows`.
    """

    rows: WriteFn
    region: Callable[[int, int, np.ndarray], None]

    def __call__(self, top: int, rows: np.ndarray) -> None:
        self.rows(top, rows)


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
    if isinstance(write, RegionWriter):
        _run_regions(plan, read, forward, write.region, out_channels=out_channels, batch=batch, on_tiles=on_tiles)
        return
    s = plan.scale
    out_width = plan.width * s
    row_weights = axis_weights(plan.rows, plan.overlap, s)
    col_weights = axis_weights(plan.cols, plan.overlap, s)
    # One stripe buffer, as high as the tallest tile row, reused row after row: a fresh one per tile row (hundreds
    # of MB for a wide SR output) cost a page fault per 4 KB, and as much kernel time as the model's own work.
    buffer = np.empty((out_channels, max(b - a for a, b in plan.rows) * s, out_width), np.float32)
    band = max(1, _WRITE_BAND_BYTES // (out_channels * out_width * 4))  # rows per `write` call
    temp: np.ndarray | None = None  # one weighted tile, reused
    stripe_top = 0  # output row where the stripe starts (everything above has been written)
    kept = 0  # rows at the top of the buffer carried over from the previous tile row
    for r, (y0, y1) in enumerate(plan.rows):
        # Extend the stripe down to this tile row's bottom; its upper part carries what the previous row left.
        stripe = buffer[:, : y1 * s - stripe_top]
        stripe[:, kept:] = 0
        for group in _equal_width_groups(plan.cols, batch):
            x = np.stack([read(y0, y1, x0, x1) for _, (x0, x1) in group]).astype(np.float32, copy=False)
            y = forward(x)
            for k, (c, (x0, x1)) in enumerate(group):
                part = y[k]
                target = stripe[:, y0 * s - stripe_top : y1 * s - stripe_top, x0 * s : x1 * s]
                part, temp = _weighted(part, row_weights[r], col_weights[c], temp)
                target += part
            if on_tiles is not None:
                on_tiles(len(group))
        done = plan.rows[r + 1][0] * s if r + 1 < len(plan.rows) else plan.height * s
        for top in range(0, done - stripe_top, band):
            write(stripe_top + top, stripe[:, top : min(top + band, done - stripe_top)])
        kept = stripe.shape[1] - (done - stripe_top)
        buffer[:, :kept] = stripe[:, done - stripe_top :]
        stripe_top = done


def _weighted(
    part: np.ndarray, w_row: np.ndarray | None, w_col: np.ndarray | None, temp: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """part * w_row * w_col (the same products in the same order as ever) into a reused temporary; returns the
    weighted part and the temporary to reuse."""
    if w_row is None and w_col is None:
        return part, temp
    dtype = np.result_type(part.dtype, np.float32)
    if temp is None or temp.shape != part.shape or temp.dtype != dtype:
        temp = np.empty(part.shape, dtype)
    if w_row is not None:
        part = np.multiply(part, w_row[:, None], out=temp)
    if w_col is not None:
        part = np.multiply(part, w_col[None, :], out=temp)
    return part, temp


def _run_regions(
    plan: TilePlan,
    read: ReadFn,
    forward: ForwardFn,
    region: Callable[[int, int, np.ndarray], None],
    *,
    out_channels: int,
    batch: int,
    on_tiles: Callable[[int], None] | None,
) -> None:
    """`run_tiled` writing each tile's finished block at once; the same sums, added in the same order.

    A pixel's value is 0 + the weighted outputs of the tiles covering it, in plan order (row by row, left to right).
    Each tile starts from what its upper neighbours left in `band` (the rows the next tile row shares) and what its
    left neighbour left in `strip` (the columns it shares with the next tile), adds its own output, writes what no
    later tile touches, and passes the rest on the same way.
    """
    s = plan.scale
    out_width = plan.width * s
    row_weights = axis_weights(plan.rows, plan.overlap, s)
    col_weights = axis_weights(plan.cols, plan.overlap, s)
    shared = max([(b - a) * s for (a, _), (_, b) in zip(plan.rows[1:], plan.rows, strict=False)], default=0)
    band = np.zeros((out_channels, shared, out_width), np.float32)  # from the tile row above
    next_band = np.zeros_like(band)  # for the tile row below
    tile_rows, tile_cols = max(b - a for a, b in plan.rows) * s, max(b - a for a, b in plan.cols) * s
    acc_buffer = np.empty((out_channels, tile_rows, tile_cols), np.float32)
    temp: np.ndarray | None = None
    for r, (y0, y1) in enumerate(plan.rows):
        top, bottom = y0 * s, y1 * s
        strip = acc_buffer[:, : bottom - top, :0]
        above = plan.rows[r - 1][1] * s - top if r else 0  # rows this tile row shares with the one above
        below = plan.rows[r + 1][0] * s if r + 1 < len(plan.rows) else bottom  # first row the next tile row shares
        for group in _equal_width_groups(plan.cols, batch):
            x = np.stack([read(y0, y1, x0, x1) for _, (x0, x1) in group]).astype(np.float32, copy=False)
            y = forward(x)
            for k, (c, (x0, x1)) in enumerate(group):
                left, right = x0 * s, x1 * s
                beside = strip.shape[2]  # columns shared with the tile on the left (0 for the first)
                after = plan.cols[c + 1][0] * s if c + 1 < len(plan.cols) else right
                acc = acc_buffer[:, : bottom - top, : right - left]
                acc[:, :, :beside] = strip
                acc[:, :above, beside:] = band[:, :above, left + beside : right]
                acc[:, above:, beside:] = 0
                part, temp = _weighted(y[k], row_weights[r], col_weights[c], temp)
                acc += part
                region(top, left, acc[:, : below - top, : after - left])
                next_band[:, : bottom - below, left:after] = acc[:, below - top :, : after - left]
                # The next tile's accumulator is this one's buffer: its shared columns move to the front first.
                strip = acc_buffer[:, : bottom - top, : right - after]
                strip[...] = acc[:, :, after - left :]  # overlapping views: NumPy copies through a temporary
            if on_tiles is not None:
                on_tiles(len(group))
        band, next_band = next_band, band


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
