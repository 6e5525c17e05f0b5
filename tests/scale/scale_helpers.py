"""Helpers the scale tests share (imported by name; fixtures live in conftest.py)."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from conformance.generator import generate as conformance_lines
from supernova_ledger import Ledger
from supernova_ledger.scale.decisions import Decider, Decision
from supernova_ledger.scale.views import View

#: A small simulated programme: ≈1,800 events of every type but GroupClosed (the conformance
#: logs have it), with a rule change, refunds, settlements and payouts settled and failed.
SIM_SEED, SIM_PROMOTERS, SIM_DAYS = 4, 12, 35
#: Periods worth asking for in the simulation (it starts 2026-11-01, +08:00).
SIM_QUERIES: tuple[tuple[str | None, int | None], ...] = (
    (None, None), ("2026-11", None), ("2026-11-11", None), (None, 3), ("2026-12", 1), ("2027-01", None),
)


def append_all(url: str, events: Sequence[Any], batch: int = 1_000) -> None:
    """Append ``events`` to the ledger at ``url`` (rejections are fine: only accepted ones are logged)."""
    with Ledger.open(url) as ledger:
        for start in range(0, len(events), batch):
            ledger.append_batch(events[start : start + batch])


def reports(url: str, queries: Sequence[tuple[str | None, int | None]] = SIM_QUERIES) -> dict[Any, dict[str, Any]]:
    """The single-process ``Ledger.report()`` for each ``(period, top)``."""
    with Ledger.open(url) as ledger:
        return {query: ledger.report(period=query[0], top=query[1]) for query in queries}


def conformance_log(seed: int, lines: int = 600) -> list[str]:
    """A random conformance log (rule and time-zone changes, rejections, re-deliveries)."""
    return conformance_lines(seed, lines)


def with_closings(lines: Sequence[str], months: Sequence[str] = ("2026-11", "2026-12")) -> list[str]:
    """``lines`` (a roughly chronological log) with a ``PeriodClosed`` of each month put in after
    the first line dated two days past the month's end: later back-dated lines book into an open month."""
    out = list(lines)
    for month in months:
        year, number = int(month[:4]), int(month[5:])
        due = datetime.fromisoformat(f"{year + number // 12:04d}-{number % 12 + 1:02d}-03T00:00:00+00:00")
        for index, line in enumerate(out):
            try:
                at = json.loads(line).get("at")
                moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
            except (ValueError, AttributeError, TypeError):
                continue
            if moment.tzinfo is not None and moment >= due:
                closing = {"type": "PeriodClosed", "id": f"close-{month}", "at": at, "period": month}
                out.insert(index + 1, json.dumps(closing))
                break
    return out


def decisions_of(ledger: Ledger) -> list[Decision]:
    """The decision of every stored event, in log order."""
    decider = Decider()
    return [decider.replay(record) for record in ledger.store.read()]


def shard_views(decisions: list[Decision], shards: int, *, seed: int = 0) -> list[View]:
    """Views of every shard, fed the decisions in a shuffled order."""
    views = [View.shard(shards, index) for index in range(shards)]
    shuffled = list(decisions)
    random.Random(seed).shuffle(shuffled)
    for decision in shuffled:
        for view in views:
            view.apply(decision)
    return views
