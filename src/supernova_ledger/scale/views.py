"""Shard views in memory: the pure fold of decision facts that the SQL workers also do.

A :class:`View` holds, for the keys it owns, the merged facts of
:mod:`.decisions` — sums, highest-position flags and distinct buyers — and
answers a query as :class:`ShardTotals`. ``View`` is the reference the
PostgreSQL workers (:mod:`.projection`) and the Dask replay
(:mod:`.dask_replay`) are tested against, and runs the sharded pipeline
without a server (:func:`sharded_report`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from ..domain.report import check_period
from .decisions import (
    BalanceFact,
    BuyerFact,
    Decision,
    Fact,
    FlagFact,
    GroupDayFact,
    GroupDeltaFact,
    GroupFact,
    PromoterFact,
    RankFact,
    owner_key,
    shard_of,
)

__all__ = [
    "BALANCE_FIELDS",
    "ShardTotals",
    "RankRow",
    "View",
    "in_period",
    "rank_key",
    "promoter_row",
    "group_row",
]

#: The additive promoter figures, in report order (invitees first).
BALANCE_FIELDS: Final = (
    "invitees", "pending_fen", "available_fen", "in_payout_fen", "paid_out_fen", "level1_fen", "level2_fen",
)

#: A ranking row: ``(net_gmv_fen, orders, promoter_id)``.
RankRow = tuple[int, int, str]


def rank_key(row: RankRow) -> tuple[int, int, str]:
    """SPEC §8 order: net GMV descending, then orders descending, then id by code point."""
    return -row[0], -row[1], row[2]


def in_period(local_date: str, period: str | None) -> bool:
    """Whether an order's local date is in ``period`` (``YYYY-MM`` or ``YYYY-MM-DD``; None: all)."""
    if period is None:
        return True
    return local_date == period if len(period) == 10 else local_date.startswith(period + "-")


def promoter_row(program: str, inviter_id: str | None, qualified: bool, suspended: bool,
                 balances: Iterable[int]) -> dict[str, Any]:
    """A promoter's report entry (SPEC §8) from its merged figures."""
    row: dict[str, Any] = {"program": program, "inviter_id": inviter_id, "qualified": qualified,
                           "suspended": suspended}
    row.update(zip(BALANCE_FIELDS, balances, strict=True))
    return row


def group_row(owner_id: str, closed: int, city_tier: int, members: int, pushes: int, orders: int, buyers: int,
              gross_fen: int, refunded_fen: int) -> dict[str, Any]:
    """A group's report entry (SPEC §8) from its merged figures (order figures already scoped)."""
    return {
        "owner_id": owner_id, "open": closed == 0, "city_tier": city_tier, "members": members, "pushes": pushes,
        "orders": orders, "buyers": buyers, "gross_fen": gross_fen, "refunded_fen": refunded_fen,
        "net_fen": gross_fen - refunded_fen,
    }


@dataclass(slots=True)
class ShardTotals:
    """What one shard answers for a query: its report rows and its top of the ranking."""

    promoters: dict[str, dict[str, Any]]
    groups: dict[str, dict[str, Any]]
    ranking: list[RankRow]  #: sorted by :func:`rank_key`, at most ``top`` rows


@dataclass(slots=True)
class _Promoter:
    program: str = ""
    inviter_id: str | None = None
    #: flag -> (position it was set at, value)
    flags: dict[str, tuple[int, bool]] = field(default_factory=dict)
    balances: list[int] = field(default_factory=lambda: [0] * len(BALANCE_FIELDS))


@dataclass(slots=True)
class _Group:
    owner_id: str = ""
    city_tier: int = 0
    closed: int = 0
    members: int = 0
    pushes: int = 0


class View:
    """The merged facts of the keys ``owns(key)`` accepts, as of ``position``."""

    def __init__(self, owns: Callable[[str], bool] = lambda key: True) -> None:
        self.owns = owns
        self.position = 0
        self.head = "0" * 64
        self.promoters: dict[str, _Promoter] = {}
        self.groups: dict[str, _Group] = {}
        self.group_days: dict[tuple[str, str], list[int]] = {}  # (group, date) -> [orders, gross, refunded]
        self.buyers: set[tuple[str, str, str]] = set()  # (group, customer, date)
        self.rank_days: dict[tuple[str, str], list[int]] = {}  # (promoter, date) -> [net, orders]

    @classmethod
    def shard(cls, shards: int, index: int) -> "View":
        return cls(lambda key: shard_of(key, shards) == index)

    def apply(self, decision: Decision) -> None:
        """Merge the facts of ``decision`` this view owns (decisions in any order give the same view)."""
        self.position = max(self.position, decision.position)
        if self.position == decision.position:
            self.head = decision.head
        for facts in (decision.promoters, decision.flags, decision.balances, decision.groups,
                      decision.group_deltas, decision.group_days, decision.buyers, decision.ranks):
            for fact in facts:
                if self.owns(owner_key(fact)):
                    self._merge(fact, decision.position)

    def _merge(self, fact: Fact, position: int) -> None:
        if isinstance(fact, PromoterFact):
            promoter = self.promoters.setdefault(fact.promoter_id, _Promoter())
            promoter.program, promoter.inviter_id = fact.program, fact.inviter_id
        elif isinstance(fact, FlagFact):
            flags = self.promoters.setdefault(fact.promoter_id, _Promoter()).flags
            flags[fact.flag] = max(flags.get(fact.flag, (0, False)), (position, fact.value))
        elif isinstance(fact, BalanceFact):
            balances = self.promoters.setdefault(fact.promoter_id, _Promoter()).balances
            for index, name in enumerate(BALANCE_FIELDS):
                balances[index] += getattr(fact, name)
        elif isinstance(fact, GroupFact):
            group = self.groups.setdefault(fact.group_id, _Group())
            group.owner_id, group.city_tier = fact.owner_id, fact.city_tier
        elif isinstance(fact, GroupDeltaFact):
            group = self.groups.setdefault(fact.group_id, _Group())
            group.closed += fact.closed
            group.members += fact.members
            group.pushes += fact.pushes
        elif isinstance(fact, GroupDayFact):
            day = self.group_days.setdefault((fact.group_id, fact.local_date), [0, 0, 0])
            day[0] += fact.orders
            day[1] += fact.gross_fen
            day[2] += fact.refunded_fen
        elif isinstance(fact, BuyerFact):
            self.buyers.add((fact.group_id, fact.customer_id, fact.local_date))
        elif isinstance(fact, RankFact):
            rank = self.rank_days.setdefault((fact.promoter_id, fact.local_date), [0, 0])
            rank[0] += fact.net_gmv_fen
            rank[1] += fact.orders

    def totals(self, period: str | None = None, top: int | None = None) -> ShardTotals:
        """This view's answer to a report query."""
        period = check_period(period)
        promoters = {
            pid: promoter_row(p.program, p.inviter_id, p.flags.get("qualified", (0, False))[1],
                              p.flags.get("suspended", (0, False))[1], p.balances)
            for pid, p in self.promoters.items()
        }
        scoped: dict[str, list[int]] = {}
        for (group_id, local_date), (orders, gross, refunded) in self.group_days.items():
            if in_period(local_date, period):
                sums = scoped.setdefault(group_id, [0, 0, 0])
                sums[0] += orders
                sums[1] += gross
                sums[2] += refunded
        buyers: dict[str, set[str]] = {}
        for group_id, customer_id, local_date in self.buyers:
            if in_period(local_date, period):
                buyers.setdefault(group_id, set()).add(customer_id)
        groups = {}
        for group_id, g in self.groups.items():
            orders, gross, refunded = scoped.get(group_id, (0, 0, 0))
            groups[group_id] = group_row(g.owner_id, g.closed, g.city_tier, g.members, g.pushes, orders,
                                         len(buyers.get(group_id, ())), gross, refunded)
        ranked: dict[str, list[int]] = {}
        for (promoter_id, local_date), (net, orders) in self.rank_days.items():
            if in_period(local_date, period):
                sums = ranked.setdefault(promoter_id, [0, 0])
                sums[0] += net
                sums[1] += orders
        ranking = sorted(((net, orders, pid) for pid, (net, orders) in ranked.items() if net > 0), key=rank_key)
        return ShardTotals(promoters, groups, ranking if top is None else ranking[:top])
