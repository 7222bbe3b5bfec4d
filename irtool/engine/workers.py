"""Images restored side by side on the CPU, each on its own copy of the model (`irtool.engine.pipeline.run_jobs`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from irtool.engine.base import ImageRunner
    from irtool.engine.jobs import Job


def side_by_side(jobs: list[Job], runner: ImageRunner) -> int:
    """How many images `run_jobs` restores at once by default: 2 for a batch of images on the CPU, 1 otherwise.

    A compact model keeps few cores busy through its small layers, so two images at a time, each with half of
    torch's threads, beat one image with all of them (on 2 cores: sr-x4 1.25x, denoise 1.41x the images/s). Not on a
    GPU (one image fills it), nor for ONNX Runtime (it threads itself), compiled models or videos (frame by frame).
    Two, not more: each image in flight holds its input and output in memory.
    """
    runnable = [job for job in jobs if job.runnable]
    if any(job.kind == "video" for job in runnable):
        return 1
    return images_at_once(runner, len(runnable))


def images_at_once(runner: ImageRunner, images: int) -> int:
    """`side_by_side`'s rule for `images` still images (also `irtool eval`'s)."""
    if runner.runtime != "torch" or str(runner.device) != "cpu" or getattr(runner, "compiled", False) or images < 2:
        return 1
    import torch

    return min(2, torch.get_num_threads())


def in_parallel(
    runner: ImageRunner, workers: int, restore_next: Callable[[ImageRunner, bool], bool], stop: threading.Event
) -> None:
    """`restore_next` in `workers` threads until the batch ends, each on a replica of `runner` with its share of
    torch's threads. On Ctrl-C, `stop` is set and the threads are waited for (they let go of their image at the next
    tile): torch must not be running in a thread while the interpreter shuts down (C++ aborts the process)."""
    replicas = [runner] + [runner.replicate() for _ in range(workers - 1)]  # a runtime that cannot says so here
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads // workers))
    failures: list[BaseException] = []

    def work(replica: ImageRunner) -> None:
        try:
            while not failures and restore_next(replica, False):
                pass
        except BaseException as exc:  # a bug, not a job's failure (those are recorded): re-raised below
            failures.append(exc)

    pool = [
        threading.Thread(target=work, args=(r,), name=f"irtool-model-{k}", daemon=True) for k, r in enumerate(replicas)
    ]
    try:
        for t in pool:
            t.start()
        for t in pool:
            while t.is_alive():  # a short wait, so Ctrl-C reaches this thread
                t.join(0.1)
    except BaseException:
        stop.set()
        for t in pool:
            t.join()
        raise
    finally:
        torch.set_num_threads(threads)
        for replica in replicas[1:]:
            runner.nan_retries += replica.nan_retries
            runner.oom_retries += replica.oom_retries
    if failures:
        raise failures[0]
