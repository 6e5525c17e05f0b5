"""Benchmark the ledger against a plain eventsourcing baseline and print the table.

    python benchmarks/run.py --sizes 100k,1M --stores memory,sqlite,postgresql \\
        --runs 100k=3,1M=1 --out benchmarks/results.json
    python benchmarks/run.py --markdown --out benchmarks/results.json   # the table, from the results

Every phase runs in its own process (:mod:`measure`); ledger and baseline
phases of one run are interleaved (which goes first alternates by run), so
the machine's noise falls on both. Each figure is the median over runs and
each ratio is ledger median / baseline median on the same store kind.
Stores are fresh for every run: a new SQLite file under ``benchmarks/out/``,
a new PostgreSQL schema (dropped afterwards), a new ``memory:`` log.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

HERE: Final = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workload import OUT_DIR, SIZES, Workload, parse_size, prepare  # noqa: E402

STORES: Final = ("memory", "sqlite", "postgresql")
DEFAULT_PG: Final = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_RUNS: Final = "100k=3,1M=1,10M=1"
MIB: Final = 1024 * 1024
GIB: Final = 1024 * MIB

#: Issue 11's targets (ratios against the eventsourcing baseline of the same run).
TARGET_INGEST_RATIO: Final = 2.0
TARGET_REPLAY_RATIO: Final = 1.5
TARGET_REOPEN_SHARE_1M: Final = 0.05
TARGET_REOPEN_S_10M: Final = 1.0
TARGET_BYTES_PER_ORDER: Final = 500
TARGET_BYTES_PER_CUSTOMER: Final = 150
TARGET_APPEND_P50_MS_SQLITE: Final = 1.0  # issue 4's, kept
STATE_TARGET_ORDERS: Final = 10_000_000
STATE_TARGET_CUSTOMERS: Final = 10_000_000

#: (metric, higher is better) compared with the baseline.
METRICS: Final = (
    ("ingest_events_per_s", True),
    ("append_p50_ms", False),
    ("append_p99_ms", False),
    ("replay_events_per_s", True),
    ("verify_events_per_s", True),
    ("reopen_s", False),
    ("replay_s", False),
    ("peak_rss_ingest_bytes", False),
    ("peak_rss_replay_bytes", False),
    ("ingest_events_per_cpu_s", True),
    ("replay_events_per_cpu_s", True),
    ("verify_events_per_cpu_s", True),
)


def _add_cpu_rates(r: dict[str, Any]) -> dict[str, Any]:
    """Events per CPU-second of the measuring process: less sensitive to a loaded machine than wall time
    (a PostgreSQL server's own CPU is not in it)."""
    if r.get("ingest_cpu_s"):
        r["ingest_events_per_cpu_s"] = r["accepted"] / r["ingest_cpu_s"]
    if r.get("replay_cpu_s"):
        r["replay_events_per_cpu_s"] = r["events"] / r["replay_cpu_s"]
    return r


def log(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


# -- stores ---------------------------------------------------------------------------


class Stores:
    """Fresh store URLs for the ledger and the baseline, and their removal."""

    def __init__(self, pg_url: str) -> None:
        self.pg_url = pg_url
        self._schemas: list[str] = []

    def fresh(self, kind: str, name: str) -> str:
        if kind == "memory":
            return "memory:"
        if kind == "sqlite":
            path = OUT_DIR / f"{name}.db"
            self._remove_sqlite(path)
            return f"sqlite:///{path}"
        if kind == "postgresql":
            schema = name.replace("-", "_").lower()
            self._sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE", f"CREATE SCHEMA {schema}")
            self._schemas.append(schema)
            separator = "&" if "?" in self.pg_url else "?"
            return f"{self.pg_url}{separator}schema={schema}"
        raise ValueError(f"store: {kind!r} is not one of {', '.join(STORES)}")

    def drop(self, kind: str, url: str) -> None:
        if kind == "sqlite":
            self._remove_sqlite(Path(url[len("sqlite:///") :]))
        elif kind == "postgresql":
            schema = url.rsplit("schema=", 1)[1]
            self._sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            if schema in self._schemas:
                self._schemas.remove(schema)

    def drop_all(self) -> None:
        for schema in list(self._schemas):
            self._sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        self._schemas.clear()

    def _sql(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)

    @staticmethod
    def _remove_sqlite(path: Path) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.remove(f"{path}{suffix}")
            except FileNotFoundError:
                pass


# -- phases ---------------------------------------------------------------------------


def measure(phase: str, *args: str, timeout_s: float) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "measure.py"), phase, *args]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = round(time.perf_counter() - started, 2)
    return result


def run_ledger(kind: str, w: Workload, stores: Stores, tag: str, appends: int, state: bool, timeout_s: float) -> dict[str, Any]:
    if kind == "memory":
        args = ["--workload", str(w.lines_path), "--appends", str(appends), "--tag", tag]
        r = measure("ledger-memory", *args, *(["--state"] if state else []), timeout_s=timeout_s)
        r["peak_rss_ingest_bytes"] = r["peak_rss_after_ingest_bytes"]
        r["peak_rss_replay_bytes"] = r["peak_rss_after_replay_bytes"]
        return r
    url = stores.fresh(kind, f"bench-ledger-{w.size}-{tag}")
    try:
        ingest = measure("ledger-ingest", "--url", url, "--workload", str(w.lines_path), timeout_s=timeout_s)
        replay = measure("ledger-replay", "--url", url, timeout_s=timeout_s)
        verified = measure("ledger-verify", "--url", url, timeout_s=timeout_s)
        reopen = measure("ledger-reopen", "--url", url, "--appends", str(appends), "--tag", tag, timeout_s=timeout_s)
    finally:
        stores.drop(kind, url)
    result = {**reopen, **verified, **replay, **ingest}
    result.update({
        "peak_rss_ingest_bytes": ingest["peak_rss_bytes"],
        "peak_rss_replay_bytes": replay["peak_rss_bytes"],
        "peak_rss_reopen_bytes": reopen["peak_rss_bytes"],
        "reopen_s": reopen["reopen_s"],
    })
    return result


def run_baseline(kind: str, w: Workload, stores: Stores, tag: str, appends: int, timeout_s: float) -> dict[str, Any]:
    if kind == "memory":
        r = measure("baseline-memory", "--accepted", str(w.accepted_path), "--appends", str(appends), "--tag", tag,
                    timeout_s=timeout_s)
        r["peak_rss_ingest_bytes"] = r["peak_rss_after_ingest_bytes"]
        r["peak_rss_replay_bytes"] = r["peak_rss_after_replay_bytes"]
        return _verify_baseline(r)
    url = stores.fresh(kind, f"bench-es-{w.size}-{tag}")
    try:
        ingest = measure("baseline-ingest", "--url", url, "--accepted", str(w.accepted_path),
                         "--appends", str(appends), "--tag", tag, timeout_s=timeout_s)
        # The aggregate's Created event, then the workload; the latency probes after it are not read.
        read = measure("baseline-read", "--url", url, "--stop", str(w.accepted + 1), timeout_s=timeout_s)
    finally:
        stores.drop(kind, url)
    result = {**read, **ingest}
    result.update({
        "peak_rss_ingest_bytes": ingest["peak_rss_bytes"],
        "peak_rss_replay_bytes": read["peak_rss_bytes"],
        "replay_events_per_s": read["replay_events_per_s"],
        "reopen_s": read["reopen_s"],
    })
    return _verify_baseline(result)


def _verify_baseline(r: dict[str, Any]) -> dict[str, Any]:
    """verify is compared with the same read + decode of everything."""
    r["verify_events_per_s"] = r.get("replay_events_per_s")
    if r.get("replay_cpu_s"):
        r["verify_events_per_cpu_s"] = r["events"] / r["replay_cpu_s"]
    return r


# -- summary --------------------------------------------------------------------------


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
    return statistics.median(values) if values else None


def _ratio(ledger: float | None, baseline: float | None) -> float | None:
    return ledger / baseline if ledger is not None and baseline else None


def summarize(size_result: dict[str, Any]) -> None:
    """Medians over runs and ledger/baseline ratios, per store (in place)."""
    for store in size_result["stores"].values():
        ledger_runs, baseline_runs = store["ledger_runs"], store["baseline_runs"]
        ledger = {key: _median(ledger_runs, key) for key, _ in METRICS}
        baseline = {key: _median(baseline_runs, key) for key, _ in METRICS}
        spread = {
            key: [min(r[key] for r in ledger_runs), max(r[key] for r in ledger_runs)]
            for key, _ in METRICS if ledger_runs and all(key in r for r in ledger_runs)
        }
        ratios = {key: _ratio(ledger[key], baseline[key]) for key, _ in METRICS}
        digests = sorted({r.get("digest") for r in ledger_runs})
        floors = {key: _median(ledger_runs + baseline_runs, key)
                  for key in ("fsync_p50_ms", "fsync_p99_ms", "sqlite_commit_p50_ms", "sqlite_commit_p99_ms")}
        store["disk_floors"] = floors
        store.update({"ledger": ledger, "baseline": baseline, "ratio": ratios, "ledger_spread": spread,
                      "digests": digests, "runs": len(ledger_runs)})


def state_summary(state: dict[str, Any]) -> dict[str, Any]:
    parts, counts = state["parts_bytes"], state["counts"]
    per_order = parts["per_order"] / max(1, counts["orders"])
    per_customer = parts["per_customer"] / max(1, counts["customers"])
    per_event = (parts["per_event"] + parts["rest"]) / max(1, counts["events"])
    events_per_order = counts["events"] / max(1, counts["orders"])
    # 10M orders and 10M customers, with this workload's mix of other events per order.
    projected = (per_order * STATE_TARGET_ORDERS + per_customer * STATE_TARGET_CUSTOMERS
                 + per_event * STATE_TARGET_ORDERS * events_per_order)
    projected_orders_customers_only = per_order * STATE_TARGET_ORDERS + per_customer * STATE_TARGET_CUSTOMERS
    return {
        "bytes_per_order": per_order, "bytes_per_customer": per_customer,
        "bytes_per_event_other": per_event, "events_per_order": events_per_order,
        "total_bytes": state["total_bytes"], "counts": counts,
        "projected_10M_bytes": projected, "projected_10M_orders_customers_only_bytes": projected_orders_customers_only,
    }


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each issue-11 target, met or not, at the largest size measured for it."""
    sizes = [s for s in SIZES if s in results["sizes"]]
    targets: list[dict[str, Any]] = []

    def largest(store: str, key: str = "ingest_events_per_s") -> tuple[str, dict[str, Any]] | None:
        for size in reversed(sizes):
            entry = results["sizes"][size]["stores"].get(store)
            if entry and entry.get("ledger") and entry.get("ratio", {}).get(key) is not None:
                return size, entry
        return None

    def add(name: str, at: str, measured: str, met: bool | None, note: str = "") -> None:
        targets.append({"target": name, "at": at, "measured": measured, "met": met, "note": note})

    for store in ("sqlite", "postgresql"):
        found = largest(store)
        if found:
            size, entry = found
            ratio = entry["ratio"]["ingest_events_per_s"]
            add(f"{store} ingest ≥ {TARGET_INGEST_RATIO:g}× eventsourcing save per 1,000", size,
                f"{ratio:.2f}× ({entry['ledger']['ingest_events_per_s']:,.0f} events/s)", ratio >= TARGET_INGEST_RATIO)
    for store in STORES:
        for key, what in (("verify_events_per_s", "cold verify"), ("replay_events_per_s", "cold replay → report")):
            found = largest(store, key)
            if found:
                size, entry = found
                ratio = entry["ratio"][key]
                add(f"{store} {what} ≥ {TARGET_REPLAY_RATIO:g}× eventsourcing read + decode", size,
                    f"{ratio:.2f}× ({entry['ledger'][key]:,.0f} events/s)", ratio >= TARGET_REPLAY_RATIO)
    stated = [size for size in sizes if size in ("1M", "10M")] or sizes[-1:]
    for store in ("sqlite", "postgresql"):
        for size in stated:
            entry = results["sizes"][size]["stores"].get(store)
            if not entry or not entry.get("ledger") or not entry["ledger"].get("replay_s"):
                continue
            reopen, replay = entry["ledger"]["reopen_s"], entry["ledger"]["replay_s"]
            share = reopen / replay
            add(f"{store} reopen + one balance ≤ {TARGET_REOPEN_SHARE_1M:.0%} of a cold replay (at 1M)", size,
                f"{share:.1%} ({reopen:.3f} s vs {replay:.1f} s)",
                share <= TARGET_REOPEN_SHARE_1M if size == "1M" else None,
                "" if size == "1M" else "target stated at 1M")
            if size == "10M":
                add(f"{store} reopen + one balance at 10M < {TARGET_REOPEN_S_10M:g} s", size, f"{reopen:.3f} s",
                    reopen < TARGET_REOPEN_S_10M)
    found = largest("sqlite", "append_p50_ms")
    if found:
        size, entry = found
        p50 = entry["ledger"]["append_p50_ms"]
        add(f"sqlite single append p50 ≤ {TARGET_APPEND_P50_MS_SQLITE:g} ms (issue 4)", size, f"{p50:.2f} ms",
            p50 <= TARGET_APPEND_P50_MS_SQLITE)
    state = results.get("state")
    if state:
        size = max(state, key=lambda s: list(SIZES).index(s))
        summary = state[size]
        add(f"resident state ≤ {TARGET_BYTES_PER_ORDER} B per order", size, f"{summary['bytes_per_order']:.0f} B",
            summary["bytes_per_order"] <= TARGET_BYTES_PER_ORDER, "sys.getsizeof over the state graph")
        add(f"resident state ≤ {TARGET_BYTES_PER_CUSTOMER} B per customer", size,
            f"{summary['bytes_per_customer']:.0f} B", summary["bytes_per_customer"] <= TARGET_BYTES_PER_CUSTOMER)
    return targets


# -- markdown -------------------------------------------------------------------------


def _fmt_rate(v: float | None) -> str:
    return "—" if v is None else f"{v / 1000:,.1f}k" if v < 1e6 else f"{v / 1e6:,.2f}M"


def _fmt_ratio(r: float | None) -> str:
    return "" if r is None else f" ({r:.2f}×)"


def _fmt_ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def _fmt_s(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def _fmt_reopen(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}" if v < 0.1 else f"{v:.2f}"


def _fmt_mib(v: float | None) -> str:
    return "—" if v is None else f"{v / MIB:,.0f}"


def _baseline_tables(sr: dict[str, Any]) -> list[str]:
    out: list[str] = []
    out.append("")
    out.append("eventsourcing baseline (same runs): save per 1,000 events; save per event; "
               "new Application + select_notifications + decode of everything (replay and reopen).")
    out.append("")
    out.append("| store | ingest events/s | save p50 ms | save p99 ms | read events/s | reopen (read all) s "
               "| peak RSS ingest MiB | peak RSS read MiB |")
    out.append("|---|---|---|---|---|---|---|---|")
    for store, e in sr["stores"].items():
        if not e.get("baseline_runs"):
            continue
        B = e["baseline"]
        out.append(
            f"| {store} (es {'popo' if store == 'memory' else store}) | {_fmt_rate(B['ingest_events_per_s'])} "
            f"| {_fmt_ms(B['append_p50_ms'])} | {_fmt_ms(B['append_p99_ms'])} "
            f"| {_fmt_rate(B['replay_events_per_s'])} | {_fmt_s(B['reopen_s'])} "
            f"| {_fmt_mib(B['peak_rss_ingest_bytes'])} | {_fmt_mib(B['peak_rss_replay_bytes'])} |"
        )
    out.append("")
    out.append("Events per CPU-second of the measuring process (wall time above suffers when the shared machine "
               "is loaded; CPU time less so; PostgreSQL's server CPU is not included):")
    out.append("")
    out.append("| store | ledger ingest | baseline ingest | ratio | ledger replay | baseline read | ratio |")
    out.append("|---|---|---|---|---|---|---|")
    for store, e in sr["stores"].items():
        if not e.get("ledger") or not e.get("baseline_runs"):
            continue
        L, B, R = e["ledger"], e["baseline"], e["ratio"]
        out.append(
            f"| {store} | {_fmt_rate(L['ingest_events_per_cpu_s'])} | {_fmt_rate(B['ingest_events_per_cpu_s'])} "
            f"| {R['ingest_events_per_cpu_s'] or 0:.2f}× | {_fmt_rate(L['replay_events_per_cpu_s'])} "
            f"| {_fmt_rate(B['replay_events_per_cpu_s'])} | {R['replay_events_per_cpu_s'] or 0:.2f}× |"
        )
    return out


def _notes(sr: dict[str, Any]) -> list[str]:
    """Checkpoints used by the reopen phase, and their cost during ingest."""
    out: list[str] = []
    for store, e in sr["stores"].items():
        runs = e.get("ledger_runs") or []
        positions = [r.get("reopen_checkpoint_position") for r in runs if r.get("reopen_checkpoint_position") is not None]
        if not positions:
            continue
        events = runs[0].get("accepted", 0)
        checkpoint_s = statistics.median(r.get("checkpoint_s", 0.0) for r in runs)
        problems = sorted({str(r["checkpoint_problem"]) for r in runs if r.get("checkpoint_problem")})
        if all(r.get("reopen_from_balances_table") for r in runs):
            restore_s = statistics.median(r.get("restore_s", 0.0) for r in runs)
            out.append(f"- {store}: reopen answered the balance from the balances table without restoring the state; "
                       f"restoring it afterwards (for the single appends) took {restore_s:.2f} s (median): the "
                       f"checkpoint at position {positions[0]:,} of {events:,} and the {events - positions[0]:,} events "
                       f"after it.")
            out.append(f"  The ingest stored {runs[0].get('checkpoints', 0)} checkpoint(s) taking {checkpoint_s:.2f} s in "
                       f"all (median), not in the ingest rate" + (f"; checkpoint problems: {'; '.join(problems)}" if problems else "") + ".")
            continue
        out.append(f"- {store}: reopen restored the checkpoint at position {positions[0]:,} of {events:,} and folded "
                   f"the {events - positions[0]:,} events after it; the ingest stored "
                   f"{runs[0].get('checkpoints', 0)} checkpoint(s) taking {checkpoint_s:.2f} s in all (median), not in "
                   f"the ingest rate" + (f"; checkpoint problems: {'; '.join(problems)}" if problems else "") + ".")
    if out:
        out = ["", "Checkpoints (stored at the CLI's cadence: every 1,000,000 events and at the end of an ingest of "
               "≥ 50,000 since the last):", "", *out]
    floors = [e["disk_floors"] for e in sr["stores"].values() if e.get("disk_floors", {}).get("fsync_p50_ms")]
    if floors:
        fsync = statistics.median(f["fsync_p50_ms"] for f in floors)
        commit = statistics.median(f["sqlite_commit_p50_ms"] for f in floors)
        out.append("")
        out.append(f"Disk floor measured right after each latency phase (median): fdatasync of 200 bytes p50 "
                   f"{fsync:.2f} ms; one-row SQLite INSERT+COMMIT (WAL, synchronous=FULL, sqlite3 directly) p50 "
                   f"{commit:.2f} ms.")
    return out


def markdown(results: dict[str, Any]) -> str:
    out: list[str] = []
    machine = results.get("machine", {})
    out.append(f"Measured {results.get('finished', '?')} on {machine.get('cpus', '?')} CPUs "
               f"({machine.get('cpu_model', '?')}), Python {machine.get('python', '?')}, engine commit "
               f"`{machine.get('commit', '?')}`{' (+ uncommitted changes)' if machine.get('dirty') else ''}; "
               f"load average {machine.get('load_start', '?')} at start, {machine.get('load_end', '?')} at end.")
    out.append("")
    for size, sr in results["sizes"].items():
        meta = sr["workload"]
        out.append(f"### {size}: {meta['lines']:,} lines, {meta['accepted']:,} accepted "
                   f"({meta['orders']:,} orders, {meta['customers']:,} customers, {meta['promoters']:,} promoters)")
        out.append("")
        out.append("Ledger, median of runs; in brackets the ratio ledger / eventsourcing baseline on the same store "
                   "(↑ = higher is better, ↓ = lower is better).")
        out.append("")
        out.append("| store | runs | ingest events/s ↑ | append p50 ms ↓ | append p99 ms ↓ | replay→report events/s ↑ "
                   "| verify events/s ↑ | reopen+balance s ↓ | peak RSS ingest MiB ↓ | peak RSS replay MiB ↓ |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for store, e in sr["stores"].items():
            if not e.get("ledger"):
                continue
            L, R = e["ledger"], e["ratio"]
            out.append(
                f"| {store} | {e['runs']} | {_fmt_rate(L['ingest_events_per_s'])}{_fmt_ratio(R['ingest_events_per_s'])} "
                f"| {_fmt_ms(L['append_p50_ms'])}{_fmt_ratio(R['append_p50_ms'])} "
                f"| {_fmt_ms(L['append_p99_ms'])}{_fmt_ratio(R['append_p99_ms'])} "
                f"| {_fmt_rate(L['replay_events_per_s'])}{_fmt_ratio(R['replay_events_per_s'])} "
                f"| {_fmt_rate(L.get('verify_events_per_s'))}{_fmt_ratio(R.get('verify_events_per_s'))} "
                f"| {_fmt_reopen(L['reopen_s'])}{_fmt_ratio(R['reopen_s'])} "
                f"| {_fmt_mib(L['peak_rss_ingest_bytes'])}{_fmt_ratio(R['peak_rss_ingest_bytes'])} "
                f"| {_fmt_mib(L['peak_rss_replay_bytes'])}{_fmt_ratio(R['peak_rss_replay_bytes'])} |"
            )
        if any(e.get("baseline_runs") for e in sr["stores"].values()):
            out += _baseline_tables(sr)
        else:
            out += ["", "The eventsourcing baseline was not run at this size: no ratios."]
        out += _notes(sr)
        digests = {d for e in sr["stores"].values() for d in e.get("digests", [])}
        out.append("")
        out.append(f"Report digest of every replay: {'`' + next(iter(digests))[:16] + '…` (all stores and runs agree)' if len(digests) == 1 else 'DIFFERENT: ' + ', '.join(sorted(str(d) for d in digests))}.")
        state = results.get("state", {}).get(size)
        if state:
            out.append("")
            out.append(
                f"Resident state after replay (Python objects): {state['total_bytes'] / MIB:,.1f} MiB = "
                f"{state['bytes_per_order']:.0f} B per order + {state['bytes_per_customer']:.0f} B per customer "
                f"+ {state['bytes_per_event_other']:.0f} B per event (idempotency index, promoters, groups, payouts)."
            )
        out.append("")
    out.append("### Targets of issue 11")
    out.append("")
    out.append("| target | size | measured | met |")
    out.append("|---|---|---|---|")
    for t in results.get("targets", []):
        met = "—" if t["met"] is None else ("**met**" if t["met"] else "**not met**")
        note = f" ({t['note']})" if t["note"] else ""
        out.append(f"| {t['target']} | {t['at']} | {t['measured']}{note} | {met} |")
    return "\n".join(out) + "\n"


# -- main -----------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    repo = HERE.parent
    git = ["git", "-C", str(repo)]
    info["commit"] = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    info["dirty"] = bool(subprocess.run([*git, "status", "--porcelain", "--", "src"], capture_output=True, text=True).stdout.strip())
    info["load_start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        import eventsourcing.persistence  # noqa: F401
        from importlib.metadata import version

        info["eventsourcing"] = version("eventsourcing")
        info["msgspec"] = version("msgspec")
    except Exception:  # noqa: BLE001 - informational only
        pass
    import sqlite3

    info["sqlite"] = sqlite3.sqlite_version
    return info


README_START: Final = "<!-- results:start (python benchmarks/run.py --markdown --readme benchmarks/README.md) -->"
README_END: Final = "<!-- results:end -->"


def _write_between_markers(path: Path, table: str) -> None:
    text = path.read_text()
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    path.write_text(text[:start] + "\n" + table + text[end:])


def parse_runs(text: str, sizes: list[str]) -> dict[str, int]:
    if text.isdigit():
        return {size: int(text) for size in sizes}
    runs = {}
    for item in text.split(","):
        size, _, count = item.partition("=")
        runs[parse_size(size)] = int(count)
    return {size: runs.get(size, 1) for size in sizes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1M", help="comma-separated: 100k, 1M, 10M")
    parser.add_argument("--stores", default=",".join(STORES), help="comma-separated: memory, sqlite, postgresql")
    parser.add_argument("--runs", default=DEFAULT_RUNS, help=f"N for every size, or SIZE=N,… (default {DEFAULT_RUNS})")
    parser.add_argument("--baseline-sizes", default=None,
                        help="sizes at which to run the eventsourcing baseline (default: every size; 'none' for none)")
    parser.add_argument("--no-state", action="store_true",
                        help="skip the bytes-of-state walk when memory is not among --stores (it costs one more ingest)")
    parser.add_argument("--appends", type=int, default=2_000, help="single appends timed per run")
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG), help="PostgreSQL server URL")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    parser.add_argument("--timeout", type=float, default=3 * 3600, help="seconds per phase")
    parser.add_argument("--markdown", action="store_true", help="print the table of --out and exit")
    parser.add_argument("--readme", metavar="PATH",
                        help="with --markdown: also write the table into PATH between its results markers")
    args = parser.parse_args(argv)
    out_path = Path(args.out)

    if args.markdown:
        table = markdown(json.loads(out_path.read_text()))
        sys.stdout.write(table)
        if args.readme:
            _write_between_markers(Path(args.readme), table)
        return 0

    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    kinds = [s.strip() for s in args.stores.split(",") if s.strip()]
    for kind in kinds:
        if kind not in STORES:
            parser.error(f"--stores: {kind!r} is not one of {', '.join(STORES)}")
    runs = parse_runs(args.runs, sizes)
    if args.baseline_sizes is None:
        baseline_sizes = set(sizes)
    elif args.baseline_sizes.strip().lower() == "none":
        baseline_sizes = set()
    else:
        baseline_sizes = {parse_size(s) for s in args.baseline_sizes.split(",") if s.strip()}
    results: dict[str, Any] = {
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": _machine(), "sizes": {}, "state": {},
    }
    stores = Stores(args.pg)
    started = time.perf_counter()

    def save() -> None:
        out_path.write_text(json.dumps(results, indent=1, default=str) + "\n")

    try:
        for size in sizes:
            w = prepare(size, log=log)
            sr: dict[str, Any] = {"workload": w.meta, "stores": {k: {"ledger_runs": [], "baseline_runs": []} for k in kinds}}
            results["sizes"][size] = sr
            for run in range(runs[size]):
                for kind in kinds:
                    tag = f"r{run}"
                    state = run == 0 and kind == "memory"
                    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
                        ("ledger", lambda: run_ledger(kind, w, stores, tag, args.appends, state, args.timeout)),
                        ("baseline", lambda: run_baseline(kind, w, stores, tag, args.appends, args.timeout)),
                    ]
                    if size not in baseline_sizes:
                        steps = steps[:1]
                    if run % 2:
                        steps.reverse()
                    for side, step in steps:
                        t0 = time.perf_counter()
                        r = _add_cpu_rates(step())
                        r["run"] = run
                        sr["stores"][kind][f"{side}_runs"].append(r)
                        if side == "ledger" and "state" in r:
                            results["state"][size] = state_summary(r.pop("state"))
                        log(f"{size} run {run + 1}/{runs[size]} {kind:10s} {side:8s} "
                            f"ingest {r.get('ingest_events_per_s', 0):>9,.0f}/s  replay {r.get('replay_events_per_s', 0):>9,.0f}/s  "
                            f"reopen {r.get('reopen_s', 0):6.2f} s  p50 {r.get('append_p50_ms', 0):.2f} ms  "
                            f"({time.perf_counter() - t0:.0f} s)")
                        save()
            if "memory" not in kinds and not args.no_state:
                log(f"{size}: resident state (memory: ledger, not timed)")
                r = measure("ledger-memory", "--workload", str(w.lines_path), "--appends", "0", "--tag", "state",
                            "--state", timeout_s=args.timeout)
                results["state"][size] = state_summary(r["state"])
            summarize(sr)
            save()
    finally:
        stores.drop_all()
        results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
        results["elapsed_s"] = round(time.perf_counter() - started, 1)
        results["machine"]["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        for sr in results["sizes"].values():
            if all(e["ledger_runs"] for e in sr["stores"].values()):
                summarize(sr)
        results["targets"] = evaluate_targets(results) if any("ledger" in e for sr in results["sizes"].values() for e in sr["stores"].values()) else []
        save()
    log(f"done in {results['elapsed_s']:.0f} s; results in {out_path}")
    sys.stdout.write(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
