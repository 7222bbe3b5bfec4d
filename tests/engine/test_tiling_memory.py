"""The memory-lean stripe assembly and file-backed outputs change no output bit."""

from __future__ import annotations

import mmap

import numpy as np
import pytest

from irtool.engine import paged, tiling
from irtool.engine.tiling import RegionWriter, _equal_width_groups, axis_weights, plan_tiles, run_tiled


def _reference_run_tiled(plan, read, forward, write, *, out_channels, batch=1):
    """run_tiled as it was before the stripe buffer was reused: a fresh zeroed stripe per tile row."""
    s = plan.scale
    out_width = plan.width * s
    row_weights = axis_weights(plan.rows, plan.overlap, s)
    col_weights = axis_weights(plan.cols, plan.overlap, s)
    stripe_top = 0
    stripe = np.zeros((out_channels, 0, out_width), np.float32)
    for r, (y0, y1) in enumerate(plan.rows):
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
        done = plan.rows[r + 1][0] * s if r + 1 < len(plan.rows) else plan.height * s
        write(stripe_top, stripe[:, : done - stripe_top])
        stripe = stripe[:, done - stripe_top :]
        stripe_top = done


def _fake_model(scale: int, out_channels: int):
    """A deterministic, position-dependent 'network': nearest upscaling, a channel mix and a sign flip (so that
    weights of zero meet negative values, and -0.0 must come out as the old code gave it)."""

    def forward(x: np.ndarray) -> np.ndarray:
        up = x.repeat(scale, axis=2).repeat(scale, axis=3)
        mixed = np.stack([up[:, i % up.shape[1]] * (1.5 - i) - 0.3 for i in range(out_channels)], 1)
        return np.sin(mixed * 7).astype(np.float32)

    return forward


@pytest.mark.parametrize(
    ("height", "width", "tile", "overlap", "scale", "multiple", "batch", "channels"),
    [
        (97, 131, 32, 4, 4, 1, 1, 3),
        (64, 200, 48, 8, 2, 8, 3, 3),
        (50, 40, 16, 2, 1, 4, 2, 1),
        (33, 33, 0, 16, 3, 1, 1, 3),  # one tile: no weights at all
        (300, 21, 40, 6, 2, 2, 1, 3),  # many tile rows, one column
    ],
)
def test_run_tiled_is_bit_identical_to_fresh_stripes(height, width, tile, overlap, scale, multiple, batch, channels):
    rng = np.random.default_rng(height * width)
    pixels = rng.random((3, height, width), np.float32)
    plan = plan_tiles(height, width, tile=tile, overlap=overlap, scale=scale, multiple=multiple)
    forward = _fake_model(scale, channels)

    def read(y0, y1, x0, x1):
        return pixels[:, y0:y1, x0:x1]

    results = []
    for mode in ("rows", "regions", "reference"):
        out = np.full((channels, height * scale, width * scale), np.nan, np.float32)
        calls = []

        def write(top, rows, out=out, calls=calls):
            out[:, top : top + rows.shape[1]] = rows
            calls.append((top, rows.shape[1]))

        def region(top, left, block, out=out):
            assert np.isnan(out[:, top : top + block.shape[1], left : left + block.shape[2]]).all()  # once each
            out[:, top : top + block.shape[1], left : left + block.shape[2]] = block

        run = _reference_run_tiled if mode == "reference" else run_tiled
        run(plan, read, forward, RegionWriter(write, region) if mode == "regions" else write, out_channels=channels,
            batch=batch)  # fmt: skip
        assert not np.isnan(out).any()
        if mode != "regions":
            assert sum(n for _, n in calls) == height * scale  # every row written once, in order
            assert [top for top, _ in calls] == list(np.cumsum([0] + [n for _, n in calls])[:-1])
        results.append(out)
    assert results[0].tobytes() == results[2].tobytes()  # bit for bit, signed zeros included
    assert results[1].tobytes() == results[2].tobytes()


def test_rows_are_written_in_small_bands(monkeypatch):
    monkeypatch.setattr(tiling, "_WRITE_BAND_BYTES", 3 * 40 * 4 * 5)  # five rows of a 40-wide output
    plan = plan_tiles(30, 20, tile=16, overlap=2, scale=2)
    sizes = []
    run_tiled(
        plan,
        lambda y0, y1, x0, x1: np.zeros((3, y1 - y0, x1 - x0), np.float32),
        _fake_model(2, 3),
        lambda top, rows: sizes.append(rows.shape[1]),
        out_channels=3,
    )
    assert max(sizes) == 5 and sum(sizes) == 60


def test_paged_arrays_release_rows_and_keep_data(tmp_path, monkeypatch):
    monkeypatch.setenv("IRTOOL_TMPDIR", str(tmp_path))
    monkeypatch.setattr(paged, "SPILL_BYTES", 1)
    array = paged.empty((64, 1024, 3), np.uint8)
    assert isinstance(array, paged.PagedArray) and array._map is not None
    array[:] = np.arange(64, dtype=np.uint8)[:, None, None]
    array.release_rows(0, 64)  # the method irtool.io's band encoders call
    assert (array == np.arange(64, dtype=np.uint8)[:, None, None]).all()  # data comes back from the file
    assert array[:10].release_rows is not None  # views keep the method; without their own mapping it does nothing
    array[:10].release_rows(0, 10)
    assert list(tmp_path.iterdir()) == []  # the temporary file was unlinked at once
    if hasattr(mmap, "MADV_DONTNEED"):  # Linux: the pages really went
        array.release_rows(0, 64)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_huge_image_path_writes_the_same_pixels(tmp_path, monkeypatch, suffix):
    """File-backed input and output, stripes written in bands, the file encoded band by band: same pixels as all in
    RAM and encoded whole."""
    import torch

    from irtool.engine import make_runner
    from irtool.engine.pixels import restore_pixels
    from irtool.io import images, streaming
    from irtool.io.images import read_image, write_image
    from irtool.models import create

    torch.manual_seed(0)
    model = create("compact-sr-x4").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)  # the zero-initialised head would make it plain bicubic
    rng = np.random.default_rng(1)
    pixels = (rng.random((45, 70, 4)) * 255).astype(np.uint8)  # RGBA: alpha goes its own way
    written = []
    for huge in (False, True):
        monkeypatch.setenv("IRTOOL_TMPDIR", str(tmp_path / "spill"))
        monkeypatch.setattr(paged, "SPILL_BYTES", 1 if huge else 1 << 62)
        monkeypatch.setattr(tiling, "_WRITE_BAND_BYTES", 4096 if huge else 1 << 62)
        monkeypatch.setattr(images, "STREAM_BYTES", 1 if huge else 1 << 62)
        monkeypatch.setattr(streaming, "BAND_BYTES", 2048)
        runner = make_runner(model, device="cpu", tile=24, overlap=4)
        out = restore_pixels(runner, paged.spill(pixels.copy()))
        assert isinstance(out, paged.PagedArray) == huge
        path = tmp_path / f"out{int(huge)}{suffix}"
        write_image(path, out, protect=[], consume=True)
        written.append(read_image(path).pixels)
    assert np.array_equal(written[0], written[1])
