"""Opening stores by URL: what each URL means and how opening fails (one line, nothing created)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from supernova_ledger.errors import StoreUnavailable, UsageError
from supernova_ledger.store import MemoryStore, open_store
from supernova_ledger.store.postgres import PostgresStore, parse_postgres_url
from supernova_ledger.store.sqlite import SQLiteStore


def test_memory_urls_are_private_unless_named() -> None:
    a, b = open_store("memory:"), open_store("memory:")
    assert isinstance(a, MemoryStore)
    assert a._log is not b._log
    c, d = open_store("memory:shared-name"), open_store("memory:shared-name")
    assert c._log is d._log  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite:/relative.db", "sqlite://host/x.db", "sqlite:///", "", "ledger.db"])
def test_an_unsupported_url_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError):
        open_store(url)


def test_sqlite_paths_are_relative_to_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///rel.db") as store:
        assert isinstance(store, SQLiteStore)
        assert store.path == str(tmp_path / "rel.db")
    with open_store(f"sqlite:///{tmp_path}/abs.db") as store:
        assert isinstance(store, SQLiteStore)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abs.db", "rel.db"]


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    import sqlite3

    with open_store(f"sqlite:///{tmp_path}/w.db"):
        mode = sqlite3.connect(tmp_path / "w.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_sqlite_in_a_missing_directory_is_unavailable_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        open_store(f"sqlite:///{tmp_path}/missing/ledger.db")
    assert "missing/ledger.db" in raised.value.message and "\n" not in raised.value.message
    assert list(tmp_path.iterdir()) == []


def test_sqlite_on_a_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="directory"):
        open_store(f"sqlite:///{tmp_path}")


def test_sqlite_on_a_file_that_is_not_a_database_leaves_it_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    content = b"these are my notes, not a database\n" * 100
    path.write_bytes(content)
    with pytest.raises(StoreUnavailable) as raised:
        open_store(f"sqlite:///{path}")
    assert str(path) in raised.value.message and "not a database" in raised.value.message
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_sqlite_in_a_read_only_directory_is_unavailable(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o555)
    with pytest.raises(StoreUnavailable):
        open_store(f"sqlite:///{locked}/ledger.db")
    assert list(locked.iterdir()) == []


def test_postgres_urls_parse() -> None:
    target = parse_postgres_url("postgresql://ann:s%40cret@db.example:6543/books?schema=shop_1&connect_timeout=9")
    assert (target.user, target.password, target.host, target.port, target.dbname) == (
        "ann", "s@cret", "db.example", 6543, "books"
    )
    assert (target.schema, target.connect_timeout_s) == ("shop_1", 9)
    assert "cret" not in target.display
    assert parse_postgres_url("postgres://u@h/d").schema == "public"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@h/d?schema=Bad-Name",
        "postgresql://u@h/d?schema=a;drop",
        "postgresql://u@h/d?search_path=x",
        "postgresql://u@h/d?connect_timeout=0",
        "postgresql://u@h:notaport/d",
    ],
)
def test_bad_postgres_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError):
        parse_postgres_url(url)


def test_an_unreachable_postgres_is_unavailable_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as raised:
        open_store("postgresql://postgres:pw@127.0.0.1:1/test?connect_timeout=2")
    assert time.monotonic() - started < 5
    message = raised.value.message
    assert "127.0.0.1:1" in message and "pw" not in message and "\n" not in message


@pytest.mark.postgres
def test_postgres_keeps_each_schema_separate(postgres_url: str) -> None:
    from contract_helpers import chain

    with open_store(postgres_url) as store:
        assert isinstance(store, PostgresStore)
        store.append(chain(2))
    other_schema = postgres_url.replace("schema=t_", "schema=u_")
    try:
        with open_store(other_schema) as other:
            assert other.head()[0] == 0
    finally:
        import psycopg

        target = parse_postgres_url(other_schema)
        with psycopg.connect(host=target.host, port=target.port, user=target.user, dbname=target.dbname, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {target.schema} CASCADE")


def test_a_first_open_that_fails_midway_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from eventsourcing.sqlite import SQLiteAggregateRecorder

    real_create_table = SQLiteAggregateRecorder.create_table

    def create_then_fail(self: SQLiteAggregateRecorder) -> None:
        real_create_table(self)  # the file, its WAL and the table now exist
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(SQLiteAggregateRecorder, "create_table", create_then_fail)
    with pytest.raises(StoreUnavailable, match="disk I/O error"):
        open_store(f"sqlite:///{tmp_path}/new.db")
    assert list(tmp_path.iterdir()) == []
