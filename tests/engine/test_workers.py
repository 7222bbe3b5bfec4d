"""Images side by side on the CPU: the same pixels as one at a time, outcomes in job order, the threads given back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from irtool.engine import Runner
from irtool.engine.jobs import Job
from irtool.engine.pipeline import run_jobs
from irtool.engine.workers import side_by_side
from irtool.errors import UsageError
from irtool.io.images import read_image, write_image
from tests.engine.conftest import TinyILN


def _batch(tmp_path, count: int = 5) -> list[Job]:
    rng = np.random.default_rng(0)
    jobs = []
    for i in range(count):  # sizes differ, so the images finish out of order
        source = tmp_path / "in" / f"img{i}.png"
        source.parent.mkdir(exist_ok=True)
        write_image(source, (rng.random((24 + 16 * (i % 3), 40, 3)) * 255).astype(np.uint8))
        jobs.append(Job(source, tmp_path / "out" / f"img{i}.png", "image"))
    return jobs


def test_side_by_side_gives_the_pixels_of_one_at_a_time(tmp_path, seeded):
    # An i-LN model tiled with image-wide statistics: the replicas must not mix their images' statistics.
    model = TinyILN().eval()
    jobs = _batch(tmp_path)
    threads = torch.get_num_threads()
    one = run_jobs(jobs, Runner(model, device="cpu", tile=16, overlap=4), workers=1)
    first = [read_image(job.output).pixels for job in jobs]
    two = run_jobs(jobs, Runner(model, device="cpu", tile=16, overlap=4), workers=2)
    assert [o.status for o in one] == [o.status for o in two] == ["done"] * len(jobs)
    assert [o.source for o in two] == [str(job.source) for job in jobs]  # job order, whatever finished first
    for job, before in zip(jobs, first, strict=True):
        assert np.array_equal(read_image(job.output).pixels, before)
    assert torch.get_num_threads() == threads  # each worker's share is given back


def test_side_by_side_only_for_image_batches_on_the_cpu(tmp_path):
    model = TinyILN().eval()
    cpu = Runner(model, device="cpu")
    jobs = _batch(tmp_path, count=3)
    assert side_by_side(jobs, cpu) == min(2, torch.get_num_threads())
    assert side_by_side(jobs[:1], cpu) == 1
    video = Job(tmp_path / "clip.mp4", tmp_path / "out.mp4", "video")
    assert side_by_side([*jobs, video], cpu) == 1  # a video goes frame by frame, with every thread
    compiled = Runner(model, device="cpu")
    compiled.compiled = True
    assert side_by_side(jobs, compiled) == 1
    with pytest.raises(UsageError, match="compiled"):
        compiled.replicate()


def test_a_runtime_that_cannot_replicate_says_so():
    from irtool.engine.base import ImageRunner
    from irtool.models.descriptor import ModelDescriptor

    runner = ImageRunner(ModelDescriptor(arch="x", task="denoise"))
    runner.runtime = "onnxruntime"
    with pytest.raises(UsageError, match="--workers"):
        runner.replicate()


def test_eval_scores_two_images_at_a_time_in_order(monkeypatch, seeded):
    import irtool.evaluate.loop as loop
    from irtool import models
    from irtool.evaluate import evaluate

    rng = np.random.default_rng(1)
    images = [(rng.random((32 + 8 * i, 40, 3)) * 255).astype(np.uint8) for i in range(5)]
    calls: list[int] = []
    real = loop.in_parallel
    monkeypatch.setattr(loop, "in_parallel", lambda *a: calls.append(a[1]) or real(*a))
    seen: list[int] = []
    two = evaluate(models.load("sr-x2"), images, "sr", scale=2, progress=lambda n, total, s: seen.append(n))
    assert calls == ([2] if torch.get_num_threads() > 1 else []) and seen == [1, 2, 3, 4, 5]
    monkeypatch.setattr(loop, "images_at_once", lambda runner, count: 1)
    one = evaluate(models.load("sr-x2"), images, "sr", scale=2)
    # The same images in the same order; a model thread count apart, sums may round differently (1e-5 dB).
    assert [s.name for s in two.per_image] == [s.name for s in one.per_image]
    for a, b in zip(two.per_image, one.per_image, strict=True):
        assert abs(a.psnr - b.psnr) < 1e-3


def test_eval_runs_the_model_being_trained_one_image_at_a_time(monkeypatch):
    import irtool.evaluate.loop as loop
    from irtool.evaluate import evaluate

    monkeypatch.setattr(loop, "in_parallel", lambda *a: pytest.fail("the training model was replicated"))
    model = TinyILN().train()
    images = [np.full((16, 16, 3), 100 + i, np.uint8) for i in range(3)]
    evaluate(model, images, "denoise", sigma=0)
    assert model.training
