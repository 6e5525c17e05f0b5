"""The log on an ``eventsourcing`` recorder: one log = one originator.

Both durable stores (SQLite, PostgreSQL) keep the log in the ``stored_events``
table of an eventsourcing :class:`~eventsourcing.persistence.AggregateRecorder`:

=====================  ==================================================
``originator_id``      :data:`LOG_ORIGINATOR_ID`, the same for every record
``originator_version`` the record's position (1, 2, 3, …)
``topic``              :data:`RECORD_TOPIC`, the record format
``state``              the 64 ASCII hex characters of the log head after
                       this event, then the canonical JSON of the event
=====================  ==================================================

The primary key ``(originator_id, originator_version)`` is the optimistic
concurrency: two writers storing the same position clash on it, the loser's
whole batch is rolled back and it gets :class:`ConcurrencyConflict`.

:class:`RecordMapper` is our own small mapper: eventsourcing's default
``Mapper`` encodes domain-event objects, but a store never decodes events —
it moves ``(position, canonical event bytes, head)`` and nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final

from eventsourcing.persistence import (
    AggregateRecorder,
    IntegrityError,
    PersistenceError,
    StoredEvent,
)

from ..errors import ConcurrencyConflict, CorruptLog, StoreError, UsageError
from .base import (
    GENESIS_HEAD,
    HEAD_HEX_CHARS,
    JOURNAL_PAGE,
    JournalEntry,
    LogRecord,
    LogStore,
    StateChanges,
    check_batch,
    check_side_data,
    decode_journal_entry,
    encode_journal_entry,
)

__all__ = [
    "LOG_ORIGINATOR_ID",
    "RECORD_TOPIC",
    "CHECKPOINT_TOPIC",
    "JOURNAL_TABLE",
    "STATE_TABLE",
    "RecordMapper",
    "RecordedStore",
    "SideTables",
    "READ_PAGE_RECORDS",
]

#: The originator id of the one log a store holds: uuid5 of a fixed name.
LOG_ORIGINATOR_ID: Final = uuid.uuid5(uuid.NAMESPACE_URL, "supernova-ledger:log")
#: ``topic`` of every stored record; a new record format gets a new topic.
RECORD_TOPIC: Final = "supernova_ledger/log-record@1"
#: ``topic`` of a stored checkpoint (in the ``checkpoints`` table, same layout).
CHECKPOINT_TOPIC: Final = "supernova_ledger/checkpoint@1"
#: Rows fetched per query when reading a range.
READ_PAGE_RECORDS: Final = 2_000
#: The rejection journal (SPEC §2.1): ``seq`` orders it; the filter columns are indexed.
JOURNAL_TABLE: Final = "rejection_journal"
#: Side state written with batches (e.g. an adapter's per-row progress): key -> value.
STATE_TABLE: Final = "side_state"


@dataclass(frozen=True, slots=True)
class SideTables:
    """The SQL of the tables kept beside the log, in one database's dialect.

    ``journal`` and ``state`` are the (schema-qualified, quoted) table names,
    ``p`` the driver's placeholder, ``upsert`` the statement that sets a key."""

    journal: str
    state: str
    p: str
    upsert: str

    def insert_journal(self) -> str:
        p = self.p
        return (
            f"INSERT INTO {self.journal} (position, code, promoter_id, group_id, entry) "
            f"VALUES ({p}, {p}, {p}, {p}, {p})"
        )

    def select_journal(self, filters: Sequence[str]) -> str:
        where = "".join(f" AND {column} = {self.p}" for column in filters)
        return f"SELECT seq, entry FROM {self.journal} WHERE seq > {self.p}{where} ORDER BY seq LIMIT {self.p}"

    def delete_state(self) -> str:
        return f"DELETE FROM {self.state} WHERE key = {self.p}"

    def select_state(self, count: int) -> str:
        return f"SELECT key, value FROM {self.state} WHERE key IN ({', '.join([self.p] * count)})"

    def select_state_range(self) -> str:
        p = self.p
        return f"SELECT key, value FROM {self.state} WHERE key > {p} AND key >= {p} ORDER BY key LIMIT {p}"


class RecordMapper:
    """:class:`LogRecord` <-> eventsourcing :class:`StoredEvent`."""

    def __init__(self, originator_id: uuid.UUID = LOG_ORIGINATOR_ID) -> None:
        self.originator_id = originator_id

    def to_stored_event(self, record: LogRecord) -> StoredEvent:
        return StoredEvent(
            originator_id=self.originator_id,
            originator_version=record.position,
            topic=RECORD_TOPIC,
            state=record.head.encode("ascii") + record.event,
        )

    def to_record(self, stored: StoredEvent) -> LogRecord:
        position = stored.originator_version
        if stored.topic != RECORD_TOPIC:
            raise CorruptLog(f"position {position}: unknown record format {stored.topic!r}")
        if not isinstance(stored.state, (bytes, bytearray, memoryview)):
            raise CorruptLog(f"position {position}: stored record is {type(stored.state).__name__}, not bytes")
        state = bytes(stored.state)
        # An altered head still decodes (to something that cannot match):
        # verify, not the store, reports where the log was tampered with.
        head = state[:HEAD_HEX_CHARS].decode("ascii", errors="replace")
        return LogRecord(position=position, event=state[HEAD_HEX_CHARS:], head=head)


class RecordedStore(LogStore):
    """A :class:`LogStore` over an eventsourcing aggregate recorder.

    Subclasses open the recorder and translate their driver's failures;
    everything a log needs beyond insert/select lives here, once."""

    def __init__(
        self,
        url: str,
        recorder: AggregateRecorder,
        *,
        display: str | None = None,
        mapper: RecordMapper | None = None,
        checkpoints: AggregateRecorder | None = None,
    ) -> None:
        self.url = url
        #: Checkpoints of projected state live in a second table of the same layout,
        #: like eventsourcing's snapshots: version = the log position they stand at.
        self._checkpoints = checkpoints
        #: How messages name this store (no password).
        self.display = display or url
        self._recorder = recorder
        self._mapper = mapper or RecordMapper()
        self._closed = False

    # -- the contract -------------------------------------------------------

    def head(self) -> tuple[int, str]:
        last = self._select(desc=True, limit=1)
        if not last:
            return 0, GENESIS_HEAD
        record = self._mapper.to_record(last[0])
        return record.position, record.head

    def append(
        self,
        records: Sequence[LogRecord],
        journal: Sequence[JournalEntry] = (),
        state: StateChanges | None = None,
    ) -> None:
        check_side_data(journal, state)
        if not records and not journal and not state:
            return
        stored_events: list[StoredEvent] = []
        if records:
            check_batch(records)
            first = records[0].position
            # A cheap early answer; the primary key is what guarantees it.
            stored_position, _ = self.head()
            if stored_position >= first:
                raise ConcurrencyConflict(f"position {first} is taken; the log is at {stored_position}")
            if stored_position < first - 1:
                raise UsageError(f"records: position {first} leaves a gap; the log is at {stored_position}")
            stored_events = [self._mapper.to_stored_event(record) for record in records]
        side = self._side
        try:
            with self._write_transaction() as cursor:
                if stored_events:
                    self._insert_stored(cursor, stored_events)
                if journal:
                    cursor.executemany(
                        side.insert_journal(),
                        [(e.position, e.code, e.promoter_id, e.group_id, encode_journal_entry(e)) for e in journal],
                    )
                for key, value in sorted((state or {}).items()):
                    if value is None:
                        cursor.execute(side.delete_state(), (key,))
                    else:
                        cursor.execute(side.upsert, (key, value))
        except IntegrityError as error:
            raise ConcurrencyConflict(
                f"positions {records[0].position}..{records[-1].position}: another writer stored them first"
                if records else "side data: another writer interfered"
            ) from error
        except PersistenceError as error:
            raise self._store_error("append", error) from error

    def journal(
        self,
        after: int = 0,
        *,
        code: str | None = None,
        promoter_id: str | None = None,
        group_id: str | None = None,
    ) -> Iterator[tuple[int, JournalEntry]]:
        wanted = {"code": code, "promoter_id": promoter_id, "group_id": group_id}
        filters = [column for column, value in wanted.items() if value is not None]
        statement = self._side.select_journal(filters)
        values = [wanted[column] for column in filters]
        seq = max(after, 0)
        while True:
            rows = self._query(statement, (seq, *values, JOURNAL_PAGE))
            for row_seq, data in rows:
                try:
                    entry = decode_journal_entry(bytes(data))
                except Exception as error:
                    raise CorruptLog(f"rejection journal entry {row_seq}: unreadable ({type(error).__name__})") from None
                yield row_seq, entry
            if len(rows) < JOURNAL_PAGE:
                return
            seq = rows[-1][0]

    def read_state(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        unique = sorted(set(keys))
        for start in range(0, len(unique), JOURNAL_PAGE):
            chunk = unique[start : start + JOURNAL_PAGE]
            for key, value in self._query(self._side.select_state(len(chunk)), tuple(chunk)):
                found[key] = bytes(value)
        return found

    def state_items(self, prefix: str = "") -> Iterator[tuple[str, bytes]]:
        after = ""
        statement = self._side.select_state_range()
        while True:
            rows = self._query(statement, (after, prefix, JOURNAL_PAGE))
            for key, value in rows:
                if not key.startswith(prefix):
                    return
                yield key, bytes(value)
            if len(rows) < JOURNAL_PAGE:
                return
            after = rows[-1][0]

    def read(self, start: int = 1, stop: int | None = None) -> Iterator[LogRecord]:
        after = max(start, 1) - 1
        while stop is None or after < stop:
            page = self._select(gt=after, lte=stop, limit=READ_PAGE_RECORDS)
            for stored in page:
                yield self._mapper.to_record(stored)
            if len(page) < READ_PAGE_RECORDS:
                return
            after = page[-1].originator_version

    def save_checkpoint(self, position: int, blob: bytes) -> None:
        self._ensure_open()
        if self._checkpoints is None:
            return
        stored = StoredEvent(
            originator_id=self._mapper.originator_id, originator_version=position, topic=CHECKPOINT_TOPIC, state=blob
        )
        try:
            self._checkpoints.insert_events([stored])
        except IntegrityError:
            pass  # a checkpoint at this position is already stored
        except PersistenceError as error:
            raise self._store_error("checkpoint", error) from error
        self._prune_checkpoints(position)

    def load_checkpoint(self) -> tuple[int, bytes] | None:
        self._ensure_open()
        if self._checkpoints is None:
            return None
        try:
            rows = self._checkpoints.select_events(self._mapper.originator_id, desc=True, limit=1)
        except PersistenceError as error:
            raise self._store_error("read checkpoint", error) from error
        if not rows or rows[0].topic != CHECKPOINT_TOPIC or not isinstance(rows[0].state, (bytes, bytearray, memoryview)):
            return None
        return rows[0].originator_version, bytes(rows[0].state)

    def checkpoints(self) -> Iterator[tuple[int, bytes]]:
        self._ensure_open()
        if self._checkpoints is None:
            return
        after = 0
        while True:
            try:
                rows = self._checkpoints.select_events(self._mapper.originator_id, gt=after, limit=1)
            except PersistenceError as error:
                raise self._store_error("read checkpoints", error) from error
            if not rows:
                return
            row = rows[0]
            after = row.originator_version
            if row.topic == CHECKPOINT_TOPIC and isinstance(row.state, (bytes, bytearray, memoryview)):
                yield row.originator_version, bytes(row.state)

    def _prune_checkpoints(self, newest: int) -> None:
        """Delete checkpoints older than ``newest`` (subclasses know their SQL)."""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    # -- for subclasses -----------------------------------------------------

    #: The SQL of the journal and side-state tables (set by subclasses).
    _side: SideTables

    def _write_transaction(self) -> AbstractContextManager[Any]:
        """A cursor in a transaction that commits on success and rolls back on error."""
        raise NotImplementedError

    def _insert_stored(self, cursor: Any, stored_events: Sequence[StoredEvent]) -> None:
        """Insert log rows with the recorder's own statement, inside ``cursor``'s transaction."""
        raise NotImplementedError

    def _read_transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _query(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        self._ensure_open()
        try:
            with self._read_transaction() as cursor:
                cursor.execute(statement, params)
                return [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in cursor.fetchall()]
        except PersistenceError as error:
            raise self._store_error("read", error) from error

    def _close(self) -> None:
        """Release the recorder's connections."""

    def _ensure_open(self) -> None:
        if self._closed:
            raise StoreError(f"store {self.display}: used after close()")

    def _store_error(self, action: str, error: Exception) -> StoreError:
        """The error to raise when the driver fails during ``action``."""
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return StoreError(f"store {self.display}: {action} failed: {message}")

    def _select(
        self, *, gt: int | None = None, lte: int | None = None, desc: bool = False, limit: int | None = None
    ) -> Sequence[StoredEvent]:
        self._ensure_open()
        try:
            return self._recorder.select_events(
                self._mapper.originator_id, gt=gt, lte=lte, desc=desc, limit=limit
            )
        except PersistenceError as error:
            raise self._store_error("read", error) from error
