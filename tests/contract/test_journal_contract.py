"""The rejection journal and side state beside the log: the same tests on every store.

Both are written in the same transaction as the records of their batch (SPEC
§2.1): all of it is stored, or none of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from supernova_ledger import Ledger
from supernova_ledger.errors import ConcurrencyConflict, UsageError
from supernova_ledger.store import LogStore, open_store
from supernova_ledger.store.base import MAX_STATE_VALUE_BYTES, JournalEntry, encode_journal_entry

from contract_helpers import chain


@pytest.fixture
def store(store_url: str) -> Iterator[LogStore]:
    with open_store(store_url) as opened:
        yield opened


def _entry(position: int, code: str, promoter: str | None = None, group: str | None = None) -> JournalEntry:
    return JournalEntry(position=position, event_id=f"x{position}", type="GroupOpened", code=code,
                        message=f"m{position}", promoter_id=promoter, group_id=group)


def test_journal_and_state_are_written_with_the_records(store: LogStore) -> None:
    records = chain(3)
    store.append(records[:2], [_entry(2, "unknown_group", group="g1")], {"k/1": b"one", "k/2": b"two"})
    store.append(records[2:], [_entry(3, "group_full", "p1", "g1"), _entry(3, "unknown_promoter", "p2")],
                 {"k/1": None, "k/3": b"three"})
    assert list(store.read()) == records
    assert [(seq, e.code) for seq, e in store.journal()] == [(1, "unknown_group"), (2, "group_full"), (3, "unknown_promoter")]
    assert [seq for seq, _ in store.journal(after=1)] == [2, 3]
    assert [e.code for _, e in store.journal(group_id="g1")] == ["unknown_group", "group_full"]
    assert [e.code for _, e in store.journal(promoter_id="p2")] == ["unknown_promoter"]
    assert [e.code for _, e in store.journal(code="group_full", group_id="g1")] == ["group_full"]
    assert store.read_state(["k/1", "k/2", "k/3", "nope"]) == {"k/2": b"two", "k/3": b"three"}
    assert list(store.state_items("k/")) == [("k/2", b"two"), ("k/3", b"three")]
    assert list(store.state_items("k/3")) == [("k/3", b"three")]
    assert list(store.state_items("z")) == []


def test_side_data_may_come_without_records(store: LogStore) -> None:
    store.append([], [_entry(0, "invalid_event")], {"a": b"1"})
    assert store.head()[0] == 0
    assert [e.code for _, e in store.journal()] == ["invalid_event"]
    assert store.read_state(["a"]) == {"a": b"1"}


def test_a_conflict_writes_no_side_data(store: LogStore, store_url: str) -> None:
    records = chain(2)
    store.append(records[:1])
    with open_store(store_url) as other:
        with pytest.raises(ConcurrencyConflict):
            other.append(records[:1], [_entry(1, "unknown_order")], {"lost": b"x"})
    assert list(store.journal()) == []
    assert store.read_state(["lost"]) == {}


def test_side_data_has_limits(store: LogStore) -> None:
    with pytest.raises(UsageError, match="state"):
        store.append([], (), {"": b"x"})
    with pytest.raises(UsageError, match="state"):
        store.append([], (), {"k": b"x" * (MAX_STATE_VALUE_BYTES + 1)})
    assert store.read_state(["k"]) == {}


def test_journal_pages_past_one_query(store: LogStore) -> None:
    entries = [_entry(0, "invalid_event") for _ in range(2_500)]
    store.append([], entries[:1_200])
    store.append([], entries[1_200:])
    seqs = [seq for seq, _ in store.journal()]
    assert seqs == list(range(1, 2_501))


def test_entry_json_names_every_field() -> None:
    assert encode_journal_entry(_entry(4, "group_full")) == (
        b'{"code":"group_full","group_id":null,"id":"x4","message":"m4","order_id":null,'
        b'"payout_id":null,"position":4,"promoter_id":null,"type":"GroupOpened"}'
    )


def test_the_ledger_journals_every_rejection(store_url: str) -> None:
    with Ledger.open(store_url) as ledger:
        outcomes = ledger.append_batch([
            {"type": "PromoterJoined", "id": "e1", "at": "2026-11-01T09:00:00+08:00", "promoter_id": "A",
             "program": "fenxiang", "city": "北京", "city_tier": 1},
            {"type": "GroupOpened", "id": "e2", "at": "2026-11-01T09:00:00+08:00", "group_id": "g1",
             "owner_id": "A", "city": "北京", "city_tier": 1},
            b'{"type":"OrderPlaced","id":"e3","order_id":"o1","group_id":"g9"',
            '{"type":"Nope","id":"e4","promoter_id":"A"}',
            "not json",
        ], state={"adapter/x": b"1"})
        assert [o.code for o in outcomes] == [None, "promoter_not_qualified",
                                              "invalid_event", "invalid_event", "invalid_event"]
        entries = list(ledger.rejections())
        assert [(e.position, e.event_id, e.type, e.code, e.promoter_id, e.group_id, e.order_id) for e in entries] == [
            (1, "e2", "GroupOpened", "promoter_not_qualified", "A", "g1", None),
            (1, None, None, "invalid_event", None, None, None),  # unreadable JSON: nothing known
            (1, "e4", None, "invalid_event", "A", None, None),   # an unknown type is not named
            (1, None, None, "invalid_event", None, None, None),
        ]
        assert [e.event_id for e in ledger.rejections(group="g1")] == ["e2"]
        assert [e.event_id for e in ledger.rejections(code="promoter_not_qualified", promoter="A")] == ["e2"]
        assert ledger.read_state(["adapter/x"]) == {"adapter/x": b"1"}
    with Ledger.open(store_url) as reopened:
        assert len(list(reopened.rejections())) == 4


def test_an_id_that_is_not_text_is_journaled_without_it(store_url: str) -> None:
    """A JSON escape can smuggle a lone surrogate into an id: the journal keeps the entry, id null."""
    with Ledger.open(store_url) as ledger:
        outcomes = ledger.append_batch([
            '{"type":"PromoterQualified","id":"\\ud800","at":"2026-11-01T09:00:00+08:00","promoter_id":"A"}',
            {"type": "PromoterJoined", "id": "e1", "at": "2026-11-01T09:00:00+08:00", "promoter_id": "A",
             "program": "fenxiang", "city": "x", "city_tier": 1},
        ])
        assert [o.status for o in outcomes] == ["rejected", "accepted"]
        (entry,) = ledger.rejections()
        assert (entry.event_id, entry.promoter_id, entry.type) == (None, "A", "PromoterQualified")
