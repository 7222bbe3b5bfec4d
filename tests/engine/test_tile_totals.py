"""Progress totals from the engine: the tile count is known before the first tile, and restarts after an out of
memory back-off say how many tiles are left (NumPy-only runners: no torch needed)."""

from __future__ import annotations

import numpy as np

from irtool.engine.base import ImageRunner
from irtool.engine.pipeline import Reporter, run_jobs
from irtool.engine.pixels import restore_pixels
from irtool.engine.tiling import TilePlan
from irtool.models.descriptor import ModelDescriptor


class CopyRunner(ImageRunner):
    """Returns its input; 'runs out of memory' on tiles larger than `limit` pixels, then halves the tile."""

    runtime = "test"

    def __init__(self, *, channels: int = 3, tile: int = 0, limit: int | None = None):
        descriptor = ModelDescriptor(arch="copy", task="denoise", in_channels=channels, out_channels=channels)
        super().__init__(descriptor, tile=tile, overlap=4)
        self.limit = limit
        self.tiles_run = 0

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        if self.limit is not None and batch.shape[-1] * batch.shape[-2] > self.limit:
            raise MemoryError("fake out of memory")
        self.tiles_run += batch.shape[0]
        return batch.copy()

    def _recoverable(self, exc: BaseException) -> bool:
        return isinstance(exc, MemoryError)

    def _recover(self, plan: TilePlan) -> None:
        self.tile = plan.tile_size // 2


def _events(runner: ImageRunner, pixels: np.ndarray) -> tuple[list[int], list[int], np.ndarray]:
    totals: list[int] = []
    advanced: list[int] = []
    out = restore_pixels(runner, pixels, on_tiles=advanced.append, on_total=totals.append)
    return totals, advanced, out


def test_plan_is_known_before_the_first_tile_and_matches_the_work():
    runner = CopyRunner(tile=32)
    assert runner.plan(100, 70).tile_count == runner.plan(100, 70).tile_count > 1
    pixels = np.random.default_rng(0).integers(0, 256, (100, 70, 3), dtype=np.uint8)
    totals, advanced, out = _events(runner, pixels)
    assert totals == [runner.plan(100, 70).tile_count]
    assert sum(advanced) == totals[0] == runner.tiles_run
    np.testing.assert_array_equal(out, pixels)


def test_rgb_through_a_grey_model_counts_three_passes():
    runner = CopyRunner(channels=1, tile=32)
    pixels = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    totals, advanced, _ = _events(runner, pixels)
    assert totals == [3 * runner.plan(64, 64).tile_count] and sum(advanced) == totals[0]


def test_out_of_memory_back_off_restarts_the_count_with_the_new_total():
    runner = CopyRunner(tile=0, limit=40 * 40)  # whole 80x80 -> (OOM) 40 -> fits
    pixels = np.random.default_rng(2).integers(0, 256, (80, 80, 3), dtype=np.uint8)
    totals, advanced, out = _events(runner, pixels)
    assert totals[0] == 1 and len(totals) == 2 and totals[1] == runner.plan(80, 80).tile_count > 1
    assert sum(advanced) == totals[1]  # the failed pass advanced nothing; the new count is the whole story
    np.testing.assert_array_equal(out, pixels)


def test_back_off_in_a_later_pass_counts_only_the_passes_left():
    runner = CopyRunner(channels=1, tile=0)
    pixels = np.random.default_rng(3).integers(0, 256, (80, 80, 3), dtype=np.uint8)
    totals: list[int] = []
    passes = {"n": 0}

    def advanced(n: int) -> None:
        passes["n"] += n
        if passes["n"] == 1:  # the first pass (one whole-image tile) is done: later passes run out of memory
            runner.limit = 40 * 40

    restore_pixels(runner, pixels, on_tiles=advanced, on_total=totals.append)
    small = runner.plan(80, 80).tile_count
    assert totals == [3, 2 * small] and passes["n"] == 1 + 2 * small


def test_pipeline_reports_the_tile_total_when_an_image_starts(tmp_path):
    from irtool.engine.jobs import Job
    from irtool.io.images import write_image

    source = tmp_path / "a.png"
    write_image(source, np.zeros((50, 70, 3), np.uint8))
    runner = CopyRunner(tile=32)
    started: list[tuple[str, int | None]] = []
    reporter = Reporter(started=lambda job, n: started.append((job.source.name, n)))
    outcomes = run_jobs([Job(source, tmp_path / "out.png", "image")], runner, reporter=reporter)
    assert outcomes[0].status == "done"
    assert started == [("a.png", runner.plan(50, 70).tile_count)] and started[0][1] > 1
