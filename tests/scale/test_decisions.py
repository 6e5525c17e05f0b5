"""Write-time decisions and in-memory shard views: no server needed.

Every figure of the §8 report is an order-independent merge of decision facts
by key; shards of any N, fed the decisions in any order, merge into the
report ``Ledger.report()`` gives, byte for byte (same digest).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from supernova_ledger import Ledger
from supernova_ledger.errors import CorruptLog, UsageError
from supernova_ledger.scale.decisions import (
    BalanceFact,
    Decider,
    Decision,
    LineChange,
    decode_decision,
    encode_decision,
    facts_of,
    key_hashes,
    owner_key,
    shard_of,
)
from supernova_ledger.scale.query import sharded_report
from supernova_ledger.scale.views import View
from supernova_ledger.store import LogRecord

from scale_helpers import SIM_QUERIES, append_all, conformance_log

SPEC_EXAMPLE = Path(__file__).parents[1] / "golden" / "spec_example.jsonl"
SPEC_DIGEST = "363493d66ddbf3e8886947d20da52f84d8451c2bc2cf622193c6cbeb42b615de"


def decisions_of(ledger: Ledger) -> list[Decision]:
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


@pytest.fixture(scope="module")
def spec_ledger() -> Any:
    with Ledger.open("memory:") as ledger:
        ledger.append_batch(SPEC_EXAMPLE.read_text(encoding="utf-8").splitlines())
        yield ledger


def test_spec_example_decisions_are_the_hand_worked_ones(spec_ledger: Ledger) -> None:
    decisions = {d.event_id: d for d in decisions_of(spec_ledger)}
    placed = decisions["e6"]
    assert placed.order is not None
    assert (placed.order.l1, placed.order.ben1, placed.order.ben2) == ("B", "B", "A")
    assert placed.order.lines == (LineChange("s1", 999, 199), LineChange("s2", 597, 99))
    assert set(placed.balances) == {
        BalanceFact("B", pending_fen=1596, level1_fen=1596), BalanceFact("A", pending_fen=298, level2_fen=298),
    }
    settled = decisions["e8"]
    assert settled.settled_orders == ("o1",)
    assert set(settled.balances) == {
        BalanceFact("B", pending_fen=-1596, available_fen=1596), BalanceFact("A", pending_fen=-298, available_fen=298),
    }
    refunded = decisions["e10"]
    assert refunded.order is not None and refunded.order.settled
    assert refunded.order.lines == (LineChange("s1", -500, -100),)
    assert set(refunded.balances) == {
        BalanceFact("B", available_fen=-500, level1_fen=-500), BalanceFact("A", available_fen=-100, level2_fen=-100),
    }
    assert decisions["e11"].balances == (BalanceFact("B", in_payout_fen=-1500, paid_out_fen=1500),)
    assert decisions["e2"].balances == (BalanceFact("A", invitees=1),)
    assert decisions["r1"].balances == () and not tuple(facts_of(decisions["r1"]))


@pytest.mark.parametrize("shards", [1, 2, 4])
def test_spec_example_sharded_digest(spec_ledger: Ledger, shards: int) -> None:
    report = sharded_report(shard_views(decisions_of(spec_ledger), shards))
    assert report["digest"] == SPEC_DIGEST == spec_ledger.report()["digest"]


def test_decisions_round_trip_and_are_deterministic(sim_events: list[dict[str, Any]]) -> None:
    with Ledger.open("memory:") as ledger:
        ledger.append_batch(sim_events)
        first, again = decisions_of(ledger), decisions_of(ledger)
    assert [encode_decision(d) for d in first] == [encode_decision(d) for d in again]
    assert all(decode_decision(encode_decision(d)) == d for d in first)
    assert len({d.type for d in first}) == 16  # all but GroupClosed


def test_every_key_is_owned_by_exactly_one_shard(sim_events: list[dict[str, Any]]) -> None:
    with Ledger.open("memory:") as ledger:
        ledger.append_batch(sim_events)
        decisions = decisions_of(ledger)
    keys = {owner_key(fact) for decision in decisions for fact in facts_of(decision)}
    assert any(key.startswith("promoter:") for key in keys) and any(key.startswith("group:") for key in keys)
    for shards in (1, 2, 3, 4, 16):
        owners = {key: [i for i in range(shards) if shard_of(key, shards) == i] for key in keys}
        assert all(len(owning) == 1 for owning in owners.values())
        views = shard_views(decisions, shards) if shards <= 4 else []
        for index, view in enumerate(views):
            owned = {f"promoter:{p}" for p in view.promoters} | {f"group:{g}" for g in view.groups}
            assert owned == {key for key in keys if shard_of(key, shards) == index}


def test_stored_key_hashes_select_exactly_the_decisions_a_shard_needs(sim_events: list[dict[str, Any]]) -> None:
    with Ledger.open("memory:") as ledger:
        ledger.append_batch(sim_events)
        decisions = decisions_of(ledger)
    for decision in decisions:
        for shards in (1, 2, 3, 4):
            owning = {shard_of(owner_key(fact), shards) for fact in facts_of(decision)}
            assert owning == {h % shards for h in key_hashes(decision)}


@pytest.mark.parametrize("shards", [1, 2, 4, 7])
def test_sharded_views_match_ledger_report(sim_events: list[dict[str, Any]], shards: int) -> None:
    with Ledger.open("memory:") as ledger:
        ledger.append_batch(sim_events)
        views = shard_views(decisions_of(ledger), shards, seed=shards)
        for period, top in SIM_QUERIES:
            assert sharded_report(views, period=period, top=top) == ledger.report(period=period, top=top)


@pytest.mark.parametrize("seed", range(8))
def test_conformance_logs_with_rule_and_zone_changes(seed: int, memory_url: str) -> None:
    append_all(memory_url, conformance_log(seed))
    with Ledger.open(memory_url) as ledger:
        decisions = decisions_of(ledger)
        dates = sorted({f.local_date for d in decisions for f in d.group_days})
        periods = [None] + sorted({day[:7] for day in dates}) + dates[:: max(1, len(dates) // 4)]
        for shards in (1, 3):
            views = shard_views(decisions, shards, seed=seed)
            for period in periods:
                for top in (None, 2):
                    assert sharded_report(views, period=period, top=top) == ledger.report(period=period, top=top)


def test_a_prefix_of_decisions_is_the_report_until_that_position(sim_events: list[dict[str, Any]]) -> None:
    with Ledger.open("memory:") as ledger:
        ledger.append_batch(sim_events)
        decisions = decisions_of(ledger)
        until = len(decisions) // 2
        views = shard_views(decisions[:until], 2)
        assert sharded_report(views) == ledger.report(until=until)


def test_shards_at_different_positions_refuse_to_merge() -> None:
    views = [View.shard(2, 0), View.shard(2, 1)]
    views[0].position = 3
    with pytest.raises(UsageError, match="different positions"):
        sharded_report(views)


def test_the_decider_refuses_a_tampered_log(spec_ledger: Ledger) -> None:
    records = list(spec_ledger.store.read())
    decider = Decider()
    decider.replay(records[0])
    with pytest.raises(CorruptLog, match="missing"):
        decider.replay(records[2])
    tampered = LogRecord(2, records[1].event.replace(b'"A"', b'"Z"'), records[1].head)
    with pytest.raises(CorruptLog, match="head"):
        decider.replay(tampered)
