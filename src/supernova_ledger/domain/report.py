"""The report of SPEC §8: a pure projection of a :class:`Book`.

Without a period, order figures come from the running totals the fold keeps;
with a period they are recomputed from the orders in scope. Both paths are
tested to agree.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any, Final

from ..errors import UsageError
from ..events import canonical_json
from .book import Book

__all__ = ["REPORT_FORMAT", "build_report", "check_period", "daily_gmv", "with_digest"]

REPORT_FORMAT: Final = "supernova-ledger/report@1"
_PERIOD = re.compile(r"\A([0-9]{4})-([0-9]{2})(?:-([0-9]{2}))?\Z")


def check_period(period: str | None) -> str | None:
    """Validate ``YYYY-MM`` or ``YYYY-MM-DD``; raises :class:`UsageError` naming ``period``."""
    if period is None:
        return None
    match = _PERIOD.match(period)
    if match is None:
        raise UsageError(f"period: {period!r} is not YYYY-MM or YYYY-MM-DD")
    year, month, day = match.groups()
    try:
        date(int(year), int(month), int(day or 1))
    except ValueError:
        raise UsageError(f"period: {period!r} is not a calendar month or day") from None
    return period


def _in_period(local_date: str, period: str) -> bool:
    return local_date == period if len(period) == 10 else local_date.startswith(period + "-")


def _promoters(book: Book) -> dict[str, dict[str, Any]]:
    return {
        promoter_id: {
            "program": p.program,
            "inviter_id": p.inviter_id,
            "qualified": p.qualified,
            "suspended": p.suspended,
            "invitees": p.invitees,
            **p.balances(),
        }
        for promoter_id, p in book.promoters.items()
    }


def _scoped_totals(
    book: Book, period: str
) -> tuple[dict[str, tuple[int, int, int, int]], dict[str, tuple[int, int]]]:
    """Per group ``(orders, buyers, gross, refunded)`` and per promoter ``(net_gmv, orders)``."""
    group_orders: dict[str, list[int]] = {}
    group_buyers: dict[str, set[str]] = {}
    promoter_totals: dict[str, list[int]] = {}
    for order in book.orders.values():
        if not _in_period(order.local_date, period):
            continue
        if order.group_id is not None:
            totals = group_orders.setdefault(order.group_id, [0, 0, 0])
            totals[0] += 1
            totals[1] += order.paid_fen
            totals[2] += order.refunded_fen
            group_buyers.setdefault(order.group_id, set()).add(order.customer_id)
        if order.l1 is not None:
            ranked = promoter_totals.setdefault(order.l1, [0, 0])
            ranked[0] += order.paid_fen - order.refunded_fen
            ranked[1] += 1
    groups = {
        group_id: (t[0], len(group_buyers[group_id]), t[1], t[2]) for group_id, t in group_orders.items()
    }
    promoters = {promoter_id: (t[0], t[1]) for promoter_id, t in promoter_totals.items()}
    return groups, promoters


def build_report(book: Book, period: str | None = None, top: int | None = None) -> dict[str, Any]:
    """The §8 report of ``book`` without its digest (see :func:`with_digest`)."""
    period = check_period(period)
    if top is not None and top < 0:
        raise UsageError(f"top: {top} must be at least 0")
    if period is None:
        group_figures = {
            group_id: (g.orders, len(g.buyers), g.gross_fen, g.refunded_fen) for group_id, g in book.groups.items()
        }
        ranked = {pid: (p.net_gmv_fen, p.orders) for pid, p in book.promoters.items() if p.orders}
    else:
        group_figures, ranked = _scoped_totals(book, period)

    tiers = {str(tier): {"groups": book.tier_groups[tier], "net_fen": 0} for tier in range(1, 6)}
    groups: dict[str, dict[str, Any]] = {}
    for group_id, g in book.groups.items():
        orders, buyers, gross_fen, refunded_fen = group_figures.get(group_id, (0, 0, 0, 0))
        groups[group_id] = {
            "owner_id": g.owner_id,
            "open": g.open,
            "city_tier": g.city_tier,
            "members": len(g.members),
            "pushes": g.pushes,
            "orders": orders,
            "buyers": buyers,
            "gross_fen": gross_fen,
            "refunded_fen": refunded_fen,
            "net_fen": gross_fen - refunded_fen,
        }
        tiers[str(g.city_tier)]["net_fen"] += gross_fen - refunded_fen

    leaders = sorted(
        ((net_fen, orders, pid) for pid, (net_fen, orders) in ranked.items() if net_fen > 0),
        key=lambda row: (-row[0], -row[1], row[2]),
    )
    if top is not None:
        leaders = leaders[:top]
    ranking = [
        {"rank": rank, "promoter_id": pid, "net_gmv_fen": net_fen, "orders": orders}
        for rank, (net_fen, orders, pid) in enumerate(leaders, start=1)
    ]
    return {
        "format": REPORT_FORMAT,
        "events": book.position,
        "log_head": book.head,
        "period": period,
        "promoters": _promoters(book),
        "groups": groups,
        "tiers": tiers,
        "ranking": ranking,
    }


def daily_gmv(book: Book) -> list[dict[str, Any]]:
    """Per local day (oldest first), the orders placed in groups: ``{"day", "orders",
    "gross_fen", "refunded_fen", "net_fen"}``.

    Each day's figures are what ``build_report(book, period=day)`` sums over
    its groups (an order counts on the local date of its ``at``; its refunds
    count with it, whenever they happened). Days without a group order are
    left out. One pass over the orders: no need for a report per day."""
    days: dict[str, list[int]] = {}
    for order in book.orders.values():
        if order.group_id is None:
            continue
        figures = days.get(order.local_date)
        if figures is None:
            figures = days[order.local_date] = [0, 0, 0]
        figures[0] += 1
        figures[1] += order.paid_fen
        figures[2] += order.refunded_fen
    return [
        {"day": day, "orders": n, "gross_fen": gross, "refunded_fen": refunded, "net_fen": gross - refunded}
        for day, (n, gross, refunded) in sorted(days.items())
    ]


def with_digest(report: dict[str, Any]) -> dict[str, Any]:
    """Add ``digest``: sha256 of the canonical JSON of the report without it."""
    body = {key: value for key, value in report.items() if key != "digest"}
    return {**body, "digest": hashlib.sha256(canonical_json(body)).hexdigest()}
