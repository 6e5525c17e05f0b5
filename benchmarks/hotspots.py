"""Where the time goes: cProfile of ingest, cold replay and single appends.

    python benchmarks/hotspots.py --size 100k --store sqlite [--top 25]

Profiles, each in this process, on a fresh store (SQLite file under
``benchmarks/out/`` or a fresh PostgreSQL schema, dropped afterwards):

``ingest``  ``Ledger.append_batch`` of the workload's raw lines, 5,000 a batch
``replay``  the whole log folded (no checkpoint) to ``report()``
``reopen``  ``Ledger.open(url).balance(p)`` after a checkpoint at the end of the ingest
``append``  500 single ``Ledger.append`` calls on the filled store

For each: the functions with the most *own* time (tottime) and the most
*inclusive* time (cumtime), as percentages of the profiled total, plus an
fsync floor of the disk. Full listings go to ``benchmarks/out/profile-*.txt``;
the ``.prof`` files open in snakeviz or ``python -m pstats``.
cProfile slows pure-Python code down by about 1.5–2×; read percentages, not
absolute times.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from measure import INGEST_BATCH, PROBE_PROMOTER, _open_without_checkpoint, percentiles_ms, probe_orders  # noqa: E402
from run import DEFAULT_PG, Stores  # noqa: E402
from workload import OUT_DIR, iter_batches, parse_size, prepare  # noqa: E402


def _label(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    path = Path(filename)
    parts = path.parts
    for anchor in ("supernova_ledger", "eventsourcing", "psycopg", "msgspec", "benchmarks"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor):]) + f":{line}({name})"
    return f"{path.name}:{line}({name})"


def summary(profile: cProfile.Profile, top: int) -> str:
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = stats.stats  # type: ignore[attr-defined]
    out = io.StringIO()
    out.write(f"total {total:.2f} s (profiled)\n\n  own time (tottime)\n")
    for func, (_cc, nc, tt, _ct, _callers) in sorted(rows.items(), key=lambda kv: -kv[1][2])[:top]:
        out.write(f"  {100 * tt / total:5.1f}%  {tt:7.2f} s  {nc:>9,}  {_label(func)}\n")
    out.write("\n  inclusive time (cumtime)\n")
    for func, (_cc, nc, _tt, ct, _callers) in sorted(rows.items(), key=lambda kv: -kv[1][3])[:top]:
        out.write(f"  {100 * ct / total:5.1f}%  {ct:7.2f} s  {nc:>9,}  {_label(func)}\n")
    return out.getvalue()


def fsync_floor(n: int = 300) -> dict[str, float]:
    """Latency of appending 200 bytes to a file and fsyncing it: the floor of any durable single append."""
    path = OUT_DIR / "fsync-probe.bin"
    samples = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, b"x" * 200)
            os.fsync(fd)
            samples.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        os.remove(path)
    return percentiles_ms(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100k")
    parser.add_argument("--store", default="sqlite", choices=("memory", "sqlite", "postgresql"))
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--appends", type=int, default=500)
    args = parser.parse_args(argv)

    from supernova_ledger import Ledger

    w = prepare(parse_size(args.size))
    stores = Stores(args.pg)
    url = stores.fresh(args.store, f"bench-profile-{args.size}") if args.store != "memory" else "memory:bench-profile"
    keep: Any = Ledger.open(url) if args.store == "memory" else None  # keeps a memory: log alive
    reports: dict[str, str] = {}
    try:
        profile = cProfile.Profile()
        with Ledger.open(url) as ledger:
            t0 = time.perf_counter()
            profile.enable()
            for batch in iter_batches(w.lines_path, INGEST_BATCH):
                ledger.append_batch(batch)
            profile.disable()
            reports["ingest"] = f"{w.lines:,} lines in {time.perf_counter() - t0:.2f} s\n" + summary(profile, args.top)
            profile.dump_stats(OUT_DIR / f"profile-ingest-{args.store}-{args.size}.prof")
            if hasattr(ledger, "checkpoint"):
                profile = cProfile.Profile()
                t0 = time.perf_counter()
                profile.enable()
                ledger.checkpoint()
                profile.disable()
                reports["checkpoint"] = f"checkpoint in {time.perf_counter() - t0:.2f} s\n" + summary(profile, args.top)

        profile = cProfile.Profile()
        t0 = time.perf_counter()
        profile.enable()
        ledger = _open_without_checkpoint(url)
        report = ledger.report()
        profile.disable()
        ledger.close()
        reports["replay"] = f"{report['events']:,} events in {time.perf_counter() - t0:.2f} s\n" + summary(profile, args.top)
        profile.dump_stats(OUT_DIR / f"profile-replay-{args.store}-{args.size}.prof")

        profile = cProfile.Profile()
        t0 = time.perf_counter()
        profile.enable()
        ledger = Ledger.open(url)
        ledger.balance(PROBE_PROMOTER)
        profile.disable()
        reports["reopen"] = f"reopen + balance in {time.perf_counter() - t0:.2f} s\n" + summary(profile, args.top)
        profile.dump_stats(OUT_DIR / f"profile-reopen-{args.store}-{args.size}.prof")

        profile = cProfile.Profile()
        samples = []
        for event in probe_orders(args.appends, "profile"):
            t0 = time.perf_counter()
            profile.enable()
            ledger.append(event)
            profile.disable()
            samples.append(time.perf_counter() - t0)
        lat = percentiles_ms(samples)
        reports["append"] = (f"{args.appends} appends (profiled): p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms\n"
                             + summary(profile, args.top))
        profile.dump_stats(OUT_DIR / f"profile-append-{args.store}-{args.size}.prof")
        ledger.close()
    finally:
        if keep is not None:
            keep.close()
        if args.store != "memory":
            stores.drop(args.store, url)
        stores.drop_all()

    floor = fsync_floor()
    text = [f"# profile {args.store} {args.size} (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})",
            f"fsync floor of {OUT_DIR}: p50 {floor['p50_ms']:.2f} ms, p99 {floor['p99_ms']:.2f} ms", ""]
    for name, body in reports.items():
        text += [f"## {name}", body]
        (OUT_DIR / f"profile-{name}-{args.store}-{args.size}.txt").write_text(body)
    sys.stdout.write("\n".join(text) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
