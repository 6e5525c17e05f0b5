"""``supernova-ledger demo``: a seeded programme simulated into a store, then shown as tables.

The demo streams :class:`~supernova_ledger.simulate.Simulation` events into
the ledger in batches, with a progress bar on a terminal (stderr), counts the
outcomes, and prints :func:`~supernova_ledger.tables.render_demo` on ``out``.
What it prints on ``out`` depends only on the seed and size, never on the
clock: timings go to ``err``.

A store that already holds events is never appended to: running the demo
twice, or pointing it at real books, shows the report of what is there and
says so. (Re-delivering the same events would be safe — they would all be
``duplicate`` — but a store holding *other* events would get the demo mixed
into it.) Remove the file, or pass another ``--store``, to simulate afresh.

Exit codes: 0 done; 1 the ledger's outcomes differ from what the simulation
designed (a bug: the books disagree); 2 the store cannot be used.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any, TextIO

import msgspec

from .errors import SupernovaError
from .ledger import Ledger
from .progress import Progress
from .simulate import Simulation
from .tables import render_demo

__all__ = ["run_demo", "BATCH_EVENTS", "DEFAULT_PROMOTERS", "DEFAULT_DAYS"]

#: Events per ``append_batch`` call.
BATCH_EVENTS = 5_000
#: The default size: about 87,000 events, ingested into SQLite in about 12 s
#: on a 2-core machine (the budget is 30 s).
DEFAULT_PROMOTERS = 300
DEFAULT_DAYS = 30
_DAY_S = 86_400


def run_demo(
    store_url: str,
    *,
    seed: int = 7,
    promoters: int = DEFAULT_PROMOTERS,
    days: int = DEFAULT_DAYS,
    out: TextIO | None = None,
    err: TextIO | None = None,
    progress: bool | None = None,
) -> int:
    """Simulate into the store at ``store_url`` and print the tables; return the exit code.

    ``out`` and ``err`` default to the current ``sys.stdout`` and ``sys.stderr``.
    ``progress`` forces the progress bar on or off (default: on when ``err`` is a TTY).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    started = time.monotonic()
    try:
        sim = Simulation(seed, promoters, days)
    except ValueError as exc:
        print(f"supernova-ledger demo: {exc}", file=err)
        return 2
    try:
        with Ledger.open(store_url) as ledger:
            if ledger.position > 0:
                report = ledger.report()
                out.write(_already_there(store_url, ledger.position))
                out.write(render_demo(report, None, store_url, **_shown(ledger)))
                return 0
            counts = _simulate_into(ledger, sim, days, err, progress)
            report = ledger.report()
            shown = _shown(ledger)
    except SupernovaError as exc:
        print(f"supernova-ledger demo: {' '.join(exc.message.split())}", file=err)
        return 2
    rejected = {code: n for code, n in sorted(counts.items()) if code not in ("accepted", "duplicate", "orders")}
    out.write(_header(sim, counts, rejected))
    out.write(render_demo(report, rejected, store_url, all_orders=counts["orders"], **shown))
    elapsed = time.monotonic() - started
    print(f"demo: {sim.events_generated:,} events in {elapsed:.1f}s", file=err)
    problems = _surprises(sim, counts, rejected, ledger_balances=report["promoters"])
    for problem in problems:
        print(f"supernova-ledger demo: {problem}", file=err)
    return 1 if problems else 0


def _simulate_into(
    ledger: Ledger, sim: Simulation, days: int, err: TextIO, progress: bool | None
) -> Counter[str]:
    """Append the simulation in batches; outcome counts by status, rejections by code."""
    counts: Counter[str] = Counter()
    bar = Progress(days, "simulating", err, unit="days", enabled=progress)
    batch: list[dict[str, Any]] = []
    shown_day = 0
    with bar:
        for event in sim.events():
            batch.append(event)
            if len(batch) == BATCH_EVENTS:
                _append(ledger, batch, counts)
                batch.clear()
                day = min(days, sim.clock_s // _DAY_S)
                bar.note = f"{sim.events_generated:,} events"
                bar.advance(day - shown_day)
                shown_day = day
        if batch:
            _append(ledger, batch, counts)
        bar.note = f"{sim.events_generated:,} events"
        bar.advance(days - shown_day)
    return counts


def _append(ledger: Ledger, batch: list[dict[str, Any]], counts: Counter[str]) -> None:
    for event, outcome in zip(batch, ledger.append_batch(batch), strict=True):
        counts[outcome.code if outcome.status == "rejected" and outcome.code else outcome.status] += 1
        if outcome.status == "accepted" and event.get("type") == "OrderPlaced":
            counts["orders"] += 1


def _shown(ledger: Ledger) -> dict[str, Any]:
    """What the demo shows beside the report: the rejection journal and the latest month with orders."""
    days = ledger.daily()
    return {
        "journal": [msgspec.to_builtins(entry) for entry in ledger.rejections()],
        "month": days[-1].day[:7] if days else None,
    }


def _header(sim: Simulation, counts: Counter[str], rejected: dict[str, int]) -> str:
    return (
        f"Simulated programme: seed {sim.seed}, {sim.promoter_count:,} promoters, {sim.days} days.\n"
        f"Sent {sim.events_generated:,} events: {counts['accepted']:,} accepted, "
        f"{counts['duplicate']:,} duplicates (re-deliveries, ignored), "
        f"{sum(rejected.values()):,} rejected (deliberate bad input).\n\n"
    )


def _already_there(store_url: str, position: int) -> str:
    return (
        f"The store {store_url} already holds {position:,} events: the demo appends only to an\n"
        "empty store, so nothing was added. Its report follows; to simulate afresh, remove the\n"
        "file or pass another --store.\n\n"
    )


def _surprises(
    sim: Simulation, counts: Counter[str], rejected: dict[str, int], ledger_balances: dict[str, Any]
) -> list[str]:
    """Where the ledger disagrees with the simulation (there should be nowhere).

    The simulation folds each event through the domain as it sends it; the
    ledger folds what its store holds, after batching and storing: the same
    fold, two paths, compared outcome by outcome and balance by balance."""
    problems = []
    if rejected != sim.rejections_by_code():
        problems.append(f"rejections {rejected} differ from the deliberate ones {sim.rejections_by_code()}")
    if counts["duplicate"] != sim.redelivered:
        problems.append(f"{counts['duplicate']} duplicates, but {sim.redelivered} events were re-delivered")
    for promoter_id, books in sim.balances().items():
        entry = ledger_balances.get(promoter_id, {})
        differing = sorted(k for k, v in books.items() if entry.get(k) != v)
        if differing:
            problems.append(f"promoter {promoter_id}: {', '.join(differing)} differ from the simulation's fold")
            break
    return problems
