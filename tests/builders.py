"""Small builders so a test's input log is readable next to its assertions."""

from __future__ import annotations

import itertools
from typing import Any

from supernova_ledger import Ledger, Outcome

_ids = itertools.count(1)
T0 = "2026-11-01T09:00:00+08:00"


def ev(type_: str, at: str = T0, id: str | None = None, **fields: Any) -> dict[str, Any]:
    """An event dict with a fresh id unless one is given."""
    return {"type": type_, "id": id or f"t{next(_ids)}", "at": at, **fields}


def joined(pid: str, inviter: str | None = None, at: str = T0, **kw: Any) -> dict[str, Any]:
    return ev("PromoterJoined", at, promoter_id=pid, program="fenxiang", inviter_id=inviter,
              city="临沂", city_tier=4, **kw)


def qualified(pid: str, at: str = T0) -> dict[str, Any]:
    return ev("PromoterQualified", at, promoter_id=pid)


def opened(gid: str, owner: str, at: str = T0, tier: int = 4) -> dict[str, Any]:
    return ev("GroupOpened", at, group_id=gid, owner_id=owner, city="临沂", city_tier=tier)


def member(gid: str, customer: str, invited_by: str, at: str = T0) -> dict[str, Any]:
    return ev("MemberJoined", at, group_id=gid, customer_id=customer, invited_by=invited_by)


def order(oid: str, customer: str, *, promoter: str | None = None, group: str | None = None,
          at: str = T0, lines: list[tuple[str, str, int]] | None = None) -> dict[str, Any]:
    body = lines or [("s1", "daily", 10000)]
    return ev("OrderPlaced", at, order_id=oid, customer_id=customer, promoter_id=promoter, group_id=group,
              lines=[{"sku": s, "category": c, "quantity": 1, "paid_fen": p} for s, c, p in body])


def refund(oid: str, lines: list[tuple[str, int]], at: str = T0) -> dict[str, Any]:
    return ev("OrderRefunded", at, order_id=oid, lines=[{"sku": s, "amount_fen": a} for s, a in lines])


def rules(at: str = T0, **values: Any) -> dict[str, Any]:
    return ev("RulesAdopted", at, rules=values)


def feed(ledger: Ledger, *events: dict[str, Any]) -> list[Outcome]:
    """Append events that must all be accepted."""
    outcomes = ledger.append_batch(list(events))
    bad = [o for o in outcomes if o.status != "accepted"]
    assert not bad, bad
    return outcomes


def programme(ledger: Ledger) -> None:
    """A: root; B invited by A, qualified, owns g1 with member c1."""
    feed(ledger, joined("A"), joined("B", "A"), qualified("B"), opened("g1", "B"), member("g1", "c1", "B"))
