"""The one progress display of the CLI: an overall bar, an optional bar for the item at hand, and notes above them.

Drawn on stderr (results go to stdout, so `--json | jq` keeps working). In a terminal it is a live rich display that
vanishes when done, leaving only the notes. When stderr is not a terminal (a log file, nohup, CI) a live display
would leave nothing readable, so the same calls print plain lines instead, no ANSI codes, at most one every
`PLAIN_INTERVAL` seconds: "[3/40] photo.jpg: tile 120/480, 25%, ETA 6 min". `--quiet` silences both; notes are
printed either way unless quiet, since a log wants them.

    with ProgressBar(len(files), description="files", quiet=quiet) as bar:
        for i, f in enumerate(files):
            bar.start_item(f.name, total=tiles, unit="tile", position=i + 1)   # total None: "tile 12", no ETA
            ...                                                                 # bar.advance_item(1) per tile
            bar.update(advance=1, postfix="12.1 dB")
            bar.log_line(f"{f.name}: done")                                     # logs only: "[1/40] a.png: done"
        bar.note("done")
"""

from __future__ import annotations

import time
from typing import Any

from irtool.cli._output import err

PLAIN_INTERVAL = 15.0  # seconds between progress lines in a log: often enough to see life, rare enough to read


class ProgressBar:
    """An overall task (`total` may be None until known) plus an optional "current item" task below it.

    Every method is a no-op while the display is off (quiet, or outside the `with` block), so callers never need to
    check `enabled` (the live terminal display) or `plain` (lines for a log) themselves.
    """

    def __init__(
        self,
        total: int | None = None,
        *,
        description: str = "",
        completed: int = 0,
        quiet: bool = False,
        interval: float | None = None,
    ) -> None:
        self.quiet = quiet
        self.enabled = not quiet and err.is_terminal
        self.plain = not quiet and not err.is_terminal
        self.interval = PLAIN_INTERVAL if interval is None else interval
        self._total, self._description, self._completed = total, description, completed
        self._postfix = ""
        self._bar: Any = None
        self._main: Any = None
        self._item: Any = None
        self._open = False  # inside the `with` block and not stopped
        now = time.monotonic()
        self._since, self._since_completed, self._last_line = now, completed, now
        self._item_name: str | None = None
        self._item_total: int | None = None
        self._item_done, self._item_unit, self._item_position, self._item_since = 0, "", None, now
        self._item_postfix = ""

    def __enter__(self) -> ProgressBar:
        self._open = not self.quiet
        now = time.monotonic()
        self._since, self._last_line = now, now
        if not self.enabled:
            return self
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[postfix]}"),
            console=err,
            transient=True,
        )
        self._bar.start()
        self._main = self._bar.add_task(
            self._description, total=self._total, completed=self._completed, postfix="", unit=""
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Take the display down (also done on leaving the `with` block); later calls draw nothing."""
        self._open = False
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def update(
        self,
        completed: int | None = None,
        *,
        advance: int = 0,
        total: int | None = None,
        description: str | None = None,
        postfix: str | None = None,
    ) -> None:
        """Move the overall task to `completed` (or on by `advance`); set its total, description or postfix text."""
        if completed is not None:
            self._completed = completed
        self._completed += advance
        if total is not None:
            self._total = total
        if description is not None:
            self._description = description
        if postfix is not None:
            self._postfix = postfix
        if self._bar is not None:
            fields: dict[str, Any] = {}
            if completed is not None:
                fields["completed"] = completed
            if advance:
                fields["advance"] = advance
            if total is not None:
                fields["total"] = total
            if description is not None:
                fields["description"] = description
            if postfix is not None:
                fields["postfix"] = postfix
            self._bar.update(self._main, **fields)
        self._tick()

    def reset(self, total: int | None, *, completed: int = 0, description: str | None = None) -> None:
        """Restart the overall task at `completed` of `total`, forgetting its speed (e.g. a run resumed at step N).

        `total` None keeps the current total (rich cannot make a known total unknown again).
        """
        self._total = self._total if total is None else total
        self._completed, self._postfix = completed, ""
        self._description = self._description if description is None else description
        self._since, self._since_completed = time.monotonic(), completed
        if self._bar is not None:
            self._bar.reset(self._main, total=total, completed=completed, description=description, postfix="", unit="")

    def start_item(
        self, description: str, total: int | None = None, *, unit: str = "", position: int | None = None
    ) -> None:
        """Show (or restart, counting from 0) the current-item bar below the overall one.

        `total` None when the item's size is unknown; `unit` names what it counts ("tile", "frame"); `position`, the
        item's number in the overall count, heads its log lines (default: the items completed so far, plus one).
        """
        self._item_name, self._item_total, self._item_done = description, total, 0
        self._item_unit, self._item_position, self._item_postfix = unit, position, ""
        self._item_since = time.monotonic()
        if self._bar is None:
            return
        # A fresh task rather than rich's reset(), which cannot take a known total back to "unknown".
        if self._item is not None:
            self._bar.remove_task(self._item)
        self._item = self._bar.add_task(description, total=total, postfix="", unit=f"{unit}s" if unit else "")

    def advance_item(self, n: int = 1, *, postfix: str | None = None) -> None:
        self._item_done += n
        if postfix is not None:
            self._item_postfix = postfix
        if self._bar is not None and self._item is not None:
            fields = {} if postfix is None else {"postfix": postfix}
            self._bar.update(self._item, advance=n, **fields)
        self._tick()

    def end_item(self) -> None:
        """Hide the current-item bar until the next `start_item`."""
        self._item_name = None
        if self._bar is not None and self._item is not None:
            self._bar.update(self._item, visible=False)

    def note(self, message: str) -> None:
        """A line on stderr, above the bars while they are drawn; printed unless quiet, terminal or not."""
        if not self.quiet:
            err.print(message, markup=False, highlight=False, soft_wrap=True)

    def log_line(self, message: str, *, position: int | None = None) -> None:
        """A line for logs only ("[3/40] message"): printed when stderr is not a terminal, where bars show nothing.

        It also holds back the next periodic progress line, which would say little more.
        """
        if self.plain and self._open:
            self._print(f"{self._head(position if position is not None else self._completed)} {message}")

    # ------------------------------------------------------------------------------------------ plain lines
    def _tick(self) -> None:
        if self.plain and self._open and time.monotonic() - self._last_line >= self.interval:
            self._print(self.status_line())

    def status_line(self) -> str:
        """The progress as one plain line: the item at hand if there is one, else the overall task."""
        if self._item_name is not None:
            position = self._item_position or min(self._completed + 1, self._total or self._completed + 1)
            unit = f"{self._item_unit} " if self._item_unit else ""
            text = f"{self._head(position)} {self._item_name}: {unit}"
            text += _fraction(self._item_done, self._item_total, time.monotonic() - self._item_since)
            return f"{text}  {self._item_postfix}" if self._item_postfix else text
        done, elapsed = self._completed - self._since_completed, time.monotonic() - self._since
        text = f"{self._description} " if self._description else ""
        # The rate counts only what happened since the start or the last reset (a resumed run's steps are not ours).
        text += _fraction(self._completed, self._total, elapsed, rate_done=done)
        return f"{text}  {self._postfix}" if self._postfix else text

    def _head(self, position: int) -> str:
        return f"[{position}/{self._total}]" if self._total else f"[{position}]"

    def _print(self, line: str) -> None:
        self._last_line = time.monotonic()
        err.print(line, markup=False, highlight=False, soft_wrap=True)


def _fraction(done: int, total: int | None, elapsed: float, *, rate_done: int | None = None) -> str:
    """Done of total, e.g. "120/480, 25%, ETA 6 min"; "120" when the total is unknown; no ETA before a unit is done."""
    if not total:
        return str(done)
    text = f"{done}/{total}, {100 * done // total}%"
    rate_done = done if rate_done is None else rate_done
    if rate_done > 0 and done < total and elapsed > 0:
        text += f", ETA {format_duration(elapsed / rate_done * (total - done))}"
    return text


def format_duration(seconds: float) -> str:
    """A rough, readable duration: "40 s", "6 min", "2 h 05 min"."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
