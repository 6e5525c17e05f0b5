"""The LogStore contract: the same tests on memory:, sqlite:/// and postgresql://."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from supernova_ledger.errors import ConcurrencyConflict, StoreError, UsageError
from supernova_ledger.store import GENESIS_HEAD, MAX_APPEND_BATCH, LogRecord, LogStore, open_store

from contract_helpers import chain


@pytest.fixture
def store(store_url: str) -> Iterator[LogStore]:
    with open_store(store_url) as opened:
        yield opened


@pytest.fixture
def other(store_url: str) -> Iterator[LogStore]:
    """A second store object on the same log: another writer."""
    with open_store(store_url) as opened:
        yield opened


# -- reading and writing ----------------------------------------------------------


def test_an_empty_store_has_the_genesis_head(store: LogStore) -> None:
    assert store.head() == (0, GENESIS_HEAD)
    assert list(store.read()) == []
    assert store.record_at(1) is None


def test_appended_records_read_back_in_order(store: LogStore) -> None:
    records = chain(5)
    store.append(records[:2])
    store.append(records[2:])
    assert list(store.read()) == records
    assert store.head() == (5, records[-1].head)


def test_read_takes_an_inclusive_range(store: LogStore) -> None:
    records = chain(6)
    store.append(records)
    assert list(store.read(2, 4)) == records[1:4]
    assert list(store.read(5)) == records[4:]
    assert list(store.read(0, 1)) == records[:1]
    assert list(store.read(4, 3)) == []
    assert list(store.read(6, 99)) == records[5:]
    assert list(store.read(7)) == []


def test_record_at_reads_one_position(store: LogStore) -> None:
    records = chain(3)
    store.append(records)
    assert store.record_at(2) == records[1]
    assert store.record_at(4) is None


def test_head_at_is_the_head_stored_with_each_record(store: LogStore) -> None:
    records = chain(7)
    store.append(records[:3])  # positions 3 and 7 end a batch, the others do not
    store.append(records[3:])
    assert [store.head_at(r.position) for r in records] == [r.head for r in records]
    assert store.head_at(0) is None and store.head_at(8) is None


def test_an_empty_append_stores_nothing(store: LogStore) -> None:
    store.append([])
    assert store.head() == (0, GENESIS_HEAD)


def test_event_bytes_and_unicode_round_trip_exactly(store: LogStore) -> None:
    events = [
        '{"city":"临沂","reason":"客户退货 😀","id":"ü"}'.encode(),
        bytes(range(256)),  # the store is byte-transparent, it never decodes
        b"{}",
        ('{"big":"' + "界" * 300_000 + '"}').encode(),
    ]
    records = [LogRecord(position, event, f"{position:064x}") for position, event in enumerate(events, 1)]
    store.append(records)
    assert list(store.read()) == records


def test_reads_beyond_one_page_stay_in_order(store: LogStore) -> None:
    records = chain(4_500)
    store.append(records)
    assert [record.position for record in store.read()] == list(range(1, 4_501))
    assert list(store.read(1_999, 2_002)) == records[1_998:2_002]


def test_balance_items_lists_every_row_once_in_key_order_across_pages(store: LogStore) -> None:
    """More rows than one page (1,000): each once, in the store's key order, the latest value."""
    ids = [f"P{n:05d}" for n in range(2_345)]
    store.append(chain(1), balances={pid: pid.encode() for pid in ids})
    store.append(chain(2)[1:], balances={"P00007": b"again", "P99999": b"new"})
    listed = list(store.balance_items())
    assert [pid for pid, _ in listed] == sorted([*ids, "P99999"])  # ASCII ids: every collation agrees
    assert dict(listed)["P00007"] == b"again" and dict(listed)["P00008"] == b"P00008"


# -- limits and caller mistakes ---------------------------------------------------------


def test_a_full_batch_is_accepted_and_one_more_is_not(store: LogStore) -> None:
    too_many = chain(MAX_APPEND_BATCH + 1)
    with pytest.raises(UsageError, match="at most"):
        store.append(too_many)
    assert store.head() == (0, GENESIS_HEAD)
    store.append(too_many[:MAX_APPEND_BATCH])
    assert store.head() == (MAX_APPEND_BATCH, too_many[MAX_APPEND_BATCH - 1].head)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param([LogRecord(1, b"{}", "0" * 64), LogRecord(3, b"{}", "0" * 64)], id="not-consecutive"),
        pytest.param([LogRecord(0, b"{}", "0" * 64)], id="position-0"),
        pytest.param([LogRecord(1, b"{}", "abc")], id="short-head"),
        pytest.param([LogRecord(1, "{}", "0" * 64)], id="event-not-bytes"),  # type: ignore[arg-type]
    ],
)
def test_a_malformed_batch_is_a_usage_error(store: LogStore, bad: list[LogRecord]) -> None:
    with pytest.raises(UsageError):
        store.append(bad)
    assert store.head() == (0, GENESIS_HEAD)


def test_a_batch_leaving_a_gap_is_a_usage_error(store: LogStore) -> None:
    store.append(chain(2))
    with pytest.raises(UsageError, match="gap"):
        store.append(chain(2, start=4))
    assert store.head()[0] == 2


# -- concurrency -------------------------------------------------------------------------


def test_a_taken_position_is_a_conflict_and_nothing_is_written(store: LogStore, other: LogStore) -> None:
    mine = chain(3, tag="mine")
    store.append(mine)
    theirs = chain(4, tag="theirs")  # decided before seeing mine: positions 1..4
    with pytest.raises(ConcurrencyConflict):
        other.append(theirs)
    assert list(other.read()) == mine
    assert other.head() == (3, mine[-1].head)


def test_a_batch_overlapping_the_end_is_all_or_nothing(store: LogStore, other: LogStore) -> None:
    base = chain(2)
    store.append(base)
    store.append(chain(1, start=3, head=base[-1].head, tag="mine"))
    with pytest.raises(ConcurrencyConflict):
        other.append(chain(5, start=3, head=base[-1].head, tag="theirs"))  # 3 is taken, 4..7 are not
    assert store.head()[0] == 3
    assert store.record_at(4) is None


@pytest.mark.parametrize("loser_records", [3, 500])  # small and large batches take different paths
def test_a_race_lost_after_the_early_check_is_still_a_conflict(
    store_url: str, store: LogStore, other: LogStore, monkeypatch: pytest.MonkeyPatch, loser_records: int
) -> None:
    """The writer looked before the winner stored: the unique key settles it, all or nothing."""
    base = chain(1)
    store.append(base)
    monkeypatch.setattr(other, "head", lambda: (1, base[0].head))  # a stale view
    store.append(chain(2, start=2, head=base[0].head, tag="winner"))
    with pytest.raises(ConcurrencyConflict) as raised:
        other.append(chain(loser_records, start=2, head=base[0].head, tag="loser"))
    if store_url.startswith(("sqlite", "postgres")):
        assert "another writer" in raised.value.message  # the primary key, not the early check
    monkeypatch.undo()
    assert [r.event for r in other.read(2)] == [r.event for r in chain(2, start=2, head=base[0].head, tag="winner")]
    assert other.head()[0] == 3


def test_a_writer_that_lost_catches_up_and_appends_after(store: LogStore, other: LogStore) -> None:
    first = chain(2)
    store.append(first)
    position, head = other.head()
    assert (position, head) == (2, first[-1].head)
    other.append(chain(1, start=position + 1, head=head))
    assert store.head()[0] == 3


# -- lifetime --------------------------------------------------------------------------


def test_a_reopened_store_holds_the_same_records(store_url: str) -> None:
    records = chain(20)
    with open_store(store_url) as first:
        first.append(records)
    with open_store(store_url) as again:
        assert list(again.read()) == records
        assert again.head() == (20, records[-1].head)
        again.append(chain(1, start=21, head=records[-1].head))
    with open_store(store_url) as third:
        assert third.head()[0] == 21


def test_close_is_idempotent_and_a_closed_store_refuses_work(store_url: str) -> None:
    opened = open_store(store_url)
    opened.close()
    opened.close()
    with pytest.raises(StoreError):
        opened.head()
    with pytest.raises(StoreError):
        list(opened.read())
    with pytest.raises(StoreError):
        opened.load_checkpoint()
    with pytest.raises(StoreError):
        opened.save_checkpoint(0, b"")
