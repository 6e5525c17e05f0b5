"""``supernova-ledger migrate``: copy a log into a new store, in the current layout.

Stores written by 0.1.0 keep one row per event; 0.2.0 writes one row per
appended batch and reads both. ``migrate`` copies a whole log — records, the
rejection journal and side state — into an *empty* store, which it writes in
the batch layout (and, being a copy, from any store kind to any other):

1. ``verify`` the source (every decision replayed, the hash chain recomputed);
   a source that does not verify is not copied.
2. Copy the records in batches of :data:`MIGRATE_BATCH` (each one row), then
   the journal (oldest first) and the side state.
3. ``verify`` the target and compare its event count and log head with the
   source's.

Stop the source's writers first: what they append meanwhile is not copied.
The source is only ever read: it stays as it was whatever happens, and the
operator retires it once the target has verified. A failed migration leaves a
target that does not verify or is incomplete; it must not be used (start
again with a new, empty target).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from .audit import Verification, verify
from .errors import CorruptLog, UsageError
from .store.base import MAX_APPEND_BATCH, LogStore

__all__ = ["Migration", "migrate", "MIGRATE_BATCH"]

#: Records per stored row in the target (the CLI's ingest batch).
MIGRATE_BATCH: Final = 5_000

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Migration:
    events: int  #: records copied (and verified in both stores)
    log_head: str  #: the head both stores verify to
    journal: int  #: rejection-journal entries copied
    state: int  #: side-state keys copied

    def describe(self) -> str:
        return (
            f"ok: {self.events} events, log_head {self.log_head}; "
            f"{self.journal} journal entries, {self.state} state keys copied"
        )


def migrate(source: LogStore, target: LogStore, *, batch: int = MIGRATE_BATCH) -> Migration:
    """Copy ``source`` into the empty ``target``, verifying both (see the module)."""
    if not 1 <= batch <= MAX_APPEND_BATCH:
        raise UsageError(f"batch: 1-{MAX_APPEND_BATCH} records per row, got {batch}")
    if target.head()[0] != 0 or next(target.journal(), None) is not None or next(target.state_items(), None) is not None:
        raise UsageError(f"--to: store {_name(target)} is not empty; migrate writes only into an empty store")
    before = verify(source)
    if not before.ok:
        raise CorruptLog(f"source does not verify, nothing copied: {before.describe()}")
    for records in _chunks(source.read(1, before.events), batch):
        target.append(records)
    journal = 0
    for entries in _chunks((entry for _seq, entry in source.journal()), MAX_APPEND_BATCH):
        target.append((), entries)
        journal += len(entries)
    state = 0
    for items in _chunks(source.state_items(), MAX_APPEND_BATCH):
        target.append((), (), dict(items))
        state += len(items)
    after = verify(target)
    if not _same(before, after):
        raise CorruptLog(
            f"target does not match the source ({after.describe()}; source: {before.describe()});"
            " the source is untouched, do not use the target"
        )
    return Migration(before.events, before.log_head, journal, state)


def _same(before: Verification, after: Verification) -> bool:
    return after.ok and (after.events, after.log_head) == (before.events, before.log_head)


def _chunks(items: Iterator[_T], size: int) -> Iterator[Sequence[_T]]:
    chunk: list[_T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _name(store: LogStore) -> str:
    return str(getattr(store, "display", store.url))

