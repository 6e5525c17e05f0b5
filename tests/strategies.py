"""Shared Hypothesis strategies: plausible event logs over a small id universe.

Small universes make collisions (duplicate ids, unknown ids, quotas, refunds
of refunded lines) common, so most rejection paths and most effects happen.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

PEOPLE = ["A", "B", "C", "D", "客1", "c2", "c3"]
GROUPS = ["g1", "g2", "g3"]
ORDERS = ["o1", "o2", "o3", "o4", "o5"]
PAYOUTS = ["p1", "p2", "p3"]
SKUS = ["s1", "s2", "s3"]
CATEGORIES = ["daily", "appliance", "fresh"]
ZONES = ["Asia/Shanghai", "UTC", "America/Los_Angeles", "Pacific/Kiritimati"]
#: Months around the timestamps' window (2026-11-10 + 40 days), and one that is not a month.
MONTHS = ["2026-10", "2026-11", "2026-11", "2026-12", "2027-01", "2026-13"]

# Timestamps in a 40-day window around month ends, in several offsets.
_seconds = st.integers(min_value=0, max_value=40 * 86400)
_offsets = st.sampled_from(["Z", "+08:00", "-08:00", "+14:00", "+05:30"])
_fraction = st.sampled_from(["", "", ".5", ".000001", ".123456"])


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    from datetime import datetime, timedelta, timezone

    base = datetime(2026, 11, 10, tzinfo=timezone.utc) + timedelta(seconds=draw(_seconds))
    offset = draw(_offsets)
    if offset == "Z":
        return base.strftime("%Y-%m-%dT%H:%M:%S") + draw(_fraction) + "Z"
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    local = base + sign * timedelta(hours=hours, minutes=minutes)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + draw(_fraction) + offset


def _person() -> st.SearchStrategy[str]:
    return st.sampled_from(PEOPLE)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


_rules = st.fixed_dictionaries(
    {},
    optional={
        "level1_bps": st.integers(0, 3000),
        "level2_bps": st.integers(0, 1000),
        "category_rates": st.dictionaries(
            st.sampled_from(CATEGORIES),
            st.fixed_dictionaries({"level1_bps": st.integers(0, 5000), "level2_bps": st.integers(0, 5000)}),
            max_size=2,
        ),
        "attribution": st.sampled_from(["last_touch", "protected_binding"]),
        "binding_days": st.integers(1, 3),
        "settle_after_days": st.integers(0, 3),
        "min_payout_fen": st.integers(1, 500),
        "max_groups_per_owner": st.integers(1, 2),
        "max_group_members": st.integers(1, 3),
        "max_daily_pushes": st.integers(0, 2),
        "self_purchase_commission": st.booleans(),
        "timezone": st.sampled_from(ZONES),
    },
)

_order_lines = st.lists(
    st.fixed_dictionaries(
        {
            "sku": st.sampled_from(SKUS),
            "category": st.sampled_from(CATEGORIES),
            "quantity": st.integers(1, 3),
            "paid_fen": st.integers(0, 50_000),
        }
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda line: line["sku"],
)
_refund_lines = st.lists(
    st.fixed_dictionaries({"sku": st.sampled_from(SKUS), "amount_fen": st.integers(1, 30_000)}),
    min_size=1,
    max_size=2,
    unique_by=lambda line: line["sku"],
)

_BODIES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "RulesAdopted": st.fixed_dictionaries({"rules": _rules}),
    "PromoterJoined": st.fixed_dictionaries(
        {
            "promoter_id": _person(),
            "program": st.sampled_from(["fenxiang", "cloud_store", "jing_xiaoge", "jing_xiaofu", "jing_xiaojia"]),
            "inviter_id": _maybe(_person()),
            "city": st.sampled_from(["北京", "临沂", "Chengdu"]),
            "city_tier": st.integers(1, 5),
        }
    ),
    "PromoterQualified": st.fixed_dictionaries({"promoter_id": _person()}),
    "PromoterSuspended": st.fixed_dictionaries({"promoter_id": _person(), "reason": st.sampled_from(["", "audit"])}),
    "PromoterReinstated": st.fixed_dictionaries({"promoter_id": _person()}),
    "GroupOpened": st.fixed_dictionaries(
        {"group_id": st.sampled_from(GROUPS), "owner_id": _person(), "city": st.just("洛阳"), "city_tier": st.integers(1, 5)}
    ),
    "GroupClosed": st.fixed_dictionaries({"group_id": st.sampled_from(GROUPS)}),
    "MemberJoined": st.fixed_dictionaries(
        {"group_id": st.sampled_from(GROUPS), "customer_id": _person(), "invited_by": _person()}
    ),
    "MemberLeft": st.fixed_dictionaries({"group_id": st.sampled_from(GROUPS), "customer_id": _person()}),
    "ProductPushed": st.fixed_dictionaries({"group_id": st.sampled_from(GROUPS), "sku": st.sampled_from(SKUS)}),
    "OrderPlaced": st.fixed_dictionaries(
        {
            "order_id": st.sampled_from(ORDERS),
            "customer_id": _person(),
            "promoter_id": _maybe(_person()),
            "group_id": _maybe(st.sampled_from(GROUPS)),
            "lines": _order_lines,
        }
    ),
    "OrderCompleted": st.fixed_dictionaries({"order_id": st.sampled_from(ORDERS)}),
    "OrderRefunded": st.fixed_dictionaries({"order_id": st.sampled_from(ORDERS), "lines": _refund_lines}),
    "SettlementRun": st.fixed_dictionaries({"as_of": timestamps()}),
    "PayoutRequested": st.fixed_dictionaries(
        {"payout_id": st.sampled_from(PAYOUTS), "promoter_id": _person(), "amount_fen": st.integers(1, 5_000)}
    ),
    "PayoutSettled": st.fixed_dictionaries({"payout_id": st.sampled_from(PAYOUTS)}),
    "PayoutFailed": st.fixed_dictionaries({"payout_id": st.sampled_from(PAYOUTS), "reason": st.just("bank")}),
    "PeriodClosed": st.fixed_dictionaries({"period": st.sampled_from(MONTHS)}),
}

# Weighted so that the programme gets built before it gets used.
_WEIGHTS = {
    "PromoterJoined": 4, "PromoterQualified": 3, "GroupOpened": 3, "MemberJoined": 3, "OrderPlaced": 6,
    "OrderCompleted": 3, "OrderRefunded": 3, "SettlementRun": 2, "PayoutRequested": 3, "PayoutSettled": 1,
    "PayoutFailed": 1, "RulesAdopted": 1, "PromoterSuspended": 1, "PromoterReinstated": 1, "GroupClosed": 1,
    "MemberLeft": 1, "ProductPushed": 2, "PeriodClosed": 1,
}
_TYPES = [name for name, weight in _WEIGHTS.items() for _ in range(weight)]


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(_TYPES))
    body = draw(_BODIES[kind])
    return {"type": kind, "id": f"e{draw(st.integers(0, 300))}", "at": draw(timestamps()), **body}


def _prelude() -> list[dict[str, Any]]:
    """A small programme most logs start from, so that later events mostly land."""
    at = "2026-11-09T09:00:00+08:00"

    def make(n: int, kind: str, **body: Any) -> dict[str, Any]:
        return {"type": kind, "id": f"pre{n}", "at": at, **body}

    def joined(n: int, pid: str, inviter: str | None) -> dict[str, Any]:
        return make(n, "PromoterJoined", promoter_id=pid, program="fenxiang", inviter_id=inviter,
                    city="临沂", city_tier=4)

    return [
        joined(1, "A", None), joined(2, "B", "A"), joined(3, "C", "B"), joined(4, "D", None),
        make(5, "PromoterQualified", promoter_id="B"), make(6, "PromoterQualified", promoter_id="C"),
        make(7, "GroupOpened", group_id="g1", owner_id="B", city="临沂", city_tier=4),
        make(8, "GroupOpened", group_id="g2", owner_id="C", city="洛阳", city_tier=3),
        make(9, "MemberJoined", group_id="g1", customer_id="c2", invited_by="B"),
    ]


@st.composite
def event_logs(draw: st.DrawFn, min_size: int = 0, max_size: int = 60) -> list[dict[str, Any]]:
    prelude = _prelude() if draw(st.integers(0, 4)) else []
    return prelude + draw(st.lists(events(), min_size=min_size, max_size=max_size))


def malformed_lines() -> st.SearchStrategy[bytes]:
    """Bytes that are mostly not valid events: junk, truncations, mutations of valid events."""
    import json

    def mutate(event: dict[str, Any], how: int) -> bytes:
        data = json.dumps(event, ensure_ascii=False).encode()
        if how == 0:
            return data[: len(data) // 2]
        if how == 1:
            return data.replace(b'"at"', b'"at_"', 1)
        if how == 2:
            return data.replace(b"Z", b"", 1).replace(b"+08:00", b"", 1)
        return data + b"}"

    return st.one_of(
        st.binary(max_size=80),
        st.text(max_size=80).map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.builds(mutate, events(), st.integers(0, 3)),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
            max_leaves=8,
        ).map(lambda value: json.dumps(value).encode()),
    )



#: Months a ``PeriodClosed`` of a generated log may name (the logs' timestamps span Nov–Dec 2026).
CLOSABLE_MONTHS = ["2026-10", "2026-11", "2026-12", "2027-01"]
_ENROLLED = ["A", "B", "C", "D"]  # the prelude's promoters

_MONEY: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "OrderPlaced": st.fixed_dictionaries({
        "order_id": st.sampled_from(ORDERS), "customer_id": _person(),
        "promoter_id": _maybe(st.sampled_from(_ENROLLED)), "group_id": _maybe(st.sampled_from(["g1", "g2"])),
        "lines": _order_lines,
    }),
    "OrderCompleted": _BODIES["OrderCompleted"],
    "OrderRefunded": _BODIES["OrderRefunded"],
    "SettlementRun": _BODIES["SettlementRun"],
    "PayoutRequested": st.fixed_dictionaries({
        "payout_id": st.sampled_from(PAYOUTS), "promoter_id": st.sampled_from(_ENROLLED),
        "amount_fen": st.integers(1, 5_000),
    }),
    "PayoutSettled": _BODIES["PayoutSettled"],
    "PayoutFailed": _BODIES["PayoutFailed"],
    "PeriodClosed": st.fixed_dictionaries({"period": st.sampled_from(CLOSABLE_MONTHS)}),
    "PromoterSuspended": st.fixed_dictionaries({"promoter_id": st.sampled_from(_ENROLLED), "reason": st.just("")}),
    "PromoterReinstated": st.fixed_dictionaries({"promoter_id": st.sampled_from(_ENROLLED)}),
    "RulesAdopted": _BODIES["RulesAdopted"],
}
_MONEY_WEIGHTS = {
    "OrderPlaced": 6, "OrderCompleted": 4, "OrderRefunded": 3, "SettlementRun": 3, "PayoutRequested": 3,
    "PayoutSettled": 1, "PayoutFailed": 1, "PeriodClosed": 2, "PromoterSuspended": 1, "PromoterReinstated": 1,
    "RulesAdopted": 1,
}
_MONEY_TYPES = [name for name, weight in _MONEY_WEIGHTS.items() for _ in range(weight)]


def _shanghai(seconds: int) -> str:
    """``2026-11-24T00:00:00+08:00`` plus ``seconds``, in +08:00."""
    from datetime import datetime, timedelta, timezone

    moment = datetime(2026, 11, 24, tzinfo=timezone(timedelta(hours=8))) + timedelta(seconds=seconds)
    return moment.isoformat()


@st.composite
def money_logs(draw: st.DrawFn, max_size: int = 40) -> list[dict[str, Any]]:
    """The prelude's programme under quick rules (settle after 0–2 days, small minimum payout),
    then mostly money: orders through its promoters, completions, settlements, refunds before and
    after settlement, payouts, suspensions and rule changes, on a clock that moves forward from
    2026-11-24 (+08:00) by up to three days an event; a third of the events are back-dated by up to
    three weeks, and ``PeriodClosed`` mostly closes the month before the clock's (so back-dated
    events get booked into the first open month)."""
    rules = {"settle_after_days": draw(st.integers(0, 2)), "min_payout_fen": draw(st.integers(1, 500))}
    log = [{"type": "RulesAdopted", "id": "pre0", "at": "2026-11-09T08:00:00+08:00", "rules": rules}, *_prelude()]
    clock = 0
    for number in range(draw(st.integers(min(8, max_size), max_size))):
        clock += draw(st.integers(0, 3 * 86_400))
        at = clock - draw(st.integers(0, 21 * 86_400)) if draw(st.integers(0, 2)) == 0 else clock
        kind = draw(st.sampled_from(_MONEY_TYPES))
        body = draw(_MONEY[kind])
        if kind == "PeriodClosed" and draw(st.integers(0, 3)):
            month = _shanghai(at)[:7]
            body["period"] = f"{month[:4]}-{int(month[5:]) - 1:02d}" if month[5:] != "01" else f"{int(month[:4]) - 1}-12"
        if kind == "SettlementRun":
            body["as_of"] = _shanghai(at)
        log.append({"type": kind, "id": f"m{number}", "at": _shanghai(at), **body})
    return log


@st.composite
def logs_with_closings(draw: st.DrawFn, max_size: int = 60, max_closings: int = 4) -> list[dict[str, Any]]:
    """:func:`event_logs` with up to ``max_closings`` ``PeriodClosed`` events put in anywhere
    (many refused: month not ended, already closed), so that postings get booked into later months."""
    log = draw(event_logs(max_size=max_size))
    closings = draw(st.lists(
        st.tuples(st.integers(0, len(log)), st.sampled_from(CLOSABLE_MONTHS), timestamps()), max_size=max_closings,
    ))
    for number, (index, period, at) in enumerate(sorted(closings, key=lambda closing: -closing[0])):
        log.insert(index, {"type": "PeriodClosed", "id": f"close{number}", "at": at, "period": period})
    return log


def ledger_logs() -> st.SearchStrategy[list[dict[str, Any]]]:
    """Random logs of both kinds: anything (:func:`logs_with_closings`) and mostly money (:func:`money_logs`)."""
    return st.one_of(money_logs(), logs_with_closings())
