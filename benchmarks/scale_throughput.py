"""Throughput of the scale-out paths against the single-process replay, on the same data.

    python benchmarks/scale_throughput.py [--promoters 350] [--days 30] [--shards 1,2,4]

The data is the simulator's programme with the seed and sizes of the main
benchmark's ``100k`` workload (seed 20261111, 350 promoters, 30 days), loaded
into a fresh schema of ``$SUPERNOVA_TEST_POSTGRES``. Measured, each from the
same PostgreSQL log:

- ``replay``: the single-process path: read the log, fold every event, build the report;
- ``decide``: the decider: the same fold, plus storing every decision (its postings and facts);
- ``workers N``: N shard workers (OS processes, start-up included) building their views from the
  stored decisions, all at once on this machine;
- ``slowest shard of N``: the same views rebuilt one shard at a time in this process; the slowest
  shard's time is the workers' wall time given N free cores;
- ``query N``: one ``query_report`` merging the N shards;
- ``export``: ``export_parquet`` (fold + postings and fact tables as Parquet files);
- ``dask``: ``replay_report`` on a ``LocalCluster`` (2 threads; then 2 worker processes).

Rates are accepted events per second of wall time; ``× replay`` is each step's time over the
single-process replay's in the same run (compare runs, and versions, by it). Prints a Markdown table
and writes ``benchmarks/out/scale-throughput.json``. The schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from supernova_ledger import Ledger
from supernova_ledger.domain.book import Book
from supernova_ledger.domain.report import build_report, with_digest
from supernova_ledger.events import decode_event
from supernova_ledger.scale import projection
from supernova_ledger.simulate import generate
from supernova_ledger.store import open_store

OUT = Path(__file__).resolve().parent / "out"
SEED = 20261111


def timed(label: str, results: list[dict[str, Any]], events: int, action: Any) -> Any:
    start = time.perf_counter()
    value = action()
    seconds = time.perf_counter() - start
    results.append({"step": label, "seconds": round(seconds, 3), "events_per_s": round(events / seconds)})
    print(f"  {label:<28} {seconds:8.2f} s  {events / seconds:10.0f} events/s", flush=True)
    return value


def single_process_replay(url: str) -> dict[str, Any]:
    book = Book()
    with open_store(url) as store:
        for record in store.read():
            book.replay(decode_event(record.event), record.event)
    return with_digest(build_report(book))


def per_shard(url: str, shards: int, events: int, results: list[dict[str, Any]], digest: str) -> None:
    """Rebuild the N views one shard at a time in this process: each shard's own share of the work.

    With N free cores (and a database server with its own), the N workers'
    wall time is the slowest shard's, plus process start-up."""
    projection.drop_views(url, shards)
    seconds = []
    for index in range(shards):
        start = time.perf_counter()
        projection.run_worker(url, shards, index, stop_at=events)
        seconds.append(time.perf_counter() - start)
    assert projection.query_report(url, shards)["digest"] == digest, f"N={shards} serial: digest differs"
    slowest = max(seconds)
    results.append({"step": f"slowest shard of N={shards} (alone)", "seconds": round(slowest, 3),
                    "events_per_s": round(events / slowest), "shard_seconds": [round(x, 3) for x in seconds]})
    print(f"  {'slowest shard of N=' + str(shards) + ' (alone)':<28} {slowest:8.2f} s  {events / slowest:10.0f} "
          f"events/s  (shards: {', '.join(f'{x:.2f}' for x in seconds)} s)", flush=True)


def dask_replays(directory: str, results: list[dict[str, Any]], events: int, digest: str) -> None:
    """The replay on two local clusters; cluster start-up is timed apart from the replay."""
    from distributed import Client, LocalCluster

    from supernova_ledger.scale.dask_replay import replay_report

    for workers in (0, 2):
        label = "2 threads" if not workers else f"{workers} processes"
        start = time.perf_counter()
        if workers:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None)
        else:
            cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
        print(f"  (cluster of {label} started in {time.perf_counter() - start:.2f} s)")
        with cluster, Client(cluster):
            report = timed(f"dask replay ({label})", results, events, lambda: replay_report(directory))
        assert report["digest"] == digest, f"dask ({label}): digest differs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--promoters", type=int, default=350)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--shards", default="1,2,4")
    args = parser.parse_args()
    server = os.environ.get("SUPERNOVA_TEST_POSTGRES") or "postgresql://postgres@127.0.0.1:5432/test"
    schema = f"bench_scale_{uuid.uuid4().hex[:8]}"
    url = f"{server}{'&' if '?' in server else '?'}schema={schema}"
    parquet_dir = tempfile.mkdtemp(prefix="scale-parquet-")
    results: list[dict[str, Any]] = []
    try:
        lines = list(generate(SEED, promoters=args.promoters, days=args.days))
        with Ledger.open(url) as ledger:
            for start in range(0, len(lines), 10_000):
                ledger.append_batch(lines[start : start + 10_000])
            events = ledger.position
        print(f"{events} accepted events ({len(lines)} lines), load average {os.getloadavg()[0]:.1f}, "
              f"{os.cpu_count()} CPUs", flush=True)
        expected = timed("replay (single process)", results, events, lambda: single_process_replay(url))
        timed("decide (fold + store)", results, events, lambda: projection.run_decider(url))
        for shards in [int(n) for n in args.shards.split(",")]:
            timed(f"workers N={shards} (processes)", results, events,
                  lambda: projection.run_workers(url, shards, stop_at=events))
            report = timed(f"query N={shards}", results, events, lambda: projection.query_report(url, shards))
            assert report["digest"] == expected["digest"], f"N={shards}: digest differs"
            per_shard(url, shards, events, results, expected["digest"])
        shutil.rmtree(parquet_dir)
        timed("export parquet", results, events,
              lambda: projection_export(url, parquet_dir))
        dask_replays(parquet_dir, results, events, expected["digest"])
        print("\nall digests equal:", expected["digest"])
        replay_s = results[0]["seconds"]  # the baseline of this run: compare runs by these ratios
        for row in results:
            row["ratio_to_replay"] = round(row["seconds"] / replay_s, 3)
        print("\n| step | seconds | events/s | × replay |\n|---|---:|---:|---:|")
        for row in results:
            print(f"| {row['step']} | {row['seconds']:.2f} | {row['events_per_s']:,} | {row['ratio_to_replay']:.2f} |")
        OUT.mkdir(exist_ok=True)
        (OUT / "scale-throughput.json").write_text(json.dumps({
            "events": events, "lines": len(lines), "promoters": args.promoters, "days": args.days, "seed": SEED,
            "cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0], "digest": expected["digest"],
            "results": results,
        }, indent=1) + "\n")
    finally:
        shutil.rmtree(parquet_dir, ignore_errors=True)
        with psycopg.connect(server.split("?")[0], autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return 0


def projection_export(url: str, directory: str) -> int:
    from supernova_ledger.scale.parquet import export_parquet

    return export_parquet(url, directory)


if __name__ == "__main__":
    sys.exit(main())
