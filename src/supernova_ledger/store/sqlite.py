"""``sqlite:///PATH`` — the embedded store, on eventsourcing's SQLite recorder.

``sqlite:///ledger.db`` is ``ledger.db`` relative to the working directory,
``sqlite:////var/lib/ledger.db`` the absolute path ``/var/lib/ledger.db``.
The file is created on first open. The database runs in WAL mode with
``synchronous=FULL``: once :meth:`append` returns, the records survive a crash
of the process or the machine. Several processes may write one file; SQLite
serialises their transactions and the primary key settles who got a position
(see :mod:`.recorded`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from typing import Any, Final
from urllib.request import pathname2url

from eventsourcing.persistence import PersistenceError
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
)

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

__all__ = ["SQLiteStore", "sqlite_path", "EVENTS_TABLE", "LOCK_TIMEOUT_S"]

URL_PREFIX: Final = "sqlite:///"
#: The table of log records (eventsourcing's stored-events layout).
EVENTS_TABLE: Final = "stored_events"
#: The table of checkpoints (same layout; version = log position).
CHECKPOINTS_TABLE: Final = "checkpoints"
_SIDE: Final = SideTables(
    journal=JOURNAL_TABLE,
    state=STATE_TABLE,
    p="?",
    upsert=f"INSERT INTO {STATE_TABLE} (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
)
_CREATE_SIDE_TABLES: Final = (
    f"CREATE TABLE IF NOT EXISTS {JOURNAL_TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "position INTEGER NOT NULL, code TEXT NOT NULL, promoter_id TEXT, group_id TEXT, entry BLOB NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {JOURNAL_TABLE}_code ON {JOURNAL_TABLE} (code, seq)",
    f"CREATE INDEX IF NOT EXISTS {JOURNAL_TABLE}_promoter ON {JOURNAL_TABLE} (promoter_id, seq)",
    f"CREATE INDEX IF NOT EXISTS {JOURNAL_TABLE}_group ON {JOURNAL_TABLE} (group_id, seq)",
    f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
    f"CREATE TABLE IF NOT EXISTS {BALANCES_TABLE} (promoter_id TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
    # Rows go to the end of the table (rowid order = batch order); only the small index entries
    # land all over the key space. Keyed by (promoter_id, position) itself, every batch dirtied a
    # page per promoter it touched, and ingest slowed as the table grew (50k → 22k events/s of CPU
    # over the 1M workload). Stores made before keep their table, and need no index.
    f"CREATE TABLE IF NOT EXISTS {POSTINGS_TABLE} (promoter_id TEXT NOT NULL, position INTEGER NOT NULL, "
    "value BLOB NOT NULL)",
)
_POSTINGS_INDEX: Final = (
    f"CREATE UNIQUE INDEX IF NOT EXISTS {POSTINGS_TABLE}_key ON {POSTINGS_TABLE} (promoter_id, position)"
)
#: How long a writer waits for another process's transaction to finish.
LOCK_TIMEOUT_S: Final = 15


def sqlite_path(url: str) -> str:
    """The file a ``sqlite:///PATH`` URL names, as given (maybe relative)."""
    if not url.startswith(URL_PREFIX):
        raise UsageError(f"store: {redact_url(url)!r} is not a sqlite:///PATH URL")
    path = url[len(URL_PREFIX) :]
    if not path:
        raise UsageError(f"store: {url!r} names no file (sqlite:///PATH)")
    if ":memory:" in path or "mode=memory" in path:
        raise UsageError(f"store: {url!r} is an in-memory database; use memory:")
    return path


class _DurablePool(SQLiteConnectionPool):
    """eventsourcing's pool, each connection set to fsync every commit."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=FULL")
        return connection


class _Datastore(SQLiteDatastore):
    def __init__(self, path: str) -> None:
        super().__init__(path, lock_timeout=LOCK_TIMEOUT_S)
        self.pool = _DurablePool(db_name=path, lock_timeout=LOCK_TIMEOUT_S)


def _read_only_uri(path: str) -> str:
    return f"file:{pathname2url(path)}?mode=ro"


class SQLiteStore(RecordedStore):
    """``create=False`` (read commands): refuse (:class:`NoLedger`) a file that
    does not exist or holds no log, and create no table. The file is opened
    read-only when this process may not write it (a store shared with another
    user); otherwise read-write, so that SQLite removes its ``-wal``/``-shm``
    files when the last connection closes (a read-only connection cannot)."""

    _events_table = EVENTS_TABLE
    _checkpoints_table = CHECKPOINTS_TABLE
    _originator = LOG_ORIGINATOR_ID.hex  # eventsourcing's SQLite layout: the hex, no dashes
    # a column holds any type in SQLite: a TEXT state would fail the whole page's read (it is
    # decoded as UTF-8), so anything but a BLOB reads as NULL and is refused by its position
    _state_column = "CASE WHEN typeof(state) = 'blob' THEN state END"

    def __init__(self, url: str, *, create: bool = True) -> None:
        path = sqlite_path(url)
        self.path = os.path.abspath(path)
        _check_openable(path, self.path)
        existed = os.path.exists(self.path)
        if not create:
            _check_holds_log(path, self.path)
        read_only = not create and not os.access(self.path, os.W_OK)
        datastore = _Datastore(_read_only_uri(self.path) if read_only else self.path)
        recorder = SQLiteAggregateRecorder(datastore, events_table_name=EVENTS_TABLE)
        checkpoints = SQLiteAggregateRecorder(datastore, events_table_name=CHECKPOINTS_TABLE)
        try:
            if create:
                recorder.create_table()
                checkpoints.create_table()
            else:
                with datastore.transaction(commit=False) as cursor:
                    cursor.execute(f"SELECT 1 FROM {EVENTS_TABLE} LIMIT 1")
            if not read_only:  # the side tables join an existing log too (a store from before them)
                with datastore.transaction(commit=True) as cursor:
                    for statement in _CREATE_SIDE_TABLES:
                        cursor.execute(statement)
                    cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (POSTINGS_TABLE,))
                    if "WITHOUT ROWID" not in cursor.fetchone()[0].upper():
                        cursor.execute(_POSTINGS_INDEX)
            if not datastore.pool.is_journal_mode_wal:
                raise StoreError("WAL journal mode could not be set")
        except (sqlite3.Error, PersistenceError, StoreError) as error:
            datastore.close()
            if not existed and not _is_lock_error(error):
                _remove_created(self.path)
            raise StoreUnavailable(f"store: cannot open SQLite database {path}: {_first_line(error)}") from error
        self._datastore = datastore
        super().__init__(url, recorder, display=path, checkpoints=checkpoints)

    _side = _SIDE

    def _close(self) -> None:
        self._datastore.close()

    def _statement(self, text: str) -> Any:
        return text.replace("%s", "?").replace("%b", "?")

    @contextlib.contextmanager
    def _reading(self, action: str) -> Iterator[Cursor]:
        self._ensure_open()
        try:
            with self._datastore.get_connection(commit=False) as connection, connection.cursor() as cursor:
                yield cursor
        except (sqlite3.Error, PersistenceError) as error:
            raise self._store_error(action, error) from error

    @contextlib.contextmanager
    def _writing(self, action: str) -> Iterator[Cursor]:
        """``BEGIN IMMEDIATE``: the write lock is taken before the first read, so
        the end-of-log check and the insert are one atomic step."""
        self._ensure_open()
        try:
            with self._datastore.get_connection(commit=True) as connection, connection.cursor() as cursor:
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield cursor
                except BaseException:
                    connection.rollback()
                    raise
                connection.commit()
        except (sqlite3.Error, PersistenceError) as error:
            raise self._store_error(action, error) from error

    def _is_key_clash(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.IntegrityError)

    def _store_error(self, action: str, error: Exception) -> StoreError:
        if _is_lock_error(error):
            return StoreUnavailable(
                f"store {self.display}: {action} failed: database stayed locked for {LOCK_TIMEOUT_S} s"
            )
        return super()._store_error(action, error)


def _check_openable(path: str, absolute: str) -> None:
    if os.path.isdir(absolute):
        raise StoreUnavailable(f"store: cannot open SQLite database {path}: it is a directory")
    directory = os.path.dirname(absolute)
    if not os.path.isdir(directory):
        raise StoreUnavailable(f"store: cannot open SQLite database {path}: no directory {directory}")
    if not os.path.exists(absolute) and not os.access(directory, os.W_OK):
        raise StoreUnavailable(f"store: cannot open SQLite database {path}: directory {directory} is not writable")


def _check_holds_log(path: str, absolute: str) -> None:
    """Raise NoLedger unless ``absolute`` is an SQLite file holding the log table (reads only)."""
    if not os.path.exists(absolute):
        raise NoLedger(f"store: no ledger at {path} (no such file; read commands create none)")
    try:
        with contextlib.closing(sqlite3.connect(_read_only_uri(absolute), uri=True)) as db:
            found = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (EVENTS_TABLE,)
            ).fetchone()
    except sqlite3.Error as error:
        raise StoreUnavailable(f"store: cannot open SQLite database {path}: {_first_line(error)}") from error
    if found is None:
        raise NoLedger(f"store: no ledger at {path} (the file holds no {EVENTS_TABLE} table)")


def _is_lock_error(error: BaseException) -> bool:
    """Another connection holds the database: the file is in use, not ours to remove."""
    return "locked" in str(error) or "busy" in str(error)


def _remove_created(path: str) -> None:
    """Undo the files a failed first open left behind — unless they hold a log
    by now (another process may have opened the same new path meanwhile)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{pathname2url(path)}?mode=ro", uri=True)) as db:
            if db.execute(f"SELECT 1 FROM {EVENTS_TABLE} LIMIT 1").fetchone() is not None:
                return
    except sqlite3.Error:
        pass  # no table, not a database, or no file: nothing of value
    for name in (path, path + "-wal", path + "-shm", path + "-journal"):
        try:
            os.remove(name)
        except FileNotFoundError:
            pass


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
