"""The fast paths of issue 11 give exactly what the slow, obvious paths give.

Each shortcut (per-minute timestamp caches, the quote-count test for repeated
member names, per-kind posting effects, compact orders and their checkpoint)
is checked against the reference computation it replaces.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from builders import feed, order, programme, refund
from hypothesis import given
from hypothesis import strategies as st

from supernova_ledger import Ledger
from supernova_ledger.domain.book import Book
from supernova_ledger.domain.postings import EFFECTS, Balances, Posting, apply_posting
from supernova_ledger.domain.snapshot import restore, snapshot
from supernova_ledger import events as events_module
from supernova_ledger.events import (
    DecodeFailure,
    _canonical_timestamp,
    _canonical_timestamp_exact,
    _may_repeat_names,
    decode_event,
    timestamp_us,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

offsets = st.sampled_from(["Z", "+08:00", "-05:30", "+00:00", "-00:00", "+14:00", "-12:00", "+05:45"])
fractions = st.sampled_from(["", ".0", ".5", ".05", ".000001", ".123456", ".10", ".999999", ".000000", ".1234"])


@given(
    moment=st.datetimes(min_value=datetime(1, 1, 3), max_value=datetime(9999, 12, 29)),
    seconds=st.integers(0, 60),
    fraction=fractions,
    offset=offsets,
)
def test_the_minute_cache_canonicalises_like_datetime(
    moment: datetime, seconds: int, fraction: str, offset: str
) -> None:
    text = moment.strftime("%Y-%m-%dT%H:%M") + f":{seconds:02d}{fraction}{offset}"
    try:
        expected = _canonical_timestamp_exact("at", text)
    except ValueError as exc:
        with pytest.raises(ValueError, match=str(exc).split(":")[0]):
            _canonical_timestamp("at", text)
        return
    assert _canonical_timestamp("at", text) == expected  # first: learns the minute
    assert _canonical_timestamp("at", text) == expected  # then: from the cache
    assert timestamp_us(expected) == (datetime.fromisoformat(expected) - _EPOCH) // timedelta(microseconds=1)
    assert timestamp_us(expected) == timestamp_us(expected)


def test_the_ends_of_the_range_stay_exact() -> None:
    for text in ("0001-01-02T00:00:00-00:01", "9999-12-30T23:59:59+00:00", "9999-12-31T07:59:00+08:00"):
        for _ in range(2):
            assert _canonical_timestamp("at", text) == _canonical_timestamp_exact("at", text)
    for text in ("0001-01-02T00:00:59+00:01", "0001-01-01T23:59:59Z", "9999-12-31T00:00:00Z", "9999-12-31T08:00:00+08:00"):
        for _ in range(2):
            with pytest.raises(ValueError, match="outside"):
                _canonical_timestamp("at", text)


@pytest.mark.parametrize(
    "line",
    [
        # a repeated number where an optional member is absent: the quote count alone would match
        '{"type":"PromoterJoined","id":"j","at":"2026-11-01T00:00:00Z","promoter_id":"A","program":"fenxiang",'
        '"city":"x","city_tier":1,"city_tier":2}',
        '{"type":"PayoutRequested","id":"p","at":"2026-11-01T00:00:00Z","payout_id":"q","promoter_id":"A",'
        '"amount_fen":5,"amount_fen":7}',
        '{"type":"OrderPlaced","id":"o","at":"2026-11-01T00:00:00Z","order_id":"o","customer_id":"c",'
        '"promoter_id":null,"promoter_id":"A","lines":[{"sku":"a","category":"k","quantity":1,"paid_fen":1}]}',
        '{"type":"OrderPlaced","id":"o","at":"2026-11-01T00:00:00Z","order_id":"o","customer_id":"c",'
        '"lines":[{"sku":"a","category":"k","quantity":1,"paid_fen":1,"paid_fen":2},'
        '{"sku":"b","category":"k","quantity":1,"paid_fen":1}]}',
        '{"type":"MemberLeft" , "id" : "m","at":"2026-11-01T00:00:00Z","group_id":"g","customer_id":"c",'
        '"group_id" :"h"}',
        '{"type":"PayoutFailed","id":"f","at":"2026-11-01T00:00:00Z","payout_id":"q","reason":"a\\"b",'
        '"reason":"c"}',
        # explicit nulls: counted as members by the shortcut, so a repeat beside them must still show
        '{"type":"OrderPlaced","id":"o","at":"2026-11-01T00:00:00Z","order_id":"o","customer_id":"c",'
        '"group_id":null,"group_id":null,"lines":[{"sku":"a","category":"k","quantity":1,"paid_fen":1}]}',
        '{"type":"OrderPlaced","id":"o","at":"2026-11-01T00:00:00Z","order_id":"o","customer_id":"c",'
        '"group_id":"g","group_id":null,"lines":[{"sku":"a","category":"k","quantity":1,"paid_fen":1}]}',
        '{"type":"OrderPlaced","id":"o","at":"2026-11-01T00:00:00Z","order_id":"o","customer_id":"group_id",'
        '"lines":[{"sku":"a","category":"k","quantity":1,"quantity":2,"paid_fen":1}]}',
        '{"type":"OrderPlaced","id":"o","at":"2026-11-01T00:00:00Z","order_id":"o","customer_id":"c",'
        '"group_id":null,"lines":[{"sku":"a","category":"k","quantity":1,"quantity":2,"paid_fen":1}]}',
        '{"type":"PromoterJoined","id":"j","at":"2026-11-01T00:00:00Z","promoter_id":"A","program":"fenxiang",'
        '"inviter_id":null,"city":"x","city_tier":1,"city_tier":2}',
    ],
)
def test_repeated_member_names_are_still_refused(line: str) -> None:
    with pytest.raises(DecodeFailure) as failure:
        decode_event(line)
    assert failure.value.code == "invalid_event" and "twice" in failure.value.message


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"OrderPlaced","id":"o","at":"2026-11-01T00:00:00Z","order_id":"o","customer_id":"c",'
        '"promoter_id":null,"group_id":"g","lines":[{"sku":"a","category":"k","quantity":1,"paid_fen":1},'
        '{"sku":"b","category":"k","quantity":1,"paid_fen":1}]}',
        '{"type":"PayoutFailed","id":"f","at":"2026-11-01T00:00:00Z","payout_id":"q","reason":"\\"id\\":"}',
        '{ "type" : "GroupClosed" , "id" : "g" , "at" : "2026-11-01T00:00:00Z" , "group_id" : "id" }',
    ],
)
def test_events_without_repeats_still_decode(line: str) -> None:
    decode_event(line)


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"OrderPlaced","id":"o","at":"2026-11-01T00:00:00Z","order_id":"o","customer_id":"c",'
        '"promoter_id":"p","group_id":null,"lines":[{"sku":"a","category":"k","quantity":1,"paid_fen":1}]}',
        '{"type":"OrderPlaced","id":"o","at":"2026-11-01T00:00:00Z","order_id":"o","customer_id":"c",'
        '"promoter_id":null,"group_id":null,"lines":[{"sku":"a","category":"k","quantity":1,"paid_fen":1}]}',
        '{"type":"PromoterJoined","id":"j","at":"2026-11-01T00:00:00Z","promoter_id":"A","program":"fenxiang",'
        '"inviter_id":null,"city":"x","city_tier":1}',
    ],
)
def test_an_explicit_null_takes_the_quote_count_shortcut(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An optional member spelled ``null`` (as feeds do) needs no name-by-name scan."""
    data = line.encode()
    event = decode_event(data)
    monkeypatch.setattr(events_module, "_TOP_NAMES", {})  # the scan would fail: the shortcut must answer
    assert not _may_repeat_names(data, event)


def _generic_effect(target: Balances, posting: Posting) -> None:
    """A posting's effect read off its own fields (SPEC §6.1): from −, to +, level ±."""
    slot = {"pending": "pending_fen", "available": "available_fen", "in_payout": "in_payout_fen",
            "paid_out": "paid_out_fen"}
    amount = posting.amount_fen
    if posting.from_ is not None:
        setattr(target, slot[posting.from_], getattr(target, slot[posting.from_]) - amount)
    if posting.to is not None:
        setattr(target, slot[posting.to], getattr(target, slot[posting.to]) + amount)
    level = f"level{posting.level}_fen"
    if posting.kind == "earn":
        setattr(target, level, getattr(target, level) + amount)
    elif posting.kind == "clawback":
        setattr(target, level, getattr(target, level) - amount)


def test_each_kind_moves_what_its_from_and_to_say() -> None:
    with Ledger.open("memory:") as ledger:
        programme(ledger)
        postings: list[Posting] = []
        for outcome in feed(ledger, order("o1", "c1", group="g1"), order("o2", "c2", group="g1"),
                            refund("o2", [("s1", 999)])):
            postings.extend(outcome.postings)
        assert postings
    made = {(p.kind, p.from_, p.to) for p in postings}
    for kind, (source, destination, _) in EFFECTS.items():
        for p_kind, p_from, p_to in made:
            if p_kind == kind:
                assert source in ("*", p_from) and destination == p_to
    for kind, level, source, destination in [
        ("earn", 1, None, "pending"), ("earn", 2, None, "pending"), ("clawback", 1, "pending", None),
        ("clawback", 2, "available", None), ("settle", 1, "pending", "available"),
        ("payout", None, "available", "in_payout"), ("paid", None, "in_payout", "paid_out"),
        ("returned", None, "in_payout", "available"),
    ]:
        posting = Posting(promoter_id="A", position=1, event_id="e", at="2026-11-01T00:00:00Z", book="2026-11",
                          kind=kind, level=level, from_=source, to=destination, amount_fen=7)  # type: ignore[arg-type]
        fast, slow = Balances(), Balances()
        fast.level1_fen = fast.level2_fen = fast.pending_fen = fast.in_payout_fen = 100
        slow.level1_fen = slow.level2_fen = slow.pending_fen = slow.in_payout_fen = 100
        apply_posting(fast, posting)
        _generic_effect(slow, posting)
        assert fast.as_dict() == slow.as_dict(), kind


def test_compact_orders_keep_their_figures_and_survive_a_checkpoint() -> None:
    with Ledger.open("memory:") as ledger:
        programme(ledger)
        outcomes = feed(ledger, order("o1", "c1", group="g1"),
                        order("o2", "c1", group="g1", lines=[("s1", "daily", 10000), ("s2", "daily", 3333)]),
                        refund("o2", [("s2", 1001)]), refund("o2", [("s2", 7), ("s1", 1)]))
        book = ledger._book
        for level in (1, 2):
            earned = sum(p.amount_fen if p.kind == "earn" else -p.amount_fen
                         for o in outcomes for p in o.postings if p.order_id == "o2" and p.level == level)
            assert getattr(book.orders["o2"], f"comm{level}_fen") == earned
        assert book.orders["o2"].lines == [[10000, 1, 1000, 200], [3333, 1008, 1000, 200]]
        for placed in book.orders.values():
            lines = placed.lines
            assert placed.paid_fen == sum(line[0] for line in lines)
            assert placed.refunded_fen == sum(line[1] for line in lines)
            assert placed.line(placed.skus[0]) == lines[0]
            assert placed.line("no such sku") is None
        customer = book.orders["o1"].customer_id
        assert book.orders["o2"].customer_id is customer  # one object per id
        data = snapshot(book)
        again = restore(data)
        assert snapshot(again) == data
        assert again.binding(customer) == book.binding(customer)
        assert again.orders["o1"].customer_id is next(k for k in again.bindings if k == customer)


def test_a_dropped_book_is_freed_without_the_cyclic_collector() -> None:
    code = (
        "import gc, weakref\n"
        "from supernova_ledger.domain.book import Book\n"
        "gc.disable()\n"
        "book = Book(); ref = weakref.ref(book)\n"
        "del book\n"
        "print(ref() is None)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


def test_replay_gives_the_live_state_of_compact_orders() -> None:
    with Ledger.open("memory:") as ledger:
        programme(ledger)
        feed(ledger, order("o1", "c1", group="g1"), order("o2", "c2", group="g1"), refund("o1", [("s1", 5)]))
        live = snapshot(ledger._book)
        replayed = Book()
        for record in ledger.store.read(1):
            from supernova_ledger.events import decode_stored

            replayed.replay(decode_stored(record.event), record.event, record.head)
        assert snapshot(replayed) == live
