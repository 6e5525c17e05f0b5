"""Several writers on one store: nothing lost, nothing applied twice, no double spend.

The optimistic concurrency of the store (a unique ``(originator_id,
originator_version)`` key) is what the ledger relies on: a writer that lost a
race catches up, decides its events again, and only then stores them.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from typing import Any

import pytest

from supernova_ledger import Ledger

from contract_helpers import (
    append_worker,
    counting_conflicts,
    earning_promoters,
    joined,
    payout,
    payout_worker,
)

SPAWN = multiprocessing.get_context("spawn")
WORKER_TIMEOUT_S = 60


def _run_workers(target: Any, argsets: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    results = SPAWN.Queue()
    barrier = SPAWN.Barrier(len(argsets))
    processes = [SPAWN.Process(target=target, args=(*args, barrier, results)) for args in argsets]
    for process in processes:
        process.start()
    collected = [results.get(timeout=WORKER_TIMEOUT_S) for _ in processes]
    for process in processes:
        process.join(timeout=WORKER_TIMEOUT_S)
        assert process.exitcode == 0, f"worker exited with {process.exitcode}"
    return collected


def _seed(url: str, events: list[dict[str, Any]]) -> None:
    with Ledger.open(url) as ledger:
        outcomes = ledger.append_batch(events)
    assert [o.status for o in outcomes] == ["accepted"] * len(events), [o for o in outcomes if not o.accepted][:3]


# -- two processes ----------------------------------------------------------------------------


def test_two_processes_appending_lose_nothing_and_apply_nothing_twice(durable_url: str) -> None:
    shared = [joined(f"shared-{i}", f"shared-{i}", minute=i) for i in range(60)]  # both send these
    own = 80
    results = _run_workers(append_worker, [(durable_url, "a", shared, own), (durable_url, "b", shared, own)])

    with Ledger.open(durable_url) as ledger:
        stored_ids = [record.event for record in ledger.store.read()]
        assert ledger.position == 2 * own + len(shared) == len(stored_ids)
        assert ledger.verify().ok
        # Each writer's own events are stored once each …
        ids = Counter(event.split(b'"id":"')[1].split(b'"')[0].decode() for event in stored_ids)
        assert set(ids.values()) == {1}
        # … every shared event was accepted by exactly one writer and a duplicate for the other, same position.
        by_id: dict[str, list[tuple[str, int]]] = {}
        for result in results:
            for event_id, status, position, _code in result["outcomes"]:
                by_id.setdefault(event_id, []).append((status, position))
        for event in shared:
            statuses = sorted(status for status, _ in by_id[event["id"]])
            assert statuses == ["accepted", "duplicate"], (event["id"], by_id[event["id"]])
            assert len({position for _, position in by_id[event["id"]]}) == 1
        # Replaying the store gives exactly the state each writer saw live.
        for result in results:
            assert ledger.report(until=result["events"])["digest"] == result["digest"]
    print("conflicts resolved by retry:", sum(r["conflicts"] for r in results))


def test_a_payout_race_between_processes_accepts_exactly_one(durable_url: str) -> None:
    rounds = 6
    _seed(durable_url, earning_promoters(rounds))  # each b{k} has 10000 fen available
    results = _run_workers(payout_worker, [(durable_url, "x", rounds, 6_000), (durable_url, "y", rounds, 6_000)])

    for k in range(rounds):
        outcomes = sorted((status, code) for r in results for kk, status, code in r["outcomes"] if kk == k)
        assert outcomes == [("accepted", None), ("rejected", "insufficient_balance")], (k, outcomes)
    with Ledger.open(durable_url) as ledger:
        for k in range(rounds):
            balance = ledger.balance(f"b{k}")
            assert balance is not None
            assert (balance["available_fen"], balance["in_payout_fen"]) == (4_000, 6_000)
        assert ledger.verify().ok
    print("conflicts resolved by retry:", sum(r["conflicts"] for r in results))


# -- one process, a conflict made certain ----------------------------------------------------


def test_a_writer_that_decided_on_a_stale_view_retries_and_is_rejected(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ledgers see 10000 fen available; the slower one stores second and must not double-spend."""
    _seed(store_url, earning_promoters(1))
    with Ledger.open(store_url) as first, Ledger.open(store_url) as second:
        assert second.position >= 0  # second restores its state now (a ledger restores it lazily)
        stale_view = second.store.head()
        assert first.append(payout("x", "x", "b0", 6_000, minute=21 * 1440)).accepted

        real_head = second.store.head
        views = iter([stale_view])  # the next look at the store misses first's payout
        monkeypatch.setattr(second.store, "head", lambda: next(views, None) or real_head())
        conflicts = counting_conflicts(second.store)
        outcome = second.append(payout("y", "y", "b0", 6_000, minute=21 * 1440))

        assert conflicts[0] == 1
        assert (outcome.status, outcome.code) == ("rejected", "insufficient_balance")
        assert second.balance("b0") == first.balance("b0")
        assert second.log_head == first.store.head()[1]
        assert second.verify().ok


def test_an_event_both_ledgers_send_is_stored_once(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with Ledger.open(store_url) as first, Ledger.open(store_url) as second:
        assert second.position >= 0  # second restores its state now (a ledger restores it lazily)
        stale_view = second.store.head()
        event = joined("j1", "p1")
        assert first.append(event).accepted
        real_head = second.store.head
        views = iter([stale_view])
        monkeypatch.setattr(second.store, "head", lambda: next(views, None) or real_head())
        outcome = second.append(event)
        assert (outcome.status, outcome.position) == ("duplicate", 1)
        assert second.store.head()[0] == 1
