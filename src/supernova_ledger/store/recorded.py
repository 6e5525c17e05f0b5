"""The log on an ``eventsourcing`` recorder table: one log = one originator, one row per batch.

Both durable stores (SQLite, PostgreSQL) keep the log in the ``stored_events``
table that eventsourcing's :class:`~eventsourcing.persistence.AggregateRecorder`
creates. Since 0.2.0 every ``append`` is **one row** (a *batch row*):

=====================  ==================================================
``originator_id``      :data:`LOG_ORIGINATOR_ID`, the same for every row
``originator_version`` the position of the batch's **first** record
``topic``              :data:`HEADED_BATCH_TOPIC` followed by the batch's
                       72-character header (below)
``state``              the 72-byte header — the log head after the batch's
                       last record (64 ASCII hex) and the number of records
                       (8 ASCII hex) — then the records as msgpack: an array
                       of ``[position, canonical event bytes, head]``
=====================  ==================================================

The header is written twice: in ``topic`` so that the log's end (``head``,
``head_at``) is read without loading the row's ``state`` (up to a few MB; a
``substr`` of it loads it whole on SQLite, and PostgreSQL detoasts it whole),
and in ``state``, where :func:`decode_row` requires the two to agree. Rows
of the first batch layout (topic ``log-batch@1``) carry :data:`BATCH_TOPIC` and only the header in
``state``; both forms are read.

Stores written by 0.1.0 hold one row per record (:data:`RECORD_TOPIC`,
``state`` = 64 hex of the head, then the event): every row is read by its own
topic, so a store may hold both layouts (0.1.0 rows followed by batch rows)
and reads as one log. ``supernova-ledger migrate`` copies a log into a new
store in the batch layout.

The primary key ``(originator_id, originator_version)`` is the optimistic
concurrency: a writer appends after the head it read, and heads are always a
row's last record, so two writers that saw the same head insert the same
``originator_version``; the loser's transaction is rolled back and it gets
:class:`ConcurrencyConflict`. Inside the insert transaction the store also
compares with the stored end of the log first (on SQLite that check is atomic:
the transaction holds the write lock).

Reading does not go through eventsourcing's ``select_events`` (which builds a
``StoredEvent`` and a ``UUID`` per row): plain cursor queries on the primary
key, and msgspec decodes a batch straight into :class:`LogRecord` structs.
"""

from __future__ import annotations

import uuid
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, Protocol

import msgspec
from eventsourcing.persistence import AggregateRecorder

from ..errors import ConcurrencyConflict, CorruptLog, StoreError, UsageError
from .base import (
    GENESIS_HEAD,
    HEAD_HEX_CHARS,
    JOURNAL_PAGE,
    BalanceRows,
    JournalEntry,
    PostingRows,
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
    "BATCH_TOPIC",
    "HEADED_BATCH_TOPIC",
    "CHECKPOINT_TOPIC",
    "JOURNAL_TABLE",
    "STATE_TABLE",
    "BALANCES_TABLE",
    "POSTINGS_TABLE",
    "RecordedStore",
    "SideTables",
    "READ_WINDOW_POSITIONS",
    "encode_batch",
    "batch_topic",
    "decode_row",
    "legacy_row_state",
]

#: The originator id of the one log a store holds: uuid5 of a fixed name.
LOG_ORIGINATOR_ID: Final = uuid.uuid5(uuid.NAMESPACE_URL, "supernova-ledger:log")
#: ``topic`` of a 0.1.0 row: one record per row (read, never written since 0.2.0).
RECORD_TOPIC: Final = "supernova_ledger/log-record@1"
#: ``topic`` of a batch row of the first batch layout: the header only in ``state``.
BATCH_TOPIC: Final = "supernova_ledger/log-batch@1"
#: ``topic`` of a batch row: this, then the 72-character header.
HEADED_BATCH_TOPIC: Final = "supernova_ledger/log-batch@2:"
#: ``topic`` of a stored checkpoint (in the ``checkpoints`` table, same layout).
CHECKPOINT_TOPIC: Final = "supernova_ledger/checkpoint@1"
#: A read query fetches the rows whose first position falls in a window of this
#: many positions: a few batch rows, or this many 0.1.0 rows (bounded memory).
READ_WINDOW_POSITIONS: Final = 20_000
#: Batch header: last head (64 hex) + record count (8 hex).
_COUNT_HEX: Final = 8
HEADER_BYTES: Final = HEAD_HEX_CHARS + _COUNT_HEX

#: The rejection journal (SPEC §2.1): ``seq`` orders it; the filter columns are indexed.
JOURNAL_TABLE: Final = "rejection_journal"
#: Side state written with batches (e.g. an adapter's per-row progress): key -> value.
STATE_TABLE: Final = "side_state"
#: The ledger's per-promoter balances, upserted with each batch: promoter id -> row.
BALANCES_TABLE: Final = "promoter_balances"
#: The ledger's per-promoter postings, one row per promoter and batch.
POSTINGS_TABLE: Final = "promoter_postings"


@dataclass(frozen=True, slots=True)
class SideTables:
    """The SQL of the tables kept beside the log, in one database's dialect.

    ``journal`` and ``state`` are the (schema-qualified, quoted) table names,
    ``p`` the driver's placeholder, ``upsert`` the statement that sets a key."""

    journal: str
    state: str
    p: str
    upsert: str
    balances: str = BALANCES_TABLE
    postings: str = POSTINGS_TABLE

    def insert_postings(self) -> str:
        p = self.p
        return f"INSERT INTO {self.postings} (promoter_id, position, value) VALUES ({p}, {p}, {p})"

    def select_postings(self) -> str:
        p = self.p
        return (
            f"SELECT position, value FROM {self.postings} WHERE promoter_id = {p} AND position > {p}"
            f" AND position <= {p} ORDER BY position LIMIT {p}"
        )

    def upsert_balance(self) -> str:
        p = self.p
        return (
            f"INSERT INTO {self.balances} (promoter_id, value) VALUES ({p}, {p})"
            " ON CONFLICT (promoter_id) DO UPDATE SET value = excluded.value"
        )

    def select_balances(self, count: int) -> str:
        return f"SELECT promoter_id, value FROM {self.balances} WHERE promoter_id IN ({', '.join([self.p] * count)})"

    def select_balances_after(self) -> str:
        p = self.p
        return f"SELECT promoter_id, value FROM {self.balances} WHERE promoter_id > {p} ORDER BY promoter_id LIMIT {p}"

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

_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(list[LogRecord])


def _header(records: Sequence[LogRecord]) -> bytes:
    return records[-1].head.encode("ascii") + b"%08x" % len(records)


def encode_batch(records: Sequence[LogRecord]) -> bytes:
    """The ``state`` of the batch row holding ``records`` (consecutive, checked)."""
    return _header(records) + _encoder.encode(records)


def batch_topic(records: Sequence[LogRecord]) -> str:
    """The ``topic`` of the batch row holding ``records``: the format and the header."""
    return HEADED_BATCH_TOPIC + _header(records).decode("ascii")


def legacy_row_state(record: LogRecord) -> bytes:
    """The ``state`` of a 0.1.0 row (one record): for tests and the migration docs."""
    return record.head.encode("ascii") + record.event


def _row_bytes(version: int, state: object) -> bytes:
    if state is None:
        raise CorruptLog(f"position {version}: stored row holds no bytes (NULL, or a value of another type)")
    if not isinstance(state, (bytes, bytearray, memoryview)):
        raise CorruptLog(f"position {version}: stored row is {type(state).__name__}, not bytes")
    return bytes(state)


def decode_row(version: int, topic: object, state: object) -> list[LogRecord]:
    """The records one stored row holds, in order; :class:`CorruptLog` naming the
    row's first position when it cannot be read as a whole.

    Damage *inside* an event or a head still decodes (to something that cannot
    match the chain): ``verify``, not the store, names where the log was altered."""
    state = _row_bytes(version, state)
    headed = isinstance(topic, str) and topic.startswith(HEADED_BATCH_TOPIC)
    if headed or topic == BATCH_TOPIC:
        if headed and str(topic)[len(HEADED_BATCH_TOPIC) :].encode("ascii", errors="replace") != state[:HEADER_BYTES]:
            raise CorruptLog(f"position {version}: stored batch header differs from the one its row's topic names")
        try:
            records = _decoder.decode(memoryview(state)[HEADER_BYTES:])
            count = int(state[HEAD_HEX_CHARS:HEADER_BYTES], 16)
        except (msgspec.DecodeError, ValueError) as exc:
            raise CorruptLog(f"position {version}: stored batch does not decode ({exc})") from None
        if not records or records[0].position != version or len(records) != count:
            raise CorruptLog(f"position {version}: stored batch does not match its row (version, record count)")
        if records[-1].head.encode("ascii", errors="replace") != state[:HEAD_HEX_CHARS]:
            raise CorruptLog(f"position {version}: stored batch header names another head than its last record")
        return records
    if topic == RECORD_TOPIC:
        head = state[:HEAD_HEX_CHARS].decode("ascii", errors="replace")
        return [LogRecord(version, state[HEAD_HEX_CHARS:], head)]
    raise CorruptLog(f"position {version}: unknown record format {topic!r}")


def topic_end(version: int, topic: object) -> tuple[int, str] | None:
    """``(last position, head)`` of a row from its ``topic`` alone, or ``None`` when
    the topic does not hold the header (a ``log-batch@1`` row, or a damaged topic)."""
    if not isinstance(topic, str) or not topic.startswith(HEADED_BATCH_TOPIC):
        return None
    return row_end(version, BATCH_TOPIC, topic[len(HEADED_BATCH_TOPIC) :].encode("ascii", errors="replace"))


def row_end(version: int, topic: object, header: object) -> tuple[int, str]:
    """``(last position, head)`` of a row from its first :data:`HEADER_BYTES` bytes."""
    header = _row_bytes(version, header)
    if len(header) != HEADER_BYTES and topic == BATCH_TOPIC:
        raise CorruptLog(f"position {version}: stored batch header is unreadable")
    head = header[:HEAD_HEX_CHARS].decode("ascii", errors="replace")
    if topic == BATCH_TOPIC:
        try:
            count = int(header[HEAD_HEX_CHARS:HEADER_BYTES], 16)
        except ValueError:
            raise CorruptLog(f"position {version}: stored batch header is unreadable") from None
        return version + count - 1, head
    if topic == RECORD_TOPIC:
        return version, head
    raise CorruptLog(f"position {version}: unknown record format {topic!r}")


class Cursor(Protocol):
    """The part of a DB-API cursor (sqlite3, psycopg) the store uses."""

    def execute(self, statement: Any, params: Sequence[Any] = ..., /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def executemany(self, statement: Any, params: Sequence[Sequence[Any]], /) -> Any: ...


class RecordedStore(LogStore):
    """A :class:`LogStore` over an eventsourcing aggregate-recorder table.

    The recorder creates the tables and writes checkpoints; the log's rows are
    read and written with plain statements on the recorder's connections.
    Subclasses supply the connections (:meth:`_reading`, :meth:`_writing`), the
    table names and their driver's errors; everything else lives here, once."""

    #: ``%s`` placeholders; SQLite's subclass rewrites them to ``?``.
    _events_table: str
    _checkpoints_table: str
    _originator: object  #: how the driver binds LOG_ORIGINATOR_ID
    #: How a row's ``state`` is selected (SQLite's subclass turns a value of another
    #: type than its column's into ``NULL``, which :func:`decode_row` refuses by position).
    _state_column: str = "state"

    def __init__(
        self,
        url: str,
        recorder: AggregateRecorder,
        *,
        display: str | None = None,
        checkpoints: AggregateRecorder | None = None,
    ) -> None:
        self.url = url
        #: Checkpoints of projected state live in a second table of the same layout,
        #: like eventsourcing's snapshots: version = the log position they stand at.
        self._checkpoints = checkpoints
        #: How messages name this store (no password).
        self.display = display or url
        self._recorder = recorder
        self._closed = False
        t = self._events_table
        # The table's last row, reached without comparing keys: on SQLite the table is WITHOUT
        # ROWID, and a keyed seek loads every big batch row it compares with (a few MB). Its
        # rows are this log's only, unless someone else wrote there; then the keyed query.
        self._sql_last_row = self._statement(
            f"SELECT originator_id, originator_version, topic FROM {t}"
            " ORDER BY originator_id DESC, originator_version DESC LIMIT 1"
        )
        self._sql_head = self._statement(
            f"SELECT originator_version, topic FROM {t} WHERE originator_id = %s ORDER BY originator_version DESC LIMIT 1"
        )
        state = self._state_column
        self._sql_row_at = self._statement(
            f"SELECT originator_version, topic, {state} FROM {t}"
            " WHERE originator_id = %s AND originator_version <= %s ORDER BY originator_version DESC LIMIT 1"
        )
        c = self._checkpoints_table
        self._sql_checkpoint_insert = self._statement(
            f"INSERT INTO {c} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %b)"
            " ON CONFLICT (originator_id, originator_version) DO NOTHING"
        )
        self._sql_checkpoint_prune = self._statement(
            f"DELETE FROM {c} WHERE originator_id = %s AND originator_version < %s"
        )
        self._sql_checkpoint_after = self._statement(
            f"SELECT originator_version, topic, state FROM {c} WHERE originator_id = %s AND originator_version > %s"
            " ORDER BY originator_version LIMIT 1"
        )
        self._sql_checkpoint_newest = self._statement(
            f"SELECT originator_version, topic, state FROM {c} WHERE originator_id = %s"
            " ORDER BY originator_version DESC LIMIT 1"
        )
        self._sql_topic_at = self._statement(
            f"SELECT originator_version, topic FROM {t}"
            " WHERE originator_id = %s AND originator_version <= %s ORDER BY originator_version DESC LIMIT 1"
        )
        self._sql_state_header = self._statement(
            f"SELECT substr(state, 1, {HEADER_BYTES}) FROM {t} WHERE originator_id = %s AND originator_version = %s"
        )
        self._sql_range = self._statement(
            f"SELECT originator_version, topic, {state} FROM {t}"
            " WHERE originator_id = %s AND originator_version >= %s AND originator_version <= %s"
            " ORDER BY originator_version"
        )
        self._sql_next = self._statement(
            f"SELECT min(originator_version) FROM {t} WHERE originator_id = %s AND originator_version > %s"
        )
        self._sql_insert = self._statement(
            f"INSERT INTO {t} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %b)"
        )

    # -- the contract -------------------------------------------------------

    def head(self) -> tuple[int, str]:
        with self._reading("read") as cursor:
            return self._head(cursor)

    def append(
        self,
        records: Sequence[LogRecord],
        journal: Sequence[JournalEntry] = (),
        state: StateChanges | None = None,
        balances: BalanceRows | None = None,
        postings: PostingRows | None = None,
    ) -> None:
        check_side_data(journal, state, balances, postings)
        if not records and not journal and not state and not balances and not postings:
            return
        if records:
            check_batch(records)
            row, topic = encode_batch(records), batch_topic(records)
        side = self._side
        with self._writing("append") as cursor:
            if records:
                first, last = records[0].position, records[-1].position
                stored_position, _ = self._head(cursor)
                if stored_position >= first:
                    raise ConcurrencyConflict(
                        f"positions {first}..{last}: another writer stored them first; the log is at {stored_position}"
                    )
                if stored_position < first - 1:
                    raise UsageError(f"records: position {first} leaves a gap; the log is at {stored_position}")
                self._insert_row(cursor, first, topic, row, f"positions {first}..{last}")
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
            if balances:
                cursor.executemany(side.upsert_balance(), sorted(balances.items()))
            if postings:
                try:
                    cursor.executemany(side.insert_postings(), postings)
                except Exception as error:
                    if self._is_key_clash(error):
                        raise ConcurrencyConflict("postings: another writer stored these rows first") from error
                    raise

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

    def read_balances(self, promoter_ids: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        unique = sorted(set(promoter_ids))
        for start in range(0, len(unique), JOURNAL_PAGE):
            chunk = unique[start : start + JOURNAL_PAGE]
            for key, value in self._query(self._side.select_balances(len(chunk)), tuple(chunk)):
                found[key] = bytes(value)
        return found

    def balance_items(self) -> Iterator[tuple[str, bytes]]:
        after, statement = "", self._side.select_balances_after()
        while True:
            rows = self._query(statement, (after, JOURNAL_PAGE))
            for key, value in rows:
                yield key, bytes(value)
            if len(rows) < JOURNAL_PAGE:
                return
            after = rows[-1][0]

    def read_postings(self, promoter_id: str, until: int | None = None) -> Iterator[tuple[int, bytes]]:
        after, stop = 0, (2**63 - 1 if until is None else until)
        statement = self._side.select_postings()
        while True:
            rows = self._query(statement, (promoter_id, after, stop, JOURNAL_PAGE))
            for position, value in rows:
                yield position, bytes(value)
            if len(rows) < JOURNAL_PAGE:
                return
            after = rows[-1][0]

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
        start = max(start, 1)
        if stop is not None and stop < start:
            return
        # The first row to read is the one holding ``start``: the last one at or before it.
        with self._reading("read") as cursor:
            cursor.execute(self._sql_row_at, (self._originator, start))
            found = cursor.fetchone()
        low = found[0] if found is not None else start
        while True:
            high = low + READ_WINDOW_POSITIONS - 1
            if stop is not None:
                high = min(high, stop)
            with self._reading("read") as cursor:
                cursor.execute(self._sql_range, (self._originator, low, high))
                rows = cursor.fetchall()
            for version, topic, state in rows:
                records = decode_row(version, topic, state)
                if records[0].position >= start and (stop is None or records[-1].position <= stop):
                    yield from records
                else:
                    for record in records:
                        if record.position >= start and (stop is None or record.position <= stop):
                            yield record
            if stop is not None and high >= stop:
                return
            if not rows:  # nothing in this window: skip to the next row, if any (a damaged log)
                with self._reading("read") as cursor:
                    cursor.execute(self._sql_next, (self._originator, high))
                    following = cursor.fetchone()
                if following is None or following[0] is None:
                    return
                low = following[0]
            else:
                low = high + 1

    def record_at(self, position: int) -> LogRecord | None:
        if position < 1:
            return None
        with self._reading("read") as cursor:
            cursor.execute(self._sql_row_at, (self._originator, position))
            row = cursor.fetchone()
        if row is None:
            return None
        for record in decode_row(row[0], row[1], row[2]):
            if record.position == position:
                return record
        return None

    def head_at(self, position: int) -> str | None:
        if position < 1:
            return None
        with self._reading("read") as cursor:
            cursor.execute(self._sql_topic_at, (self._originator, position))
            row = cursor.fetchone()
            if row is None:
                return None
            end, head = self._row_end(cursor, row[0], row[1])
        if end == position:
            return head  # the batch's header: no need to decode the batch
        return super().head_at(position)

    def save_checkpoint(self, position: int, blob: bytes) -> None:
        """One transaction: insert the checkpoint (binary, a plain INSERT) unless one
        stands at that position, and delete the older ones."""
        self._ensure_open()
        if self._checkpoints is None:
            return
        with self._writing("checkpoint") as cursor:
            cursor.execute(self._sql_checkpoint_insert, (self._originator, position, CHECKPOINT_TOPIC, blob))
            cursor.execute(self._sql_checkpoint_prune, (self._originator, position))

    def load_checkpoint(self) -> tuple[int, bytes] | None:
        self._ensure_open()
        if self._checkpoints is None:
            return None
        with self._reading("read checkpoint") as cursor:
            cursor.execute(self._sql_checkpoint_newest, (self._originator,))
            row = cursor.fetchone()
        if row is None or row[1] != CHECKPOINT_TOPIC or not isinstance(row[2], (bytes, bytearray, memoryview)):
            return None
        return int(row[0]), bytes(row[2])

    def checkpoints(self) -> Iterator[tuple[int, bytes]]:
        self._ensure_open()
        if self._checkpoints is None:
            return
        after = 0
        while True:
            with self._reading("read checkpoints") as cursor:
                cursor.execute(self._sql_checkpoint_after, (self._originator, after))
                row = cursor.fetchone()
            if row is None:
                return
            after = int(row[0])
            if row[1] == CHECKPOINT_TOPIC and isinstance(row[2], (bytes, bytearray, memoryview)):
                yield after, bytes(row[2])

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    # -- shared steps -------------------------------------------------------

    def _head(self, cursor: Cursor) -> tuple[int, str]:
        cursor.execute(self._sql_last_row)
        last = cursor.fetchone()
        if last is not None and last[0] == self._originator:
            return self._row_end(cursor, last[1], last[2])
        if last is not None:  # the table's last row is another originator's: find the log's own
            cursor.execute(self._sql_head, (self._originator,))
            row = cursor.fetchone()
            if row is not None:
                return self._row_end(cursor, row[0], row[1])
        return 0, GENESIS_HEAD

    def _row_end(self, cursor: Cursor, version: int, topic: object) -> tuple[int, str]:
        """``(last position, head)`` of the row at ``version``: from its topic, or
        (a ``log-batch@1`` row) from the header at the start of its state."""
        end = topic_end(version, topic)
        if end is not None:
            return end
        cursor.execute(self._sql_state_header, (self._originator, version))
        found = cursor.fetchone()
        if found is None:  # the row went away between the two reads: only a rewrite of the log does that
            raise CorruptLog(f"position {version}: stored row vanished while it was read")
        return row_end(version, topic, found[0])

    def _insert_row(self, cursor: Cursor, version: int, topic: str, state: bytes, what: str) -> None:
        """Insert one batch row; a clash on the primary key is a :class:`ConcurrencyConflict`."""
        try:
            cursor.execute(self._sql_insert, (self._originator, version, topic, state))
        except Exception as error:
            if self._is_key_clash(error):
                raise ConcurrencyConflict(f"{what}: another writer stored them first") from error
            raise

    # -- for subclasses -----------------------------------------------------

    def _statement(self, text: str) -> Any:
        """``text`` in the driver's parameter style."""
        return text

    @abstractmethod
    def _reading(self, action: str) -> AbstractContextManager[Cursor]:
        """A cursor for reads (no transaction held between statements of a page)."""

    @abstractmethod
    def _writing(self, action: str) -> AbstractContextManager[Cursor]:
        """A cursor in one write transaction: committed when the block ends,
        rolled back if it raises; driver errors become :class:`StoreError`."""

    @abstractmethod
    def _is_key_clash(self, error: BaseException) -> bool:
        """Whether ``error`` is the primary key refusing a taken version."""

    #: The SQL of the journal and side-state tables (set by subclasses).
    _side: SideTables

    def _query(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._reading("read") as cursor:
            cursor.execute(statement, params)
            return [tuple(row) for row in cursor.fetchall()]

    def _close(self) -> None:
        """Release the recorder's connections."""

    def _ensure_open(self) -> None:
        if self._closed:
            raise StoreError(f"store {self.display}: used after close()")

    def _store_error(self, action: str, error: Exception) -> StoreError:
        """The error to raise when the driver fails during ``action``."""
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return StoreError(f"store {self.display}: {action} failed: {message}")
