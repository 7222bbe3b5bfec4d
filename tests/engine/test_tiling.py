"""Tile plans cover the image evenly, blend weights sum to one, and tiled output equals whole-image output."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from irtool.engine.tiling import axis_weights, plan_tiles, run_tiled, split_axis
from irtool.models.norms import record_statistics, use_statistics
from tests.engine.conftest import TinyCNN, TinyILN


def _tiled(model, x: torch.Tensor, *, tile: int, overlap: int, batch: int = 1) -> tuple[torch.Tensor, int]:
    """run_tiled speaks NumPy on the host; the torch model meets it at the forward pass, as the Runner does."""
    c, h, w = x.shape
    s = model.descriptor.scale
    pixels = x.numpy()
    out = np.full((c, h * s, w * s), np.nan, np.float32)
    plan = plan_tiles(h, w, tile=tile, overlap=overlap, scale=s, multiple=model.descriptor.size_multiple)

    def write(top, rows):
        out[:, top : top + rows.shape[1]] = rows

    def forward(batch_array):
        return model(torch.from_numpy(batch_array)).numpy()

    with torch.no_grad():
        run_tiled(plan, lambda y0, y1, x0, x1: pixels[:, y0:y1, x0:x1], forward, write, out_channels=c, batch=batch)
    assert not np.isnan(out).any()  # every output pixel was written
    return torch.from_numpy(out), plan.tile_count


def test_split_axis_properties():
    rng = random.Random(0)
    for _ in range(2000):
        length = rng.randint(1, 3000)
        multiple = rng.choice([1, 1, 2, 4, 8, 16, 64])
        tile = rng.randint(1, 700)
        overlap = rng.randint(0, 64)
        plan = plan_tiles(length, 5, tile=tile, overlap=overlap, multiple=multiple)
        spans, ov = plan.rows, plan.overlap
        assert spans[0][0] == 0 and spans[-1][1] == length
        if len(spans) == 1:
            continue
        tile_eff = max(multiple, tile // multiple * multiple)
        for (a, b), (c, d) in zip(spans, spans[1:], strict=False):
            assert (b - a) % multiple == 0  # no padding inside a tile (only the last may be short)
            assert a < c and b < d
            assert b - c >= 2 * ov, (length, tile, overlap, multiple, spans)
            assert b - a <= tile_eff
        for (_, b), (c, _) in zip(spans, spans[2:], strict=False):
            assert c >= b  # a tile never overlaps its neighbour's neighbour


def test_large_size_multiples_keep_their_overlap():
    # A U-Net that needs multiples of 128: tiles of 128 cannot start on that grid and still overlap, so they
    # start on a finer one instead of dropping the overlap (which would leave hard seams).
    plan = plan_tiles(321, 481, tile=128, overlap=16, multiple=128)
    assert plan.overlap == 16
    assert all((b - a) % 128 == 0 for a, b in plan.rows[:-1] + plan.cols[:-1])
    # Where the multiple's own grid costs no extra work, tiles start on it.
    spans, _ = split_axis(1000, 512, 16, multiple=8)
    assert all(a % 8 == 0 for a, _ in spans)


def test_tiles_are_even_not_a_big_one_and_a_sliver():
    spans, _ = split_axis(1000, 512, 16)
    sizes = [b - a for a, b in spans]
    assert len(spans) == 3 and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("scale", [1, 3])
def test_blend_weights_sum_to_one(scale):
    spans, _ = split_axis(437, 100, 12, multiple=4)
    weights = axis_weights(spans, 12, scale)
    total = np.zeros(437 * scale)
    for (a, b), w in zip(spans, weights, strict=True):
        total[a * scale : b * scale] += w
    np.testing.assert_allclose(total, 1.0, atol=1e-6, rtol=0)
    # The outer part of every overlap is thrown away: a tile's first pixels next to a neighbour weigh nothing.
    assert float(weights[1][0]) == 0.0 and float(weights[0][-1]) == 0.0


@pytest.mark.parametrize("scale,batch", [(1, 1), (2, 1), (2, 4)])
def test_cnn_tiled_equals_whole_when_overlap_covers_receptive_field(seeded, scale, batch):
    model = TinyCNN(scale=scale).eval()
    x = torch.rand(3, 70, 53)
    with torch.no_grad():
        whole = model(x[None])[0]
    plan = plan_tiles(70, 53, tile=32, overlap=6, scale=scale)
    assert plan.overlap == 6 and plan.tile_count >= 4  # receptive radius 3 -> overlap 6 is enough
    tiled, _ = _tiled(model, x, tile=32, overlap=6, batch=batch)
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)
    # The same model with too little overlap differs: the test above is not vacuous.
    short, _ = _tiled(model, x, tile=32, overlap=1)
    assert (short - whole).abs().max() > 1e-3


def test_iln_tiles_with_shared_statistics_equal_whole(seeded):
    model = TinyILN().eval()
    x = torch.rand(3, 64, 48) * torch.linspace(0.2, 1.0, 48)  # statistics differ a lot between tiles
    with torch.no_grad():
        whole = model(x[None])[0]
        with record_statistics(model) as stats:
            model(x[None])
        with use_statistics(model, stats):
            tiled, count = _tiled(model, x, tile=24, overlap=4)
    assert count > 2
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)
    naive, _ = _tiled(model, x, tile=24, overlap=4)
    assert (naive - whole).abs().max() > 1e-3


def test_no_visible_seams_on_a_smooth_gradient(seeded):
    # A receptive radius (8) wider than the discarded margin: tiles differ a little from the whole image, but the
    # blend must keep the result smooth, with no step at tile borders.
    model = TinyCNN(scale=2, layers=8, width=8).eval()
    h, w = 96, 128
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    x = torch.stack([xx, yy, (xx + yy) / 2]) * 0.8 + 0.1
    with torch.no_grad():
        whole = model(x[None])[0]
    tiled, count = _tiled(model, x, tile=48, overlap=8)
    assert count >= 4
    assert (tiled - whole).abs().max() < 0.5 / 255  # not visible even in 8 bits
    # Discontinuities: the second difference across columns of the tiled output is no larger at tile borders
    # than what the model itself produces anywhere in the whole-image output.
    d2_tiled = (tiled[:, :, 2:] - 2 * tiled[:, :, 1:-1] + tiled[:, :, :-2]).abs().amax()
    d2_whole = (whole[:, :, 2:] - 2 * whole[:, :, 1:-1] + whole[:, :, :-2]).abs().amax()
    assert d2_tiled <= d2_whole * 1.05 + 1e-4


@pytest.mark.parametrize("precision", ["fp32", "bf16"])  # bf16: what `auto` picks on a CPU with native bf16
def test_shipped_sr_model_has_no_seams_on_a_flat_gradient(precision):
    """The real thing: windowed attention, i-LN statistics shared from a mosaic of crops, the engine's defaults."""
    from irtool.engine import Runner
    from irtool.models import load

    model = load("sr-x4")
    h, w = 96, 128
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    x = torch.stack([xx, yy, (xx + yy) / 2]) * 0.8 + 0.1
    whole = Runner(model, device="cpu", precision=precision, tile=0).restore(x)
    runner = Runner(model, device="cpu", precision=precision, tile=64)
    tiled = runner.restore(x)
    assert runner.last_plan.tile_count == 6  # 2 rows x 3 columns of 64 px, each sharing 32 px with a neighbour
    assert (tiled - whole).abs().max() < 0.5 / 255
    for dim in (1, 2):  # no step at tile borders, down or across
        d2_tiled = tiled.diff(n=2, dim=dim).abs().amax()
        d2_whole = whole.diff(n=2, dim=dim).abs().amax()
        assert d2_tiled <= d2_whole * 1.05 + 1e-4
