"""Every rejection code of SPEC §2–3, triggered, and the first failing check deciding the code."""

from __future__ import annotations

from typing import Any

import pytest
from builders import ev, feed, joined, member, opened, order, programme, qualified, refund, rules

from supernova_ledger import Code, Ledger


@pytest.fixture()
def ledger() -> Any:
    with Ledger.open("memory:") as book:
        yield book


def rejected(ledger: Ledger, event: Any) -> str | None:
    """The code of a rejection, and proof that nothing changed."""
    before = ledger.report()
    outcome = ledger.append(event)
    assert outcome.status == "rejected", outcome
    assert outcome.message, "a rejection names what was wrong"
    assert ledger.report() == before
    return outcome.code


def test_invalid_event_unknown_field(ledger: Ledger) -> None:
    assert rejected(ledger, {**joined("A"), "colour": "red"}) == Code.INVALID_EVENT


@pytest.mark.parametrize(
    "at",
    ["2026-11-01T09:00:00", "2026-11-01t09:00:00Z", "2026-11-01T09:00:00z", "2026-11-01T09:00:00.1234567Z",
     "2026-11-01T09:00:00+0800", "2026-11-31T09:00:00Z", "2026-11-01T09:00:00+08:60",
     "2026-11-01T09:00:00+24:00", "2026-11-01T09:00:60Z", "2026-11-01T24:00:00Z", "2026-11-01 09:00:00Z", "0001-01-01T00:00:00+08:00"],
)
def test_invalid_event_timestamps(ledger: Ledger, at: str) -> None:
    assert rejected(ledger, joined("A", at=at)) == Code.INVALID_EVENT


def test_invalid_event_limits(ledger: Ledger) -> None:
    assert rejected(ledger, joined("x" * 129)) == Code.INVALID_EVENT
    assert rejected(ledger, joined("")) == Code.INVALID_EVENT
    assert rejected(ledger, ev("PromoterSuspended", promoter_id="A", reason="r" * 501)) == Code.INVALID_EVENT
    assert rejected(ledger, order("o1", "c1", lines=[(f"s{i}", "d", 1) for i in range(201)])) == Code.INVALID_EVENT
    assert rejected(ledger, order("o1", "c1", lines=[("s1", "d", 10**12 + 1)])) == Code.INVALID_EVENT
    assert rejected(ledger, order("o1", "c1", lines=[("s1", "d", 1), ("s1", "e", 2)])) == Code.INVALID_EVENT
    assert rejected(ledger, refund("o1", [("s1", 0)])) == Code.INVALID_EVENT
    assert rejected(ledger, {**joined("A"), "city_tier": 6}) == Code.INVALID_EVENT
    assert rejected(ledger, {**joined("A"), "program": "pyramid"}) == Code.INVALID_EVENT
    assert rejected(ledger, {**joined("A"), "city_tier": True}) == Code.INVALID_EVENT


def test_invalid_event_not_json_names_no_id(ledger: Ledger) -> None:
    outcome = ledger.append(b'{"type": "PromoterJoined", "id": "e1", ')
    assert (outcome.status, outcome.code, outcome.id) == ("rejected", Code.INVALID_EVENT, None)
    outcome = ledger.append(b'{"type": "Nope", "id": "e1"}')
    assert (outcome.code, outcome.id) == (Code.INVALID_EVENT, "e1")


@pytest.mark.parametrize(
    "bad",
    [{"level1_bps": True}, {"level1_bps": 1000.0}, {"level1_bps": "1000"}, {"level1_bps": 10001},
     {"level1_bps": 9000, "level2_bps": 1001}, {"unknown_rule": 1}, {"timezone": "Mars/Olympus"},
     {"category_rates": {"a": {"level1_bps": 10}}}, {"category_rates": {"a": {"level1_bps": 9999, "level2_bps": 2}}},
     {"attribution": "first_touch"}, {"binding_days": 0}, {"settle_after_days": 366}, {"min_payout_fen": 0},
     {"max_daily_pushes": -1}, {"self_purchase_commission": 1}],
)
def test_invalid_rules(ledger: Ledger, bad: dict[str, Any]) -> None:
    assert rejected(ledger, rules(**bad)) == Code.INVALID_RULES


def test_invalid_event_wins_over_invalid_rules(ledger: Ledger) -> None:
    event = rules(level1_bps=True)
    event["at"] = "2026-11-01T09:00:00"
    assert rejected(ledger, event) == Code.INVALID_EVENT


def test_duplicate_and_duplicate_event_id(ledger: Ledger) -> None:
    first = joined("A", id="e1")
    feed(ledger, first)
    outcome = ledger.append(dict(first))
    assert (outcome.status, outcome.position) == ("duplicate", 1)
    # Same instant written with another offset is the same canonical event.
    assert ledger.append({**first, "at": "2026-11-01T01:00:00Z"}).status == "duplicate"
    assert rejected(ledger, {**first, "city": "上海"}) == Code.DUPLICATE_EVENT_ID
    # duplicate_event_id comes before the type's own checks.
    assert rejected(ledger, joined("A", id="e1", inviter="nobody")) == Code.DUPLICATE_EVENT_ID


def test_promoter_codes(ledger: Ledger) -> None:
    feed(ledger, joined("A"))
    assert rejected(ledger, joined("A")) == Code.DUPLICATE_PROMOTER
    assert rejected(ledger, joined("A", inviter="ghost")) == Code.DUPLICATE_PROMOTER  # first check wins
    assert rejected(ledger, joined("B", inviter="ghost")) == Code.UNKNOWN_PROMOTER
    assert rejected(ledger, joined("C", inviter="C")) == Code.UNKNOWN_PROMOTER
    for kind in ("PromoterQualified", "PromoterReinstated"):
        assert rejected(ledger, ev(kind, promoter_id="ghost")) == Code.UNKNOWN_PROMOTER
    assert rejected(ledger, ev("PromoterSuspended", promoter_id="ghost", reason="")) == Code.UNKNOWN_PROMOTER


def test_group_opened_codes_in_order(ledger: Ledger) -> None:
    feed(ledger, rules(max_groups_per_owner=1), joined("A"), joined("B"), qualified("A"), opened("g1", "A"))
    assert rejected(ledger, opened("g1", "ghost")) == Code.DUPLICATE_GROUP
    assert rejected(ledger, opened("g2", "ghost")) == Code.UNKNOWN_PROMOTER
    feed(ledger, ev("PromoterSuspended", promoter_id="B", reason="audit"))
    assert rejected(ledger, opened("g2", "B")) == Code.PROMOTER_SUSPENDED  # suspended before not-qualified
    feed(ledger, ev("PromoterReinstated", promoter_id="B"))
    assert rejected(ledger, opened("g2", "B")) == Code.PROMOTER_NOT_QUALIFIED
    assert rejected(ledger, opened("g2", "A")) == Code.GROUP_LIMIT_EXCEEDED
    feed(ledger, ev("GroupClosed", group_id="g1"))
    feed(ledger, opened("g2", "A"))  # a closed group frees a slot
    assert rejected(ledger, opened("g1", "A")) == Code.DUPLICATE_GROUP  # ids are never reused


def test_group_closed_codes(ledger: Ledger) -> None:
    programme(ledger)
    assert rejected(ledger, ev("GroupClosed", group_id="ghost")) == Code.UNKNOWN_GROUP
    feed(ledger, ev("GroupClosed", group_id="g1"))
    assert rejected(ledger, ev("GroupClosed", group_id="g1")) == Code.GROUP_CLOSED


def test_member_codes_in_order(ledger: Ledger) -> None:
    programme(ledger)
    feed(ledger, rules(max_group_members=2))
    assert rejected(ledger, member("ghost", "c2", "B")) == Code.UNKNOWN_GROUP
    assert rejected(ledger, member("g1", "c1", "nobody")) == Code.ALREADY_MEMBER  # before not_invited
    assert rejected(ledger, member("g1", "B", "B")) == Code.ALREADY_MEMBER  # the owner
    assert rejected(ledger, member("g1", "c2", "stranger")) == Code.NOT_INVITED
    feed(ledger, member("g1", "c2", "c1"))  # a member may invite
    assert rejected(ledger, member("g1", "c3", "stranger")) == Code.NOT_INVITED  # before group_full
    assert rejected(ledger, member("g1", "c3", "c2")) == Code.GROUP_FULL
    feed(ledger, ev("GroupClosed", group_id="g1"))
    assert rejected(ledger, member("g1", "c1", "B")) == Code.GROUP_CLOSED  # before already_member


def test_member_left_codes(ledger: Ledger) -> None:
    programme(ledger)
    assert rejected(ledger, ev("MemberLeft", group_id="ghost", customer_id="c1")) == Code.UNKNOWN_GROUP
    assert rejected(ledger, ev("MemberLeft", group_id="g1", customer_id="B")) == Code.NOT_MEMBER
    feed(ledger, ev("GroupClosed", group_id="g1"), ev("MemberLeft", group_id="g1", customer_id="c1"))
    assert rejected(ledger, ev("MemberLeft", group_id="g1", customer_id="c1")) == Code.NOT_MEMBER


def test_push_codes(ledger: Ledger) -> None:
    programme(ledger)
    feed(ledger, rules(max_daily_pushes=1))
    assert rejected(ledger, ev("ProductPushed", group_id="ghost", sku="s")) == Code.UNKNOWN_GROUP
    feed(ledger, ev("ProductPushed", group_id="g1", sku="s"))
    assert rejected(ledger, ev("ProductPushed", group_id="g1", sku="t")) == Code.PUSH_QUOTA_EXCEEDED
    feed(ledger, ev("GroupClosed", group_id="g1"))
    assert rejected(ledger, ev("ProductPushed", group_id="g1", sku="t")) == Code.GROUP_CLOSED


def test_order_codes_in_order(ledger: Ledger) -> None:
    programme(ledger)
    feed(ledger, order("o1", "c1", group="g1"))
    assert rejected(ledger, order("o1", "c1", group="ghost", promoter="ghost")) == Code.DUPLICATE_ORDER
    assert rejected(ledger, order("o2", "c1", group="ghost", promoter="ghost")) == Code.UNKNOWN_GROUP
    assert rejected(ledger, order("o2", "c1", group="g1", promoter="ghost")) == Code.UNKNOWN_PROMOTER


def test_completion_codes(ledger: Ledger) -> None:
    programme(ledger)
    assert rejected(ledger, ev("OrderCompleted", order_id="o1")) == Code.UNKNOWN_ORDER
    feed(ledger, order("o1", "c1", group="g1"), ev("OrderCompleted", order_id="o1"))
    assert rejected(ledger, ev("OrderCompleted", order_id="o1")) == Code.ORDER_ALREADY_COMPLETED


def test_refund_codes_in_order(ledger: Ledger) -> None:
    programme(ledger)
    assert rejected(ledger, refund("o1", [("s1", 1)])) == Code.UNKNOWN_ORDER
    feed(ledger, order("o1", "c1", group="g1", lines=[("s1", "daily", 100), ("s2", "daily", 0)]))
    # unknown_line is checked over every line before refund_exceeds_paid.
    assert rejected(ledger, refund("o1", [("s1", 101), ("zz", 1)])) == Code.UNKNOWN_LINE
    assert rejected(ledger, refund("o1", [("s1", 101)])) == Code.REFUND_EXCEEDS_PAID
    assert rejected(ledger, refund("o1", [("s2", 1)])) == Code.REFUND_EXCEEDS_PAID
    feed(ledger, refund("o1", [("s1", 60)]))
    assert rejected(ledger, refund("o1", [("s1", 41)])) == Code.REFUND_EXCEEDS_PAID
    feed(ledger, refund("o1", [("s1", 40)]))


def test_payout_codes_in_order(ledger: Ledger) -> None:
    programme(ledger)
    feed(
        ledger,
        rules(settle_after_days=0, min_payout_fen=100),
        order("o1", "c1", group="g1", lines=[("s1", "daily", 100_000)]),  # B earns 10000, A 2000
        ev("OrderCompleted", order_id="o1"),
        ev("SettlementRun", as_of="2026-11-02T00:00:00Z"),
        ev("PayoutRequested", payout_id="p1", promoter_id="B", amount_fen=4000),
    )
    assert rejected(ledger, ev("PayoutRequested", payout_id="p1", promoter_id="ghost", amount_fen=1)) == Code.DUPLICATE_PAYOUT
    assert rejected(ledger, ev("PayoutRequested", payout_id="p2", promoter_id="ghost", amount_fen=1)) == Code.UNKNOWN_PROMOTER
    assert rejected(ledger, ev("PayoutRequested", payout_id="p2", promoter_id="B", amount_fen=99)) == Code.BELOW_MINIMUM_PAYOUT
    assert rejected(ledger, ev("PayoutRequested", payout_id="p2", promoter_id="B", amount_fen=6001)) == Code.INSUFFICIENT_BALANCE
    assert rejected(ledger, ev("PayoutSettled", payout_id="ghost")) == Code.UNKNOWN_PAYOUT
    assert rejected(ledger, ev("PayoutFailed", payout_id="ghost", reason="")) == Code.UNKNOWN_PAYOUT
    feed(ledger, ev("PayoutSettled", payout_id="p1"))
    assert rejected(ledger, ev("PayoutSettled", payout_id="p1")) == Code.PAYOUT_ALREADY_FINISHED
    assert rejected(ledger, ev("PayoutFailed", payout_id="p1", reason="bank")) == Code.PAYOUT_ALREADY_FINISHED


def test_rejected_id_is_not_remembered(ledger: Ledger) -> None:
    programme(ledger)
    early = refund("o1", [("s1", 10)], at="2026-11-02T09:00:00+08:00")
    assert rejected(ledger, early) == Code.UNKNOWN_ORDER
    feed(ledger, order("o1", "c1", group="g1"))
    assert ledger.append(early).status == "accepted"


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "2026-11-01", "0000-12", "2026-00", "", "202611"])
def test_period_closed_needs_a_month(ledger: Ledger, period: str) -> None:
    assert rejected(ledger, ev("PeriodClosed", at="2026-12-02T09:00:00+08:00", period=period)) == Code.INVALID_EVENT


def test_period_closed_checks(ledger: Ledger) -> None:
    # 2026-11-30T16:00Z is already 12-01 in Shanghai: November has ended there.
    assert rejected(ledger, ev("PeriodClosed", at="2026-11-30T15:59:59Z", period="2026-11")) == Code.PERIOD_NOT_ENDED
    assert rejected(ledger, ev("PeriodClosed", at="2026-10-15T09:00:00+08:00", period="2026-11")) == Code.PERIOD_NOT_ENDED
    feed(ledger, ev("PeriodClosed", at="2026-11-30T16:00:00Z", period="2026-11"))
    assert rejected(ledger, ev("PeriodClosed", at="2027-01-02T09:00:00+08:00", period="2026-11")) == Code.PERIOD_ALREADY_CLOSED
    assert rejected(ledger, ev("PeriodClosed", at="2027-01-02T09:00:00+08:00", period="2026-10")) == Code.PERIOD_ALREADY_CLOSED
    # already closed is checked first, even when the period has not ended either
    assert rejected(ledger, ev("PeriodClosed", at="2026-10-02T09:00:00+08:00", period="2026-09")) == Code.PERIOD_ALREADY_CLOSED
    feed(ledger, ev("PeriodClosed", at="2027-02-01T09:00:00+08:00", period="2027-01"))  # December closes with it


def test_every_code_is_covered() -> None:
    """Each stable code appears in this module as a triggered rejection."""
    source = open(__file__, encoding="utf-8").read()
    missing = [code.name for code in Code if f"== Code.{code.name}" not in source]
    assert missing == []
