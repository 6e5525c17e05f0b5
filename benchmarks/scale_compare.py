"""The scale-out steps of two versions on one PostgreSQL log, alternating, as ratios from the same run.

    python benchmarks/scale_compare.py --base REV [--promoters 350] [--rounds 4]

Loads the simulator's programme (the ``100k`` workload's seed and sizes) into
a fresh schema of ``$SUPERNOVA_TEST_POSTGRES`` once, extracts ``src/`` of git
revision ``REV`` into a temporary directory, then for each round runs, in a
child process per version (alternating which goes first), the single-process
replay, the decider, the two shards of N=2 one after the other, the one shard
of N=1, the Parquet export and the Dask replay (threads), each timed in wall
and CPU seconds, with every digest checked against the replay's. The scale
tables are dropped before each child, so every version decides afresh.

Prints, per step, each version's median seconds, its median ratio to its own
replay, and the median over rounds of new/base (paired by round): on a shared
machine the CPU columns and the ratios are what to read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261111
TABLES = ("snv_decisions", "snv_tracking", "snv_promoters", "snv_groups", "snv_group_days", "snv_buyers",
          "snv_rank_days")


def side(url: str, server: str, schema: str) -> dict[str, float]:
    """One version's steps (whatever ``supernova_ledger`` is on the path), in this process."""
    import dask
    import psycopg

    from supernova_ledger.domain.book import Book
    from supernova_ledger.domain.report import build_report, with_digest
    from supernova_ledger.events import decode_event
    from supernova_ledger.scale import projection
    from supernova_ledger.scale.dask_replay import replay_report
    from supernova_ledger.scale.parquet import export_parquet
    from supernova_ledger.store import open_store

    with psycopg.connect(server, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {schema}.{table}")
    out: dict[str, float] = {}

    def timed(name: str, action: Any) -> Any:
        start, cpu = time.perf_counter(), time.process_time()
        value = action()
        out[name] = time.perf_counter() - start
        out[name + " (cpu)"] = time.process_time() - cpu
        return value

    def replay() -> dict[str, Any]:
        book = Book()
        with open_store(url) as store:
            for record in store.read():
                book.replay(decode_event(record.event), record.event)
        return with_digest(build_report(book))

    digest = timed("replay", replay)["digest"]
    events = timed("decide", lambda: projection.run_decider(url))
    for index in range(2):
        timed(f"shard {index} of 2", lambda: projection.run_worker(url, 2, index, stop_at=events))
    assert projection.query_report(url, 2)["digest"] == digest
    timed("shard of 1", lambda: projection.run_worker(url, 1, 0, stop_at=events))
    assert projection.query_report(url, 1)["digest"] == digest
    directory = Path(tempfile.mkdtemp(prefix="scale-compare-")) / "export"
    try:
        timed("export parquet", lambda: export_parquet(url, str(directory)))
        with dask.config.set(scheduler="threads", num_workers=2):
            assert timed("dask replay (threads)", lambda: replay_report(str(directory)))["digest"] == digest
    finally:
        shutil.rmtree(directory.parent)
    return out


def extract(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", rev, "src"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--promoters", type=int, default=350)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--side", nargs=3, metavar=("URL", "SERVER", "SCHEMA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(side(*args.side)))
        return 0

    import psycopg

    from supernova_ledger import Ledger
    from supernova_ledger.simulate import generate

    server = (os.environ.get("SUPERNOVA_TEST_POSTGRES") or "postgresql://postgres@127.0.0.1:5432/test").split("?")[0]
    schema = f"bench_compare_{uuid.uuid4().hex[:8]}"
    url = f"{server}?schema={schema}"
    scratch = Path(tempfile.mkdtemp(prefix="scale-compare-src-"))
    sources = {"base": str(extract(args.base, scratch)), "new": str(ROOT / "src")}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in sources}
    try:
        lines = list(generate(SEED, promoters=args.promoters, days=args.days))
        with Ledger.open(url) as ledger:
            for start in range(0, len(lines), 10_000):
                ledger.append_batch(lines[start : start + 10_000])
            print(f"{ledger.position} accepted events; base {args.base}", flush=True)
        for round_ in range(args.rounds):
            for name in (("base", "new") if round_ % 2 == 0 else ("new", "base")):
                env = {**os.environ, "PYTHONPATH": sources[name]}
                done = subprocess.run([sys.executable, __file__, "--base", args.base, "--side", url, server, schema],
                                      env=env, capture_output=True, text=True, check=False)
                if done.returncode:
                    print(done.stderr[-3000:], file=sys.stderr)
                    return 1
                results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"round {round_} {name}: load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    print("\n| step | base s | new s | base × replay | new × replay | new / base (paired, median) |")
    print("|---|---:|---:|---:|---:|---:|")
    for step in results["base"][0]:
        replay = "replay (cpu)" if step.endswith("(cpu)") else "replay"
        seconds = {name: statistics.median(r[step] for r in rows) for name, rows in results.items()}
        ratio = {name: statistics.median(r[step] / r[replay] for r in rows) for name, rows in results.items()}
        paired = statistics.median(n[step] / b[step] for n, b in zip(results["new"], results["base"], strict=True))
        print(f"| {step} | {seconds['base']:.2f} | {seconds['new']:.2f} | {ratio['base']:.2f} | {ratio['new']:.2f} "
              f"| {paired:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
