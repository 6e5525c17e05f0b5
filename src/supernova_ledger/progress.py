"""A progress bar for long work, drawn by ``rich`` on a terminal, silent when piped.

::

    with Progress(total=size, label="ingest", unit="bytes") as bar:
        for batch in batches:
            ...
            bar.advance(len(batch))

A thin adapter over :class:`rich.progress.Progress`: it writes only to
``stream`` (stderr by default) and only when that stream is a TTY (or
``enabled=True``), refreshing at most ten times a second, so it never pollutes
output that is redirected to a file or read by a program. With a ``total`` it
shows a bar, the percentage, done/total, the elapsed time and an estimate of
the time left; without one a running count. The clock (``time.monotonic``)
times the display, never anything recorded.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

__all__ = ["Progress", "is_terminal"]

_REFRESH_S = 0.1


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (False for a closed, detached or fake stream)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):
        return False


class Progress:
    """``advance(n)`` as work is done; ``close()`` (or leave the ``with``) when finished.

    ``total=None`` shows a running count without a bar. ``enabled`` forces
    drawing on or off (default: on when ``stream`` is a TTY). ``note`` is extra
    text after the count (e.g. ``"12,000 events"``).
    """

    def __init__(
        self,
        total: int | None,
        label: str,
        stream: TextIO | None = None,
        *,
        unit: str = "",
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.label = label
        self.unit = unit
        self.note = ""
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = is_terminal(self._stream) if enabled is None else enabled
        self._clock = clock
        self._last_refresh = float("-inf")
        self._closed = False
        self._rich: RichProgress | None = None
        if self._enabled:
            console = Console(file=self._stream, force_terminal=True, highlight=False, markup=False, emoji=False)
            columns: list[ProgressColumn | str] = [TextColumn("{task.description}", markup=False)]
            if total:
                columns += [BarColumn(bar_width=28), TaskProgressColumn()]
            columns += [MofNCompleteColumn() if total else TextColumn("{task.completed:,}"),
                        TextColumn(unit, markup=False), TextColumn("{task.fields[note]}", markup=False),
                        TimeElapsedColumn()]
            if total:
                columns.append(TimeRemainingColumn())
            self._rich = RichProgress(*columns, console=console, auto_refresh=False, get_time=clock,
                                      transient=False, redirect_stdout=False, redirect_stderr=False)
            self._task = self._rich.add_task(label, total=total, note="")
        self._started = False  # drawing starts at the first advance: a caller can arrange to close first

    @property
    def enabled(self) -> bool:
        return self._enabled

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units done (``n`` may be 0 to refresh the note)."""
        self.done += n
        if self._rich is None or self._closed:
            return
        if not self._started:
            self._started = True
            self._rich.start()
        self._rich.update(self._task, completed=self.done, note=self.note)
        now = self._clock()
        if now - self._last_refresh >= _REFRESH_S:
            self._last_refresh = now
            self._rich.refresh()

    def close(self) -> None:
        """Draw the final state and end the line. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._rich is not None:
            if not self._started:
                self._started = True
                self._rich.start()
            self._rich.update(self._task, completed=self.done, note=self.note)
            self._rich.refresh()
            self._rich.stop()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
