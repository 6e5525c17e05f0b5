"""Merging shard answers into the SPEC §8 report.

Each shard answers for the keys it owns (:class:`~.views.ShardTotals`): its
promoters and groups whole, and the top of the ranking among its promoters.
A promoter's ranking figures live in one shard only (its key owns them), so
the global top K is the top K of the merged per-shard tops. Tiers are sums
over groups. The result is the dict ``Ledger.report()`` returns, digest
included.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from typing import Any

from ..domain.report import REPORT_FORMAT, check_period, with_digest
from ..errors import UsageError, invariant
from .views import ShardTotals, View, rank_key

__all__ = ["merge_report", "sharded_report"]


def merge_report(
    shards: Sequence[ShardTotals], *, events: int, log_head: str, period: str | None = None, top: int | None = None
) -> dict[str, Any]:
    """The §8 report, with ``digest``, of shards that together own every key once."""
    period = check_period(period)
    if top is not None and top < 0:
        raise UsageError(f"top: {top} must be at least 0")
    promoters: dict[str, dict[str, Any]] = {}
    groups: dict[str, dict[str, Any]] = {}
    for shard in shards:
        for promoter_id, promoter in shard.promoters.items():
            invariant(promoter_id not in promoters, f"promoter {promoter_id!r} is owned by two shards")
            promoters[promoter_id] = promoter
        for group_id, group in shard.groups.items():
            invariant(group_id not in groups, f"group {group_id!r} is owned by two shards")
            groups[group_id] = group
    tiers = {str(tier): {"groups": 0, "net_fen": 0} for tier in range(1, 6)}
    for group in groups.values():
        tier = tiers[str(group["city_tier"])]
        tier["groups"] += 1
        tier["net_fen"] += group["net_fen"]
    leaders = itertools.islice(heapq.merge(*(shard.ranking for shard in shards), key=rank_key), top)
    ranking = [
        {"rank": rank, "promoter_id": promoter_id, "net_gmv_fen": net_fen, "orders": orders}
        for rank, (net_fen, orders, promoter_id) in enumerate(leaders, start=1)
    ]
    return with_digest({
        "format": REPORT_FORMAT,
        "events": events,
        "log_head": log_head,
        "period": period,
        "promoters": promoters,
        "groups": groups,
        "tiers": tiers,
        "ranking": ranking,
    })


def sharded_report(views: Sequence[View], *, period: str | None = None, top: int | None = None) -> dict[str, Any]:
    """The report of in-memory :class:`~.views.View` shards, all at one position."""
    positions = {(view.position, view.head) for view in views}
    if len(positions) != 1:
        raise UsageError(f"views: shards are at different positions {sorted(p for p, _ in positions)}")
    ((events, log_head),) = positions
    return merge_report([view.totals(period, top) for view in views], events=events, log_head=log_head,
                        period=period, top=top)
