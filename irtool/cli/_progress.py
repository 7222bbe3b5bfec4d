"""The one progress display of the CLI: an overall bar, an optional bar for the item at hand, and notes above them.

Drawn on stderr (results go to stdout, so `--json | jq` keeps working) and transient: it vanishes when done, leaving
only the notes. Off with --quiet, and off when stderr is not a terminal: there rich draws nothing useful and would
only leave stray lines in a log file. Notes are still printed then (unless quiet), since a log wants them.

    with ProgressBar(len(files), description="files", quiet=quiet) as bar:
        for f in files:
            bar.start_item(f.name, total=tiles)     # total None: a pulsing bar, "n/?"
            ...                                     # bar.advance_item(1) per tile
            bar.update(advance=1, postfix="12.1 dB")
        bar.note("done")
"""

from __future__ import annotations

from typing import Any

from irtool.cli._output import err


class ProgressBar:
    """An overall task (`total` may be None until known) plus an optional "current item" task below it.

    Every method is a no-op while the display is off (quiet, stderr not a terminal, or outside the `with` block),
    so callers never need to check `enabled` themselves.
    """

    def __init__(
        self, total: int | None = None, *, description: str = "", completed: int = 0, quiet: bool = False
    ) -> None:
        self.quiet = quiet
        self.enabled = not quiet and err.is_terminal
        self._total, self._description, self._completed = total, description, completed
        self._bar: Any = None
        self._main: Any = None
        self._item: Any = None

    def __enter__(self) -> ProgressBar:
        if not self.enabled:
            return self
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[postfix]}"),
            console=err,
            transient=True,
        )
        self._bar.start()
        self._main = self._bar.add_task(self._description, total=self._total, completed=self._completed, postfix="")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Take the display down (also done on leaving the `with` block); later calls draw nothing."""
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
        if self._bar is None:
            return
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

    def reset(self, total: int | None, *, completed: int = 0, description: str | None = None) -> None:
        """Restart the overall task at `completed` of `total`, forgetting its speed (e.g. a run resumed at step N).

        `total` None keeps the current total (rich cannot make a known total unknown again).
        """
        if self._bar is not None:
            self._bar.reset(self._main, total=total, completed=completed, description=description, postfix="")

    def start_item(self, description: str, total: int | None = None) -> None:
        """Show (or restart) the current-item bar below the overall one; `total` None when its size is unknown."""
        if self._bar is None:
            return
        # A fresh task rather than rich's reset(), which cannot take a known total back to "unknown".
        if self._item is not None:
            self._bar.remove_task(self._item)
        self._item = self._bar.add_task(description, total=total, postfix="")

    def advance_item(self, n: int = 1, *, postfix: str | None = None) -> None:
        if self._bar is not None and self._item is not None:
            fields = {} if postfix is None else {"postfix": postfix}
            self._bar.update(self._item, advance=n, **fields)

    def end_item(self) -> None:
        """Hide the current-item bar until the next `start_item`."""
        if self._bar is not None and self._item is not None:
            self._bar.update(self._item, visible=False)

    def note(self, message: str) -> None:
        """A line on stderr, above the bars while they are drawn; printed unless quiet, terminal or not."""
        if not self.quiet:
            err.print(message, highlight=False)
