"""What `irtool restore` shows while it runs: the engine's progress hooks on the CLI's one display, and the line a
Ctrl-C leaves behind ("interrupted: 3 done, 1 in progress (discarded), 36 not started")."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from irtool.cli._progress import ProgressBar, format_duration

if TYPE_CHECKING:
    from irtool.engine.jobs import Job
    from irtool.engine.pipeline import Outcome, Reporter


class RestoreProgress:
    """Files overall; tiles (images) or frames (videos) of the file at hand; a log line per file done or failed.

    It also keeps the counts an interruption reports. `finished` comes from the writer thread, hence the lock.
    """

    def __init__(self, bar: ProgressBar, jobs: list[Job]) -> None:
        self.bar = bar
        self.total = len(jobs)
        self._position = {id(job): i + 1 for i, job in enumerate(jobs)}
        self._by_source = {str(job.source): i + 1 for i, job in enumerate(jobs)}
        self._started: set[int] = set()
        self._finished: dict[int, str] = {}  # position -> done | skipped | failed
        self._lock = threading.Lock()

    def reporter(self) -> Reporter:
        from irtool.engine.pipeline import Reporter

        return Reporter(started=self._on_started, advanced=self.bar.advance_item, finished=self._on_finished)

    def _on_started(self, job: Job, units: int | None) -> None:
        # Called again for the same job when an out of memory back-off restarts it with smaller tiles.
        position = self._position.get(id(job))
        with self._lock:
            self._started.add(position or 0)
        if job.kind == "image" and units is None:  # images side by side: the files bar counts them, no tile bar
            return
        unit = "frame" if job.kind == "video" else "tile"
        self.bar.start_item(job.source.name, units, unit=unit, position=position)

    def _on_finished(self, outcome: Outcome) -> None:
        position = self._by_source.get(outcome.source)
        with self._lock:
            self._finished[position or -len(self._finished) - 1] = outcome.status
        name = Path(outcome.source).name
        if outcome.status == "done":
            frames = f", {outcome.frames} frames" if outcome.frames is not None else ""
            self.bar.log_line(f"{name}: done in {format_duration(outcome.seconds)}{frames}", position=position)
        elif outcome.status == "failed":
            self.bar.log_line(f"{name}: failed: {outcome.error}", position=position)
        self.bar.update(advance=1)  # after the file's own line, which makes a progress line now redundant

    def interrupted_message(self) -> str:
        """What was done when Ctrl-C came: work in progress is dropped (writes are atomic; a partial video is
        removed), so it counts as discarded."""
        with self._lock:
            statuses = list(self._finished.values())
            in_progress = len(self._started - self._finished.keys())
        parts = [f"{statuses.count('done')} done"]
        parts += [f"{statuses.count(s)} {s}" for s in ("skipped", "failed") if s in statuses]
        if in_progress:
            parts.append(f"{in_progress} in progress (discarded)")
        parts.append(f"{max(0, self.total - len(statuses) - in_progress)} not started")
        return "interrupted: " + ", ".join(parts)
