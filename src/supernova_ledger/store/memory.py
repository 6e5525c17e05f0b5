"""``memory:`` — a log held in this process only (tests, embedding in tests)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..errors import ConcurrencyConflict, UsageError
from .base import GENESIS_HEAD, MAX_APPEND_BATCH, LogRecord, LogStore

__all__ = ["MemoryStore"]


class MemoryStore(LogStore):
    def __init__(self, url: str = "memory:") -> None:
        self.url = url
        self._records: list[LogRecord] = []

    def head(self) -> tuple[int, str]:
        if not self._records:
            return 0, GENESIS_HEAD
        last = self._records[-1]
        return last.position, last.head

    def append(self, records: Sequence[LogRecord]) -> None:
        if not records:
            return
        if len(records) > MAX_APPEND_BATCH:
            raise UsageError(f"records: at most {MAX_APPEND_BATCH} per append, got {len(records)}")
        expected = len(self._records) + 1
        if records[0].position != expected:
            raise ConcurrencyConflict(
                f"position {records[0].position} is taken; the log is at {expected - 1}"
            )
        for offset, record in enumerate(records):
            if record.position != expected + offset:
                raise UsageError(f"records: position {record.position} is not consecutive")
        self._records.extend(records)

    def read(self, start: int = 1, stop: int | None = None) -> Iterator[LogRecord]:
        end = len(self._records) if stop is None else min(stop, len(self._records))
        for index in range(max(start, 1) - 1, end):
            yield self._records[index]
