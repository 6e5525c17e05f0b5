"""Write-time decisions and in-memory shard views: no server needed.

Every figure of the §8 report is an order-independent merge of decision facts
by key; shards of any N, fed the decisions in any order, merge into the
report ``Ledger.report()`` gives, byte for byte (same digest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from strategies import ledger_logs

from supernova_ledger import Ledger
from supernova_ledger.errors import CorruptLog, UsageError
from supernova_ledger.domain.postings import Posting, posting_dict, sum_postings
from supernova_ledger.scale.decisions import (
    Decider,
    Decision,
    InviteFact,
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

from scale_helpers import SIM_QUERIES, append_all, conformance_log, decisions_of, shard_views

SPEC_EXAMPLE = Path(__file__).parents[1] / "golden" / "spec_example.jsonl"
SPEC_DIGEST = "363493d66ddbf3e8886947d20da52f84d8451c2bc2cf622193c6cbeb42b615de"
SPEC_V2_EXAMPLE = Path(__file__).parents[1] / "golden" / "spec_example_v2.jsonl"


@pytest.fixture(scope="module")
def spec_ledger() -> Any:
    with Ledger.open("memory:") as ledger:
        ledger.append_batch(SPEC_EXAMPLE.read_text(encoding="utf-8").splitlines())
        yield ledger


def moves(decision: Decision) -> list[tuple[Any, ...]]:
    return [(p.promoter_id, p.kind, p.level, p.sku, p.amount_fen, p.from_, p.to) for p in decision.postings]


def test_spec_example_decisions_carry_the_folds_postings(spec_ledger: Ledger) -> None:
    decisions = {d.event_id: d for d in decisions_of(spec_ledger)}
    placed = decisions["e6"]
    assert moves(placed) == [
        ("B", "earn", 1, "s1", 999, None, "pending"), ("A", "earn", 2, "s1", 199, None, "pending"),
        ("B", "earn", 1, "s2", 597, None, "pending"), ("A", "earn", 2, "s2", 99, None, "pending"),
    ]
    assert [(p.rate_bps, p.base_fen) for p in placed.postings] == [(1000, 9990), (200, 9990), (300, 19900), (50, 19900)]
    assert moves(decisions["e8"]) == [
        ("B", "settle", 1, None, 1596, "pending", "available"), ("A", "settle", 2, None, 298, "pending", "available"),
    ]
    assert moves(decisions["e10"]) == [
        ("B", "clawback", 1, "s1", 500, "available", None), ("A", "clawback", 2, "s1", 100, "available", None),
    ]
    assert moves(decisions["e11"]) == [("B", "paid", None, None, 1500, "in_payout", "paid_out")]
    assert decisions["e2"].invites == (InviteFact("A"),) and decisions["e2"].postings == ()
    assert not tuple(facts_of(decisions["r1"]))
    # The postings are the fold's own: the same objects explain lists, in the same order.
    for promoter in ("A", "B"):
        listed = [posting_dict(p) for d in decisions.values() for p in d.postings if p.promoter_id == promoter]
        assert listed == spec_ledger.explain(promoter)["postings"]


def test_period_closed_has_neither_facts_nor_postings() -> None:
    with Ledger.open("memory:") as ledger:
        ledger.append_batch(SPEC_V2_EXAMPLE.read_text(encoding="utf-8").splitlines())
        decisions = decisions_of(ledger)
        closed = [d for d in decisions if d.type == "PeriodClosed"]
        assert closed and all(not tuple(facts_of(d)) and not key_hashes(d) for d in closed)
        booked = {p.book for d in decisions for p in d.postings}
        assert len(booked) > 1  # postings booked into more than one month, as the fold booked them
        for shards in (1, 3):
            assert sharded_report(shard_views(decisions, shards)) == ledger.report()


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


@given(ledger_logs())
def test_sharded_views_and_the_postings_decisions_carry_over_random_logs(log: list[dict[str, Any]]) -> None:
    with Ledger.open("memory:") as ledger:
        for event in log:
            ledger.append(event)
        decisions = decisions_of(ledger)
        postings = [p for d in decisions for p in d.postings]
        assert [posting_dict(p) for p in postings if p.promoter_id == "B"] == (
            ledger.explain("B")["postings"] if ledger.balance("B") is not None else []
        )
        by_promoter: dict[str, list[Posting]] = {}
        for posting in postings:
            by_promoter.setdefault(posting.promoter_id, []).append(posting)
        for promoter_id, promoter in ledger.report()["promoters"].items():
            summed = sum_postings(by_promoter.get(promoter_id, ())).as_dict()
            assert summed == {name: promoter[name] for name in summed}, promoter_id
        for shards in (1, 3):
            views = shard_views(decisions, shards, seed=len(log))
            for period in (None, "2026-11", "2026-12"):
                assert sharded_report(views, period=period) == ledger.report(period=period)
