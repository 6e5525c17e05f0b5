"""A tiny progress bar for long work: drawn on a terminal, silent when piped.

::

    with Progress(total=len(events), label="ingest") as bar:
        for batch in batches:
            ...
            bar.advance(len(batch))

It writes only to ``stream`` (stderr by default) and only when that stream is
a TTY, at most a few redraws a second, so it never pollutes output that is
redirected to a file or read by a program. The clock is ``time.monotonic``:
it times the display, never anything recorded.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress"]

_BAR_CELLS = 28
_REDRAW_S = 0.1


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):  # a closed or detached stream
        return False


class Progress:
    """``advance(n)`` as work is done; ``close()`` (or leave the ``with``) when finished.

    ``total=None`` shows a running count without a bar. ``enabled`` forces
    drawing on or off (default: on when ``stream`` is a TTY).
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
        self.note = ""  #: extra text after the count, e.g. "12,000 events"
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = _is_tty(self._stream) if enabled is None else enabled
        self._clock = clock
        self._started = clock()
        self._last_draw = float("-inf")
        self._width = 0
        self._closed = False

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units done (``n`` may be 0 to refresh the note)."""
        self.done += n
        if not self._enabled:
            return
        now = self._clock()
        if now - self._last_draw >= _REDRAW_S:
            self._last_draw = now
            self._draw(now)

    def close(self) -> None:
        """Draw the final state and end the line. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._enabled:
            self._draw(self._clock())
            self._stream.write("\n")
            self._stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def render(self, now: float) -> str:
        """The status line as it would be drawn at ``now``."""
        elapsed = max(now - self._started, 0.0)
        unit = f" {self.unit}" if self.unit else ""
        parts = [self.label]
        if self.total:
            filled = min(_BAR_CELLS, self.done * _BAR_CELLS // self.total)
            parts.append("[" + "#" * filled + "." * (_BAR_CELLS - filled) + "]")
            parts.append(f"{min(100, self.done * 100 // self.total):3d}%")
            parts.append(f"{self.done:,}/{self.total:,}{unit}")
        else:
            parts.append(f"{self.done:,}{unit}")
        if self.note:
            parts.append(self.note)
        elif elapsed > 0:
            parts.append(f"{self.done / elapsed:,.0f}{unit}/s")
        parts.append(f"{elapsed:.1f}s")
        return " ".join(parts)

    def _draw(self, now: float) -> None:
        text = self.render(now)
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        self._stream.write("\r" + text + pad)
        self._stream.flush()
