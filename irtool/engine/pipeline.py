"""A batch of jobs through one model, with decoding and encoding running beside it.

    reader thread  --(decoded image)-->  model (this thread)  --(restored pixels)-->  writer thread

Queues hold one item each, so at most three images are alive at once whatever the batch size (one more per extra
model worker: on the CPU two images are restored side by side, see `irtool.engine.workers`). Videos take the same
shape per frame (`restore_video`): a demux/decode thread, the model, an encode/mux thread.

A job that fails (unreadable file, a model error on that image, a full disk) is recorded and the batch goes on;
running out of memory at the smallest tile stops the batch, as every later job would fail too: `BatchStopped`
carries the outcomes so far, the rest marked failed, so the caller can still print the summary.
Ctrl-C stops the threads, lets a file being written finish its atomic rename or removes a partial video, and
re-raises KeyboardInterrupt for the CLI to exit with 130.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from irtool.engine import paged
from irtool.engine.devices import trim_host_memory
from irtool.engine.jobs import Job
from irtool.engine.pixels import restore_pixels
from irtool.engine.workers import in_parallel, side_by_side
from irtool.errors import IrtoolError, ResourceError
from irtool.io.headers import MAX_PIXELS

if TYPE_CHECKING:
    from irtool.engine.base import ImageRunner

_END = object()  # end of a stream of queue items


class _Cancelled(Exception):
    """Raised between tiles once the batch is stopped (Ctrl-C), so a worker thread lets go of its image."""


@dataclass
class Outcome:
    source: str
    output: str | None
    status: str  # done | skipped | failed
    seconds: float = 0.0
    error: str | None = None
    frames: int | None = None  # videos only


class BatchStopped(ResourceError):
    """Out of memory at the smallest tile: the batch stopped there. `outcomes` covers every job (the rest failed)."""

    def __init__(self, cause: ResourceError, outcomes: list[Outcome]):
        super().__init__(str(cause))
        self.outcomes = outcomes


@dataclass
class ReadOptions:
    # Images over this many pixels are refused from their header (0: no limit). Video frames are not limited: they
    # are decoded one at a time, and common codecs stop far below it (an 8K frame is 33 MP).
    max_pixels: int = MAX_PIXELS


@dataclass
class WriteOptions:
    quality: int | None = None
    keep_metadata: bool = True  # EXIF and ICC from the input go into the output


@dataclass
class VideoOptions:
    codec: str | None = None
    crf: int | None = None
    pix_fmt: str | None = None
    preset: str | None = None  # the encoder's speed preset (io.video.PRESETS); None: io.video.DEFAULT_PRESETS


@dataclass
class Reporter:
    """Progress hooks (all optional): a job starts with a number of work units (tiles or frames), units advance.

    `started` comes before the first unit, with the total when it is known (tiles always; frames when the container
    says), and again for the same job when an out of memory back-off restarts it with smaller tiles: the count then
    starts over at the new total.
    """

    started: Callable[[Job, int | None], None] = field(default=lambda job, units: None)
    advanced: Callable[[int], None] = field(default=lambda n: None)
    finished: Callable[[Outcome], None] = field(default=lambda outcome: None)


def run_jobs(
    jobs: list[Job],
    runner: ImageRunner,
    *,
    write: WriteOptions | None = None,
    video: VideoOptions | None = None,
    reporter: Reporter | None = None,
    read: ReadOptions | None = None,
    workers: int | None = None,
) -> list[Outcome]:
    """Run every job; the outcomes come back in job order.

    `workers` images are restored side by side, each on its own copy of the model with its share of torch's CPU
    threads (None: `side_by_side`). Progress then counts images, not tiles.
    """
    from irtool.io.images import read_image, write_image

    write = write or WriteOptions()
    read = read or ReadOptions()
    video = video or VideoOptions()
    reporter = reporter or Reporter()
    workers = side_by_side(jobs, runner) if workers is None else workers
    outcomes: dict[int, Outcome] = {}
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=1)
    restored: queue.Queue = queue.Queue(maxsize=1)
    stopped: ResourceError | None = None

    def record(i: int, outcome: Outcome) -> None:
        outcomes[i] = outcome
        reporter.finished(outcome)

    def read_ahead() -> None:
        for i, job in enumerate(jobs):
            started = time.perf_counter()
            payload: Any = None
            if job.runnable and job.kind == "image":
                try:
                    payload = read_image(job.source, max_pixels=read.max_pixels)
                    payload.pixels = paged.spill(payload.pixels)  # huge images: into a file, out of RAM
                except Exception as exc:  # reported per job; the batch goes on
                    payload = exc
            if not _put(decoded, (i, job, payload, started), stop):
                return
        _put(decoded, _END, stop)

    def write_behind() -> None:
        while (item := _get(restored, stop)) is not _END and item is not None:
            i, job, pixels, (exif, icc), started = item
            try:
                write_image(
                    job.output,
                    pixels,
                    exif=exif if write.keep_metadata else None,
                    icc=icc if write.keep_metadata else None,
                    quality=write.quality,
                    protect=[job.source],
                    consume=True,
                )
            except Exception as exc:
                record(i, _failed(job, exc, started))
            else:
                record(i, Outcome(str(job.source), str(job.output), "done", time.perf_counter() - started))

    def tile_done(n: int) -> None:  # side by side: no tile progress, but a stop is heard between tiles
        if stop.is_set():
            raise _Cancelled

    def restore_next(worker: ImageRunner, tiles: bool) -> bool:
        """Take the next decoded job and run it on `worker` (the runner or a replica of it); False at the end of the
        batch or when it must stop. `tiles`: report tile progress (one image at a time only)."""
        nonlocal stopped
        item = _get(decoded, stop)
        if item is _END or item is None:
            if item is _END:
                _put(decoded, _END, stop)  # for the other workers
            return False
        i, job, payload, started = item
        if job.skip:
            record(i, Outcome(str(job.source), str(job.output), "skipped"))
        elif job.error is not None:
            record(i, Outcome(str(job.source), None, "failed", error=job.error))
        elif job.kind == "video":
            record(i, restore_video(job, worker, video, reporter))
        elif isinstance(payload, Exception):
            record(i, _failed(job, payload, started))
        else:
            try:
                pixels = restore_pixels(
                    worker,
                    payload.pixels,
                    on_tiles=reporter.advanced if tiles else tile_done,
                    on_total=lambda units, job=job: reporter.started(job, units if tiles else None),
                )
            except _Cancelled:  # Ctrl-C: the image is dropped, as in progress
                return False
            except ResourceError as exc:  # every later image would fail the same way
                record(i, _failed(job, exc, started))
                stopped = stopped or exc
                return False
            except Exception as exc:
                record(i, _failed(job, exc, started))
                return True
            metadata = (payload.exif, payload.icc)
            del item, payload  # the input pixels are not needed while the output is written
            trim_host_memory()  # the tiles' freed heap, before the encoder needs memory of its own
            _put(restored, (i, job, pixels, metadata, started), stop)
        return stopped is None

    reader = threading.Thread(target=read_ahead, name="irtool-read", daemon=True)
    writer = threading.Thread(target=write_behind, name="irtool-write", daemon=True)
    reader.start()
    writer.start()
    try:
        if workers > 1:
            in_parallel(runner, workers, restore_next, stop)
        else:
            while restore_next(runner, tiles=True):
                pass
        _put(restored, _END, stop)
        writer.join()  # results restored before a stop are still written
    except BaseException:
        stop.set()
        writer.join(timeout=60)  # a write in progress completes (it is atomic); queued results are dropped
        raise
    finally:
        stop.set()
        reader.join(timeout=5)
    if stopped is not None:
        for i, job in enumerate(jobs):
            if i not in outcomes:
                outcomes[i] = Outcome(str(job.source), None, "failed", error=f"not run: {stopped}")
        raise BatchStopped(stopped, [outcomes[i] for i in sorted(outcomes)])
    return [outcomes[i] for i in sorted(outcomes)]


def summarize(outcomes: list[Outcome], runner: ImageRunner, model_name: str, seconds: float) -> dict[str, Any]:
    """The batch summary `irtool restore` prints (and `--json` writes): counts, settings, one item per job."""
    from dataclasses import asdict

    from irtool.launch import launch_env

    counts = {status: sum(o.status == status for o in outcomes) for status in ("done", "skipped", "failed")}
    summary: dict[str, Any] = {
        **counts,
        "seconds": round(seconds, 3),
        "model": model_name,
        **runner.settings(),
        "items": [asdict(o) for o in outcomes],
    }
    launch = launch_env()
    if launch.distributed:
        summary["rank"], summary["world_size"] = launch.rank, launch.world_size
    return summary


def restore_video(job: Job, runner: ImageRunner, options: VideoOptions, reporter: Reporter | None = None) -> Outcome:
    """Decode, restore and encode one video frame by frame, copying its audio and subtitle streams."""
    from irtool.io.video import Frame, VideoReader, VideoWriter

    reporter = reporter or Reporter()
    started = time.perf_counter()
    try:
        reader = VideoReader(job.source)
    except IrtoolError as exc:
        return _failed(job, exc, started)
    s = runner.descriptor.scale
    try:
        writer = VideoWriter(
            job.output,
            reader,
            reader.width * s,
            reader.height * s,
            codec=options.codec,
            crf=options.crf,
            pix_fmt=options.pix_fmt,
            preset=options.preset,
        )
    except IrtoolError as exc:
        reader.close()
        if exc.exit_code != 1:  # a bad --codec / --pix-fmt is the user's option, not this file
            raise
        return _failed(job, exc, started)

    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=4)
    encoded: queue.Queue = queue.Queue(maxsize=4)
    errors: list[BaseException] = []

    def decode() -> None:
        try:
            for item in reader.items():
                if not _put(decoded, item, stop):
                    return
        except BaseException as exc:
            errors.append(exc)
        _put(decoded, _END, stop)

    def encode() -> None:
        try:
            while (item := _get(encoded, stop)) is not _END and item is not None:
                if isinstance(item, Frame):
                    writer.write_frame(item.pixels, item.pts)
                else:
                    writer.copy_packet(item)
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=t, name=f"irtool-{t.__name__}", daemon=True) for t in (decode, encode)]
    for t in threads:
        t.start()
    frames = 0
    reporter.started(job, reader.frame_count)
    try:
        while not errors and (item := _get(decoded, stop)) is not _END and item is not None:
            if isinstance(item, Frame):
                item = Frame(restore_pixels(runner, item.pixels), item.pts)
                frames += 1
                reporter.advanced(1)
            if not _put(encoded, item, stop):
                break
        _put(encoded, _END, stop)
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        writer.close()
    except BaseException as exc:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        writer.abort()
        if isinstance(exc, (KeyboardInterrupt, ResourceError)):
            raise
        return _failed(job, exc, started)
    finally:
        reader.close()
    return Outcome(str(job.source), str(job.output), "done", time.perf_counter() - started, frames=frames)


def _failed(job: Job, exc: BaseException, started: float) -> Outcome:
    message = str(exc) if isinstance(exc, IrtoolError) else f"{job.source}: {type(exc).__name__}: {exc}"
    return Outcome(str(job.source), None, "failed", time.perf_counter() - started, error=message)


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Put unless asked to stop (a full queue must not block shutdown forever)."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event) -> Any:
    """The next item, or None once asked to stop."""
    while not stop.is_set():
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue
    return None
