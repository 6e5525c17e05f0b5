"""The per-promoter balances table: kept with every batch, answering ``balance`` after a
reopen without restoring the state, and never trusted when it does not match the log."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from supernova_ledger import Ledger
from supernova_ledger.balances import COMPLETE_KEY, _encoder, decode_row
from supernova_ledger.domain.state import BALANCE_FIELDS
from supernova_ledger.errors import UsageError
from supernova_ledger.simulate import generate
from supernova_ledger.store import open_store

from contract_helpers import joined, payout

SIMULATED = list(generate(11, promoters=25, days=30))  # orders, refunds, settlements, payouts, rule changes


def _log_reads(ledger: Ledger) -> list[int]:
    """From now on, the start position of every read of ``ledger``'s log from position 1
    (a replay; the one-position reads that look up a stored head are not counted)."""
    starts: list[int] = []
    read = ledger.store.read

    def counted(start: int = 1, stop: int | None = None) -> Any:
        if start <= 1 and (stop is None or stop > 1):
            starts.append(start)
        return read(start, stop)

    ledger.store.read = counted  # type: ignore[method-assign]
    return starts


def _table_equals_state(ledger: Ledger) -> None:
    """Every promoter's row holds exactly its balances in the folded state, at the log head."""
    book = ledger._book
    rows = ledger.store.read_balances(sorted(book.promoters))
    assert sorted(rows) == sorted(book.promoters)
    for promoter_id, data in rows.items():
        row = decode_row(data)
        assert dict(zip(BALANCE_FIELDS, row.balances)) == book.promoters[promoter_id].balances()
        record = ledger.store.record_at(row.position)
        assert record is not None and record.head == row.head


@pytest.mark.parametrize("batch", [1, 7, 500])
def test_the_table_follows_every_balance_through_a_whole_programme(store_url: str, batch: int) -> None:
    events = SIMULATED if batch > 1 else SIMULATED[:400]
    with Ledger.open(store_url) as ledger:
        for k in range(0, len(events), batch):
            ledger.append_batch(events[k : k + batch])
        assert ledger.read_state([COMPLETE_KEY])
        _table_equals_state(ledger)


def test_balance_after_a_reopen_reads_the_table_without_restoring(store_url: str) -> None:
    with Ledger.open(store_url) as writer:
        writer.append_batch(SIMULATED)
        writer.checkpoint()
        expected = {p: writer.balance(p) for p in sorted(writer._book.promoters)}
    with Ledger.open(store_url) as reader:
        for promoter_id, balances in expected.items():
            assert reader.balance(promoter_id) == balances
        assert reader.balance("never-joined") is None
        assert reader._loaded is None  # nothing was restored or folded
        reader.report()
        assert reader._loaded is not None  # a full report needs the state


def test_a_store_without_a_complete_table_folds_then_completes_it_with_the_next_batch(store_url: str) -> None:
    with Ledger.open(store_url) as ledger:
        ledger.append_batch(SIMULATED[:300])
        some = next(iter(sorted(ledger._book.promoters)))
        expected = ledger.balance(some)
    # As a store written before the table existed: no rows, no marker.
    _forget_table(store_url)
    with Ledger.open(store_url) as reopened:
        assert reopened.balance(some) == expected
        assert reopened._loaded is not None  # no marker: answered by folding
        reopened.append(joined("late-joined", "late"))
        _table_equals_state(reopened)
    with Ledger.open(store_url) as again:
        assert again.balance(some) == expected
        assert again.balance("late") is not None and again._loaded is None


def test_a_row_that_does_not_match_the_log_is_not_used(sqlite_url: str) -> None:
    with Ledger.open(sqlite_url) as ledger:
        ledger.append_batch(SIMULATED)
        promoter_id = next(iter(sorted(ledger._book.promoters)))
        true_balances = ledger.balance(promoter_id)
    with sqlite3.connect(sqlite_url[len("sqlite:///") :]) as db:
        (value,) = db.execute("SELECT value FROM promoter_balances WHERE promoter_id = ?", (promoter_id,)).fetchone()
        row = decode_row(value)
        forged = row.__class__(row.position, "f" * 64, (10**9, 0, 0, 0, 0, 0))  # a head the log never had
        db.execute("UPDATE promoter_balances SET value = ? WHERE promoter_id = ?", (_encoder.encode(forged), promoter_id))
        db.execute("UPDATE promoter_balances SET value = ? WHERE promoter_id = ?", (b"\x93junk", "never-mind"))
    with Ledger.open(sqlite_url) as reopened:
        assert reopened.balance(promoter_id) == true_balances
        assert reopened._loaded is not None  # it folded instead


def test_a_lost_race_stores_the_rows_of_the_batch_that_won(durable_url: str) -> None:
    with Ledger.open(durable_url) as first, Ledger.open(durable_url) as second:
        first.append_batch(SIMULATED)
        second.report()
        promoter_id = next(p for p, b in sorted(first._book.promoters.items()) if b.available_fen >= 1_000)
        first.append(payout("pay-a", "pay-a", promoter_id, 1_000, minute=60 * 24 * 40))
        outcome = second.append(payout("pay-b", "pay-b", promoter_id, 1_000, minute=60 * 24 * 40))  # decides again
        assert outcome.status in ("accepted", "rejected")
        expected = second.balance(promoter_id)
    with Ledger.open(durable_url) as reopened:
        assert reopened.balance(promoter_id) == expected
        assert reopened._loaded is None
        _table_equals_state(reopened)


def _forget_table(url: str) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url[len("sqlite:///") :]) as db:
            db.execute("DELETE FROM promoter_balances")
            db.execute("DELETE FROM side_state")
            db.execute("DELETE FROM promoter_postings")
        return
    if url.startswith("memory"):
        with open_store(url) as store:
            log: Any = store._log  # type: ignore[attr-defined]
            log.balances.clear()
            log.state.clear()
            log.postings.clear()
        return
    import psycopg

    from supernova_ledger.store.postgres import parse_postgres_url

    target = parse_postgres_url(url)
    with psycopg.connect(host=target.host, port=target.port, user=target.user, dbname=target.dbname,
                         autocommit=True) as conn:
        conn.execute(f'DELETE FROM "{target.schema}".promoter_balances')  # type: ignore[arg-type]
        conn.execute(f'DELETE FROM "{target.schema}".side_state')  # type: ignore[arg-type]
        conn.execute(f'DELETE FROM "{target.schema}".promoter_postings')  # type: ignore[arg-type]


# -- the postings table: explain and a one-promoter statement without a replay ------------------------

CLOSE_NOVEMBER = {"type": "PeriodClosed", "id": "close-2026-11", "at": "2026-12-02T09:00:00+08:00", "period": "2026-11"}


def _replayed(url: str, promoter_id: str, period: str | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """explain and statement the long way: a replay from position 1 (``until`` = the head)."""
    with Ledger.open(url) as ledger:
        head = ledger.position
        explained = ledger.explain(promoter_id, period=period, until=head)
        stated = ledger.statement(period, until=head, promoter=promoter_id) if period else None
        return explained, stated


def _replayed_statement(url: str, period: str) -> Any:
    """Every promoter's statement the long way: a replay from position 1 (``until`` = the head)."""
    with Ledger.open(url) as ledger:
        return ledger.statement(period, until=ledger.position)


def test_a_full_statement_reads_every_promoters_rows_and_equals_a_replay(store_url: str) -> None:
    with Ledger.open(store_url) as writer:
        for k in range(0, len(SIMULATED), 400):
            writer.append_batch(SIMULATED[k : k + 400])
        assert writer.append(CLOSE_NOVEMBER).status == "accepted"
    for period in ("2026-10", "2026-11", "2026-12"):
        expected = _replayed_statement(store_url, period)
        with Ledger.open(store_url) as reader:
            reads = _log_reads(reader)
            stated = reader.statement(period)
            assert reads == [] and reader._loaded is None  # the tables answered: no replay, no restore
        assert stated == expected
    assert len(_replayed_statement(store_url, "2026-11")["promoters"]) >= 20
    with Ledger.open(store_url) as reader, pytest.raises(UsageError) as raised:
        reader.statement("2026-13")
    assert raised.value.code == "invalid_period"


def test_a_full_statement_replays_when_any_promoters_rows_are_unsound(sqlite_url: str) -> None:
    """One promoter's postings row lost, then one balances row forged: each time the
    statement of every promoter comes from a replay, equal to the sound one."""
    with Ledger.open(sqlite_url) as writer:
        for k in range(0, len(SIMULATED), 300):
            writer.append_batch(SIMULATED[k : k + 300])
        promoters = writer._book.promoters
        last = max(promoters)  # the last promoter read: the statement has been streaming a while
        richest = max(promoters, key=lambda p: promoters[p].level1_fen)
    expected = _replayed_statement(sqlite_url, "2026-11")
    assert last in expected["promoters"]

    def stated() -> tuple[Any, list[int]]:
        with Ledger.open(sqlite_url) as reader:
            reads = _log_reads(reader)
            return reader.statement("2026-11"), reads

    path = sqlite_url[len("sqlite:///") :]
    with sqlite3.connect(path) as db:
        lost = db.execute("SELECT promoter_id, position, value FROM promoter_postings WHERE promoter_id = ? "
                          "ORDER BY position DESC LIMIT 1", (last,)).fetchone()
        db.execute("DELETE FROM promoter_postings WHERE promoter_id = ? AND position = ?", lost[:2])
    assert stated() == (expected, [1])  # the last promoter's rows did not add up: replayed
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO promoter_postings (promoter_id, position, value) VALUES (?, ?, ?)", lost)
    assert stated() == (expected, [])  # whole again: the tables answer
    with sqlite3.connect(path) as db:
        (value,) = db.execute("SELECT value FROM promoter_balances WHERE promoter_id = ?", (richest,)).fetchone()
        row = decode_row(value)
        forged = _encoder.encode(row.__class__(row.position, row.head, (10**9, 0, 0, 0, 0, 10**9)))
        db.execute("UPDATE promoter_balances SET value = ? WHERE promoter_id = ?", (forged, richest))
    assert stated() == (expected, [1])  # its postings do not add up to the forged row: replayed


def test_explain_and_statement_of_one_promoter_read_its_rows_and_equal_a_replay(store_url: str) -> None:
    with Ledger.open(store_url) as writer:
        for k in range(0, len(SIMULATED), 400):
            writer.append_batch(SIMULATED[k : k + 400])
        assert writer.append(CLOSE_NOVEMBER).status == "accepted"
        promoters = sorted(writer._book.promoters)[:6]
    for promoter_id in promoters:
        for period in (None, "2026-11", "2026-12"):
            expected_explain, expected_statement = _replayed(store_url, promoter_id, period)
            with Ledger.open(store_url) as reader:
                assert reader.explain(promoter_id, period=period) == expected_explain
                if period:
                    assert reader.statement(period, promoter=promoter_id) == expected_statement
                assert reader._loaded is None  # answered from the tables: nothing restored, nothing replayed
    with Ledger.open(store_url) as reader, pytest.raises(UsageError) as raised:
        reader.explain("never-joined")
    assert raised.value.code == "unknown_promoter"


def test_posting_rows_that_do_not_add_up_are_not_used(sqlite_url: str) -> None:
    with Ledger.open(sqlite_url) as writer:
        for k in range(0, len(SIMULATED), 300):
            writer.append_batch(SIMULATED[k : k + 300])
        promoter_id = max(writer._book.promoters, key=lambda p: writer._book.promoters[p].level1_fen)
    expected, _ = _replayed(sqlite_url, promoter_id, None)
    with sqlite3.connect(sqlite_url[len("sqlite:///") :]) as db:
        (count,) = db.execute("SELECT count(*) FROM promoter_postings WHERE promoter_id = ?", (promoter_id,)).fetchone()
        assert count >= 2
        db.execute("DELETE FROM promoter_postings WHERE promoter_id = ? AND position = "
                   "(SELECT max(position) FROM promoter_postings WHERE promoter_id = ?)", (promoter_id, promoter_id))
    with Ledger.open(sqlite_url) as reader:
        reads = _log_reads(reader)
        assert reader.explain(promoter_id) == expected
        assert reads == [1]  # the rows did not add up to the balances: replayed
        assert reader._loaded is None  # a replay needs no restore of the ledger's own state


def test_a_store_begun_without_the_postings_table_answers_by_replay(store_url: str) -> None:
    with Ledger.open(store_url) as writer:
        writer.append_batch(SIMULATED[:500])
    _forget_table(store_url)  # as a store written before the tables existed
    with Ledger.open(store_url) as writer:
        writer.append_batch(SIMULATED[500:])  # completes the balances table, not the postings table
        promoter_id = sorted(writer._book.promoters)[0]
    expected, _ = _replayed(store_url, promoter_id, None)
    with Ledger.open(store_url) as reader:
        assert reader.balance(promoter_id) == expected["balances"] and reader._loaded is None
        reads = _log_reads(reader)
        assert reader.explain(promoter_id) == expected
        assert reads == [1]
        assert reader.statement("2026-11") == _replayed_statement(store_url, "2026-11")
        assert reads == [1, 1]  # the full statement too: no postings table, a replay


def test_under_a_key_rows_carry_an_hmac_and_a_forged_row_is_not_used(sqlite_url: str) -> None:
    """With a checkpoint key (``Ledger._key``), a row rewritten without the key is refused."""
    key = b"a checkpoint key"
    with Ledger.open(sqlite_url) as writer:
        writer._key = key  # type: ignore[attr-defined]  # as a keyed ledger has it
        writer.append_batch(SIMULATED)
        promoter_id = max(writer._book.promoters, key=lambda p: writer._book.promoters[p].level1_fen)
        expected = writer.explain(promoter_id)
    with Ledger.open(sqlite_url) as keyed:
        keyed._key = key  # type: ignore[attr-defined]
        assert keyed.balance(promoter_id) == expected["balances"] and keyed.explain(promoter_id) == expected
        assert keyed._loaded is None  # sealed rows answered
    with Ledger.open(sqlite_url) as unkeyed:
        unkeyed.balance(promoter_id)
        assert unkeyed._loaded is not None  # a sealed row does not decode without the key: folded
    with sqlite3.connect(sqlite_url[len("sqlite:///") :]) as db:
        (value,) = db.execute("SELECT value FROM promoter_balances WHERE promoter_id = ?", (promoter_id,)).fetchone()
        row = decode_row(value[:-32])
        forged = _encoder.encode(row.__class__(row.position, row.head, (10**9, 0, 0, 0, 0, 10**9)))
        db.execute("UPDATE promoter_balances SET value = ? WHERE promoter_id = ?", (forged + value[-32:], promoter_id))
    with Ledger.open(sqlite_url) as keyed:
        keyed._key = key  # type: ignore[attr-defined]
        assert keyed.balance(promoter_id) == expected["balances"]
        assert keyed._loaded is not None  # the forged row's HMAC did not hold: folded
