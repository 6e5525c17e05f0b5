"""Explanations and statements (SPEC §8.2, §8.3): pure projections of postings.

Both read the postings the fold made (:class:`~.postings.Posting`), never
re-derive a commission: an explanation lists one promoter's postings with its
balances; a statement sums, per promoter, the postings booked before a month
(opening), those booked in it (movements), and their sum (closing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from ..errors import UsageError
from .book import Book
from .postings import Balances, Posting, Tally, posting_dict

__all__ = [
    "EXPLAIN_FORMAT",
    "STATEMENT_FORMAT",
    "MOVEMENT_KEYS",
    "check_month",
    "build_explain",
    "build_statement",
]

EXPLAIN_FORMAT: Final = "supernova-ledger/explain@1"
STATEMENT_FORMAT: Final = "supernova-ledger/statement@1"
_MONTH: Final = re.compile(r"\A(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])\Z")

#: A statement's movements: (key, posting kind, level or None for any level).
_MOVEMENTS: Final = (
    ("earned_l1_fen", "earn", 1),
    ("earned_l2_fen", "earn", 2),
    ("clawed_back_l1_fen", "clawback", 1),
    ("clawed_back_l2_fen", "clawback", 2),
    ("settled_fen", "settle", None),
    ("payout_fen", "payout", None),
    ("paid_fen", "paid", None),
    ("returned_fen", "returned", None),
)
MOVEMENT_KEYS: Final = tuple(key for key, _, _ in _MOVEMENTS)
_MOVEMENT_KEY: Final = {(kind, level): key for key, kind, level in _MOVEMENTS}


def check_month(period: str | None, field: str = "period") -> str:
    """A booking period must be a month ``YYYY-MM``; raises :class:`UsageError` naming ``field``."""
    if period is None or not _MONTH.match(period):
        raise UsageError(f"{field}: {period!r} is not a month YYYY-MM", code="invalid_period")
    return period


def build_explain(book: Book, promoter_id: str, postings: Iterable[Posting], period: str | None = None) -> dict[str, Any]:
    """SPEC §8.2 without its digest: ``postings`` are the promoter's, in log order."""
    if period is not None:
        check_month(period)
    promoter = book.promoters.get(promoter_id)
    if promoter is None:
        raise UsageError(
            f"promoter_id: {promoter_id!r} has not joined within the first {book.position} events",
            code="unknown_promoter",
        )
    listed = [
        posting_dict(p) for p in postings
        if p.promoter_id == promoter_id and (period is None or p.book == period)
    ]
    return {
        "format": EXPLAIN_FORMAT,
        "events": book.position,
        "log_head": book.head,
        "promoter_id": promoter_id,
        "period": period,
        "balances": promoter.balances(),
        "postings": listed,
    }


class _Account:
    """One promoter's statement: opening balances, movements, closing balances."""

    __slots__ = ("opening", "closing", "movements", "posted")

    def __init__(self) -> None:
        self.opening = Balances()
        self.closing = Balances()
        self.movements = dict.fromkeys(MOVEMENT_KEYS, 0)
        self.posted = False

    @classmethod
    def of(cls, promoter_id: str, before: Tally, during: Tally) -> "_Account":
        """The promoter's account of its postings booked before the month and in it."""
        account = cls()
        before.apply_to(account.opening, promoter_id)
        before.apply_to(account.closing, promoter_id)
        during.apply_to(account.closing, promoter_id)
        for (kind, level, _source), amount in during.sums.items():
            key = _MOVEMENT_KEY.get((kind, level if kind in ("earn", "clawback") else None))
            if key is not None:
                account.movements[key] += amount
        account.posted = bool(during.sums)
        return account

    def as_dict(self) -> dict[str, Any]:
        return {"opening": self.opening.as_dict(), **self.movements, "closing": self.closing.as_dict()}


def build_statement(
    book: Book, postings: Iterable[Posting], period: str, promoter_id: str | None = None
) -> dict[str, Any]:
    """SPEC §8.3 without its digest, from every posting up to ``book``'s position (each
    promoter's in log order; promoters may come in any order).

    ``promoter_id`` keeps that promoter only (in ``promoters`` and in ``totals``)."""
    check_month(period)
    tallies: dict[str, tuple[Tally, Tally]] = {}  # promoter -> (booked before the month, booked in it)
    for posting in postings:
        if posting.book > period or (promoter_id is not None and posting.promoter_id != promoter_id):
            continue
        pair = tallies.get(posting.promoter_id)
        if pair is None:
            pair = tallies[posting.promoter_id] = (Tally(), Tally())
        pair[posting.book == period].add(posting)
    accounts = {pid: _Account.of(pid, before, during) for pid, (before, during) in sorted(tallies.items())}
    listed = {pid: account for pid, account in accounts.items() if account.posted or account.opening.any()}
    totals = _Account()
    for account in listed.values():
        for name in Balances.__slots__:
            setattr(totals.opening, name, getattr(totals.opening, name) + getattr(account.opening, name))
            setattr(totals.closing, name, getattr(totals.closing, name) + getattr(account.closing, name))
        for key in MOVEMENT_KEYS:
            totals.movements[key] += account.movements[key]
    closed = book.closed_through is not None and period <= book.closed_through
    return {
        "format": STATEMENT_FORMAT,
        "events": book.position,
        "log_head": book.head,
        "period": period,
        "closed": closed,
        "promoters": {pid: account.as_dict() for pid, account in listed.items()},
        "totals": totals.as_dict(),
    }
