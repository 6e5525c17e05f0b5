"""The merge of decision facts, written once: in-memory shard views and the SQL workers' batches.

:class:`Merge` folds the postings and facts of :mod:`.decisions` per key —
postings summed into their promoter's balances, sums, highest-position flags
and distinct buyers — for the keys it owns. Two readers use it:

- :class:`View`, a shard's view in memory, which answers a query as
  :class:`ShardTotals`: the reference the PostgreSQL workers
  (:mod:`.projection`) and the Dask replay (:mod:`.dask_replay`) are tested
  against, and the sharded pipeline without a server (:func:`~.query.sharded_report`);
- a PostgreSQL worker's batch, which merges a batch of decisions the same
  way and upserts the merged rows into the shard's tables (the SQL ``ON
  CONFLICT`` clauses continue the same merge across batches).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..domain.postings import Balances, BalanceName, Posting, PostingKind, apply_posting
from ..domain.report import check_period
from .decisions import (
    BuyerFact,
    Decision,
    FlagFact,
    GroupDayFact,
    GroupDeltaFact,
    GroupFact,
    InviteFact,
    PromoterFact,
    RankFact,
    facts_of,
    owner_key,
    shard_of,
)

__all__ = [
    "BALANCE_FIELDS",
    "ShardTotals",
    "RankRow",
    "View",
    "Merge",
    "PromoterFigures",
    "GroupFigures",
    "PostingShape",
    "balances_of",
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


#: What a posting does to balances, besides its amount: ``(kind, level, from, to)``.
PostingShape = tuple[PostingKind, int | None, BalanceName | None, BalanceName | None]


def balances_of(promoter_id: str, posted: Mapping[PostingShape, int]) -> Balances:
    """The six balances of a promoter whose postings' amounts, summed per shape, are ``posted``.

    A posting moves its amount between balances by its kind, level, from and
    to alone, so the postings of one shape move together what one posting of
    their summed amount moves: that one is applied, by the fold's own rule
    (:func:`~supernova_ledger.domain.postings.apply_posting`)."""
    balances = Balances()
    for (kind, level, source, destination), amount in posted.items():
        apply_posting(balances, Posting(promoter_id=promoter_id, position=0, event_id="", at="", book="", kind=kind,
                                        level=level, from_=source, to=destination, amount_fen=amount))
    return balances


@dataclass(slots=True)
class PromoterFigures:
    """A promoter's merged facts (``None``: its set-once fact is not among those merged)."""

    program: str | None = None
    inviter_id: str | None = None
    #: (position it was set at, value); (0, False) when never set
    qualified: tuple[int, bool] = (0, False)
    suspended: tuple[int, bool] = (0, False)
    invitees: int = 0
    #: ``amount_fen`` of its postings, summed per :data:`PostingShape`
    posted: dict[PostingShape, int] = field(default_factory=dict)

    def additive(self, promoter_id: str) -> tuple[int, ...]:
        """The summed figures in :data:`BALANCE_FIELDS` order (invitees, then the six balances)."""
        balances = balances_of(promoter_id, self.posted)
        return (self.invitees, balances.pending_fen, balances.available_fen, balances.in_payout_fen,
                balances.paid_out_fen, balances.level1_fen, balances.level2_fen)


@dataclass(slots=True)
class GroupFigures:
    """A group's merged facts (order figures live per local date, in :attr:`Merge.group_days`)."""

    owner_id: str | None = None
    city_tier: int | None = None
    closed: int = 0
    members: int = 0
    pushes: int = 0


class Merge:
    """The postings and facts of decisions, merged per key, for the keys ``owns(key)`` accepts.

    Merging is order-independent: decisions in any order (each once) give the
    same figures. ``None`` for ``owns``: every key."""

    def __init__(self, owns: Callable[[str], bool] | None = None) -> None:
        self.owns = owns
        self.promoters: dict[str, PromoterFigures] = {}
        self.groups: dict[str, GroupFigures] = {}
        #: (group, local date) -> [orders, gross_fen, refunded_fen]
        self.group_days: dict[tuple[str, str], list[int]] = {}
        #: (group, customer, local date)
        self.buyers: set[tuple[str, str, str]] = set()
        #: (level-1 promoter, local date) -> [orders, net_gmv_fen]
        self.rank_days: dict[tuple[str, str], list[int]] = {}

    def add(self, decision: Decision) -> None:
        """Merge the postings and facts of ``decision`` this merge owns."""
        owns, position = self.owns, decision.position
        for posting in decision.postings:  # the most numerous facts: summed per shape, applied when read
            if owns is None or owns("promoter:" + posting.promoter_id):
                posted = self.promoter(posting.promoter_id).posted
                shape = (posting.kind, posting.level, posting.from_, posting.to)
                posted[shape] = posted.get(shape, 0) + posting.amount_fen
        for fact in facts_of(decision, postings=False):
            if owns is None or owns(owner_key(fact)):
                _MERGE[type(fact)](self, fact, position)

    def promoter(self, promoter_id: str) -> PromoterFigures:
        figures = self.promoters.get(promoter_id)
        if figures is None:
            figures = self.promoters[promoter_id] = PromoterFigures()
        return figures

    def group(self, group_id: str) -> GroupFigures:
        figures = self.groups.get(group_id)
        if figures is None:
            figures = self.groups[group_id] = GroupFigures()
        return figures

    def _promoter(self, fact: PromoterFact, position: int) -> None:
        figures = self.promoter(fact.promoter_id)
        figures.program, figures.inviter_id = fact.program, fact.inviter_id

    def _invite(self, fact: InviteFact, position: int) -> None:
        self.promoter(fact.promoter_id).invitees += 1

    def _flag(self, fact: FlagFact, position: int) -> None:
        figures = self.promoter(fact.promoter_id)
        if fact.flag == "qualified":
            figures.qualified = max(figures.qualified, (position, fact.value))
        else:
            figures.suspended = max(figures.suspended, (position, fact.value))

    def _group(self, fact: GroupFact, position: int) -> None:
        figures = self.group(fact.group_id)
        figures.owner_id, figures.city_tier = fact.owner_id, fact.city_tier

    def _group_delta(self, fact: GroupDeltaFact, position: int) -> None:
        figures = self.group(fact.group_id)
        figures.closed += fact.closed
        figures.members += fact.members
        figures.pushes += fact.pushes

    def _group_day(self, fact: GroupDayFact, position: int) -> None:
        day = self.group_days.setdefault((fact.group_id, fact.local_date), [0, 0, 0])
        day[0] += fact.orders
        day[1] += fact.gross_fen
        day[2] += fact.refunded_fen

    def _buyer(self, fact: BuyerFact, position: int) -> None:
        self.buyers.add((fact.group_id, fact.customer_id, fact.local_date))

    def _rank(self, fact: RankFact, position: int) -> None:
        rank = self.rank_days.setdefault((fact.promoter_id, fact.local_date), [0, 0])
        rank[0] += fact.orders
        rank[1] += fact.net_gmv_fen


#: Fact type -> how :class:`Merge` merges it.
_MERGE: Final[dict[type, Callable[[Merge, Any, int], None]]] = {
    PromoterFact: Merge._promoter,
    InviteFact: Merge._invite,
    FlagFact: Merge._flag,
    GroupFact: Merge._group,
    GroupDeltaFact: Merge._group_delta,
    GroupDayFact: Merge._group_day,
    BuyerFact: Merge._buyer,
    RankFact: Merge._rank,
}


class View(Merge):
    """A shard's view in memory: the merged facts of the keys it owns, as of ``position``."""

    def __init__(self, owns: Callable[[str], bool] | None = None) -> None:
        super().__init__(owns)
        self.position = 0
        self.head = "0" * 64

    @classmethod
    def shard(cls, shards: int, index: int) -> "View":
        return cls(lambda key: shard_of(key, shards) == index)

    def apply(self, decision: Decision) -> None:
        """Merge the facts of ``decision`` this view owns (decisions in any order give the same view)."""
        self.position = max(self.position, decision.position)
        if self.position == decision.position:
            self.head = decision.head
        self.add(decision)

    def totals(self, period: str | None = None, top: int | None = None) -> ShardTotals:
        """This view's answer to a report query."""
        period = check_period(period)
        promoters = {
            pid: promoter_row(p.program or "", p.inviter_id, p.qualified[1], p.suspended[1], p.additive(pid))
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
            groups[group_id] = group_row(g.owner_id or "", g.closed, g.city_tier or 0, g.members, g.pushes, orders,
                                         len(buyers.get(group_id, ())), gross, refunded)
        ranked: dict[str, list[int]] = {}
        for (promoter_id, local_date), (orders, net) in self.rank_days.items():
            if in_period(local_date, period):
                sums = ranked.setdefault(promoter_id, [0, 0])
                sums[0] += net
                sums[1] += orders
        ranking = sorted(((net, orders, pid) for pid, (net, orders) in ranked.items() if net > 0), key=rank_key)
        return ShardTotals(promoters, groups, ranking if top is None else ranking[:top])
