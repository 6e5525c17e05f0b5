"""``postgresql://…`` — the server store, on eventsourcing's PostgreSQL recorder.

URL: ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?OPTIONS]`` (``postgres://``
too). Parts left out take libpq's defaults (``PGHOST``, ``PGUSER``, …).
Options:

``schema=NAME``
    keep the log in schema NAME (created on first open) instead of
    ``public``: one database can hold many independent ledgers, and tests
    isolate themselves with a schema each.
``connect_timeout=SECONDS``
    how long to wait for the server (default 3).

An unreachable server is :class:`StoreUnavailable` within ``connect_timeout``.
Every append is one transaction (a binary ``COPY`` into eventsourcing's
table) committed with the server's default ``synchronous_commit``, so it is
atomic and durable on return. The aggregate recorder takes no table lock:
concurrent writers are settled by the primary key alone (see :mod:`.recorded`).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from collections.abc import Iterator, Sequence
from typing import Any, Final
from urllib.parse import parse_qs, quote, unquote, urlsplit

import psycopg
from eventsourcing.persistence import PersistenceError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresDatastore
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import DictRow, tuple_row

from ..errors import NoLedger, StoreError, StoreUnavailable, UsageError
from .base import redact_url
from .recorded import (
    BALANCES_TABLE,
    JOURNAL_TABLE,
    LOG_ORIGINATOR_ID,
    POSTINGS_TABLE,
    STATE_TABLE,
    Cursor,
    RecordedStore,
    SideTables,
)

__all__ = ["PostgresStore", "PostgresTarget", "CopyingRecorder", "parse_postgres_url", "EVENTS_TABLE", "DEFAULT_CONNECT_TIMEOUT_S"]

#: The table of log records, in the URL's schema.
EVENTS_TABLE: Final = "stored_events"
#: The table of checkpoints (same layout; version = log position).
CHECKPOINTS_TABLE: Final = "checkpoints"
DEFAULT_CONNECT_TIMEOUT_S: Final = 3
#: Batches at least this long are inserted with COPY, shorter ones with one INSERT.
COPY_FROM_RECORDS: Final = 32
_MAX_CONNECT_TIMEOUT_S: Final = 600
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """What a ``postgresql://`` URL names."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    schema: str
    connect_timeout_s: int

    @property
    def display(self) -> str:
        """The URL without its password, for messages."""
        user = f"{quote(self.user)}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        query = f"?schema={self.schema}" if self.schema != "public" else ""
        return f"postgresql://{user}{self.host}{port}/{quote(self.dbname)}{query}"


def parse_postgres_url(url: str) -> PostgresTarget:
    shown = redact_url(url)  # messages never hold the password
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UsageError(f"store: {shown!r} is not a readable URL ({exc})") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise UsageError(f"store: {shown!r} is not a postgresql:// URL")
    try:
        port = parts.port or 0
    except ValueError:
        raise UsageError(f"store: {shown!r} has an invalid port") from None
    try:
        options = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise UsageError(f"store: {shown!r} has an unreadable query string") from None
    unknown = sorted(set(options) - {"schema", "connect_timeout"})
    if unknown:
        raise UsageError(f"store: unknown PostgreSQL URL option {unknown[0]!r} (use schema, connect_timeout)")
    schema = options.get("schema", ["public"])[-1]
    if not _SCHEMA_NAME.fullmatch(schema):
        raise UsageError(f"store: schema {schema!r} must match [a-z_][a-z0-9_]{{0,62}}")
    timeout_text = options.get("connect_timeout", [str(DEFAULT_CONNECT_TIMEOUT_S)])[-1]
    if not timeout_text.isdigit() or not 1 <= int(timeout_text) <= _MAX_CONNECT_TIMEOUT_S:
        raise UsageError(f"store: connect_timeout must be 1–{_MAX_CONNECT_TIMEOUT_S} seconds, got {timeout_text!r}")
    return PostgresTarget(
        host=parts.hostname or "",
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        dbname=unquote(parts.path.lstrip("/")),
        schema=schema,
        connect_timeout_s=int(timeout_text),
    )


class CopyingRecorder(PostgresAggregateRecorder):
    """eventsourcing's aggregate recorder, inserting a batch with one binary ``COPY``.

    Same table, same primary key, same errors (a clash is ``IntegrityError``);
    about ten times faster for large batches than the ``unnest`` of a
    composite array the base class sends, which psycopg dumps as text."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self._copy_statement = sql.SQL(
            "COPY {}.{} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"
        ).format(sql.Identifier(datastore.schema), sql.Identifier(events_table_name))

    def _insert_stored_events(self, curs: psycopg.Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        if len(stored_events) < COPY_FROM_RECORDS:  # one statement is quicker for a few
            super()._insert_stored_events(curs, stored_events, **kwargs)
            return
        with curs.connection.transaction(), curs.copy(self._copy_statement) as copy:
            copy.set_types(["uuid", "int8", "text", "bytea"])
            for event in stored_events:
                copy.write_row((event.originator_id, event.originator_version, event.topic, event.state))


class PostgresStore(RecordedStore):
    _originator = LOG_ORIGINATOR_ID

    def __init__(self, url: str, *, create: bool = True) -> None:
        target = parse_postgres_url(url)
        self.target = target
        # The schema name is checked against [a-z_][a-z0-9_]{0,62}: safe to quote as is.
        self._events_table = f'"{target.schema}"."{EVENTS_TABLE}"'
        self._checkpoints_table = f'"{target.schema}"."{CHECKPOINTS_TABLE}"'
        try:
            conninfo = make_conninfo("", **_connect_kwargs(target), connect_timeout=target.connect_timeout_s)
            probe = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as error:
            raise StoreUnavailable(
                f"store: cannot reach PostgreSQL {target.display}: {_first_line(error, target.password)}"
            ) from error
        try:
            with probe:
                if not create and not _holds_log(probe, target):
                    raise NoLedger(f"store: no ledger at {target.display} (read commands create none)")
                self._datastore, recorder, checkpoints = _prepare(probe, target, create=create)
        except (psycopg.Error, PersistenceError) as error:
            raise StoreUnavailable(
                f"store: cannot open PostgreSQL {target.display}: {_first_line(error, target.password)}"
            ) from error
        super().__init__(url, recorder, display=target.display, checkpoints=checkpoints)
        self._side = _side_tables(target.schema)

    def _close(self) -> None:
        self._datastore.close()

    @contextlib.contextmanager
    def _reading(self, action: str) -> Iterator[Cursor]:
        self._ensure_open()
        try:
            with self._datastore.get_connection() as connection, connection.cursor(
                binary=True, row_factory=tuple_row
            ) as cursor:
                yield cursor
        except (psycopg.Error, PersistenceError) as error:
            raise self._store_error(action, error) from error

    @contextlib.contextmanager
    def _writing(self, action: str) -> Iterator[Cursor]:
        self._ensure_open()
        try:
            with self._datastore.get_connection() as connection, connection.transaction(), connection.cursor(
                binary=True, row_factory=tuple_row
            ) as cursor:
                yield cursor
        except (psycopg.Error, PersistenceError) as error:
            raise self._store_error(action, error) from error

    def _is_key_clash(self, error: BaseException) -> bool:
        return isinstance(error, psycopg.errors.UniqueViolation)

    def _store_error(self, action: str, error: Exception) -> StoreError:
        if isinstance(error, PersistenceError) and "timeout" in str(error).lower():
            return StoreUnavailable(
                f"store {self.display}: {action} failed: server unreachable ({_first_line(error, self.target.password)})"
            )
        found = super()._store_error(action, error)
        if self.target.password and self.target.password in found.message:
            return type(found)(found.message.replace(self.target.password, "***"))
        return found


def _side_tables(schema: str) -> SideTables:
    """Schema names are checked against ``_SCHEMA_NAME``, so quoting them is safe."""
    journal, state = f'"{schema}".{JOURNAL_TABLE}', f'"{schema}".{STATE_TABLE}'
    return SideTables(
        journal=journal,
        state=state,
        balances=f'"{schema}".{BALANCES_TABLE}',
        postings=f'"{schema}".{POSTINGS_TABLE}',
        p="%s",
        upsert=f"INSERT INTO {state} (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
    )


def _create_side_tables(probe: psycopg.Connection[object], schema: str) -> None:
    side = _side_tables(schema)
    probe.execute(
        f"CREATE TABLE IF NOT EXISTS {side.journal} (seq BIGSERIAL PRIMARY KEY, position BIGINT NOT NULL, "
        "code TEXT NOT NULL, promoter_id TEXT, group_id TEXT, entry BYTEA NOT NULL)"
    )
    for column in ("code", "promoter_id", "group_id"):
        probe.execute(
            f'CREATE INDEX IF NOT EXISTS {JOURNAL_TABLE}_{column} ON {side.journal} ({column}, seq)'
        )
    probe.execute(f"CREATE TABLE IF NOT EXISTS {side.state} (key TEXT PRIMARY KEY, value BYTEA NOT NULL)")
    probe.execute(f"CREATE TABLE IF NOT EXISTS {side.balances} (promoter_id TEXT PRIMARY KEY, value BYTEA NOT NULL)")
    probe.execute(
        f"CREATE TABLE IF NOT EXISTS {side.postings} (promoter_id TEXT NOT NULL, position BIGINT NOT NULL, "
        "value BYTEA NOT NULL, PRIMARY KEY (promoter_id, position))"
    )


def _connect_kwargs(target: PostgresTarget) -> dict[str, str | int]:
    kwargs: dict[str, str | int] = {"dbname": target.dbname, "user": target.user, "password": target.password}
    kwargs["host"] = target.host
    if target.port:
        kwargs["port"] = target.port
    return {key: value for key, value in kwargs.items() if value != ""}


def _holds_log(probe: psycopg.Connection[object], target: PostgresTarget) -> bool:
    """Whether the schema already holds the log table (asked without creating anything)."""
    row = probe.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (target.schema, EVENTS_TABLE),
    ).fetchone()
    return row is not None


def _prepare(
    probe: psycopg.Connection[object], target: PostgresTarget, *, create: bool = True
) -> tuple[PostgresDatastore, CopyingRecorder, PostgresAggregateRecorder]:
    """Create schema, type and table once, serialised across processes by an advisory lock.

    ``create=False`` (read commands) runs no DDL at all, so a role with only
    ``USAGE`` on the schema and ``SELECT`` on its tables can read the ledger."""
    lock_key = int.from_bytes(hashlib.sha256(f"supernova-ledger:{target.schema}".encode()).digest()[:8], "big", signed=True)
    probe.execute("SELECT pg_advisory_lock(%s)", (lock_key,))
    if create and target.schema != "public":
        probe.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(target.schema)))
    datastore = PostgresDatastore(
        dbname=target.dbname,
        host=target.host,
        port=target.port or "",
        user=target.user,
        password=target.password,
        connect_timeout=float(target.connect_timeout_s),
        pool_size=1,
        max_overflow=3,
        schema=target.schema,
    )
    # libpq's own timeout, for every pooled connection (the pool's bounds the wait).
    pool_kwargs = datastore.pool.kwargs
    if isinstance(pool_kwargs, dict):
        pool_kwargs["connect_timeout"] = target.connect_timeout_s
    try:
        recorder = CopyingRecorder(datastore, events_table_name=EVENTS_TABLE)
        checkpoints = PostgresAggregateRecorder(datastore, events_table_name=CHECKPOINTS_TABLE)
        if create:
            recorder.create_table()
            checkpoints.create_table()
            _create_side_tables(probe, target.schema)
    except BaseException:
        datastore.close()
        raise
    probe.execute("SELECT pg_advisory_unlock(%s)", (lock_key,))
    return datastore, recorder, checkpoints


def _first_line(error: BaseException, password: str = "") -> str:
    """The first line of a driver's message, the password (should the driver quote it) masked."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line.replace(password, "***") if password else line
