"""Stores written by 0.1.0 (one row per event) still open, and ``migrate`` converts them;
stores of the first batch layout (``log-batch@1``: the header only in ``state``) open and grow.

The old rows are written here directly, in the 0.1.0 format (topic
``supernova_ledger/log-record@1``, state = 64 hex of the head + the event)
or the first batch layout (topic ``supernova_ledger/log-batch@1``), as those writers left them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from supernova_ledger import Ledger
from supernova_ledger.store import LogRecord, open_store
from supernova_ledger.errors import CorruptLog
from supernova_ledger.store.recorded import (
    BATCH_TOPIC,
    HEADED_BATCH_TOPIC,
    LOG_ORIGINATOR_ID,
    RECORD_TOPIC,
    batch_topic,
    encode_batch,
    legacy_row_state,
)

from contract_helpers import programme, run_cli, sql_on_store

EVENTS = list(programme(12))  # ~150 events, a few rejected payouts


def _reference() -> tuple[list[LogRecord], dict[str, object]]:
    """The records and report of EVENTS ingested by the current code."""
    with Ledger.open("memory:") as ledger:
        ledger.append_batch(EVENTS)
        return list(ledger.store.read()), ledger.report()


def _write_legacy(url: str, records: list[LogRecord]) -> None:
    """A store as 0.1.0 wrote it: one row per record."""
    open_store(url).close()  # the tables
    originator: object = LOG_ORIGINATOR_ID.hex if url.startswith("sqlite") else LOG_ORIGINATOR_ID
    for record in records:
        sql_on_store(url, "INSERT INTO {t} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)",
             (originator, record.position, RECORD_TOPIC, legacy_row_state(record)))


def _rows(url: str) -> list[tuple[object, ...]]:
    return [(int(v), str(t), bytes(s)) for v, t, s in  # type: ignore[call-overload]
            sql_on_store(url, "SELECT originator_version, topic, state FROM {t} ORDER BY originator_version")]


@pytest.fixture
def legacy_url(durable_url: str) -> str:
    records, _ = _reference()
    _write_legacy(durable_url, records)
    assert {topic for _, topic, _ in _rows(durable_url)} == {RECORD_TOPIC}
    return durable_url


def test_a_store_written_by_0_1_0_opens_reads_and_verifies(legacy_url: str) -> None:
    records, report = _reference()
    with open_store(legacy_url) as store:
        assert list(store.read()) == records
        assert store.head() == (len(records), records[-1].head)
        assert store.record_at(7) == records[6]
        assert list(store.read(5, 9)) == records[4:9]
    with Ledger.open(legacy_url) as ledger:
        assert ledger.report() == report
    verified = run_cli("verify", store=legacy_url)
    assert verified.returncode == 0, verified.stderr
    assert records[-1].head in verified.stdout


def test_appending_to_a_0_1_0_store_adds_batch_rows_and_the_log_reads_as_one(legacy_url: str) -> None:
    records, _ = _reference()
    extra = [{"type": "PromoterJoined", "id": f"late-{k}", "at": "2026-12-20T10:00:00+08:00",
              "promoter_id": f"late-{k}", "program": "fenxiang", "city": "临沂", "city_tier": 2} for k in range(3)]
    with Ledger.open(legacy_url) as ledger:
        assert {o.status for o in ledger.append_batch(extra)} == {"accepted"}
        mixed = ledger.report()
    with Ledger.open("memory:") as fresh:
        fresh.append_batch(EVENTS)
        fresh.append_batch(extra)
        assert fresh.report() == mixed
    rows = _rows(legacy_url)
    assert [topic for _, topic, _ in rows[:-1]] == [RECORD_TOPIC] * len(records)
    assert rows[-1][1] == HEADED_BATCH_TOPIC + mixed["log_head"] + "00000003"  # type: ignore[operator]
    assert rows[-1][0] == len(records) + 1
    assert run_cli("verify", store=legacy_url).returncode == 0


def test_verify_names_an_altered_event_in_a_0_1_0_row(legacy_url: str) -> None:
    records, _ = _reference()
    target = records[9]
    sql_on_store(legacy_url, "UPDATE {t} SET state = %s WHERE originator_version = %s",
         (legacy_row_state(LogRecord(target.position, target.event.replace(b'"id":"', b'"id":"X', 1), target.head)), 10))
    result = run_cli("verify", store=legacy_url)
    assert result.returncode == 1
    assert "position 10" in result.stderr


# -- migrate --------------------------------------------------------------------------------


def test_migrate_converts_a_0_1_0_store_and_leaves_it_untouched(legacy_url: str, tmp_path: Path) -> None:
    records, report = _reference()
    before = _rows(legacy_url)
    target = f"sqlite:///{tmp_path / 'migrated.db'}"
    result = run_cli("migrate", "--to", target, store=legacy_url)
    assert result.returncode == 0, result.stderr
    assert f"ok: {len(records)} events, log_head {records[-1].head}" in result.stdout
    assert _rows(legacy_url) == before  # the source is only read
    migrated = _rows(target)
    assert [topic for _, topic, _ in migrated] == [batch_topic(records)]
    with Ledger.open(target) as ledger:
        assert ledger.report() == report
        assert list(ledger.store.read()) == records
    assert run_cli("export", store=target).stdout == run_cli("export", store=legacy_url).stdout


def test_migrate_copies_journal_and_side_state_across_store_kinds(tmp_path: Path, durable_url: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    with Ledger.open(source) as ledger:
        ledger.append_batch(EVENTS, state={"adapter/offset": b"42"})
        ledger.append_batch([b"{not json", {"type": "Nope", "id": "x1"}], state={"adapter/file": b"feed.jsonl"})
        report = ledger.report()
        journal = list(ledger.rejections())
    assert len(journal) >= 3
    result = run_cli("migrate", "--to", durable_url, store=source)
    assert result.returncode == 0, result.stderr
    with Ledger.open(durable_url) as copied:
        assert copied.report() == report
        assert list(copied.rejections()) == journal
        assert copied.read_state(["adapter/offset", "adapter/file"]) == {"adapter/offset": b"42",
                                                                          "adapter/file": b"feed.jsonl"}


def test_migrate_refuses_a_source_that_does_not_verify_and_copies_nothing(legacy_url: str, tmp_path: Path) -> None:
    sql_on_store(legacy_url, "DELETE FROM {t} WHERE originator_version = %s", (5,))
    target = f"sqlite:///{tmp_path / 'migrated.db'}"
    result = run_cli("migrate", "--to", target, store=legacy_url)
    assert result.returncode == 1
    assert "position 5" in result.stderr
    with open_store(target) as store:
        assert store.head()[0] == 0


def test_migrate_writes_only_into_an_empty_store(legacy_url: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'busy.db'}"
    with Ledger.open(target) as ledger:
        ledger.append(EVENTS[1])
    result = run_cli("migrate", "--to", target, store=legacy_url)
    assert result.returncode == 2
    assert "not empty" in result.stderr
    assert run_cli("migrate", "--to", legacy_url, store=legacy_url).returncode == 2


def test_a_0_1_0_file_without_the_newer_tables_answers_balance_and_explain_by_folding(tmp_path: Path) -> None:
    """As 0.1.0 left it: only its two tables (a read-only open creates none)."""
    records, report = _reference()
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        for table in ("stored_events", "checkpoints"):
            db.execute(f"CREATE TABLE {table} (originator_id TEXT, originator_version INTEGER, topic TEXT, "
                       "state BLOB, PRIMARY KEY (originator_id, originator_version)) WITHOUT ROWID")
        db.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)",
                       [(LOG_ORIGINATOR_ID.hex, r.position, RECORD_TOPIC, legacy_row_state(r)) for r in records])
    path.chmod(0o444)
    try:
        with Ledger.open(f"sqlite:///{path}", create=False) as ledger:
            assert ledger.balance("p1") is not None
            assert ledger.explain("p1")["promoter_id"] == "p1"
            assert ledger.report() == report
    finally:
        path.chmod(0o644)


def test_migrate_batch_sets_the_records_per_row(legacy_url: str, tmp_path: Path) -> None:
    records, report = _reference()
    target = f"sqlite:///{tmp_path / 'rows.db'}"
    assert run_cli("migrate", "--to", target, "--batch", "40", store=legacy_url).returncode == 0
    rows = _rows(target)
    assert [version for version, _, _ in rows] == list(range(1, len(records) + 1, 40))
    with Ledger.open(target) as ledger:
        assert ledger.report() == report
    assert run_cli("migrate", "--to", f"sqlite:///{tmp_path / 'x.db'}", "--batch", "0", store=legacy_url).returncode == 2


# -- log-batch@1 rows: the header only in state --------------------------------------------------


def _write_first_batch_layout(url: str, records: list[LogRecord], size: int) -> None:
    """A store of the first batch layout: batch rows of ``size`` records, topic ``log-batch@1``."""
    open_store(url).close()
    originator: object = LOG_ORIGINATOR_ID.hex if url.startswith("sqlite") else LOG_ORIGINATOR_ID
    for start in range(0, len(records), size):
        batch = records[start : start + size]
        sql_on_store(url, "INSERT INTO {t} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)",
                     (originator, batch[0].position, BATCH_TOPIC, encode_batch(batch)))


def test_a_store_of_log_batch_1_rows_opens_finds_its_ends_and_grows(durable_url: str) -> None:
    records, report = _reference()
    _write_first_batch_layout(durable_url, records, 40)
    with open_store(durable_url) as store:
        assert store.head() == (len(records), records[-1].head)  # read from the last row's state
        assert store.head_at(40) == records[39].head and store.head_at(41) == records[40].head
        assert list(store.read()) == records
    extra = {"type": "PromoterJoined", "id": "late-0", "at": "2026-12-20T10:00:00+08:00",
             "promoter_id": "late-0", "program": "fenxiang", "city": "临沂", "city_tier": 2}
    with Ledger.open(durable_url) as ledger:
        assert ledger.report() == report
        assert ledger.append(extra).status == "accepted"
        head = ledger.log_head
    rows = _rows(durable_url)
    assert {topic for _, topic, _ in rows[:-1]} == {BATCH_TOPIC}
    assert rows[-1][1] == HEADED_BATCH_TOPIC + head + "00000001"
    with open_store(durable_url) as store:
        assert store.head() == (len(records) + 1, head)  # now from the new row's topic
        assert store.head_at(len(records)) == records[-1].head
    verified = run_cli("verify", store=durable_url)
    assert verified.returncode == 0, verified.stderr


def test_a_topic_whose_header_differs_from_the_state_is_refused_by_position(durable_url: str) -> None:
    records, _ = _reference()
    with Ledger.open(durable_url) as ledger:
        ledger.append_batch(EVENTS[:60])
        ledger.append_batch(EVENTS[60:])
    version = int(_rows(durable_url)[-1][0])  # type: ignore[call-overload]
    forged = HEADED_BATCH_TOPIC + "0" * 64 + "%08x" % (len(records) - version + 1)
    sql_on_store(durable_url, "UPDATE {t} SET topic = %s WHERE originator_version = %s", (forged, version))
    with open_store(durable_url) as store:
        assert store.head() == (len(records), "0" * 64)  # the end is read from the topic alone...
        with pytest.raises(CorruptLog, match=f"position {version}: stored batch header differs"):
            list(store.read())  # ...and reading the row checks it against the state
    result = run_cli("verify", store=durable_url)
    assert result.returncode == 1 and f"position {version}" in result.stderr


def test_rows_of_another_originator_after_the_log_leave_its_end_where_it_is(durable_url: str) -> None:
    """The store finds the log's end as the table's last row; a row someone else wrote after it
    (another originator id, sorting last) sends it to the keyed query, with the same answer."""
    records, report = _reference()
    with Ledger.open(durable_url) as ledger:
        ledger.append_batch(EVENTS)
    foreign: object = "f" * 32 if durable_url.startswith("sqlite") else "ffffffff-ffff-ffff-ffff-ffffffffffff"
    sql_on_store(durable_url, "INSERT INTO {t} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)",
                 (foreign, 10_000, "someone/else@1", b"not ours"))
    with open_store(durable_url) as store:
        assert store.head() == (len(records), records[-1].head)
    with Ledger.open(durable_url) as ledger:
        assert ledger.report() == report
        assert ledger.append({"type": "PromoterJoined", "id": "late-1", "at": "2026-12-20T10:00:00+08:00",
                              "promoter_id": "late-1", "program": "fenxiang", "city": "临沂", "city_tier": 2}).status == "accepted"
    with open_store(durable_url) as store:
        assert store.head()[0] == len(records) + 1
