"""``memory:`` — a log held in this process only (tests, embedding in tests).

``memory:`` opens a fresh, private log. ``memory:NAME`` opens the log called
NAME, shared by every store opened with that URL in this process while any of
them is alive: two stores on one log, like two connections to one database,
so concurrency can be tested without a server.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence

from ..errors import ConcurrencyConflict, StoreError, UsageError
from .base import (
    GENESIS_HEAD,
    BalanceRows,
    PostingRows,
    JournalEntry,
    LogRecord,
    LogStore,
    StateChanges,
    check_batch,
    check_side_data,
    matches,
)

__all__ = ["MemoryStore"]


class _MemoryLog:
    """The records themselves, shared by the stores opened on one name."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self.lock = threading.Lock()
        #: The newest checkpoint only: ``(position, sealed blob)``.
        self.checkpoint: tuple[int, bytes] | None = None
        self.journal: list[JournalEntry] = []
        self.state: dict[str, bytes] = {}
        #: The per-promoter balances table: promoter id -> the ledger's row.
        self.balances: dict[str, bytes] = {}
        #: The per-promoter postings table: promoter id -> [(position, row)] in order.
        self.postings: dict[str, list[tuple[int, bytes]]] = {}


_named_logs: weakref.WeakValueDictionary[str, _MemoryLog] = weakref.WeakValueDictionary()
_named_logs_lock = threading.Lock()


def _log_for(url: str) -> _MemoryLog:
    if not url.startswith("memory:"):
        raise UsageError(f"store: {url!r} is not a memory: URL")
    name = url[len("memory:") :]
    if not name:
        return _MemoryLog()
    with _named_logs_lock:
        log = _named_logs.get(name)
        if log is None:
            log = _MemoryLog()
            _named_logs[name] = log
        return log


class MemoryStore(LogStore):
    def __init__(self, url: str = "memory:") -> None:
        self.url = url
        self._log = _log_for(url)
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def _open_log(self) -> _MemoryLog:
        if self._closed:
            raise StoreError(f"store {self.url}: used after close()")
        return self._log

    @property
    def _records(self) -> list[LogRecord]:
        return self._open_log().records

    def head(self) -> tuple[int, str]:
        records = self._records
        if not records:
            return 0, GENESIS_HEAD
        last = records[-1]
        return last.position, last.head

    def append(
        self,
        records: Sequence[LogRecord],
        journal: Sequence[JournalEntry] = (),
        state: StateChanges | None = None,
        balances: BalanceRows | None = None,
        postings: PostingRows | None = None,
    ) -> None:
        if records:
            check_batch(records)
        check_side_data(journal, state, balances, postings)
        with self._log.lock:
            stored = len(self._records)
            if records:
                first = records[0].position
                if first <= stored:
                    raise ConcurrencyConflict(f"position {first} is taken; the log is at {stored}")
                if first > stored + 1:
                    raise UsageError(f"records: position {first} leaves a gap; the log is at {stored}")
                self._log.records.extend(records)
            self._log.journal.extend(journal)
            for key, value in (state or {}).items():
                if value is None:
                    self._log.state.pop(key, None)
                else:
                    self._log.state[key] = value
            self._log.balances.update(balances or {})
            for promoter_id, position, row in postings or ():
                rows = self._log.postings.setdefault(promoter_id, [])
                if rows and rows[-1][0] >= position:
                    raise ConcurrencyConflict(f"postings of {promoter_id!r} at {position}: already stored")
                rows.append((position, row))

    def journal(
        self,
        after: int = 0,
        *,
        code: str | None = None,
        promoter_id: str | None = None,
        group_id: str | None = None,
    ) -> Iterator[tuple[int, JournalEntry]]:
        entries = self._open_log().journal
        for seq in range(max(after, 0) + 1, len(entries) + 1):
            entry = entries[seq - 1]
            if matches(entry, code, promoter_id, group_id):
                yield seq, entry

    def read_balances(self, promoter_ids: Sequence[str]) -> dict[str, bytes]:
        balances = self._open_log().balances
        return {key: balances[key] for key in promoter_ids if key in balances}

    def balance_items(self) -> Iterator[tuple[str, bytes]]:
        yield from sorted(self._open_log().balances.items())

    def read_postings(self, promoter_id: str, until: int | None = None) -> Iterator[tuple[int, bytes]]:
        for position, row in list(self._open_log().postings.get(promoter_id, ())):
            if until is not None and position > until:
                return
            yield position, row

    def read_state(self, keys: Sequence[str]) -> dict[str, bytes]:
        state = self._open_log().state
        return {key: state[key] for key in keys if key in state}

    def state_items(self, prefix: str = "") -> Iterator[tuple[str, bytes]]:
        state = self._open_log().state
        for key in sorted(k for k in state if k.startswith(prefix)):
            yield key, state[key]

    def read(self, start: int = 1, stop: int | None = None) -> Iterator[LogRecord]:
        records = self._records
        end = len(records) if stop is None else min(stop, len(records))
        for index in range(max(start, 1) - 1, end):
            yield records[index]

    def save_checkpoint(self, position: int, blob: bytes) -> None:
        if self._closed:
            raise StoreError(f"store {self.url}: used after close()")
        with self._log.lock:
            current = self._log.checkpoint
            if current is None or current[0] <= position:
                self._log.checkpoint = (position, blob)

    def load_checkpoint(self) -> tuple[int, bytes] | None:
        if self._closed:
            raise StoreError(f"store {self.url}: used after close()")
        return self._log.checkpoint
