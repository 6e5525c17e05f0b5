"""One measurement, in its own process: ``python benchmarks/measure.py PHASE --json ARGS``.

:mod:`run` starts one process per phase so that each peak RSS
(``VmHWM``) belongs to that phase alone and every replay is cold (a
fresh interpreter, a fresh ledger; the operating system's page cache is
warm for all of them alike). The result is one JSON object on the last line
of stdout.

Phases on a durable store (SQLite, PostgreSQL):

``ledger-ingest``    empty store; ``Ledger.append_batch`` of raw JSON lines in batches of 5,000
``ledger-replay``    ``Ledger.open(url).report()`` on the filled store
``ledger-verify``    ``Ledger.open(url).verify()`` on the filled store (the strict audit replay)
``ledger-reopen``    ``Ledger.open(url).balance(p)``; then single ``append`` latency on that store
``ledger-statement`` ``Ledger.open(url).statement(period)`` from the tables, or by replay (``--how``)
``baseline-ingest``  eventsourcing ``save`` per 1,000 events; then ``save`` per event latency
``baseline-read``    a new eventsourcing ``Application``, ``select_notifications`` + decode of everything

``memory:`` and eventsourcing's POPO keep nothing between processes, so
``ledger-memory`` and ``baseline-memory`` run the same steps in one process
and report the peak RSS *so far* after each step.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))

import msgspec  # noqa: E402

from workload import iter_batches  # noqa: E402

#: Events per ``Ledger.append_batch`` call when ingesting.
INGEST_BATCH: Final = 5_000
#: Events per eventsourcing ``save`` when ingesting the baseline.
BASELINE_SAVE_EVERY: Final = 1_000
#: The promoter whose balance the reopen phase asks for (a founder: always joined).
PROBE_PROMOTER: Final = "p0001"
#: When the appended latency orders happen (the day after the 30 simulated days).
PROBE_AT: Final = "2026-12-01T10:00:00+08:00"


# -- process measurements ----------------------------------------------------------


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far: ``VmHWM`` of /proc/self/status.

    Not ``ru_maxrss``: Linux carries it across fork and exec, so a phase started by a
    parent that once held more (run.py generating a workload in-process) reported the
    parent's peak as its own. ``VmHWM`` belongs to this process's memory since its exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # elsewhere: KiB on Linux


def current_rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Timer:
    """Wall and CPU seconds of a ``with`` block."""

    def __enter__(self) -> "Timer":
        self._cpu0 = cpu_s()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._t0
        self.cpu_s = cpu_s() - self._cpu0


def percentiles_ms(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, int(q * n))] * 1e3

    return {
        "p50_ms": round(at(0.50), 4),
        "p99_ms": round(at(0.99), 4),
        "max_ms": round(ordered[-1] * 1e3, 4),
        "mean_ms": round(statistics.fmean(ordered) * 1e3, 4),
        "n": n,
    }


def disk_floors(samples: int = 200) -> dict[str, float]:
    """What any durable single append pays on this disk right now (the machine is shared).

    ``fsync_p50_ms``: append 200 bytes to a file and fdatasync it;
    ``sqlite_commit_p50_ms``: one-row INSERT + COMMIT in a fresh WAL database
    with ``synchronous=FULL``, through the sqlite3 module directly."""
    import sqlite3
    import tempfile

    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        fd = os.open(os.path.join(tmp, "probe.bin"), os.O_WRONLY | os.O_CREAT, 0o644)
        fsyncs = []
        for _ in range(samples):
            t0 = time.perf_counter()
            os.write(fd, b"x" * 200)
            os.fdatasync(fd)
            fsyncs.append(time.perf_counter() - t0)
        os.close(fd)
        db = sqlite3.connect(os.path.join(tmp, "probe.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        commits = []
        for _ in range(samples):
            t0 = time.perf_counter()
            db.execute("BEGIN")
            db.execute("INSERT INTO t (v) VALUES (?)", (b"y" * 400,))
            db.execute("COMMIT")
            commits.append(time.perf_counter() - t0)
        db.close()
    return {
        "fsync_p50_ms": percentiles_ms(fsyncs)["p50_ms"],
        "fsync_p99_ms": percentiles_ms(fsyncs)["p99_ms"],
        "sqlite_commit_p50_ms": percentiles_ms(commits)["p50_ms"],
        "sqlite_commit_p99_ms": percentiles_ms(commits)["p99_ms"],
    }


def probe_orders(n: int, tag: str) -> list[dict[str, Any]]:
    """``n`` new orders through a share link of a promoter present in every workload."""
    orders = []
    for i in range(n):
        lines = [{"sku": "daily-001", "category": "daily", "quantity": 1, "paid_fen": 990 + i % 100}]
        if i % 3 == 0:
            lines.append({"sku": "food-002", "category": "food", "quantity": 2, "paid_fen": 2980})
        orders.append({
            "type": "OrderPlaced", "id": f"bench-{tag}-e{i}", "at": PROBE_AT,
            "order_id": f"bench-{tag}-o{i}", "customer_id": f"bench-{tag}-c{i % 500}",
            "promoter_id": PROBE_PROMOTER, "group_id": None, "lines": lines,
        })
    return orders


# -- the ledger ------------------------------------------------------------------


def _ledger() -> Any:
    from supernova_ledger import Ledger

    return Ledger


def ledger_ingest(url: str, workload: Path) -> dict[str, Any]:
    Ledger = _ledger()
    with Ledger.open(url) as ledger:
        if ledger.position:
            raise SystemExit(f"ledger-ingest: {url} is not empty ({ledger.position} events)")
        result = ledger_ingest_into(ledger, workload)
    result["peak_rss_bytes"] = peak_rss_bytes()
    return result


def _checkpoint_policy() -> tuple[int, int] | None:
    """``(every, at_end)`` events: when ``supernova-ledger ingest`` stores checkpoints, if it does."""
    try:
        from supernova_ledger import cli
    except ImportError:
        return None
    every, at_end = getattr(cli, "CHECKPOINT_EVERY", None), getattr(cli, "CHECKPOINT_AT_END", None)
    if every is None or at_end is None:
        return None
    return int(every), int(at_end)


def _open_without_checkpoint(url: str) -> Any:
    """A ledger that folds the whole log from position 1 (the audit path), whatever checkpoints exist."""
    Ledger = _ledger()
    if "use_checkpoint" not in inspect.signature(Ledger.__init__).parameters:
        return Ledger.open(url)
    from supernova_ledger.store import open_store

    store = open_store(url)
    try:
        return Ledger(store, use_checkpoint=False)
    except BaseException:
        store.close()
        raise


def ledger_replay(url: str) -> dict[str, Any]:
    """Cold replay of the whole log (no checkpoint) to the full report."""
    with Timer() as t:
        ledger = _open_without_checkpoint(url)
        report = ledger.report()
    ledger.close()
    return {
        "replay_s": t.wall_s, "replay_cpu_s": t.cpu_s, "events": report["events"],
        "replay_events_per_s": report["events"] / t.wall_s, "digest": report["digest"],
        "peak_rss_bytes": peak_rss_bytes(),
    }


def ledger_verify(url: str) -> dict[str, Any]:
    """Cold ``verify``: every record decoded strictly, re-decided, its hash recomputed."""
    Ledger = _ledger()
    with Timer() as t:
        ledger = Ledger.open(url)
        result = ledger.verify()
    ledger.close()
    # A failure is recorded, not fatal: the rate then counts the events verified before it.
    return {"verify_s": t.wall_s, "verify_cpu_s": t.cpu_s, "verify_events_per_s": result.events / t.wall_s,
            "verify_events_per_cpu_s": result.events / t.cpu_s, "peak_rss_verify_bytes": peak_rss_bytes(),
            "verify_problem": None if result.ok else result.describe()}


def ledger_reopen(url: str, appends: int, tag: str) -> dict[str, Any]:
    Ledger = _ledger()
    gc.collect()
    rss_before = current_rss_bytes()
    with Timer() as t:
        ledger = Ledger.open(url)
        balance = ledger.balance(PROBE_PROMOTER)
    rss_after_open = current_rss_bytes()
    from_table = _answered_from_table(ledger)
    result = {
        "reopen_s": t.wall_s, "reopen_cpu_s": t.cpu_s, "balance": balance,
        "state_rss_bytes": rss_after_open - rss_before, "reopen_from_balances_table": from_table,
    }
    with Timer() as restore:
        result["events"] = ledger.position  # restores the whole state (for the appends below)
    result.update({"restore_s": restore.wall_s,
                   "reopen_checkpoint_position": getattr(ledger, "_checkpoint_position", None)})
    result.update(_append_latency(ledger, appends, tag))
    ledger.close()
    result["peak_rss_bytes"] = peak_rss_bytes()
    result["checkpoint_problem"] = getattr(ledger, "checkpoint_problem", None)
    if appends > 0:
        result.update(disk_floors())
    return result


def _answered_from_table(ledger: Any) -> bool:
    """Whether ``balance`` was answered without restoring the state (the balances table)."""
    return hasattr(ledger, "_loaded") and ledger._loaded is None


def _append_latency(ledger: Any, appends: int, tag: str) -> dict[str, Any]:
    if appends <= 0:
        return {}
    samples: list[float] = []
    for event in probe_orders(appends, tag):
        t0 = time.perf_counter()
        outcome = ledger.append(event)
        samples.append(time.perf_counter() - t0)
        if outcome.status != "accepted":
            raise SystemExit(f"append latency: probe order not accepted: {outcome}")
    return {"append_" + key: value for key, value in percentiles_ms(samples).items()}


def ledger_memory(workload: Path, appends: int, tag: str, state: bool) -> dict[str, Any]:
    """All ledger phases on one ``memory:NAME`` log, in this process."""
    Ledger = _ledger()
    url = f"memory:bench-{tag}"
    writer = Ledger.open(url)  # keeps the named log alive
    result = ledger_ingest_into(writer, workload)
    result["peak_rss_after_ingest_bytes"] = peak_rss_bytes()
    replay = ledger_replay(url)
    result.update(replay)
    result["peak_rss_after_replay_bytes"] = peak_rss_bytes()
    result.update(ledger_verify(url))
    gc.collect()
    rss_before = current_rss_bytes()
    with Timer() as t:
        ledger = Ledger.open(url)
        balance = ledger.balance(PROBE_PROMOTER)
    result.update({
        "reopen_s": t.wall_s, "reopen_cpu_s": t.cpu_s, "balance": balance,
        "state_rss_bytes": current_rss_bytes() - rss_before,
        "reopen_from_balances_table": _answered_from_table(ledger),
    })
    with Timer() as restore:
        ledger.position  # restores the whole state
    result.update({
        "restore_s": restore.wall_s,
        "reopen_checkpoint_position": getattr(ledger, "_checkpoint_position", None),
        "checkpoint_problem": getattr(ledger, "checkpoint_problem", None),
    })
    if state:
        result["state"] = state_bytes(ledger)
    writer.close()
    result.update(_append_latency(ledger, appends, tag))
    ledger.close()
    result["peak_rss_bytes"] = peak_rss_bytes()
    return result


def ledger_ingest_into(ledger: Any, workload: Path) -> dict[str, Any]:
    """``append_batch`` of every line, 5,000 a call (timed); checkpoints as the CLI stores them (timed apart)."""
    policy = _checkpoint_policy() if hasattr(ledger, "checkpoint") else None
    statuses: dict[str, int] = {}
    wall = cpu = checkpoint_wall = 0.0
    lines = checkpoints = 0

    def checkpoint() -> None:
        nonlocal checkpoint_wall, checkpoints
        with Timer() as t:
            ledger.checkpoint()
        checkpoint_wall += t.wall_s
        checkpoints += 1

    for batch in iter_batches(workload, INGEST_BATCH):
        with Timer() as t:
            outcomes = ledger.append_batch(batch)
        wall += t.wall_s
        cpu += t.cpu_s
        lines += len(batch)
        for outcome in outcomes:
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
        if policy and ledger.events_since_checkpoint >= policy[0]:
            checkpoint()
    if policy and ledger.events_since_checkpoint >= policy[1]:
        checkpoint()
    accepted = statuses.get("accepted", 0)
    return {
        "ingest_s": wall, "ingest_cpu_s": cpu, "lines": lines, "accepted": accepted, "outcomes": statuses,
        "ingest_events_per_s": accepted / wall, "ingest_lines_per_s": lines / wall, "log_head": ledger.log_head,
        "checkpoints": checkpoints, "checkpoint_s": checkpoint_wall,
        "ingest_with_checkpoints_events_per_s": accepted / (wall + checkpoint_wall),
    }


# -- resident state ----------------------------------------------------------------


def _deep_size(roots: list[Any], seen: set[int]) -> int:
    """Bytes of the objects reachable from ``roots`` not already in ``seen`` (types, modules, functions skipped)."""
    skip = (type, type(sys), type(_deep_size), type(len))
    total = 0
    stack = list(roots)
    getsizeof, get_referents = sys.getsizeof, gc.get_referents
    while stack:
        obj = stack.pop()
        key = id(obj)
        if key in seen or isinstance(obj, skip):
            continue
        seen.add(key)
        total += getsizeof(obj)
        stack.extend(get_referents(obj))
    return total


def state_bytes(ledger: Any) -> dict[str, Any]:
    """Python object bytes of the ledger's projected state, split by what it scales with.

    Walked in this order, each object counted once, by the first part that reaches it:
    ``per_event`` (idempotency index and digests: every accepted event),
    ``per_customer`` (bindings, group members and buyers), ``per_order``
    (orders and the settlement queue), then everything else the state holds."""
    book = getattr(ledger, "_book", None) or getattr(ledger, "book", None)
    if book is None:
        return {"error": "ledger has no _book"}
    seen: set[int] = set()
    # Never count the ledger's store or the class-level machinery.
    _deep_size([getattr(ledger, "_store", None)], seen)
    seen.discard(id(book))

    def attrs(*names: str) -> list[Any]:
        return [getattr(book, name) for name in names if hasattr(book, name)]

    groups = getattr(book, "groups", {})
    customer_roots = attrs("bindings")
    for group in groups.values():
        customer_roots += [getattr(group, "members", None), getattr(group, "buyers", None)]
    parts = {
        "per_event": _deep_size(attrs("_ids", "_digests", "ids", "digests"), seen),
        "per_customer": _deep_size([r for r in customer_roots if r is not None], seen),
        "per_order": _deep_size(attrs("orders", "_due"), seen),
        "rest": _deep_size([book], seen),
    }
    counts = {
        "events": ledger.position,
        "orders": len(getattr(book, "orders", {})),
        "customers": len(getattr(book, "bindings", {})),
    }
    return {"parts_bytes": parts, "total_bytes": sum(parts.values()), "counts": counts}


# -- the eventsourcing baseline -----------------------------------------------------


def _baseline_app(url: str) -> Any:
    from baseline import BaselineApp, baseline_env

    return BaselineApp(env=baseline_env(url))


def _accepted_dicts(path: Path) -> Iterator[list[dict[str, Any]]]:
    decode = msgspec.json.decode
    for batch in iter_batches(path, BASELINE_SAVE_EVERY):
        yield [decode(line) for line in batch]


def baseline_ingest_into(app: Any, accepted: Path) -> tuple[dict[str, Any], Any]:
    """Record every accepted event on one aggregate, ``save`` per 1,000 (JSON decoding not timed)."""
    from baseline import EventLog

    wall = cpu = 0.0
    count = 0
    with Timer() as t:
        log = EventLog()
        app.save(log)
    wall += t.wall_s
    cpu += t.cpu_s
    for batch in _accepted_dicts(accepted):
        with Timer() as t:
            for event in batch:
                log.record(event)
            app.save(log)
        wall += t.wall_s
        cpu += t.cpu_s
        count += len(batch)
    return {"ingest_s": wall, "ingest_cpu_s": cpu, "accepted": count, "ingest_events_per_s": count / wall}, log


def _baseline_save_latency(app: Any, log: Any, saves: int, tag: str) -> dict[str, Any]:
    samples: list[float] = []
    for event in probe_orders(saves, tag):
        t0 = time.perf_counter()
        log.record(event)
        app.save(log)
        samples.append(time.perf_counter() - t0)
    return {"append_" + key: value for key, value in percentiles_ms(samples).items()}


def baseline_read_all(app: Any, stop: int | None = None) -> dict[str, Any]:
    """``select_notifications`` page by page (up to notification ``stop``) and decode each."""
    from baseline import READ_PAGE

    recorder, to_domain_event = app.recorder, app.mapper.to_domain_event
    count = 0
    start = 1
    while True:
        page = recorder.select_notifications(start, READ_PAGE, stop=stop)
        for notification in page:
            to_domain_event(notification)
            count += 1
        if len(page) < READ_PAGE:
            break
        start = page[-1].id + 1
    return {"events": count}


def baseline_ingest(url: str, accepted: Path, saves: int, tag: str) -> dict[str, Any]:
    app = _baseline_app(url)
    result, log = baseline_ingest_into(app, accepted)
    result.update(_baseline_save_latency(app, log, saves, tag))
    result["synchronous"] = _sqlite_synchronous(app)
    app.close()
    result["peak_rss_bytes"] = peak_rss_bytes()
    if saves > 0:
        result.update(disk_floors())
    return result


def baseline_read(url: str, stop: int | None) -> dict[str, Any]:
    """Cold read: a new Application on the filled store, every notification decoded.

    ``stop`` leaves out the latency probes the ingest phase saved after the
    workload, so both sides read exactly the workload. Used for both the
    replay and the reopen-and-answer baselines: without
    snapshots, a plain eventsourcing application answers only after folding
    everything (``repository.get`` of the one aggregate folds the same events
    and was slower still when tried, so this is the generous baseline)."""
    with Timer() as t:
        app = _baseline_app(url)
        result = baseline_read_all(app, stop)
    app.close()
    result.update({
        "replay_s": t.wall_s, "replay_cpu_s": t.cpu_s, "replay_events_per_s": result["events"] / t.wall_s,
        "reopen_s": t.wall_s, "peak_rss_bytes": peak_rss_bytes(),
    })
    return result


def baseline_memory(accepted: Path, saves: int, tag: str) -> dict[str, Any]:
    app = _baseline_app("memory:")
    result, log = baseline_ingest_into(app, accepted)
    result["peak_rss_after_ingest_bytes"] = peak_rss_bytes()
    with Timer() as t:
        read = baseline_read_all(app)
    result.update({
        "events": read["events"], "replay_s": t.wall_s, "replay_cpu_s": t.cpu_s,
        "replay_events_per_s": read["events"] / t.wall_s, "reopen_s": t.wall_s,
    })
    result["peak_rss_after_replay_bytes"] = peak_rss_bytes()
    result.update(_baseline_save_latency(app, log, saves, tag))
    result["peak_rss_bytes"] = peak_rss_bytes()
    return result


def _sqlite_synchronous(app: Any) -> int | None:
    datastore = getattr(app.recorder, "datastore", None)
    if datastore is None or type(datastore).__name__ != "SQLiteDatastore":
        return None
    with datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA synchronous")
        return int(cursor.fetchone()[0])


def ledger_statement(url: str, period: str, how: str) -> dict[str, Any]:
    """A cold full ``statement(period)``: from the per-promoter tables (``how="tables"``, what
    ``Ledger.statement`` does) or by a replay of the log (``how="replay"``: ``until`` = the head)."""
    Ledger = _ledger()
    replays = 0
    with Timer() as t:
        ledger = Ledger.open(url)
        read = ledger.store.read

        def counted(start: int = 1, stop: int | None = None) -> Any:
            nonlocal replays
            replays += start <= 1 and (stop is None or stop > 1)
            return read(start, stop)

        ledger.store.read = counted
        until = ledger.store.head()[0] if how == "replay" else None
        statement = ledger.statement(period, until=until)
    ledger.close()
    return {"statement_s": t.wall_s, "statement_cpu_s": t.cpu_s, "how": how, "replayed": replays > 0,
            "events": statement["events"], "promoters": len(statement["promoters"]), "digest": statement["digest"],
            "peak_rss_bytes": peak_rss_bytes()}


# -- command line --------------------------------------------------------------------

PHASES: Final[dict[str, Callable[[argparse.Namespace], dict[str, Any]]]] = {
    "ledger-ingest": lambda a: ledger_ingest(a.url, Path(a.workload)),
    "ledger-replay": lambda a: ledger_replay(a.url),
    "ledger-reopen": lambda a: ledger_reopen(a.url, a.appends, a.tag),
    "ledger-verify": lambda a: ledger_verify(a.url),
    "ledger-statement": lambda a: ledger_statement(a.url, a.period, a.how),
    "ledger-memory": lambda a: ledger_memory(Path(a.workload), a.appends, a.tag, a.state),
    "baseline-ingest": lambda a: baseline_ingest(a.url, Path(a.accepted), a.appends, a.tag),
    "baseline-read": lambda a: baseline_read(a.url, a.stop),
    "baseline-memory": lambda a: baseline_memory(Path(a.accepted), a.appends, a.tag),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=sorted(PHASES))
    parser.add_argument("--url", default="memory:")
    parser.add_argument("--workload", help="JSONL of every line (ledger input)")
    parser.add_argument("--accepted", help="JSONL of the accepted events (baseline input)")
    parser.add_argument("--appends", type=int, default=2_000)
    parser.add_argument("--tag", default="r0", help="makes probe ids unique per run")
    parser.add_argument("--stop", type=int, help="baseline-read: read notifications up to this id only")
    parser.add_argument("--state", action="store_true", help="also measure the bytes of resident state")
    parser.add_argument("--period", default="2026-11", help="ledger-statement: the month")
    parser.add_argument("--how", choices=["tables", "replay"], default="tables", help="ledger-statement: which path")
    args = parser.parse_args(argv)
    result = PHASES[args.phase](args)
    result["phase"] = args.phase
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
