"""The SQLite layout of ``promoter_postings``: rows appended in batch order, a unique index by promoter.

Keyed by ``(promoter_id, position)`` itself (a WITHOUT ROWID table, as stores
made before this layout have it), every batch wrote into one page per
promoter it touched, all over the table, and ingest slowed as the table grew.
Either layout must read, write and refuse a second writer's rows the same way.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from supernova_ledger import Ledger
from supernova_ledger.errors import ConcurrencyConflict
from supernova_ledger.store import open_store

from contract_helpers import programme

OLD_LAYOUT = (
    "CREATE TABLE promoter_postings (promoter_id TEXT NOT NULL, position INTEGER NOT NULL, "
    "value BLOB NOT NULL, PRIMARY KEY (promoter_id, position)) WITHOUT ROWID"
)


def _schema(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'promoter_postings'").fetchall()
    return {name: sql or "" for name, sql in rows}


def _fill_and_explain(url: str) -> tuple[dict[str, object], dict[str, object]]:
    """A programme ingested in a few batches; one promoter's explain from the tables and from a replay."""
    events = list(programme(40))
    with Ledger.open(url) as ledger:
        for start in range(0, len(events), 150):
            ledger.append_batch(events[start : start + 150])
        promoter = next(p for p, b in sorted(ledger._book.promoters.items()) if b.level1_fen)
        replayed = ledger.explain(promoter, until=ledger._book.position).to_dict()  # until: a replay
    with Ledger.open(url) as reopened:
        from_tables = reopened.explain(promoter).to_dict()
        assert reopened._loaded is None  # answered from the tables, no fold
    return from_tables, replayed


def test_a_new_store_appends_rows_and_indexes_them_uniquely(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    from_tables, replayed = _fill_and_explain(f"sqlite:///{path}")
    assert from_tables == replayed
    schema = _schema(path)
    assert "WITHOUT ROWID" not in schema["promoter_postings"].upper()
    assert "UNIQUE INDEX" in schema["promoter_postings_key"].upper()
    with sqlite3.connect(path) as db:  # rowid order is batch order
        positions = [row[0] for row in db.execute("SELECT position FROM promoter_postings ORDER BY rowid")]
    assert positions == sorted(positions) and len(set(positions)) > 1


def test_a_store_with_the_old_layout_keeps_it_and_gets_no_second_index(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(OLD_LAYOUT)
    from_tables, replayed = _fill_and_explain(f"sqlite:///{path}")
    assert from_tables == replayed
    schema = _schema(path)
    assert "WITHOUT ROWID" in schema["promoter_postings"].upper()
    assert set(schema) == {"promoter_postings"}  # its primary key is the table: no index beside it


@pytest.mark.parametrize("layout", ["new", "old"])
def test_a_row_another_writer_stored_first_is_a_conflict_and_changes_nothing(tmp_path: Path, layout: str) -> None:
    path = tmp_path / f"{layout}.sqlite"
    if layout == "old":
        with sqlite3.connect(path) as db:
            db.execute(OLD_LAYOUT)
    with open_store(f"sqlite:///{path}") as store:
        store.append([], postings=[("A", 1, b"first")])
        with pytest.raises(ConcurrencyConflict):
            store.append([], postings=[("B", 1, b"other"), ("A", 1, b"second")])
        assert list(store.read_postings("A")) == [(1, b"first")]
        assert list(store.read_postings("B")) == []
