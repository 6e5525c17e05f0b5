"""Sharded views on PostgreSQL: same digest as ``Ledger.report()`` for every N, through kills and resumes.

Each test has its own schema on the test server (``postgres_url``); the log,
the decisions, the views and the tracking records all live in it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
import zlib
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from supernova_ledger import Ledger
from supernova_ledger.errors import UsageError
from supernova_ledger.scale import projection
from supernova_ledger.scale.decisions import Decider
from supernova_ledger.scale.projection import (
    DECIDER_NAME,
    VIEW_TABLES,
    InjectedFailure,
    ShardsOutOfStep,
    drop_views,
    project,
    query_report,
    run_decider,
    run_worker,
    run_workers,
    tracked_positions,
    verify_decisions,
    worker_name,
)
from supernova_ledger.store.postgres import parse_postgres_url

from scale_helpers import append_all, conformance_log, reports

pytestmark = pytest.mark.postgres

_KEY_COLUMN = {"snv_promoters": "promoter_id", "snv_groups": "group_id", "snv_group_days": "group_id",
               "snv_buyers": "group_id", "snv_rank_days": "promoter_id"}
_KEY_PREFIX = {"promoter_id": "promoter:", "group_id": "group:"}


def assert_views_match(url: str, shards: int, expected: dict[Any, dict[str, Any]]) -> None:
    for (period, top), report in expected.items():
        assert query_report(url, shards, period=period, top=top) == report, (shards, period, top)


def view_rows(url: str, shards: int) -> dict[str, list[tuple[str, int]]]:
    """``(key, shard)`` of every view row of ``shards``, per table."""
    target = parse_postgres_url(url)
    with psycopg.connect(url.split("?")[0]) as conn:
        return {
            table: [
                (row[0], row[1])
                for row in conn.execute(
                    f"SELECT {_KEY_COLUMN[table]}, shard FROM {target.schema}.{table} WHERE shards = %s", (shards,)
                )
            ]
            for table in VIEW_TABLES
        }


def wait_until(condition: Callable[[], bool], timeout_s: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def sim_url(postgres_url: str, sim_events: list[dict[str, Any]]) -> str:
    append_all(postgres_url, sim_events)
    return postgres_url


def test_workers_of_1_2_4_shards_give_the_single_process_digest(sim_url: str) -> None:
    expected = reports(sim_url)
    position = run_decider(sim_url)
    assert position == expected[(None, None)]["events"]
    run_workers(sim_url, 1, processes=False, stop_at=position)
    run_workers(sim_url, 2, processes=False, stop_at=position)
    run_workers(sim_url, 4, processes=True, stop_at=position)  # four OS processes at once
    for shards in (1, 2, 4):
        assert_views_match(sim_url, shards, expected)

    # No key is owned by two shards: each row sits in its key's shard, once per N (primary key).
    for shards in (1, 2, 4):
        for table, rows in view_rows(sim_url, shards).items():
            assert rows, table
            keys = [key for key, _ in rows]
            if table in ("snv_promoters", "snv_groups"):
                assert len(keys) == len(set(keys))
            for key, shard in rows:
                assert shard == zlib.crc32((_KEY_PREFIX[_KEY_COLUMN[table]] + key).encode()) % shards

    # Changing N built new views beside the old; dropping one N leaves the others whole.
    drop_views(sim_url, 2)
    assert all(not rows for rows in view_rows(sim_url, 2).values())
    assert query_report(sim_url, 2)["events"] == 0
    assert_views_match(sim_url, 4, expected)


def test_appending_more_events_and_resuming(postgres_url: str, sim_events: list[dict[str, Any]]) -> None:
    half = len(sim_events) // 2
    append_all(postgres_url, sim_events[:half])
    project(postgres_url, 2, processes=False)
    assert_views_match(postgres_url, 2, reports(postgres_url, [(None, None), ("2026-11", 3)]))
    first = tracked_positions(postgres_url, 2)

    append_all(postgres_url, sim_events[half:])
    position = project(postgres_url, 2, processes=False)
    assert position > first[DECIDER_NAME]
    assert tracked_positions(postgres_url, 2) == {name: position for name in first}
    assert_views_match(postgres_url, 2, reports(postgres_url))


def test_a_failure_inside_the_transaction_loses_nothing_and_repeats_nothing(sim_url: str) -> None:
    position = run_decider(sim_url)
    crash_at = position // 2
    with pytest.raises(InjectedFailure):
        run_worker(sim_url, 2, 0, batch_size=100, stop_at=position, crash_at=crash_at)
    before = tracked_positions(sim_url, 2)[worker_name(2, 0)]
    assert crash_at - 100 <= before < crash_at  # the failed batch's rows and tracking were rolled back
    run_worker(sim_url, 2, 1, stop_at=position)
    with pytest.raises(ShardsOutOfStep):
        query_report(sim_url, 2)
    run_worker(sim_url, 2, 0, batch_size=100, stop_at=position)  # restarted: resumes after `before`
    assert_views_match(sim_url, 2, reports(sim_url))


def test_a_second_copy_of_a_worker_cannot_merge_the_same_batch_twice(sim_url: str) -> None:
    position = run_decider(sim_url, stop_at=50)
    with projection._recorder(sim_url) as recorder:
        decisions = recorder.read_decisions(0, 50)
        tracking = Tracking(worker_name(1, 0), position)
        recorder.merge_batch(1, 0, decisions, tracking)
        with pytest.raises(IntegrityError):  # the tracking upsert only moves forward: all rolled back
            recorder.merge_batch(1, 0, decisions, tracking)
    with Ledger.open(sim_url) as ledger:
        assert query_report(sim_url, 1) == ledger.report(until=position)


def _kill_when(process: multiprocessing.process.BaseProcess, reached: Callable[[], int], end: int) -> int:
    """SIGKILL ``process`` once ``reached()`` is past 0; return where it stood (must be mid-stream)."""
    wait_until(lambda: reached() > 0 or not process.is_alive(), what="the first committed batch")
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    assert process.exitcode == -signal.SIGKILL
    stood = reached()
    assert 0 < stood < end, f"killed at {stood} of {end}: not mid-stream"
    return stood


def test_killed_decider_and_worker_processes_resume_to_the_same_digest(sim_url: str) -> None:
    expected = reports(sim_url)
    end = expected[(None, None)]["events"]
    spawn = multiprocessing.get_context("spawn")

    decider = spawn.Process(target=run_decider, args=(sim_url,), kwargs={"batch_size": 10})
    decider.start()
    _kill_when(decider, lambda: tracked_positions(sim_url, 1)[DECIDER_NAME], end)
    assert run_decider(sim_url) == end  # restarted: refolds to its position, decides the rest

    # Each worker holds every transaction open 50 ms after writing its rows: killed inside one.
    options = {"batch_size": 40, "stop_at": end, "hold_s": 0.05}
    workers = [spawn.Process(target=run_worker, args=(sim_url, 2, index), kwargs=options) for index in range(2)]
    for worker in workers:
        worker.start()
    _kill_when(workers[0], lambda: tracked_positions(sim_url, 2)[worker_name(2, 0)], end)
    workers[1].join()
    assert workers[1].exitcode == 0
    with pytest.raises(ShardsOutOfStep):
        query_report(sim_url, 2)
    run_worker(sim_url, 2, 0, stop_at=end)
    assert_views_match(sim_url, 2, expected)


def test_conformance_logs_on_three_shards(postgres_url: str) -> None:
    """Random logs with rule and time-zone changes; the second is appended to the first and resumed."""
    for seed in (3, 7):
        append_all(postgres_url, conformance_log(seed))
        position = project(postgres_url, 3, processes=False)
        with Ledger.open(postgres_url) as ledger:
            assert ledger.position == position
            decider = Decider()
            dates = sorted({f.local_date for r in ledger.store.read() for f in decider.replay(r).group_days})
            periods = [None, *sorted({day[:7] for day in dates}), *dates[:: max(1, len(dates) // 3)]]
            for period in periods:
                for top in (None, 2):
                    expected = ledger.report(period=period, top=top)
                    assert query_report(postgres_url, 3, period=period, top=top) == expected


def test_stored_decisions_are_derived_data_that_verify_recomputes(sim_url: str) -> None:
    end = run_decider(sim_url)
    assert verify_decisions(sim_url) == (end, None)
    schema = parse_postgres_url(sim_url).schema
    with psycopg.connect(sim_url.split("?")[0], autocommit=True) as conn:
        row = conn.execute(
            f"SELECT position, decision FROM {schema}.snv_decisions WHERE decision LIKE '%%OrderPlaced%%' "
            "ORDER BY position OFFSET 20 LIMIT 1"
        ).fetchone()
        assert row is not None
        forged = bytes(row[1]).replace(b'"order_id":"', b'"order_id":"x', 1)
        assert forged != bytes(row[1])
        conn.execute(f"UPDATE {schema}.snv_decisions SET decision = %s WHERE position = %s", (forged, row[0]))
    assert verify_decisions(sim_url) == (row[0] - 1, f"position {row[0]}: stored decision differs from the recomputed one")


def test_query_refuses_a_bad_request(sim_url: str) -> None:
    with pytest.raises(UsageError, match="shards"):
        query_report(sim_url, 0)
    with pytest.raises(UsageError, match="period"):
        query_report(sim_url, 1, period="2026-13")
    with pytest.raises(UsageError, match="postgresql"):
        projection.prepare("memory:")


def test_the_module_command_line(sim_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from supernova_ledger.scale.__main__ import main

    assert main(["decide", "--store", sim_url]) == 0
    for index in range(2):
        assert main(["work", "--store", sim_url, "--shards", "2", "--index", str(index)]) == 0
    capsys.readouterr()
    assert main(["report", "--store", sim_url, "--shards", "2", "--period", "2026-11", "--top", "3"]) == 0
    with Ledger.open(sim_url) as ledger:
        assert json.loads(capsys.readouterr().out) == ledger.report(period="2026-11", top=3)
    assert main(["verify-decisions", "--store", sim_url]) == 0
    assert capsys.readouterr().out.startswith("ok: ")
    assert main(["report", "--store", sim_url, "--shards", "0"]) == 2
    assert "shards" in capsys.readouterr().err


def test_a_live_pipeline_follows_the_appends(postgres_url: str, sim_events: list[dict[str, Any]]) -> None:
    """Decider and workers follow the log while a writer appends; they meet the writer at its end."""
    import threading

    with Ledger.open("memory:") as rehearsal:
        rehearsal.append_batch(sim_events)
        end = rehearsal.position
    projection.prepare(postgres_url)
    failures: list[BaseException] = []

    def running(target: Callable[..., int], *args: Any, **kwargs: Any) -> threading.Thread:
        def body() -> None:
            try:
                target(*args, **kwargs)
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)

        thread = threading.Thread(target=body)
        thread.start()
        return thread

    threads = [running(run_decider, postgres_url, batch_size=50, stop_at=end, follow=True, poll_s=0.02)]
    threads += [running(run_worker, postgres_url, 2, index, batch_size=50, stop_at=end, poll_s=0.02)
                for index in range(2)]
    with Ledger.open(postgres_url) as ledger:
        for start in range(0, len(sim_events), 200):
            ledger.append_batch(sim_events[start : start + 200])
    for thread in threads:
        thread.join(timeout=120)
    assert not failures and not any(thread.is_alive() for thread in threads)
    assert_views_match(postgres_url, 2, reports(postgres_url, [(None, None), ("2026-11", 3)]))
