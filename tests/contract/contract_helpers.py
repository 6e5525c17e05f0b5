"""Records, event builders, a programme generator and a CLI runner for the contract tests.

Also the bodies of the worker processes (they must be importable by a
``spawn``-ed child)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from supernova_ledger.errors import ConcurrencyConflict
from supernova_ledger.store import GENESIS_HEAD, LogRecord, LogStore

Event = dict[str, Any]
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))


def chain(count: int, start: int = 1, head: str = GENESIS_HEAD, tag: str = "e") -> list[LogRecord]:
    """``count`` records from ``start``, each event a small JSON object, heads chained."""
    records = []
    for position in range(start, start + count):
        event = f'{{"id":"{tag}{position}","type":"Test"}}'.encode()
        head = hashlib.sha256(head.encode() + b"\n" + event).hexdigest()
        records.append(LogRecord(position, event, head))
    return records


# -- events -------------------------------------------------------------------------------


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def joined(event_id: str, promoter: str, inviter: str | None = None, minute: float = 0, tier: int = 3) -> Event:
    return {"type": "PromoterJoined", "id": event_id, "at": at(minute), "promoter_id": promoter,
            "program": "fenxiang", "inviter_id": inviter, "city": "临沂", "city_tier": tier}


def qualified(event_id: str, promoter: str, minute: float = 0) -> Event:
    return {"type": "PromoterQualified", "id": event_id, "at": at(minute), "promoter_id": promoter}


def group_opened(event_id: str, group: str, owner: str, minute: float = 0, tier: int = 3) -> Event:
    return {"type": "GroupOpened", "id": event_id, "at": at(minute), "group_id": group, "owner_id": owner,
            "city": "临沂", "city_tier": tier}


def member_joined(event_id: str, group: str, customer: str, invited_by: str, minute: float = 0) -> Event:
    return {"type": "MemberJoined", "id": event_id, "at": at(minute), "group_id": group,
            "customer_id": customer, "invited_by": invited_by}


def order_placed(event_id: str, order: str, customer: str, group: str | None, paid_fen: int, minute: float = 0,
                 promoter: str | None = None, category: str = "daily") -> Event:
    return {"type": "OrderPlaced", "id": event_id, "at": at(minute), "order_id": order, "customer_id": customer,
            "promoter_id": promoter, "group_id": group,
            "lines": [{"sku": f"sku-{order}", "category": category, "quantity": 1, "paid_fen": paid_fen}]}


def order_completed(event_id: str, order: str, minute: float = 0) -> Event:
    return {"type": "OrderCompleted", "id": event_id, "at": at(minute), "order_id": order}


def order_refunded(event_id: str, order: str, amount_fen: int, minute: float = 0) -> Event:
    return {"type": "OrderRefunded", "id": event_id, "at": at(minute), "order_id": order,
            "lines": [{"sku": f"sku-{order}", "amount_fen": amount_fen}]}


def settlement(event_id: str, minute: float) -> Event:
    return {"type": "SettlementRun", "id": event_id, "at": at(minute), "as_of": at(minute)}


def payout(event_id: str, payout_id: str, promoter: str, amount_fen: int, minute: float = 0) -> Event:
    return {"type": "PayoutRequested", "id": event_id, "at": at(minute), "payout_id": payout_id,
            "promoter_id": promoter, "amount_fen": amount_fen}


DAY_MINUTES = 24 * 60


def earning_promoters(count: int, paid_fen: int = 100_000) -> list[Event]:
    """Promoters ``b0…`` (invited by ``root``), each with 10% of ``paid_fen`` available."""
    events = [joined("root-joined", "root")]
    for k in range(count):
        b, g, o = f"b{k}", f"g{k}", f"o{k}"
        events += [
            joined(f"{b}-joined", b, "root", minute=1),
            qualified(f"{b}-qualified", b, minute=2),
            group_opened(f"{g}-opened", g, b, minute=3),
            member_joined(f"{g}-member", g, f"c{k}", b, minute=4),
            order_placed(f"{o}-placed", o, f"c{k}", g, paid_fen, minute=5),
            order_completed(f"{o}-completed", o, minute=6),
        ]
    events.append(settlement("settle-1", minute=20 * DAY_MINUTES))
    return events


def programme(promoters: int, seed: int = 1) -> Iterator[Event]:
    """A deterministic programme with every kind of event; about 12 events per promoter.

    Mostly accepted; a few payouts are below the minimum (rejected), so an
    ingest of it is realistic without being random."""
    yield {"type": "RulesAdopted", "id": "rules-1", "at": at(0),
           "rules": {"settle_after_days": 7, "category_rates": {"appliance": {"level1_bps": 300, "level2_bps": 50}}}}
    for k in range(promoters):
        p, g = f"p{k}", f"g{k}"
        inviter = f"p{(k * 7 + seed) % k}" if k else None
        minute = k * 0.5
        yield joined(f"{p}-j", p, inviter, minute=minute, tier=1 + k % 5)
        yield qualified(f"{p}-q", p, minute=minute + 1)
        yield group_opened(f"{g}-o", g, p, minute=minute + 2, tier=1 + k % 5)
        for c in range(2):
            yield member_joined(f"{g}-m{c}", g, f"c{k}-{c}", p, minute=minute + 3)
            yield order_placed(f"{g}-o{c}", f"{g}-o{c}", f"c{k}-{c}", g, 1_000 + (k * 37 + c * 101) % 90_000,
                               minute=minute + 4, category="appliance" if c else "daily")
            yield order_completed(f"{g}-c{c}", f"{g}-o{c}", minute=minute + 5)
        yield order_refunded(f"{g}-r0", f"{g}-o0", 500, minute=minute + 6)
    yield settlement("settle-1", minute=30 * DAY_MINUTES)
    for k in range(0, promoters, 3):
        yield payout(f"pay-{k}", f"pay-{k}", f"p{k}", 1_000 + k % 7, minute=31 * DAY_MINUTES)


def write_jsonl(path: Path, events: Iterable[Event]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event, ensure_ascii=False) + "\n")
            count += 1
    return count


# -- the command line ----------------------------------------------------------------------


def cli_command(*args: str, store: str) -> list[str]:
    return [sys.executable, "-m", "supernova_ledger", *args, "--store", store]


def run_cli(*args: str, store: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUTF8": "1"}
    return subprocess.run(cli_command(*args, store=store), capture_output=True, text=True, timeout=timeout, env=env)


def counting_conflicts(store: LogStore) -> list[int]:
    """Count the ConcurrencyConflicts ``store.append`` raises (in ``counter[0]``)."""
    counter = [0]
    real_append = store.append

    def append(records: Any, *side: Any) -> None:
        try:
            real_append(records, *side)
        except ConcurrencyConflict:
            counter[0] += 1
            raise

    store.append = append  # type: ignore[method-assign]
    return counter


# -- worker processes ---------------------------------------------------------------------


def append_worker(url: str, tag: str, shared: list[Event], own: int, barrier: Any, results: Any) -> None:
    """Append own events interleaved with events every writer sends, one at a time."""
    from supernova_ledger import Ledger

    with Ledger.open(url) as ledger:
        conflicts = counting_conflicts(ledger.store)
        outcomes = []
        barrier.wait()
        for i in range(max(own, len(shared))):
            if i < own:
                o = ledger.append(joined(f"{tag}-{i}", f"{tag}-{i}", minute=i))
                outcomes.append((f"{tag}-{i}", o.status, o.position, o.code))
            if i < len(shared):
                o = ledger.append(shared[i])
                outcomes.append((shared[i]["id"], o.status, o.position, o.code))
        report = ledger.report()
        results.put({"tag": tag, "outcomes": outcomes, "events": report["events"],
                     "digest": report["digest"], "conflicts": conflicts[0]})


def payout_worker(url: str, tag: str, rounds: int, amount_fen: int, barrier: Any, results: Any) -> None:
    """In each round, on the barrier, request a payout from ``b{round}``."""
    from supernova_ledger import Ledger

    with Ledger.open(url) as ledger:
        conflicts = counting_conflicts(ledger.store)
        outcomes = []
        for k in range(rounds):
            ledger.report()  # catch up, so both writers decide from the same state
            barrier.wait()
            o = ledger.append(payout(f"{tag}-pay-{k}", f"{tag}-pay-{k}", f"b{k}", amount_fen, minute=21 * DAY_MINUTES))
            outcomes.append((k, o.status, o.code))
        results.put({"tag": tag, "outcomes": outcomes, "conflicts": conflicts[0]})


def sql_on_store(url: str, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run ``statement`` on a durable store's log table ``{t}`` directly (``%s`` placeholders), bypassing the ledger."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url[len("sqlite:///") :]) as db:
            return db.execute(statement.replace("%s", "?").replace("{t}", "stored_events"), params).fetchall()
    import psycopg

    from supernova_ledger.store.postgres import parse_postgres_url

    target = parse_postgres_url(url)
    with psycopg.connect(host=target.host, port=target.port, user=target.user, dbname=target.dbname,
                         autocommit=True) as conn:
        cursor = conn.execute(statement.replace("{t}", f"{target.schema}.stored_events"), params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []
